"""Merge labeled datasets into one; the growth of the training data becomes a node in the graph."""

from __future__ import annotations

from aiida.engine import Process, calcfunction

from aiida_dpgen.data.dataset import LabeledDatasetData
from aiida_dpgen.utils import systems as systems_utils


@calcfunction
def merge_datasets(**datasets: LabeledDatasetData) -> LabeledDatasetData:
    """Merge ``datasets`` (keyword names are free, e.g. ``init``, ``iter_000``) into one dataset.

    Frames that are exactly identical (atom types, cell, coordinates and labels) are kept once, so
    merging the same labels twice, e.g. after a restart, does not weigh them double. All inputs must
    share one type map, because atom types are indices into it.
    """
    if not datasets:
        raise ValueError('merge_datasets: got no datasets; pass at least one LabeledDatasetData')
    names = sorted(datasets)
    type_map = datasets[names[0]].type_map
    for name in names[1:]:
        if datasets[name].type_map != type_map:
            raise ValueError(
                f'dataset {name!r} has type_map={datasets[name].type_map}, but {names[0]!r} has '
                f'type_map={type_map}; rebuild the datasets with one common type_map'
            )

    merged, dropped = systems_utils.merge([datasets[name].to_dpdata() for name in names], type_map)
    total = sum(datasets[name].nframes for name in names)
    process = Process.current()
    if process is not None:
        process.report(f'merged {len(names)} datasets: {total} frames in, {dropped} exact duplicates dropped')
    return LabeledDatasetData(merged, type_map=type_map)
