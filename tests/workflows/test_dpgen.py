"""DpgenWorkChain without engines: bad input is refused before any job, the builder from protocols, the plan."""

from __future__ import annotations

import re
import sys

import pytest
from aiida.orm import InstalledCode
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.workflows.dpgen import DpgenWorkChain

STAGE = {'systems': ['fcc'], 'temps': [100.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
SELECTION = {'f_trust_lo': 0.05, 'f_trust_hi': 0.2}


@pytest.fixture
def codes(aiida_localhost):
    def code(executable, plugin):
        return InstalledCode(
            computer=aiida_localhost, filepath_executable=executable, default_calc_job_plugin=plugin
        ).store()

    return {
        'train': code('dp', 'dpgen.train'),
        'explore': code('lmp', 'dpgen.lammps'),
        'label': code(sys.executable, 'dpgen.ase'),
    }


@pytest.fixture
def loop_inputs(codes, make_cu_frames):
    dataset = LabeledDatasetData.from_ase(make_cu_frames('fcc', 3), ['Cu']).store()
    configurations = {'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu']).store()}
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': dataset},
        configurations=configurations,
        schedule=[STAGE, {**STAGE, 'temps': [300.0]}],
        selection=SELECTION,
        labeler={'engine': 'ase'},
        protocol='fast',
    )
    return builder._inputs(prune=True)


def test_builder_from_protocol_sets_every_step(loop_inputs):
    assert loop_inputs['train']['numb_models'].value == 4
    assert loop_inputs['train']['base']['dp']['parameters']['training']['numb_steps'] == 400
    assert 'datasets' not in loop_inputs['train']['base']['dp'], 'the loop passes the data per iteration'
    assert loop_inputs['explore']['group_size'].value == 10
    assert loop_inputs['label']['labeler'].get_dict() == {'protocol': 'fast', 'engine': 'ase'}
    assert loop_inputs['selection'].get_dict() == {**SELECTION, 'fp_task_max': 2, 'fp_task_min': 0, 'seed': 2020}


def builder_with_resources(codes, loop_inputs, resources):
    return DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets=dict(loop_inputs['datasets']),
        configurations=dict(loop_inputs['configurations']),
        schedule=[STAGE],
        selection=SELECTION,
        labeler={'engine': 'ase'},
        protocol='fast',
        resources=resources,
    )


def test_per_step_resources_become_each_steps_job_options(codes, loop_inputs):
    resources = {
        'train': {'walltime': '00:30:00', 'gpus_per_node': 1},
        'explore': {'mpiprocs_per_node': 2},
        'label': {'mpiprocs_per_node': 2, 'walltime': 600},
    }
    builder = builder_with_resources(codes, loop_inputs, resources)
    train = builder.train.base.dp.metadata.options
    assert (train['max_wallclock_seconds'], train['resources']['num_mpiprocs_per_machine']) == (1800, 1)
    assert builder.explore.lammps.lammps.metadata.options['resources'] == {
        'num_machines': 1,
        'num_mpiprocs_per_machine': 2,
    }
    assert builder.label.labeler.get_dict()['options'] == {
        'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2},
        'max_wallclock_seconds': 600,
    }


def test_resources_for_an_unknown_step_are_refused(codes, loop_inputs):
    with pytest.raises(
        ValueError, match=re.escape('resources.labels: unknown step; the steps are train, explore, label')
    ):
        builder_with_resources(codes, loop_inputs, {'labels': {'nodes': 1}})


def test_setup_takes_the_single_initial_dataset_and_plans_the_first_stage(generate_workchain, loop_inputs):
    process = generate_workchain('dpgen.dpgen', loop_inputs)
    process.setup()
    assert {name: node.uuid for name, node in process.ctx.datasets.items()} == {
        'init': loop_inputs['datasets']['init'].uuid
    }, 'the initial data as they are: no merged copy'
    assert process.needs_training()
    assert process.should_iterate()
    assert (process.ctx.stage_index, process.ctx.stage['temps']) == (0, [100.0])


def test_a_stage_that_did_not_converge_with_fatal_at_max_ends_the_loop_with_406(generate_workchain, loop_inputs):
    stage = {'systems': ['fcc'], 'temps': [100.0], 'ensemble': 'nvt', 'trj_freq': 10}
    schedule = {'stages': [stage], 'nsteps': [100], 'accurate_threshold': 0.9, 'max_repeats': 1, 'fatal_at_max': True}
    process = generate_workchain('dpgen.dpgen', {**loop_inputs, 'schedule': schedule})
    process.setup()
    assert process.should_iterate()
    process.ctx.history.append([0, 0.4, 0.5])
    assert not process.should_iterate()
    exit_code = process.results()
    assert exit_code.status == 406
    assert 'stage 0 did not converge: accurate ratio 40.00% below 90.00% after 1 iteration(s)' in exit_code.message
    assert 'raise max_repeats' in exit_code.message


NO_NSTEPS = {key: value for key, value in STAGE.items() if key != 'nsteps'}


def other_type_map(inputs):
    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True)
    return {'configurations': {'fcc': ConfigurationsData.from_ase([atoms], ['Cu', 'Ag']).store()}}


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (other_type_map, "configurations.fcc: type_map=['Cu', 'Ag'] differs from the initial data's type_map=['Cu']"),
        (lambda _: {'schedule': [{**STAGE, 'systems': ['bcc']}]}, "schedule[0].systems: ['bcc'] are not among"),
        (lambda _: {'schedule': []}, 'schedule=[]: expected a non-empty list of stages'),
        (lambda _: {'selection': {'fp_task_max': 5}}, 'selection.f_trust_lo=None: expected a number'),
        (
            lambda _: {'selection': {'f_trust_lo': 0.3, 'f_trust_hi': 0.2}},
            'selection: trust levels: f_lo=0.3 and f_hi=0.2; expected 0 <= f_lo < f_hi',
        ),
        (lambda _: {'convergence': {'candidate_ratio': -1}}, 'convergence.candidate_ratio=-1'),
        (
            lambda _: {'schedule': {'stages': [STAGE], 'nsteps': [100], 'accurate_threshold': 0.9}},
            'schedule.stages[0].nsteps=100: a staged schedule sets the MD length of each repeat with schedule.nsteps',
        ),
        (
            lambda _: {'schedule': {'stages': [NO_NSTEPS], 'nsteps': [100], 'level_tolerance': 0.05}},
            'schedule.level_tolerance: the stages converge by the adaptive lower level, which only '
            'selection.adaptive_lower sets',
        ),
        (
            lambda inputs: {'selection': {**inputs['selection'].get_dict(), 'adaptive_lower': {'numb_candi_f': -1}}},
            'selection.adaptive_lower.numb_candi_f=-1: expected an integer >= 0',
        ),
        (
            lambda inputs: {'selection': {**inputs['selection'].get_dict(), 'candidate_choice': 'diverse:0'}},
            'selection.candidate_choice=\'diverse:0\': the number after "diverse:" must be an integer >= 1',
        ),
        (lambda _: {'datasets': {}}, 'datasets: no initial data'),
        (
            lambda inputs: {'label': {**inputs['label'], 'labeler': {'engine': 'siesta'}}},
            "labeler.engine='siesta'",
        ),
        (
            lambda inputs: {
                'label': {
                    **inputs['label'],
                    'group_size': 4,
                    'labeler': {'engine': 'ase', 'md': {'temperature': 50.0, 'nsteps': 2, 'timestep': 1.0}},
                }
            },
            'label.group_size=4: labeler.md runs one MD per job; set group_size to 1',
        ),
    ],
)
def test_bad_input_is_refused_before_any_job_runs(generate_workchain, loop_inputs, change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_workchain('dpgen.dpgen', {**loop_inputs, **change(loop_inputs)})


def test_missing_md_code_is_refused_before_training(generate_workchain, loop_inputs):
    explore = dict(loop_inputs['explore'])
    explore['lammps'] = {'lammps': {k: v for k, v in explore['lammps']['lammps'].items() if k != 'code'}}
    with pytest.raises(ValueError, match=re.escape('explore.lammps.lammps.code: missing; give the LAMMPS with')):
        generate_workchain('dpgen.dpgen', {**loop_inputs, 'explore': explore})


def test_a_restart_from_without_the_iteration_outputs_is_refused(generate_workchain, loop_inputs):
    from aiida.orm import Dict

    broken = {'iter_000': {'report': Dict({'iteration': 0}).store()}}
    with pytest.raises(ValueError, match=re.escape('restart_from.iter_000: expected iter_NNN with report, models')):
        generate_workchain('dpgen.dpgen', {**loop_inputs, 'restart_from': broken})


def test_a_pytorch_loop_reusing_the_tensorflow_models_it_restarts_from_is_refused(
    generate_workchain, codes, make_cu_frames
):
    from aiida.orm import Dict

    from aiida_dpgen.data import DeepPotentialData

    from ..conftest import FIXTURES

    dataset = LabeledDatasetData.from_ase(make_cu_frames('fcc', 3), ['Cu']).store()
    configurations = {'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu']).store()}
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': dataset},
        configurations=configurations,
        schedule=[STAGE, STAGE],
        selection=SELECTION,
        labeler={'engine': 'ase'},
        protocol='fast',
        overrides={'train': {'model': 'dpa3'}, 'train_reuse': {'training': {'numb_steps': 100}}},
    )
    assert builder.train.base.dp.backend.value == 'pt'
    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    models = {f'model_{i}': DeepPotentialData(str(model), type_map=['Cu']).store() for i in range(2)}
    builder.restart_from = {'iter_000': {'report': Dict({'iteration': 0}).store(), 'models': models}}
    with pytest.raises(
        ValueError, match=re.escape("restart_from.iter_000.models: models ['model_0', 'model_1'] are .pb")
    ):
        generate_workchain('dpgen.dpgen', builder._inputs(prune=True))


def test_initial_datasets_named_like_the_iterations_labels_are_refused(generate_workchain, loop_inputs):
    datasets = {'iter_000': loop_inputs['datasets']['init']}
    with pytest.raises(ValueError, match=re.escape("datasets: the names ['iter_000'] are taken by the labels")):
        generate_workchain('dpgen.dpgen', {**loop_inputs, 'datasets': datasets})


def test_get_builder_restart_from_refuses_other_processes(generate_workchain, loop_inputs):
    from aiida.orm import WorkflowNode

    with pytest.raises(ValueError, match='is not a DpgenWorkChain'):
        DpgenWorkChain.get_builder_restart_from(WorkflowNode().store())


def finished_label_node(exit_status: int, summary: dict):
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState
    from aiida.orm import Dict, WorkChainNode
    from aiida.plugins.entry_point import format_entry_point_string

    node = WorkChainNode(process_type=format_entry_point_string('aiida.workflows', 'dpgen.label'))
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(exit_status)
    node.store()
    output = Dict(summary).store()
    output.base.links.add_incoming(node, link_type=LinkType.RETURN, link_label='summary')
    return node


def test_a_labeling_step_that_excluded_every_candidate_adds_no_data_and_the_loop_goes_on(
    generate_workchain, loop_inputs
):
    process = generate_workchain('dpgen.dpgen', loop_inputs)
    process.setup()
    process.should_iterate()
    summary = {'frames': 2, 'excluded': 2, 'excluded_by_reason': {'scf_unconverged': 1, 'atoms too close': 1}}
    process.ctx.label = finished_label_node(401, {**summary, 'labeled': 0})
    assert process.inspect_label() is None


def test_a_labeling_step_whose_engine_never_ran_stops_the_loop_naming_the_cause(generate_workchain, loop_inputs):
    """Every label failed and not because of the frames (here: Open MPI refused to run as root): going on would
    label nothing again in every iteration, so the loop stops with 405 and says why."""
    process = generate_workchain('dpgen.dpgen', loop_inputs)
    process.setup()
    process.should_iterate()
    reasons = {'program did not start: mpirun has detected an attempt to run as root.': 2}
    process.ctx.label = finished_label_node(401, {'frames': 2, 'excluded': 2, 'excluded_by_reason': reasons})
    exit_code = process.inspect_label()
    assert exit_code.status == 405
    assert 'none of the 2 labels succeeded' in exit_code.message
    assert 'mpirun has detected an attempt to run as root' in exit_code.message


def test_a_labeling_step_that_failed_otherwise_stops_the_loop_with_403(generate_workchain, loop_inputs):
    process = generate_workchain('dpgen.dpgen', loop_inputs)
    process.setup()
    process.should_iterate()
    process.ctx.models = None
    process.ctx.label = finished_label_node(1, {'frames': 2})
    assert process.inspect_label().status == 403


def finished_init_data_node(outputs: dict):
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState
    from aiida.orm import WorkChainNode
    from aiida.plugins.entry_point import format_entry_point_string

    node = WorkChainNode(process_type=format_entry_point_string('aiida.workflows', 'dpgen.init_data'))
    node.set_process_label('InitDataWorkChain')
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(0)
    node.store()
    for label, output in outputs.items():
        output.store().base.links.add_incoming(node, link_type=LinkType.RETURN, link_label=label)
    return node


def test_the_loop_starts_from_an_init_data_work_chain(codes, make_cu_frames):
    dataset = LabeledDatasetData.from_ase(make_cu_frames('fcc', 3), ['Cu'])
    cells = ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu'])
    slabs = ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu'])
    node = finished_init_data_node({'dataset': dataset, 'configurations__fcc': cells, 'surfaces__fcc': slabs})

    builder = DpgenWorkChain.get_builder_from_protocol(
        codes, init_data=node, schedule=[STAGE], selection=SELECTION, labeler={'engine': 'ase'}, protocol='fast'
    )

    assert builder.datasets['init'].pk == dataset.pk
    assert {name: value.pk for name, value in builder.configurations.items()} == {
        'fcc': cells.pk,
        'fcc_surface': slabs.pk,
    }


def test_an_init_data_work_chain_without_outputs_is_named(codes):
    node = finished_init_data_node({})
    with pytest.raises(ValueError, match=rf'init_data=InitDataWorkChain<{node.pk}> has no dataset'):
        DpgenWorkChain.get_builder_from_protocol(
            codes, init_data=node, schedule=[STAGE], selection=SELECTION, labeler={'engine': 'ase'}
        )
    with pytest.raises(ValueError, match='datasets and configurations: give both'):
        DpgenWorkChain.get_builder_from_protocol(codes, schedule=[STAGE], selection=SELECTION, labeler={})


class _Submitted:
    pk = 1


def pretrained_checkpoint(type_map=('Cu',), heads=None):
    from aiida_dpgen.data import DeepPotentialData

    from ..conftest import FIXTURES

    model = FIXTURES / 'models' / 'cu_se_e2_a.pth'  # the checks read suffix, type map and heads, not the file
    return DeepPotentialData(str(model), filename='model.ckpt-1000.pt', type_map=list(type_map), heads=heads).store()


def pytorch_loop_inputs(loop_inputs, **train) -> dict:
    from aiida.orm import Str

    inputs = {**loop_inputs, 'train': {**loop_inputs['train'], **train}}
    inputs['train']['base'] = {**inputs['train']['base'], 'dp': {**inputs['train']['base']['dp'], 'backend': Str('pt')}}
    return inputs


@pytest.mark.parametrize(
    ('policy', 'second_starts_from'), [('first', 'the first ensemble'), ('always', 'the pretrained model')]
)
def test_a_fine_tuned_loop_starts_each_ensemble_from_what_its_policy_says(
    generate_workchain, loop_inputs, monkeypatch, policy, second_starts_from
):
    pretrained = pretrained_checkpoint(['Ag', 'Cu'])
    inputs = pytorch_loop_inputs(loop_inputs, pretrained_model=pretrained)
    process = generate_workchain('dpgen.dpgen', {**inputs, 'finetune_policy': policy})
    process.setup()
    submitted = []
    monkeypatch.setattr(process, 'submit', lambda cls, **inputs: submitted.append(inputs) or _Submitted())
    monkeypatch.setattr(process, 'report', lambda message: None)

    process.run_train()
    first_models = {'model_0': pretrained_checkpoint()}  # stands for the first ensemble
    process.ctx.models, process.ctx.iteration = first_models, 1
    process.run_train()

    assert submitted[0]['pretrained_model'].pk == pretrained.pk and 'init_models' not in submitted[0]
    if second_starts_from == 'the first ensemble':
        assert 'pretrained_model' not in submitted[1]
        assert {name: node.pk for name, node in submitted[1]['init_models'].items()} == {
            'model_0': first_models['model_0'].pk
        }
    else:
        assert submitted[1]['pretrained_model'].pk == pretrained.pk and 'init_models' not in submitted[1]


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (
            {'train': {'pretrained_model': ('Ag', 'Al')}},
            "train.pretrained_model: the pretrained type_map ['Ag', 'Al'] lacks ['Cu'] of this run",
        ),
        (
            {'train': {'pretrained_model': ('Cu',), 'finetune_head': 'Metals'}},
            "train.finetune_head='Metals': the pretrained model has one head; leave train.finetune_head out",
        ),
        (
            {'train': {'pretrained_model': ('Cu',)}, 'finetune_policy': 'always', 'train_reuse': {'training': {}}},
            "finetune_policy='always' fine-tunes every ensemble from train.pretrained_model, but train_reuse",
        ),
        ({'finetune_policy': 'sometimes'}, "finetune_policy='sometimes': choose one of ['first', 'always']"),
    ],
)
def test_a_pretrained_model_the_loop_cannot_fine_tune_is_refused_before_any_job(
    generate_workchain, loop_inputs, change, message
):
    from aiida.orm import Dict, Str

    train = dict(change.pop('train', {}))
    if 'pretrained_model' in train:
        train['pretrained_model'] = pretrained_checkpoint(train['pretrained_model'])
    if 'finetune_head' in train:
        train['finetune_head'] = Str(train['finetune_head'])
    inputs = pytorch_loop_inputs(loop_inputs, **train)
    extra = {key: Dict(value) if isinstance(value, dict) else Str(value) for key, value in change.items()}
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_workchain('dpgen.dpgen', {**inputs, **extra})


def test_a_two_element_run_gets_one_sel_entry_per_element(codes, make_cu_frames):
    dataset = LabeledDatasetData.from_ase(make_cu_frames('fcc', 3), ['Ag', 'Cu']).store()
    configurations = {'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61)], ['Ag', 'Cu']).store()}
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': dataset},
        configurations=configurations,
        schedule=[STAGE],
        selection=SELECTION,
        labeler={'engine': 'ase'},
        protocol='fast',
    )
    assert builder.train.base.dp.parameters['model']['descriptor']['sel'] == [40, 40]
