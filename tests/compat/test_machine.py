"""machine.json (dpdispatcher's format) as computers, codes and per-step resources."""

from __future__ import annotations

import copy
import json

import pytest

from aiida_dpgen.compat.arguments import DpgenInputError
from aiida_dpgen.compat.machine import translate_machine
from aiida_dpgen.utils.resources import job_options

from .dpgen_examples import FIXTURES


@pytest.fixture
def slurm_qe():
    return json.loads((FIXTURES / 'machine-slurm-qe.json').read_text())


def test_dpgen_slurm_example(slurm_qe):
    machines = translate_machine(slurm_qe)
    assert set(machines) == {'train', 'explore', 'label'}
    train, explore, label = machines['train'], machines['explore'], machines['label']
    assert train.computer == {
        'scheduler': 'core.slurm',
        'transport': 'core.ssh',
        'hostname': 'localhost',
        'work_dir': 'PATH_TO_WORK',
        'ssh': {'username': 'USERNAME', 'port': 22},
    }
    assert train.code == {'executable': 'PATH_TO_DEEPMD/dp', 'withmpi': False}
    assert train.resources == {
        'nodes': 1,
        'mpiprocs_per_node': 4,
        'gpus_per_node': 1,
        'queue': 'all',
        'walltime': '23:0:0',
        'prepend_text': 'module load intel\nsource PATH/train_new.env',
        'scheduler_commands': '#SBATCH --mem=16G\n#SBATCH --exclude=gpu06,gpu07',
    }
    assert (explore.code['executable'], explore.group_size) == ('lmp_serial', 5)
    assert label.computer['hostname'] == 'xxx.xxx.xxx.xxx'
    assert label.code == {
        'executable': '/gpfs/share/home/1600017784/yuzhi/soft/QE-mpi/PW/src/pw.x',
        'withmpi': True,
        'mpirun_command': ['mpirun', '-np', '{tot_num_mpiprocs}'],
    }
    assert 'gpus_per_node' not in label.resources, 'zero GPUs is no GPU request'
    assert label.resources['walltime'] == '120:0:0'
    assert any("'< input' dropped" in note for note in label.notes)


def test_resources_render_for_slurm(slurm_qe):
    """The translated resources are valid in this package's resources vocabulary, for the Slurm scheduler."""
    options = job_options(translate_machine(slurm_qe)['train'].resources, 'core.slurm', step='resources.train')
    assert options['max_wallclock_seconds'] == 23 * 3600
    assert options['queue_name'] == 'all'
    assert '--gpus-per-node=1' in options['custom_scheduler_commands']


def test_local_shell_machine():
    step = {
        'command': 'mpirun -np 2 --oversubscribe cp2k.psmp',
        'machine': {'batch_type': 'Shell', 'context_type': 'LocalContext', 'local_root': './', 'remote_root': '/tmp/w'},
        'resources': {'number_node': 1, 'cpu_per_node': 2, 'queue_name': 'ignored', 'envs': {'OMP_NUM_THREADS': 1}},
    }
    machines = translate_machine({'train': step, 'model_devi': step, 'fp': step})
    label = machines['label']
    assert label.computer == {
        'scheduler': 'core.direct',
        'transport': 'core.local',
        'hostname': 'localhost',
        'work_dir': '/tmp/w',
    }
    assert label.code == {
        'executable': 'cp2k.psmp',
        'withmpi': True,
        'mpirun_command': ['mpirun', '--oversubscribe', '-np', '{tot_num_mpiprocs}'],
    }
    assert label.resources == {'nodes': 1, 'mpiprocs_per_node': 2, 'prepend_text': 'export OMP_NUM_THREADS=1'}


@pytest.mark.parametrize(
    ('command', 'mpirun_command'),
    [
        (
            'mpirun --allow-run-as-root --bind-to none -np 1 pw.x < input',
            ['mpirun', '--allow-run-as-root', '--bind-to', 'none', '-np', '{tot_num_mpiprocs}'],
        ),
        ('srun --mpi=pmix pw.x', ['srun', '--mpi=pmix', '-n', '{tot_num_mpiprocs}']),
        ('mpiexec -n 32 --map-by core cp2k.psmp', ['mpiexec', '--map-by', 'core', '-n', '{tot_num_mpiprocs}']),
        ('ibrun pw.x', ['ibrun']),
    ],
)
def test_the_users_launcher_and_its_options_become_the_mpi_command(command, mpirun_command):
    """A DP-GEN run that needed `--allow-run-as-root` (Open MPI as root) lost it to the computer's default
    `mpirun -np N`, and every label failed; the launcher is kept, only the process count comes from resources."""
    step = {'command': command, 'machine': {'batch_type': 'Shell', 'context_type': 'LocalContext'}, 'resources': {}}
    label = translate_machine({'train': {**step, 'command': 'dp'}, 'model_devi': step, 'fp': step})['label']
    assert label.code['withmpi'] is True
    assert label.code['mpirun_command'] == mpirun_command


@pytest.mark.parametrize(
    ('path', 'value', 'message'),
    [
        (
            ('train', 'machine', 'batch_type'),
            'Lebesgue',
            r"not supported: machine.json train.machine.batch_type='Lebesgue'",
        ),
        (('fp', 'machine', 'context_type'), 'HDFSContext', r'not supported: .*context_type'),
        (
            ('fp', 'machine', 'remote_profile', 'password'),
            'secret',
            r'password: not taken; AiiDA connects with SSH keys',
        ),
        (('fp', 'resources', 'cpu_per_node'), '8', r'key `cpu_per_node` gets wrong value type, requires <int>'),
        (('fp', 'command'), 'mpirun -n 8 pw.x -nk 2', r'not supported: machine.json fp.command'),
        (
            ('fp', 'resources', 'append_script'),
            ['echo done'],
            r'not supported: machine.json fp.resources.append_script',
        ),
        (('model_devi', 'user_forward_files'), ['extra.txt'], r'not supported: machine.json model_devi.user_forward'),
    ],
)
def test_bad_machine(slurm_qe, path, value, message):
    changed = copy.deepcopy(slurm_qe)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(DpgenInputError, match=message):
        translate_machine(changed)


def test_lebesgue_example_is_refused():
    with pytest.raises(DpgenInputError, match=r"batch_type='Lebesgue'"):
        translate_machine(json.loads((FIXTURES / 'machine-lebesgue.json').read_text()))


def test_old_format_is_refused():
    with pytest.raises(DpgenInputError, match=r'api_version "1.0"'):
        translate_machine({'train_machine': {'machine_type': 'slurm'}, 'train': {}, 'model_devi': {}, 'fp': {}})


def test_missing_step(slurm_qe):
    del slurm_qe['fp']
    with pytest.raises(DpgenInputError, match=r"\['fp'\] missing"):
        translate_machine(slurm_qe)
