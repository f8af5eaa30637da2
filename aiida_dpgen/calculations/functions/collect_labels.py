"""The labeled dataset of one labeling step, built from the successful calculations only."""

from __future__ import annotations

import dpdata
from aiida.engine import calcfunction
from aiida.orm import Bool, Dict, List, Str

from aiida_dpgen.data.dataset import LabeledDatasetData
from aiida_dpgen.labelers.base import load_labeler
from aiida_dpgen.labeling.frames import labels_to_systems
from aiida_dpgen.utils import systems as systems_utils

KEY_LENGTH = len('frame_000000')
PACKED_PREFIX = 'packed_'


@calcfunction
def collect_labels(engine: Str, type_map: List, summary: Dict, md: Bool | None = None, **frames) -> dict:
    """Convert each labeled frame with the ``engine`` labeler's ``convert_outputs`` (``convert_md_outputs``, every
    step of each run, when ``md`` is true) and store them as one dataset.

    ``frames`` holds, per frame ``frame_NNNNNN``, the computed structure (``frame_NNNNNN_structure``) and the
    output nodes that hold its labels (``frame_NNNNNN_<name>``), so that every frame of the dataset links to
    the calculation that produced it; and, per packed job whose labels are one dataset it made, that dataset
    (``packed_NNN``). ``summary`` (counts, exclusions, cost) is returned with the number of frames that went
    in (``labeled``) and of exact duplicates left out (``duplicates``: the first frame of MD tasks started from
    the same configuration is one frame); without frames there is no ``dataset`` output.
    """
    grouped: dict[str, dict] = {}
    packed = [frames[name] for name in sorted(frames) if name.startswith(PACKED_PREFIX)]
    for link_label, node in frames.items():
        if not link_label.startswith(PACKED_PREFIX):
            grouped.setdefault(link_label[:KEY_LENGTH], {})[link_label[KEY_LENGTH + 1 :]] = node
    if not grouped and not packed:
        return {'summary': Dict({**summary.get_dict(), 'labeled': 0, 'duplicates': 0})}
    labeler = load_labeler(engine.value)
    labels = []
    for key in sorted(grouped):
        nodes = dict(grouped[key])
        structure = nodes.pop('structure')
        if md is not None and md.value:
            labels.extend(labeler.convert_md_outputs(structure, **nodes))
        else:
            labels.append(labeler.convert_outputs(structure, **nodes))
    systems = labels_to_systems(labels, type_map.get_list())
    parts = [dpdata.MultiSystems(*systems, type_map=type_map.get_list()), *(node.to_dpdata() for node in packed)]
    merged, duplicates = systems_utils.merge(parts, type_map.get_list())
    dataset = LabeledDatasetData(merged, type_map=type_map.get_list())
    return {
        'dataset': dataset,
        'summary': Dict({**summary.get_dict(), 'labeled': dataset.nframes, 'duplicates': duplicates}),
    }
