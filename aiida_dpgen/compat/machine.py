"""DP-GEN's ``machine.json`` (dpdispatcher's format, ``api_version`` 1.0) as AiiDA computers, codes and resources.

Each step (``train``, ``model_devi``, ``fp``) names a machine (batch and context type, host, remote root), a
command and resources. :func:`translate_machine` turns them into plain settings for ``verdi computer setup``
(scheduler and transport entry points, host, work directory), an installed code (the executable, run under the
computer's ``mpirun`` when the command starts with an MPI launcher) and the per-step resources of
:mod:`aiida_dpgen.utils.resources`.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping

from dargs import Argument

from aiida_dpgen.compat.arguments import DpgenInputError, check_types

STEPS = {'train': 'train', 'model_devi': 'explore', 'fp': 'label'}
"""DP-GEN's step names and ours."""

SCHEDULERS = {
    'slurm': 'core.slurm',
    'slurmjobarray': 'core.slurm',
    'pbs': 'core.pbspro',
    'torque': 'core.torque',
    'lsf': 'core.lsf',
    'shell': 'core.direct',
}
TRANSPORTS = {
    'sshcontext': 'core.ssh',
    'ssh': 'core.ssh',
    'localcontext': 'core.local',
    'local': 'core.local',
    'lazylocalcontext': 'core.local',
    'lazylocal': 'core.local',
}
MPI_LAUNCHERS = ('mpirun', 'mpiexec', 'srun', 'ibrun', 'aprun')
PROCESS_COUNT_FLAGS = {'mpirun': '-np', 'mpiexec': '-n', 'srun': '-n', 'aprun': '-n', 'ibrun': None}
"""How each launcher is told the number of processes; ibrun takes it from the scheduler."""
COUNT_OPTIONS = ('-np', '-n', '--np', '--ntasks', '-c')
"""A launcher's process-count options in DP-GEN commands: the count comes from the resources instead."""

RESOURCE_KEYS = {
    'number_node': 'nodes',
    'cpu_per_node': 'mpiprocs_per_node',
    'gpu_per_node': 'gpus_per_node',
    'queue_name': 'queue',
}
RESOURCE_NO_EFFECT = {
    'strategy': 'AiiDA runs one job per calculation; no CUDA device spreading is done',
    'wait_time': 'AiiDA polls the scheduler itself (computer minimum_job_poll_interval)',
    'batch_type': 'the scheduler comes from machine.batch_type',
    'para_deg': 'each job runs its tasks one after another',
}


_WALLTIME = re.compile(r'^#(?:SBATCH\s+(?:-t\s*|--time[= ])|PBS\s+-l\s+walltime=)(?P<value>[\d:-]+)\s*$')


@dataclasses.dataclass
class StepMachine:
    """Where and how one step runs: computer settings, the code, resources and group size."""

    step: str
    computer: dict
    code: dict
    resources: dict
    group_size: int
    notes: list[str] = dataclasses.field(default_factory=list)


def _machine_arguments() -> Argument:
    return Argument(
        'machine',
        dict,
        sub_fields=[
            Argument('batch_type', str, doc='Slurm, PBS, Torque, LSF or Shell'),
            Argument('context_type', str, doc='SSHContext, LocalContext or LazyLocalContext'),
            Argument('local_root', str, optional=True),
            Argument('remote_root', str, optional=True, doc='work directory on the computer'),
            Argument('remote_profile', dict, optional=True, doc='hostname, username, port, key_filename'),
            Argument('clean_asynchronously', bool, optional=True),
        ],
    )


def _resources_arguments() -> Argument:
    return Argument(
        'resources',
        dict,
        sub_fields=[
            Argument('number_node', int, optional=True),
            Argument('cpu_per_node', int, optional=True),
            Argument('gpu_per_node', int, optional=True),
            Argument('queue_name', str, optional=True),
            Argument('group_size', int, optional=True),
            Argument('custom_flags', list, optional=True),
            Argument('source_list', list, optional=True),
            Argument('module_purge', bool, optional=True),
            Argument('module_unload_list', list, optional=True),
            Argument('module_list', list, optional=True),
            Argument('envs', dict, optional=True),
            Argument('prepend_script', list, optional=True),
            Argument('append_script', list, optional=True),
            Argument('kwargs', dict, optional=True),
        ],
    )


def translate_machine(mdata: Mapping) -> dict[str, StepMachine]:
    """The three steps of a ``machine.json``, validated; keys are our step names (train, explore, label)."""
    if not isinstance(mdata, Mapping):
        raise DpgenInputError(f'machine.json: expected a JSON object, got {type(mdata).__name__}')
    version = str(mdata.get('api_version', '1.0'))
    if version.split('.', maxsplit=1)[0] != '1' or 'train_machine' in mdata:
        raise DpgenInputError(
            f'not supported: machine.json api_version={version!r} (train_machine/train_resources format); '
            'write it in dpdispatcher\'s format, api_version "1.0", as DP-GEN 0.10 and later require'
        )
    missing = [step for step in STEPS if step not in mdata]
    if missing:
        raise DpgenInputError(f'machine.json: {missing} missing; give train, model_devi and fp, each a machine')
    return {ours: translate_step(step, mdata[step]) for step, ours in STEPS.items()}


def translate_step(step: str, settings) -> StepMachine:
    where = f'machine.json {step}'
    if isinstance(settings, list):
        if len(settings) != 1:
            raise DpgenInputError(f'not supported: {where} as a list of {len(settings)} machines; give one')
        settings = settings[0]
    if not isinstance(settings, Mapping) or 'command' not in settings or 'machine' not in settings:
        raise DpgenInputError(f'{where}: expected {{"command": ..., "machine": {{...}}, "resources": {{...}}}}')
    for key in ('user_forward_files', 'user_backward_files'):
        if settings.get(key):
            raise DpgenInputError(f'not supported: {where}.{key}; files are passed as AiiDA inputs')
    notes = []
    computer = _computer(settings['machine'], f'{where}.machine', notes)
    code = _code(settings['command'], f'{where}.command', notes)
    resources, group_size = _resources(settings.get('resources', {}), f'{where}.resources', computer, notes)
    if group_size > 1 and step == 'train':
        notes.append(f'{where}.resources.group_size={group_size}: each model is trained in a job of its own')
    if group_size > 1 and step == 'fp':
        notes.append(
            f'{where}.resources.group_size={group_size}: label.group_size, single points packed in jobs with '
            'fp_style pwscf; each frame in a job of its own with the other fp_style'
        )
    return StepMachine(STEPS[step], computer, code, resources, group_size, notes)


def _computer(machine: Mapping, where: str, notes: list[str]) -> dict:
    arguments = _machine_arguments()
    check_types(machine, arguments, where)
    batch = machine.get('batch_type', '')
    context = machine.get('context_type', '')
    if batch.lower() not in SCHEDULERS:
        raise DpgenInputError(
            f'not supported: {where}.batch_type={batch!r}; AiiDA computers here use Slurm, PBS, Torque, LSF or Shell'
        )
    if context.lower() not in TRANSPORTS:
        raise DpgenInputError(
            f'not supported: {where}.context_type={context!r}; use SSHContext, LocalContext or LazyLocalContext'
        )
    for key in machine:
        if key not in arguments.sub_fields and not key.startswith('_'):
            raise DpgenInputError(f'not supported: {where}.{key}')
    profile = dict(machine.get('remote_profile', {}))
    transport = TRANSPORTS[context.lower()]
    computer = {
        'scheduler': SCHEDULERS[batch.lower()],
        'transport': transport,
        'hostname': profile.get('hostname', 'localhost') if transport == 'core.ssh' else 'localhost',
        'work_dir': machine.get('remote_root') or machine.get('local_root') or '/tmp/aiida',
    }
    if transport == 'core.ssh':
        if 'hostname' not in profile:
            raise DpgenInputError(f'{where}.remote_profile.hostname: missing; SSHContext needs the host to connect to')
        if profile.get('password'):
            raise DpgenInputError(
                f'{where}.remote_profile.password: not taken; AiiDA connects with SSH keys '
                '(key_filename), so that no secret is stored in the profile'
            )
        computer['ssh'] = {
            key: profile[source]
            for source, key in (('username', 'username'), ('port', 'port'), ('key_filename', 'key_filename'))
            if source in profile
        }
    if batch.lower() == 'slurmjobarray':
        notes.append(f'{where}.batch_type=SlurmJobArray: submitted as plain Slurm jobs, one per AiiDA calculation')
    return computer


def _code(command: str, where: str, notes: list[str]) -> dict:
    """``[launcher [options]] executable [< input]``: the launcher and its options (but the process count, which
    comes from the resources) become the computer's MPI command, ``mpirun_command``."""
    if not isinstance(command, str) or not command.strip():
        raise DpgenInputError(f'{where}={command!r}: expected the command line, e.g. "dp" or "mpirun -n 32 pw.x"')
    tokens = shlex.split(command)
    redirection = next((index for index, token in enumerate(tokens) if token[0] in '<>'), None)
    if redirection is not None:
        notes.append(
            f'{where}: {" ".join(tokens[redirection:])!r} dropped; the AiiDA plugin redirects input and output'
        )
        tokens = tokens[:redirection]
    withmpi = tokens[0] in MPI_LAUNCHERS
    rest = tokens[1:] if withmpi else tokens
    options = []
    while withmpi and rest and rest[0].startswith('-'):
        option = [rest.pop(0)]
        if rest and '=' not in option[0] and not rest[0].startswith('-') and len(rest) > 1:
            option.append(rest.pop(0))
        if option[0].split('=', 1)[0] not in COUNT_OPTIONS:
            options.extend(option)
    if len(rest) != 1:
        raise DpgenInputError(
            f'not supported: {where}={command!r}; give "[mpirun [options]] EXECUTABLE" without arguments '
            '(the MPI process count comes from resources.cpu_per_node)'
        )
    if not withmpi:
        return {'executable': rest[0], 'withmpi': False}
    count = PROCESS_COUNT_FLAGS[tokens[0]]
    launcher = [tokens[0], *options, *([count, '{tot_num_mpiprocs}'] if count else [])]
    return {'executable': rest[0], 'withmpi': True, 'mpirun_command': launcher}


def _resources(resources: Mapping, where: str, computer: dict, notes: list[str]) -> tuple[dict, int]:
    arguments = _resources_arguments()
    check_types(resources, arguments, where)
    translated: dict = {}
    for key, ours in RESOURCE_KEYS.items():
        if key in resources:
            translated[ours] = resources[key]
    prepend_text = _prepend_text(resources)
    if prepend_text:
        translated['prepend_text'] = prepend_text
    walltime, flags = _split_walltime(resources.get('custom_flags', []))
    if walltime:
        translated['walltime'] = walltime
    if flags:
        translated['scheduler_commands'] = '\n'.join(flags)
    if translated.get('gpus_per_node') == 0:
        translated.pop('gpus_per_node')
    notes.extend(_check_resource_keys(resources, set(arguments.sub_fields), where))
    if computer['scheduler'] == 'core.direct':
        translated.pop('queue', None)
    return translated, resources.get('group_size', 1)


def _check_resource_keys(resources: Mapping, known: set[str], where: str) -> list[str]:
    """Notes for the keys without effect; an error for a feature that is not supported."""
    for key in ('append_script', 'kwargs'):
        if resources.get(key):
            raise DpgenInputError(f'not supported: {where}.{key}')
    for key in resources:
        if key not in known and key not in RESOURCE_NO_EFFECT and not key.startswith('_'):
            raise DpgenInputError(f'not supported: {where}.{key}')
    return [f'{where}.{key} has no effect: {reason}' for key, reason in RESOURCE_NO_EFFECT.items() if key in resources]


def _prepend_text(resources: Mapping) -> str:
    """dpdispatcher's environment keys as the lines that run before the executable, in its order."""
    lines = ['module purge'] if resources.get('module_purge') else []
    lines += [f'module unload {name}' for name in resources.get('module_unload_list', [])]
    lines += [f'module load {name}' for name in resources.get('module_list', [])]
    lines += [f'source {shlex.quote(path)}' for path in resources.get('source_list', [])]
    lines += [f'export {name}={shlex.quote(str(value))}' for name, value in resources.get('envs', {}).items()]
    lines += list(resources.get('prepend_script', []))
    return '\n'.join(lines)


def _split_walltime(flags: list[str]) -> tuple[str | None, list[str]]:
    """A walltime flag becomes the job's walltime, so that AiiDA does not write a second, conflicting one."""
    walltime, rest = None, []
    for flag in flags:
        match = _WALLTIME.match(flag.strip())
        if match:
            walltime = match['value']
        else:
            rest.append(flag)
    return walltime, rest
