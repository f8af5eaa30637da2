"""Where did it come from: the calculations behind a model's training data, and the origin of a frame.

Both questions are walks backwards through the graph the loop writes: a model is created by a
``DpTrainCalculation`` whose ``datasets`` are the initial data and each iteration's labels, the datasets
``collect_labels`` built from the labeling calculations' outputs (runs of earlier versions, and imports, merged
them with ``merge_datasets`` first; the walk goes through those merges too).
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
    return sources_of([dataset])


def model_sources(model: DeepPotentialData) -> DataSources:
    """The labeling calculations and initial datasets behind the data that trained ``model``."""
    return sources_of(training_datasets(model))


def sources_of(datasets: list[LabeledDatasetData]) -> DataSources:
    """The labeling calculations, their work chains and the datasets brought in behind ``datasets``.

    The graph is walked one level of merges at a time, each level in a few queries: a model of iteration 48
    trains on 49 datasets, and walking them node by node (a query per link) took seconds."""
    calculations, initial, workchains, by_workchain, seen = {}, {}, {}, {}, set()
    frontier = {dataset.pk: dataset for dataset in datasets}
    while frontier:
        seen.update(frontier)
        creators = _creators(list(frontier))
        merges = [pk for pk, function in creators.values() if function == 'merge_datasets']
        collects = [pk for pk, function in creators.values() if function == 'collect_labels']
        for pk, node in frontier.items():
            if pk not in creators or creators[pk][1] not in ('merge_datasets', 'collect_labels'):
                initial[pk] = node
        callers = _linked(collects, orm.WorkChainNode, LinkType.CALL_CALC)
        workchains.update({caller.pk: caller for _, caller in callers})
        caller_of = {collect: caller.pk for collect, caller in callers}
        for collect, producer in _producers(collects):
            calculations[producer.pk] = producer
            if collect in caller_of:
                by_workchain.setdefault(caller_of[collect], {})[producer.pk] = producer
        merged = _linked(merges, LabeledDatasetData, LinkType.INPUT_CALC)
        frontier = {dataset.pk: dataset for _, dataset in merged if dataset.pk not in seen}
    return DataSources(
        calculations=[calculations[pk] for pk in sorted(calculations)],
        initial_datasets=[initial[pk] for pk in sorted(initial)],
        label_workchains=[workchains[pk] for pk in sorted(workchains)],
        calculations_by_workchain={pk: [found[key] for key in sorted(found)] for pk, found in by_workchain.items()},
    )


def _creators(pks: list[int]) -> dict[int, tuple[int, str | None]]:
    """Data pk -> (its creating calcfunction's pk, that function's name), for those made by a calcfunction."""
    query = (
        orm.QueryBuilder()
        .append(orm.Data, filters={'id': {'in': pks}}, project='id', tag='data')
        .append(
            orm.CalcFunctionNode,
            with_outgoing='data',
            edge_filters={'type': LinkType.CREATE.value},
            project=['id', 'attributes.function_name'],
        )
    )
    return {data: (function, name) for data, function, name in query.all()}


def _linked(function_pks: list[int], cls, link_type: LinkType) -> list[tuple[int, orm.Node]]:
    """(calcfunction pk, node) for the ``cls`` nodes linked into the calcfunctions ``function_pks`` by
    ``link_type``: their callers (CALL_CALC) or their inputs (INPUT_CALC)."""
    if not function_pks:
        return []
    query = orm.QueryBuilder().append(orm.CalcFunctionNode, filters={'id': {'in': function_pks}}, project='id', tag='f')
    query.append(cls, with_outgoing='f', edge_filters={'type': link_type.value}, project='*')
    return [(function, node) for function, node in query.all()]


def _producers(function_pks: list[int]) -> list[tuple[int, orm.CalcJobNode]]:
    """(calcfunction pk, CalcJob) for every CalcJob that created an input of the calcfunctions ``function_pks``."""
    if not function_pks:
        return []
    query = (
        orm.QueryBuilder()
        .append(orm.CalcFunctionNode, filters={'id': {'in': function_pks}}, project='id', tag='f')
        .append(orm.Data, with_outgoing='f', edge_filters={'type': LinkType.INPUT_CALC.value}, tag='input')
        .append(orm.CalcJobNode, with_outgoing='input', edge_filters={'type': LinkType.CREATE.value}, project='*')
        .distinct()
    )
    return [(function, job) for function, job in query.all()]


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
