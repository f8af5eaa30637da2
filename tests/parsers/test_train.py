"""DpTrainParser on files retrieved from real DeePMD-kit runs (see fixtures/dpgen.train/README.md)."""

from __future__ import annotations

import shutil

import pytest
from aiida.orm import Bool, Str
from aiida.plugins import CalculationFactory, ParserFactory

from ..conftest import FIXTURES

DpTrainParser = ParserFactory('dpgen.train')
DpTrainCalculation = CalculationFactory('dpgen.train')


@pytest.fixture
def parse(aiida_profile, generate_calc_job_node, tmp_path):
    def run(case: str, with_model: bool = True, exit_status: int | None = None, backend: str = 'tf', keep=False):
        inputs = {'backend': Str(backend), 'compress': Bool(False), 'keep_checkpoint': Bool(keep)}
        node = generate_calc_job_node('dpgen.train', case, inputs, exit_status=exit_status)
        temporary = tmp_path / 'temporary'
        temporary.mkdir(exist_ok=True)
        for stale in temporary.iterdir():
            stale.unlink()
        suffix = {'tf': '.pb', 'pt': '.pth'}[backend]
        if with_model:
            shutil.copy(FIXTURES / 'models' / f'cu_se_e2_a{suffix}', temporary / f'frozen_model{suffix}')
        if keep:  # stands for the checkpoint: the parser reads its name, not its content
            shutil.copy(FIXTURES / 'models' / 'cu_se_e2_a.pth', temporary / 'model.ckpt.pt')
        results, calcfunction = DpTrainParser.parse_from_node(
            node, store_provenance=False, retrieved_temporary_folder=str(temporary)
        )
        return results, calcfunction

    return run


def test_healthy_run_gives_model_learning_curve_and_final_errors(parse):
    results, calcfunction = parse('default')

    assert calcfunction.is_finished_ok, calcfunction.exit_message
    model = results['model']
    assert (model.type_map, model.rcut, model.descriptor, model.seed) == (['Cu'], 4.0, 'se_e2_a', 7)
    assert model.training_steps == 60
    assert model.sel == [40], 'sel as DeePMD-kit resolved it (out.json)'
    curve = results['learning_curve']
    assert curve.get_array('step').tolist() == [0, 20, 40, 60]
    assert set(curve.get_arraynames()) >= {'rmse_f_trn', 'rmse_f_val', 'rmse_e_trn', 'rmse_v_val', 'lr'}
    parameters = results['output_parameters'].get_dict()
    assert parameters['final']['rmse_f_val'] == 0.396
    assert parameters['last_step'] == parameters['numb_steps'] == 60
    assert parameters['wall_time_seconds'] == pytest.approx(0.558)
    assert parameters['steps_per_second'] == pytest.approx(1 / 0.0017)


def test_a_pytorch_run_gives_its_pth_model_learning_curve_and_wall_time(parse):
    results, calcfunction = parse('pytorch', backend='pt')

    assert calcfunction.is_finished_ok, calcfunction.exit_message
    model = results['model']
    assert (model.filename, model.deepmd_backend) == ('frozen_model.pth', 'pytorch')
    assert (model.type_map, model.rcut, model.descriptor, model.sel, model.training_steps) == (
        ['Cu'],
        4.0,
        'se_e2_a',
        [40],
        200,
    )
    assert results['learning_curve'].get_array('step').tolist() == [1, 50, 100, 150, 200]
    parameters = results['output_parameters'].get_dict()
    # PyTorch logs the wall time of each display interval, not the total
    assert parameters['wall_time_seconds'] == pytest.approx(0.50 + 2.21 + 1.65 + 1.74 + 2.70)
    assert parameters['seconds_per_batch'] == pytest.approx(0.0406)


def test_a_kept_checkpoint_becomes_a_model_node_to_fine_tune_from(parse):
    results, calcfunction = parse('pytorch', backend='pt', keep=True)
    assert calcfunction.is_finished_ok, calcfunction.exit_message
    checkpoint = results['checkpoint']
    assert (checkpoint.filename, checkpoint.is_checkpoint, checkpoint.type_map) == ('model.ckpt.pt', True, ['Cu'])
    assert 'checkpoint' not in parse('pytorch', backend='pt')[0]


def test_exploding_loss_is_reported_as_diverged(parse):
    _, calcfunction = parse('diverged')
    assert calcfunction.exit_status == DpTrainCalculation.exit_codes.ERROR_TRAINING_DIVERGED.status
    assert 'rmse_trn grew from' in calcfunction.exit_message


def test_bad_alloc_is_reported_as_out_of_memory(parse):
    _, calcfunction = parse('out_of_memory', with_model=False)
    assert calcfunction.exit_status == DpTrainCalculation.exit_codes.ERROR_OUT_OF_MEMORY.status
    assert 'std::bad_alloc' in calcfunction.exit_message


def test_killed_run_with_checkpoint_is_resumable_walltime_even_if_freeze_worked(parse):
    results, calcfunction = parse('walltime', with_model=True)
    assert calcfunction.exit_status == DpTrainCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert 'stopped at step 2500 of 200000' in calcfunction.exit_message
    assert 'model' not in results, 'a half-trained model must not be passed on as the result'
    assert results['learning_curve'].get_array('step')[-1] == 2500


def test_scheduler_walltime_is_resumable(parse):
    _, calcfunction = parse('default', exit_status=120)
    assert calcfunction.exit_status == DpTrainCalculation.exit_codes.ERROR_OUT_OF_WALLTIME.status


def test_failed_freeze_is_no_model(parse):
    _, calcfunction = parse('no_model', with_model=False)
    assert calcfunction.exit_status == DpTrainCalculation.exit_codes.ERROR_NO_MODEL_PRODUCED.status
