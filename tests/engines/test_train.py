"""Training with the real `dp`, through the AiiDA engine, on 20 EMT-labelled 8-atom Cu frames."""

from __future__ import annotations

import numpy as np
from aiida.orm import CalcJobNode, Int, QueryBuilder
from aiida.plugins import CalculationFactory, WorkflowFactory

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData
from aiida_dpgen.training.ensemble import draw_seeds
from aiida_dpgen.workflows.runner import run_get_node

TrainWorkChain = WorkflowFactory('dpgen.train')
DpTrainBaseWorkChain = WorkflowFactory('dpgen.train.base')
DpTestCalculation = CalculationFactory('dpgen.test')

FAST_AND_SHORT = {'base': {'dp': {'parameters': {'training': {'numb_steps': 200, 'disp_freq': 50}}}}}


def test_ensemble_trains_two_models_with_distinct_seeds_that_load_and_predict(dp_installed_code, emt_cu_dataset):
    from deepmd.infer import DeepPot

    dataset = emt_cu_dataset()
    builder = TrainWorkChain.get_builder_from_protocol(
        dp_installed_code, {'init': dataset}, protocol='fast', overrides={'numb_models': 2, **FAST_AND_SHORT}
    )
    results, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    models = results['models']
    assert sorted(models) == ['model_0', 'model_1']
    assert [models[name].seed for name in sorted(models)] == draw_seeds(2020, 2)
    assert models['model_0'].sha256 != models['model_1'].sha256

    frame = dataset.to_dpdata()['Cu8']
    for model in models.values():
        assert model.training_steps == 200
        with model.as_path() as path:
            energy, forces, _ = DeepPot(str(path)).eval(frame['coords'][:1], frame['cells'][:1], frame['atom_types'])
        assert np.isfinite(energy).all() and forces.shape == (1, 8, 3)

    curve = results['learning_curves']['model_0']
    assert curve.get_array('step')[-1] == 200
    summary = results['summary'].get_dict()
    assert summary['spread']['rmse_f_trn']['count'] == 2
    assert set(summary['models']) == {'model_0', 'model_1'}

    trained_on = (
        QueryBuilder()
        .append(LabeledDatasetData, tag='data', project='id')
        .append(CalcJobNode, with_incoming='data', tag='job')
        .append(DeepPotentialData, with_incoming='job', filters={'id': models['model_0'].pk})
        .all(flat=True)
    )
    assert trained_on == [dataset.pk], 'the graph must say which data trained which model'


def test_dp_test_errors_match_the_models_own_predictions(dp_installed_code, emt_cu_dataset, tmp_path):
    from deepmd.infer import DeepPot

    from .conftest import REPOSITORY

    dataset = emt_cu_dataset(nframes=6, seed=3)
    model = DeepPotentialData(str(REPOSITORY / 'tests' / 'fixtures' / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu'])
    results, node = run_get_node(DpTestCalculation, code=dp_installed_code, model=model.store(), dataset=dataset)

    assert node.is_finished_ok, node.exit_message
    metrics = results['metrics'].get_dict()
    assert list(metrics['systems']) == ['Cu8']
    assert metrics['systems']['Cu8']['nframes'] == 6

    frames = dataset.to_dpdata()['Cu8']
    with model.as_path() as path:
        _, forces, _ = DeepPot(str(path)).eval(frames['coords'], frames['cells'], frames['atom_types'])
    expected_force_rmse = np.sqrt(np.mean((forces.reshape(frames['forces'].shape) - frames['forces']) ** 2))
    assert np.isclose(metrics['systems']['Cu8']['force_rmse'], expected_force_rmse, rtol=1e-5)


STEPS_KILLED_RUN = 1200
KILLED_AT_STEP = 300
"""The first job is killed once its learning curve reaches this step (checkpoints every 100 steps)."""

# Kills the first `dp train` (SIGKILL, as a scheduler ends a job past its walltime) when its learning curve
# reaches KILLED_AT_STEP; a resumed job finds its parent's checkpoint in its folder before the script starts
# (a remote copy) and runs unwatched. The watcher gives up after 10 minutes, so it never outlives a broken run.
KILL_FIRST_JOB_MID_RUN = f"""if [ ! -e checkpoint ]; then
  (for _ in $(seq 3000); do
     if grep -qs '^ *{KILLED_AT_STEP} ' lcurve.out; then pkill -KILL -P $$ -f 'train input.json'; break; fi
     sleep 0.2
   done) &
fi"""


def test_training_killed_mid_run_resumes_from_its_checkpoint(dp_installed_code, emt_cu_dataset):
    """The first `dp train` is killed mid-run like a walltime would; the handler resumes from the checkpoint.

    The kill follows the training's own progress, not a CPU-time limit: machines here have trained from 30 to 300
    steps per second, so no limit in seconds stops every one of them mid-run.
    """
    protocol = TrainWorkChain.get_protocol_inputs('fast')['base']['dp']
    parameters = protocol['parameters']
    parameters['training'].update(numb_steps=STEPS_KILLED_RUN, save_freq=100, disp_freq=100)
    dp_inputs = {
        'code': dp_installed_code,
        'datasets': {'init': emt_cu_dataset()},
        'parameters': parameters,
        'seed': 7,
        'metadata': {'options': {**protocol['metadata']['options'], 'prepend_text': KILL_FIRST_JOB_MID_RUN}},
    }

    results, node = run_get_node(DpTrainBaseWorkChain, dp=dp_inputs, max_iterations=Int(3))

    jobs = sorted(node.called, key=lambda child: child.ctime)
    reached = [
        (
            job.exit_status,
            int(job.outputs.learning_curve.get_array('step')[-1]) if 'learning_curve' in job.outputs else None,
        )
        for job in jobs
    ]
    assert node.is_finished_ok, f'{node.exit_message}; (exit status, last step) per job: {reached}'
    assert len(jobs) >= 2, f'the first job was expected to be killed before step {STEPS_KILLED_RUN}'
    assert jobs[0].exit_status == CalculationFactory('dpgen.train').exit_codes.ERROR_OUT_OF_WALLTIME.status
    assert jobs[1].inputs.parent_folder.uuid == jobs[0].outputs.remote_folder.uuid
    resumed_steps = jobs[1].outputs.learning_curve.get_array('step')
    assert jobs[0].outputs.learning_curve.get_array('step')[-1] < STEPS_KILLED_RUN
    assert resumed_steps[0] > 0, 'the second job must continue from the checkpoint, not from step 0'
    assert results['model'].training_steps == STEPS_KILLED_RUN


def test_training_continues_from_a_frozen_model_and_compresses_it(dp_installed_code, emt_cu_dataset):
    """`--init-frz-model` with the fast protocol's architecture, then `dp compress`."""
    from .conftest import REPOSITORY

    previous = DeepPotentialData.from_frozen_model(REPOSITORY / 'tests' / 'fixtures' / 'models' / 'cu_se_e2_a.pb')
    assert previous.sel == [40]
    parameters = TrainWorkChain.get_protocol_inputs('fast')['base']['dp']['parameters']
    parameters['training'].update(numb_steps=100, disp_freq=50)
    parameters['learning_rate']['start_lr'] = 1e-4

    results, node = run_get_node(
        CalculationFactory('dpgen.train'),
        code=dp_installed_code,
        datasets={'init': emt_cu_dataset(nframes=8, seed=5)},
        parameters=parameters,
        seed=3,
        init_model=previous.store(),
        compress=True,
    )

    assert node.is_finished_ok, node.exit_message
    assert '--init-frz-model' in node.base.repository.get_object_content('_aiidasubmit.sh')
    assert results['compressed_model'].deepmd_backend == 'tensorflow'
    assert results['compressed_model'].sha256 != results['model'].sha256
    assert results['model'].sel == [40]
