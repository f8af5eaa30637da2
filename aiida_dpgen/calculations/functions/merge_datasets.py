"""Merge labeled datasets into one; the growth of the training data becomes a node in the graph."""

from __future__ import annotations

from aiida.engine import Process, calcfunction

from aiida_dpgen.data.dataset import LabeledDatasetData, merged_with_duplicates


@calcfunction
def merge_datasets(**datasets: LabeledDatasetData) -> LabeledDatasetData:
    """Merge ``datasets`` (keyword names are free, e.g. ``init``, ``iter_000``) into one dataset.

    Frames that are exactly identical (atom types, cell, coordinates and labels) are kept once, so
    merging the same labels twice, e.g. after a restart, does not weigh them double. All inputs must
    share one type map, because atom types are indices into it.
    """
    merged, dropped = merged_with_duplicates(datasets)
    total = sum(node.nframes for node in datasets.values())
    process = Process.current()
    if process is not None:
        process.report(f'merged {len(datasets)} datasets: {total} frames in, {dropped} exact duplicates dropped')
    return merged
