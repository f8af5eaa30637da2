"""`aiida-dpgen provenance model`: each labeling calculation under the work chain that ran it."""

from __future__ import annotations

from aiida import orm
from aiida.common.links import LinkType

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData
from aiida_dpgen.tools.provenance import called_as, data_sources, model_lineage

from ..conftest import FIXTURES, cu_system


def labeled_by(caller: orm.WorkChainNode, calculations: int, seed: int) -> LabeledDatasetData:
    """A dataset made by `collect_labels` (called by ``caller`` as ``collect_labels``) from the outputs of
    ``calculations`` labeling jobs, as LabelWorkChain writes it."""
    function = orm.CalcFunctionNode()
    function.base.attributes.set('function_name', 'collect_labels')
    function.base.links.add_incoming(caller, LinkType.CALL_CALC, 'collect_labels')
    for number in range(calculations):
        job = orm.CalcJobNode().store()
        output = orm.Dict({'energy': float(number)})
        output.base.links.add_incoming(job, LinkType.CREATE, 'output_parameters')
        output.store()
        function.base.links.add_incoming(output, LinkType.INPUT_CALC, f'frame_{number:06d}_parameters')
    function.store()
    dataset = LabeledDatasetData.from_dpdata(cu_system('fcc', 2, seed=seed), type_map=['Cu'])
    dataset.base.links.add_incoming(function, LinkType.CREATE, 'dataset')
    return dataset.store()


def workchain(label: str, caller: orm.WorkChainNode | None = None) -> orm.WorkChainNode:
    node = orm.WorkChainNode()
    if caller is not None:
        node.base.links.add_incoming(caller, LinkType.CALL_WORK, label)
    return node.store()


def test_each_calculation_is_listed_under_its_own_labeling_work_chain(aiida_profile):
    loop, init_data = workchain('loop'), workchain('init')
    initial = labeled_by(workchain('label', init_data), calculations=3, seed=1)
    iteration = labeled_by(workchain('iter_000_label', loop), calculations=2, seed=2)
    initial_sources, iteration_sources = data_sources(initial), data_sources(iteration)
    (initial_labeling,) = initial_sources.label_workchains
    (iteration_labeling,) = iteration_sources.label_workchains
    assert len(initial_sources.calculations_of(initial_labeling)) == 3
    assert iteration_sources.calculations_of(iteration_labeling) == iteration_sources.calculations
    assert iteration_sources.calculations_of(initial_labeling) == [], 'no calculation listed under another chain'
    assert (called_as(initial_labeling), called_as(iteration_labeling)) == ('label', 'iter_000_label')


def trained_from(start: DeepPotentialData | None, mode: str) -> DeepPotentialData:
    """A model made by a training job that started from ``start`` in ``mode``, as DpTrainCalculation links it."""
    job = orm.CalcJobNode()
    if start is not None:
        job.base.links.add_incoming(start, LinkType.INPUT_CALC, 'init_model')
        job.base.links.add_incoming(orm.Str(mode).store(), LinkType.INPUT_CALC, 'init_mode')
    job.store()
    model = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pth'), type_map=['Cu'])
    model.base.links.add_incoming(job, LinkType.CREATE, 'model')
    return model.store()


def test_a_model_descends_from_the_previous_ensemble_and_the_pretrained_model(aiida_profile):
    pretrained = DeepPotentialData(
        str(FIXTURES / 'models' / 'cu_se_e2_a.pth'), filename='model.ckpt-50.pt', type_map=['Cu']
    ).store()
    first = trained_from(pretrained, 'finetune')
    second = trained_from(first, 'init_frz_model')

    lineage = model_lineage(second)

    assert [(ancestor.model.pk, ancestor.mode) for ancestor in lineage] == [
        (first.pk, 'init_frz_model'),
        (pretrained.pk, 'finetune'),
    ]
    assert model_lineage(trained_from(None, '')) == [], 'trained from scratch'
