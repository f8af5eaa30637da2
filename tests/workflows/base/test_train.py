"""DpTrainBaseWorkChain's handlers, each against a faked failed training job."""

from __future__ import annotations

import pytest
from aiida.engine import ProcessHandlerReport
from aiida.orm import Dict
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_dpgen.workflows.base.train import halve_batch_size

from ...calculations.test_train import PARAMETERS

DpTrainCalculation = CalculationFactory('dpgen.train')
DpTrainBaseWorkChain = WorkflowFactory('dpgen.train.base')


@pytest.fixture
def workchain(generate_workchain, aiida_profile, dp_code, make_cu_system):
    from aiida_dpgen.data import LabeledDatasetData

    dataset = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 2), ['Cu']).store()
    process = generate_workchain(
        'dpgen.train.base',
        {'dp': {'code': dp_code, 'datasets': {'init': dataset}, 'parameters': PARAMETERS, 'seed': 1}},
    )
    process.setup()
    return process


def test_four_iterations_is_the_first_run_and_three_retries():
    assert DpTrainBaseWorkChain.spec().inputs['max_iterations'].default().value == 4


def test_walltime_resumes_from_the_remote_checkpoint(workchain, generate_failed_calc_job):
    status = DpTrainCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    node = generate_failed_calc_job('dpgen.train', status, {'output_parameters': Dict({'last_step': 2500})})

    report = workchain.handle_out_of_walltime(node)

    assert isinstance(report, ProcessHandlerReport) and report.exit_code.status == 0
    assert workchain.ctx.inputs.parent_folder.uuid == node.outputs.remote_folder.uuid


def test_divergence_halves_the_starting_learning_rate_down_to_a_floor(workchain, generate_failed_calc_job):
    node = generate_failed_calc_job('dpgen.train', DpTrainCalculation.exit_codes.ERROR_TRAINING_DIVERGED.status)

    workchain.handle_diverged(node)
    assert workchain.ctx.inputs.parameters['learning_rate']['start_lr'] == pytest.approx(5e-4)

    parameters = workchain.ctx.inputs.parameters.get_dict()
    parameters['learning_rate']['start_lr'] = 1.5e-6
    workchain.ctx.inputs.parameters = Dict(parameters)
    report = workchain.handle_diverged(node)
    assert report.exit_code == DpTrainBaseWorkChain.exit_codes.ERROR_DIVERGED_AT_SMALLEST_LEARNING_RATE


def test_out_of_memory_halves_the_batch_size_then_gives_up(workchain, generate_failed_calc_job):
    node = generate_failed_calc_job('dpgen.train', DpTrainCalculation.exit_codes.ERROR_OUT_OF_MEMORY.status)

    workchain.handle_out_of_memory(node)
    assert workchain.ctx.inputs.parameters['training']['training_data']['batch_size'] == 'auto:16'

    parameters = workchain.ctx.inputs.parameters.get_dict()
    parameters['training']['training_data']['batch_size'] = 1
    workchain.ctx.inputs.parameters = Dict(parameters)
    report = workchain.handle_out_of_memory(node)
    assert report.exit_code == DpTrainBaseWorkChain.exit_codes.ERROR_OUT_OF_MEMORY_AT_SMALLEST_BATCH


def test_an_unknown_failure_is_retried_and_success_is_left_alone(workchain, generate_failed_calc_job):
    failed = generate_failed_calc_job('dpgen.train', 303)
    assert workchain.handle_any_failure(failed).exit_code.status == 0
    assert workchain.handle_any_failure(generate_failed_calc_job('dpgen.train', 0)) is None


@pytest.mark.parametrize(
    ('batch_size', 'smaller'), [(8, 4), (1, None), ('auto', 'auto:16'), ('auto:3', 'auto:1'), ('auto:1', None)]
)
def test_halving_batch_sizes(batch_size, smaller):
    assert halve_batch_size(batch_size) == smaller
