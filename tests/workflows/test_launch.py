"""A step that runs again after its worker died adopts the children it launched instead of launching them twice."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.plugins import WorkflowFactory

from aiida_dpgen.data import LabeledDatasetData
from aiida_dpgen.workflows.launch import call_link_label, launched_children

from ..calculations.test_train import PARAMETERS

TrainWorkChain = WorkflowFactory('dpgen.train')


def _launched(parent: orm.ProcessNode, label: str, node_class=orm.WorkChainNode) -> orm.ProcessNode:
    """A child stored and linked as ``parent`` launching it would, its checkpoint never saved."""
    child = node_class(process_type='aiida.workflows:dpgen.train.base')
    link_type = LinkType.CALL_WORK if node_class is orm.WorkChainNode else LinkType.CALL_CALC
    child.base.links.add_incoming(parent, link_type=link_type, link_label=label)
    return child.store()


@pytest.fixture
def dataset(aiida_profile, make_cu_system):
    return LabeledDatasetData.from_dpdata(make_cu_system('fcc', 2), ['Cu']).store()


def test_launched_children_are_found_by_call_link_label(generate_workchain, dp_code, dataset):
    process = generate_workchain(
        'dpgen.train.base',
        {'dp': {'code': dp_code, 'datasets': {'init': dataset}, 'parameters': PARAMETERS, 'seed': 1}},
    )
    first = _launched(process.node, 'iteration_01', orm.CalcJobNode)
    second = _launched(process.node, 'iteration_02', orm.CalcJobNode)

    assert {label: node.pk for label, node in launched_children(process.node).items()} == {
        'iteration_01': first.pk,
        'iteration_02': second.pk,
    }


def test_a_launch_without_its_own_call_link_label_is_refused():
    with pytest.raises(ValueError, match=r'needs its own metadata\.call_link_label'):
        call_link_label(TrainWorkChain, {'metadata': {}})
    assert call_link_label(TrainWorkChain, {'metadata': {'call_link_label': 'iter_000_train'}}) == 'iter_000_train'


def test_a_restart_work_chain_adopts_the_job_it_launched_before_its_worker_died(generate_workchain, dp_code, dataset):
    process = generate_workchain(
        'dpgen.train.base',
        {'dp': {'code': dp_code, 'datasets': {'init': dataset}, 'parameters': PARAMETERS, 'seed': 1}},
    )
    process.setup()
    orphan = _launched(process.node, 'iteration_01', orm.CalcJobNode)

    to_context = process.run_process()

    assert process.ctx.iteration == 1
    assert to_context['children'].pk == orphan.pk
    assert list(launched_children(process.node)) == ['iteration_01']  # nothing launched again
    assert len(process.node.base.extras.get(process._considered_handlers_extra)) == 1
    assert f'<{orphan.pk}> was launched as iteration_01 before this step was interrupted' in _report(process)


def test_an_ensemble_step_that_runs_again_adopts_every_model_it_launched(generate_workchain, dp_code, dataset):
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast', type_map=['Cu'])
    builder.numb_models = 2
    process = generate_workchain('dpgen.train', dict(builder))
    orphans = [_launched(process.node, f'train_model_{index}') for index in range(2)]

    to_context = process.run_models()

    assert {key: future.pk for key, future in to_context.items()} == {
        'trainings.model_0': orphans[0].pk,
        'trainings.model_1': orphans[1].pk,
    }
    assert sorted(launched_children(process.node)) == ['train_model_0', 'train_model_1']


def _report(process) -> str:
    from aiida.cmdline.utils.common import get_workchain_report

    return get_workchain_report(process.node, 'REPORT')
