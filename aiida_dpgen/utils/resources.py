"""Per-step job resources in one vocabulary, translated to ``metadata.options`` for AiiDA's scheduler plugins.

DP-GEN's machine.json asks for ``number_node``, ``cpu_per_node``, ``gpu_per_node``, ``queue_name``; AiiDA's
schedulers want ``resources`` in a shape that differs between them (Slurm and PBS count machines, LSF counts
processes) and have no GPU field at all. :func:`job_options` takes the first kind and gives the second, so
that one loop can put training and exploration on GPU nodes and labeling on CPU nodes of other computers.
"""

from __future__ import annotations

import difflib
import re

RESOURCE_KEYS = (
    'nodes',
    'mpiprocs_per_node',
    'threads_per_mpiproc',
    'gpus_per_node',
    'queue',
    'walltime',
    'account',
    'qos',
    'memory_mb',
    'prepend_text',
    'scheduler_commands',
)
"""The keys of a step's resources; every one optional."""

_POSITIVE_INTEGERS = ('nodes', 'mpiprocs_per_node', 'threads_per_mpiproc', 'memory_mb')
_STRINGS = ('queue', 'account', 'qos', 'prepend_text', 'scheduler_commands')
_WALLTIME = re.compile(r'^(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})$')

GPU_DIRECTIVES = {
    'core.slurm': '#SBATCH --gpus-per-node={gpus}',
    'core.lsf': '#BSUB -gpu "num={gpus}"',
}
"""How each scheduler is asked for GPUs per node; core.direct runs on the machine it is on and needs none."""


class ResourceError(ValueError):
    """A step's resources cannot be turned into a job request; the message names the key, value and fix."""


def walltime_seconds(value, where: str = 'walltime') -> int:
    """Seconds from an integer number of seconds or a ``[D-]HH:MM:SS`` string (Slurm's notation)."""
    if isinstance(value, bool):
        raise ResourceError(f'{where}={value!r}: give seconds (3600) or "HH:MM:SS" ("01:00:00")')
    if isinstance(value, int) and value > 0:
        return value
    match = _WALLTIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ResourceError(f'{where}={value!r}: give seconds (3600) or "HH:MM:SS" ("01:00:00"), more than zero')
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise ResourceError(f'{where}={value!r}: a walltime must be more than zero')
    return total


def validate_resources(resources: dict, step: str = 'resources') -> dict:
    """``resources`` checked key by key; a copy with the walltime in seconds."""
    if not isinstance(resources, dict):
        raise ResourceError(f'{step}: expected a dict of {", ".join(RESOURCE_KEYS)}, got {resources!r}')
    checked = {}
    for key, value in resources.items():
        where = f'{step}.{key}'
        if key not in RESOURCE_KEYS:
            close = difflib.get_close_matches(key, RESOURCE_KEYS, n=1)
            hint = f'did you mean `{close[0]}`?' if close else f'valid keys: {", ".join(RESOURCE_KEYS)}'
            raise ResourceError(f'{where}={value!r}: unknown resource key; {hint}')
        if key in _POSITIVE_INTEGERS and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise ResourceError(f'{where}={value!r}: expected a whole number of at least 1')
        if key == 'gpus_per_node' and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise ResourceError(f'{where}={value!r}: expected a whole number of GPUs, 0 or more')
        if key in _STRINGS and not isinstance(value, str):
            raise ResourceError(f'{where}={value!r}: expected a string')
        checked[key] = walltime_seconds(value, where) if key == 'walltime' else value
    return checked


def job_options(resources: dict, scheduler: str, step: str = 'resources') -> dict:
    """The CalcJob ``metadata.options`` that ask ``scheduler`` (an AiiDA scheduler entry point such as
    ``core.slurm``) for ``resources``; ``memory_mb`` is per node."""
    resources = validate_resources(resources, step)
    if 'qos' in resources and scheduler != 'core.slurm':
        raise ResourceError(
            f'{step}.qos={resources["qos"]!r}: {scheduler} does not pass a QOS to the scheduler; '
            "leave qos out and put your site's directive in scheduler_commands"
        )
    options: dict = {'resources': _job_resource(resources, scheduler, step)}
    if 'threads_per_mpiproc' in resources:
        options['environment_variables'] = {'OMP_NUM_THREADS': str(resources['threads_per_mpiproc'])}
    directives = _directives(resources, scheduler, step)
    if directives:
        options['custom_scheduler_commands'] = '\n'.join(directives)
    for key, option in (
        ('walltime', 'max_wallclock_seconds'),
        ('queue', 'queue_name'),
        ('account', 'account'),
        ('qos', 'qos'),
        ('prepend_text', 'prepend_text'),
    ):
        if key in resources:
            options[option] = resources[key]
    if 'memory_mb' in resources:
        options['max_memory_kb'] = resources['memory_mb'] * 1024
    return options


def _job_resource(resources: dict, scheduler: str, step: str) -> dict:
    """The ``resources`` option in the shape of ``scheduler``'s job resource class."""
    nodes = resources.get('nodes', 1)
    mpiprocs = resources.get('mpiprocs_per_node', 1)
    if scheduler == 'core.lsf':
        if 'threads_per_mpiproc' in resources:
            raise ResourceError(
                f'{step}.threads_per_mpiproc={resources["threads_per_mpiproc"]}: core.lsf has no threads per process '
                'field; put `#BSUB -R "affinity[core(N)]"` (your site\'s form) in scheduler_commands instead'
            )
        return {'tot_num_mpiprocs': nodes * mpiprocs}
    if scheduler == 'core.direct' and nodes != 1:
        raise ResourceError(
            f'{step}.nodes={nodes}: core.direct runs on one machine; ask for 1 node or use a computer with a '
            'batch scheduler (core.slurm, core.pbspro, core.lsf)'
        )
    job_resource = {'num_machines': nodes, 'num_mpiprocs_per_machine': mpiprocs}
    if 'threads_per_mpiproc' in resources:
        job_resource['num_cores_per_mpiproc'] = resources['threads_per_mpiproc']
    return job_resource


def _directives(resources: dict, scheduler: str, step: str) -> list[str]:
    """Scheduler directives for what the plugin's own fields cannot ask for: GPUs, LSF's spread over nodes."""
    directives = []
    gpus = resources.get('gpus_per_node', 0)
    if gpus and scheduler in GPU_DIRECTIVES:
        directives.append(GPU_DIRECTIVES[scheduler].format(gpus=gpus))
    elif gpus and scheduler != 'core.direct':  # core.direct runs where the GPUs are: nothing to request
        raise ResourceError(
            f'{step}.gpus_per_node={gpus}: {scheduler} has no GPU request that aiida-dpgen can add (PBS Pro wants '
            'ngpus inside the select statement, which the plugin writes itself); leave gpus_per_node out and '
            "put your site's GPU directive in scheduler_commands, or use a GPU queue"
        )
    if scheduler == 'core.lsf' and resources.get('nodes', 1) > 1:
        directives.append(f'#BSUB -R "span[ptile={resources.get("mpiprocs_per_node", 1)}]"')
    if 'scheduler_commands' in resources:
        directives.append(resources['scheduler_commands'])
    return directives
