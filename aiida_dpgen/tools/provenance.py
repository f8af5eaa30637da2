"""Where did it come from: the calculations behind a model's training data, and the origin of a frame.

Both questions are walks backwards through the graph the loop writes: a model is created by a
``DpTrainCalculation`` whose ``datasets`` were merged by ``merge_datasets`` from the initial data and the
datasets ``collect_labels`` built from the labeling calculations' outputs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from aiida import orm
from aiida.common.links import LinkType

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData


@dataclasses.dataclass
class DataSources:
    """The labeling calculations and the datasets without a creator (data brought in by hand) behind a dataset."""

    calculations: list[orm.CalcJobNode]
    initial_datasets: list[LabeledDatasetData]
    label_workchains: list[orm.WorkChainNode]
    calculations_by_workchain: dict[int, list[orm.CalcJobNode]] = dataclasses.field(default_factory=dict)
    """The calculations of each of ``label_workchains``, by the work chain's pk."""

    def calculations_of(self, workchain: orm.WorkChainNode) -> list[orm.CalcJobNode]:
        return self.calculations_by_workchain.get(workchain.pk, [])


def training_datasets(model: DeepPotentialData) -> list[LabeledDatasetData]:
    creator = model.creator
    if creator is None:
        raise ValueError(f'model {model.pk}: it has no creator (imported from a file), so no recorded training data')
    return list(creator.inputs.datasets.values()) if 'datasets' in creator.inputs else []


def data_sources(dataset: LabeledDatasetData) -> DataSources:
    """Every labeling CalcJob whose output went into ``dataset``, through any number of merges."""
    calculations, initial, workchains, by_workchain, seen = {}, {}, {}, {}, set()
    stack = [dataset]
    while stack:
        node = stack.pop()
        if node.uuid in seen:
            continue
        seen.add(node.uuid)
        creator = node.creator
        if creator is None:
            initial[node.pk] = node
            continue
        function = creator.base.attributes.get('function_name', None)
        if function == 'merge_datasets':
            stack.extend(
                creator.inputs[key] for key in creator.inputs if isinstance(creator.inputs[key], LabeledDatasetData)
            )
        elif function == 'collect_labels':
            caller = creator.caller
            if caller is not None:
                workchains[caller.pk] = caller
            for link in creator.base.links.get_incoming(node_class=orm.Data).all():
                producer = link.node.creator
                if isinstance(producer, orm.CalcJobNode):
                    calculations[producer.pk] = producer
                    if caller is not None:
                        by_workchain.setdefault(caller.pk, {})[producer.pk] = producer
        else:
            initial[node.pk] = node
    return DataSources(
        calculations=[calculations[pk] for pk in sorted(calculations)],
        initial_datasets=[initial[pk] for pk in sorted(initial)],
        label_workchains=[workchains[pk] for pk in sorted(workchains)],
        calculations_by_workchain={pk: [found[key] for key in sorted(found)] for pk, found in by_workchain.items()},
    )


def model_sources(model: DeepPotentialData) -> DataSources:
    """The labeling calculations and initial datasets behind the data that trained ``model``."""
    sources = [data_sources(dataset) for dataset in training_datasets(model)]
    return DataSources(
        calculations=[node for source in sources for node in source.calculations],
        initial_datasets=[node for source in sources for node in source.initial_datasets],
        label_workchains=[node for source in sources for node in source.label_workchains],
        calculations_by_workchain={
            pk: calculations for source in sources for pk, calculations in source.calculations_by_workchain.items()
        },
    )


@dataclasses.dataclass
class Ancestor:
    """A model another one started from, and how: ``init_frz_model`` (continued) or ``finetune``."""

    model: DeepPotentialData
    mode: str


def model_lineage(model: DeepPotentialData) -> list[Ancestor]:
    """The models ``model`` descends from, nearest first: the one its training started from (the previous
    ensemble's, a pretrained model it was fine-tuned from), then that one's, until a model trained from scratch
    or brought in."""
    lineage, seen = [], {model.uuid}
    creator = model.creator
    while creator is not None and 'init_model' in creator.inputs:
        ancestor = creator.inputs.init_model
        if ancestor.uuid in seen:
            break
        seen.add(ancestor.uuid)
        mode = creator.inputs.init_mode.value if 'init_mode' in creator.inputs else 'init_frz_model'
        lineage.append(Ancestor(ancestor, mode))
        creator = ancestor.creator
    return lineage


def called_as(process: orm.ProcessNode) -> str | None:
    """The link label its caller gave ``process`` (``iter_003_label``, ``label``), ``None`` for a top process."""
    link = process.base.links.get_incoming(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).first()
    return None if link is None else link.link_label


@dataclasses.dataclass
class FrameOrigin:
    """Where one frame of a dataset was added: the dataset that brought it and, for labels, how."""

    dataset: LabeledDatasetData
    iteration: int | None = None
    calculation: orm.CalcJobNode | None = None
    label_workchain: orm.WorkChainNode | None = None
    selection: orm.CalcFunctionNode | None = None
    exploration: orm.WorkChainNode | None = None


def frame_origin(dataset: LabeledDatasetData, system: str, index: int) -> FrameOrigin:
    """The origin of frame ``index`` of system ``system`` (a name in ``dataset.system_names``)."""
    names = list(dataset.system_names)
    if system not in names:
        raise ValueError(f'system={system!r}: not in dataset {dataset.pk}; its systems are {names}')
    frames = _frames(dataset)[system]
    if not 0 <= index < len(frames):
        raise ValueError(f'index={index}: system {system!r} of dataset {dataset.pk} has {len(frames)} frames')
    return _origin(dataset, frames[index])


def _frames(dataset: LabeledDatasetData) -> dict[str, list[tuple]]:
    frames = {}
    for name, system in zip(dataset.system_names, dataset.to_dpdata(), strict=True):
        frames[name] = [(float(system['energies'][i]), np.asarray(system['coords'][i])) for i in range(len(system))]
    return frames


def _same(frame, other) -> bool:
    return (
        frame[1].shape == other[1].shape
        and np.isclose(frame[0], other[0], rtol=0, atol=1e-8)
        and np.allclose(np.sort(frame[1], axis=0), np.sort(other[1], axis=0), atol=1e-6)
    )


def _origin(dataset: LabeledDatasetData, frame) -> FrameOrigin:
    creator = dataset.creator
    function = creator.base.attributes.get('function_name', None) if creator is not None else None
    if function == 'merge_datasets':
        for key in sorted(creator.inputs):
            source = creator.inputs[key]
            if isinstance(source, LabeledDatasetData) and any(
                _same(frame, other) for frames in _frames(source).values() for other in frames
            ):
                return _origin(source, frame)
        raise ValueError(f'dataset {dataset.pk}: the frame is in none of the merged inputs; the graph is inconsistent')
    if function != 'collect_labels':
        return FrameOrigin(dataset=dataset)
    origin = FrameOrigin(dataset=dataset, label_workchain=creator.caller)
    origin.calculation = _labeling_calculation(creator, frame)
    caller = creator.caller
    if caller is not None:
        link = caller.base.links.get_incoming(link_type=_call_link_type()).first()
        if link is not None and link.link_label.startswith('iter_'):
            origin.iteration = int(link.link_label.split('_')[1])
        candidates = [caller.inputs.candidates[key] for key in caller.inputs.candidates]
        selection = candidates[0].creator if candidates else None
        if selection is not None:
            origin.selection = selection
            origin.exploration = selection.caller
    return origin


def _call_link_type():
    from aiida.common.links import LinkType

    return LinkType.CALL_WORK


def _labeling_calculation(collect: orm.CalcFunctionNode, frame) -> orm.CalcJobNode | None:
    from aiida_dpgen.labelers.base import load_labeler

    labeler = load_labeler(collect.inputs.engine.value)
    md = 'md' in collect.inputs and collect.inputs.md.value  # a short MD per calculation, every step a frame
    groups: dict[str, dict] = {}
    for link in collect.base.links.get_incoming(node_class=orm.Data).all():
        if link.link_label.startswith('frame_'):
            groups.setdefault(link.link_label[:12], {})[link.link_label[13:]] = link.node
        elif link.link_label.startswith('packed_') and any(
            _same(frame, other) for frames in _frames(link.node).values() for other in frames
        ):  # a packed job's labels, one dataset the job made
            return link.node.creator
    for group in groups.values():
        nodes = dict(group)
        structure = nodes.pop('structure')
        labels = labeler.convert_md_outputs(structure, **nodes) if md else [labeler.convert_outputs(structure, **nodes)]
        if any(np.isclose(label.energy, frame[0], rtol=0, atol=1e-8) for label in labels):
            producers = [node.creator for node in nodes.values() if isinstance(node.creator, orm.CalcJobNode)]
            return producers[0] if producers else None
    return None
