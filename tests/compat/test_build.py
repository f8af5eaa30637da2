"""A translated param.json becomes a DpgenWorkChain that passes its own input validation, for every example."""

from __future__ import annotations

import json

import pytest
from aiida import orm

from aiida_dpgen.compat.build import LABEL_PLUGINS, build_dpgen_builder, codes_from_machine
from aiida_dpgen.compat.machine import translate_machine
from aiida_dpgen.compat.param import translate_param
from aiida_dpgen.compat.plan import describe_run

from .dpgen_examples import NUMBER_OF_CH4_CONFIGURATIONS, example_tree


def _codes(computer, engine):
    def code(executable, plugin):
        return orm.InstalledCode(computer=computer, filepath_executable=executable, default_calc_job_plugin=plugin)

    return {
        'train': code('dp', 'dpgen.train').store(),
        'explore': code('lmp', 'dpgen.lammps').store(),
        'label': code('engine', LABEL_PLUGINS[engine]).store(),
    }


@pytest.mark.parametrize('style', ['vasp', 'pwscf', 'cp2k', 'gaussian'])
def test_builder_validates(style, tmp_path, aiida_localhost, generate_workchain):
    jdata, base = example_tree(tmp_path, style)
    for key in ('use_clusters', 'cluster_cutoff', 'cluster_minify'):
        jdata.pop(key, None)
    param = translate_param(jdata, base)
    builder = build_dpgen_builder(param, _codes(aiida_localhost, param.labeler['engine']), protocol='fast')
    inputs = builder._inputs(prune=True)

    datasets = inputs['datasets']
    assert sorted(datasets) == sorted(param.init_data)
    assert all(node.type_map == jdata['type_map'] for node in datasets.values())
    assert {name: node.nframes for name, node in inputs['configurations'].items()} == {
        name: len(files) for name, files in param.configurations.items()
    }
    if style in ('vasp', 'pwscf', 'cp2k'):
        assert sum(node.nframes for node in inputs['configurations'].values()) == NUMBER_OF_CH4_CONFIGURATIONS
    assert inputs['train']['numb_models'].value == 4
    assert inputs['train']['base']['dp']['parameters'].get_dict() == param.training_parameters
    assert inputs['schedule'].get_list() == param.schedule
    assert inputs['selection'].get_dict() == {**param.selection, 'seed': 2020}
    labeler = inputs['label']['labeler'].get_dict()
    assert labeler['engine'] == param.labeler['engine'] and labeler['protocol'] == 'fast'
    assert labeler['overrides'] == param.labeler['overrides']
    if style == 'pwscf':
        from aiida_pseudo.groups.family import PseudoPotentialFamily

        family = PseudoPotentialFamily.collection.get(label=labeler['pseudo_family'])
        assert sorted(pseudo.element for pseudo in family.nodes) == ['C', 'H']
    if style == 'vasp':
        assert labeler['potential_mapping'] == {'H': 'H', 'C': 'C'}
    if 'ratio_failed' in jdata:
        assert inputs['label']['max_excluded_ratio'].value == jdata['ratio_failed']

    process = generate_workchain('dpgen.dpgen', inputs)
    assert process.inputs.schedule.get_list() == param.schedule


def test_same_pseudopotentials_install_once(tmp_path, aiida_localhost):
    jdata, base = example_tree(tmp_path, 'pwscf')
    param = translate_param(jdata, base)
    codes = _codes(aiida_localhost, 'quantumespresso')
    first = build_dpgen_builder(param, codes, protocol='fast').label.labeler['pseudo_family']
    second = build_dpgen_builder(param, codes, protocol='fast').label.labeler['pseudo_family']
    assert first == second


@pytest.mark.parametrize(
    'fp',
    [
        {'style': 'cp2k', 'command': 'mpirun -n 1 cp2k', 'engine': 'cp2k', 'plugin': 'cp2k', 'group_size': 1},
        {
            'style': 'pwscf',
            'command': 'mpirun -n 1 pw.x',
            'engine': 'quantumespresso',
            'plugin': 'quantumespresso.pw',
            'group_size': 3,
        },
    ],
    ids=['cp2k', 'pwscf'],
)
def test_machine_computers_codes_and_resources(tmp_path, aiida_profile_clean, fp):
    """machine.json steps on a local Shell computer: one computer, three codes, resources on every step; fp's
    group_size packs pw.x single points, and the other engines label a frame per job."""
    jdata, base = example_tree(tmp_path, fp['style'])
    step = {
        'command': 'placeholder',
        'machine': {'batch_type': 'Shell', 'context_type': 'LocalContext', 'remote_root': str(tmp_path / 'work')},
        'resources': {'number_node': 1, 'cpu_per_node': 1, 'group_size': 3, 'source_list': ['/opt/env.sh']},
    }
    mdata = {
        'train': {**step, 'command': 'dp'},
        'model_devi': {**step, 'command': 'lmp'},
        'fp': {**step, 'command': fp['command']},
    }
    machines = translate_machine(mdata)
    param = translate_param(jdata, base)
    codes = codes_from_machine(machines, fp['engine'])
    assert len({code.computer.pk for code in codes.values()}) == 1
    assert codes['label'].with_mpi and codes['label'].default_calc_job_plugin == fp['plugin']
    assert codes_from_machine(machines, fp['engine'])['train'].pk == codes['train'].pk, 'found again, not duplicated'

    builder = build_dpgen_builder(param, codes, machines=machines, protocol='fast')
    assert builder.explore.group_size.value == 3
    assert builder.label.group_size.value == fp['group_size']
    assert builder.train.base.dp.metadata.options['prepend_text'] == 'source /opt/env.sh'
    assert builder.label.labeler['options']['prepend_text'] == 'source /opt/env.sh'

    plan = describe_run(param, machines)
    assert 'iteration 0: sys_000; nvt T=[100] K; ' in plan and 'every 10: 10 MD tasks in 4 job(s)' in plan
    assert (
        'note: machine.json fp.resources.group_size=3: label.group_size, single points packed in jobs with fp_style '
        'pwscf; each frame in a job of its own with the other fp_style'
    ) in plan


def test_describe_lists_every_stage(tmp_path):
    jdata, base = example_tree(tmp_path, 'vasp')
    plan = describe_run(translate_param(jdata, base))
    assert 'init_000: 1 system(s), 4 frames' in plan
    assert (
        'iteration 1: sys_001; nvt T=[100] K; 3000 steps of 0.002 ps, every 10: 3 MD tasks in 3 job(s), 903 frames'
        in plan
    )
    assert json.dumps({'fp_task_max': 20, 'fp_task_min': 5, 'skip': 0, 'f_trust_lo': 0.05, 'f_trust_hi': 0.15}) in plan


def test_ssh_computer_is_configured_with_keys(slurm_qe_machines, aiida_profile_clean):
    """machine.json's SSHContext + Slurm: a core.ssh computer with the user's name, port and key, no password."""
    from aiida_dpgen.compat.build import get_or_create_computer

    with pytest.raises(ValueError, match=r"remote_root='PATH_TO_WORK': AiiDA needs an absolute path"):
        get_or_create_computer(slurm_qe_machines['train'].computer)
    for machine in slurm_qe_machines.values():
        machine.computer['work_dir'] = '/scratch/dpgen'
    computer = get_or_create_computer(slurm_qe_machines['train'].computer)
    assert (computer.label, computer.transport_type, computer.scheduler_type) == (
        'dpgen-localhost-slurm',
        'core.ssh',
        'core.slurm',
    )
    assert computer.get_workdir() == '/scratch/dpgen'
    auth = computer.get_authinfo(orm.User.collection.get_default()).get_auth_params()
    assert (auth['username'], auth['port']) == ('USERNAME', 22)
    assert 'password' not in auth
    assert get_or_create_computer(slurm_qe_machines['train'].computer).pk == computer.pk, 'found again'
    other = get_or_create_computer(slurm_qe_machines['label'].computer)
    assert other.hostname == 'xxx.xxx.xxx.xxx' and other.label == 'dpgen-xxx.xxx.xxx.xxx-slurm'


@pytest.fixture
def slurm_qe_machines():
    from .dpgen_examples import FIXTURES

    return translate_machine(json.loads((FIXTURES / 'machine-slurm-qe.json').read_text()))


def test_the_users_mpi_launcher_is_the_label_computers_mpi_command(tmp_path, aiida_profile_clean):
    """`mpirun --allow-run-as-root ...` in fp.command runs pw.x with those flags; a step without them keeps a
    computer of its own with the default command."""
    step = {'machine': {'batch_type': 'Shell', 'context_type': 'LocalContext', 'remote_root': str(tmp_path / 'w')}}
    machines = translate_machine(
        {
            'train': {**step, 'command': 'dp'},
            'model_devi': {**step, 'command': 'mpirun -np 2 lmp'},
            'fp': {**step, 'command': 'mpirun --allow-run-as-root --bind-to none -np 1 pw.x < input'},
        }
    )
    codes = codes_from_machine(machines, 'quantumespresso')
    label_computer = codes['label'].computer
    assert label_computer.get_mpirun_command() == [
        'mpirun',
        '--allow-run-as-root',
        '--bind-to',
        'none',
        '-np',
        '{tot_num_mpiprocs}',
    ]
    assert codes['explore'].computer.get_mpirun_command() == ['mpirun', '-np', '{tot_num_mpiprocs}']
    assert codes['explore'].computer.pk == codes['train'].computer.pk != label_computer.pk
    assert codes_from_machine(machines, 'quantumespresso')['label'].pk == codes['label'].pk, 'found again'
