"""Orchestration cost per scheduler job on Slurm over SSH: aiida-dpgen's daemon (1 and 2 workers) against
dpdispatcher, the same tiny LAMMPS tasks on the same one-node Slurm, ``--group-size`` tasks per job.

Run on the production profile (``scripts/setup-production.sh`` creates it, with ``localhost-slurm``):

    verdi -p dpgen-production run benchmarks/cluster.py [--tasks 20] [--group-size 1] [--nsteps 20]
                                                        [--repeats 2] [--poll-interval 2] [--pin] [--replay]

Runners, in turn, ``--repeats`` times:
  A. bare: ``sbatch --wrap`` once per group of tasks (run one after another), all submitted at once,
     ``squeue`` polled until they are gone (Slurm's own cost of scheduling the jobs, the baseline);
  B. dpdispatcher 1.1 (DP-GEN's dispatcher, from ``.venv-dpgen``): Slurm batch over SSHContext to localhost with
     the key of ``scripts/start-services.sh``, the same ``group_size``, checking every ``--poll-interval`` seconds;
  C. aiida-dpgen: an ``ExploreWorkChain`` with the same ``group_size`` submitted to the daemon (1 worker, then 2
     workers) on ``localhost-slurm`` (core.ssh + core.slurm), scheduler polled every ``--poll-interval``
     seconds, including the selection and storing every result in PostgreSQL.
  D. AiiDA's floor: one trivial ``core.arithmetic.add`` CalcJob through a 1-worker daemon on the same computer
     (no workflow, no files, nothing to parse): the latency any AiiDA process that runs a job has there.
Overhead per task = (wall time - bare wall time) / tasks, per job the same over the number of jobs; the ratio
against dpdispatcher is taken pair by pair. Every runner starts LAMMPS through the same wrapper that logs each
task's start and end (``aiida_dpgen.tools.bare.TaskClock``), so each wall time also splits into the runner's
latency before the first task and after the last one, and the span of the tasks (longer than bare's when the
engine's CPU slows the MD on the same cores). ``--tasks`` must be a multiple of ``--group-size``, so that all
runners make the same groups.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import textwrap
import time

from aiida.common.exceptions import NotExistent
from aiida.engine import submit
from aiida.manage import get_manager
from aiida.orm import InstalledCode, Int, load_code, load_computer, load_node
from aiida.plugins import CalculationFactory

import aiida_dpgen
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.exploration.tasks import model_filename
from aiida_dpgen.tools.bare import (
    REPLAY_HELP,
    TaskClock,
    describe_timing,
    latency,
    md_benchmark,
    write_md_tasks,
)
from aiida_dpgen.workflows.explore import ExploreWorkChain

REPOSITORY = pathlib.Path(aiida_dpgen.__file__).parents[1]
MODEL = REPOSITORY / 'tests' / 'fixtures' / 'models' / 'cu_se_e2_a.pb'
SELECTION = {'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_max': 10}
KEY = pathlib.Path.home() / '.ssh' / 'aiida-dpgen-localhost'
SCRATCH = pathlib.Path('/var/tmp/aiida-dpgen-benchmark')

DPDISPATCHER = textwrap.dedent(
    """
    import json, sys, time
    from dpdispatcher import Machine, Resources, Submission, Task
    root, ntasks, lmp, key, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
    group_size = int(sys.argv[6])
    machine = Machine.load_from_dict({
        'batch_type': 'Slurm', 'context_type': 'SSHContext', 'local_root': root, 'remote_root': root + '-remote',
        'remote_profile': {'hostname': 'localhost', 'username': 'root', 'key_filename': key}})
    resources = Resources.load_from_dict({'number_node': 1, 'cpu_per_node': 1, 'gpu_per_node': 0,
                                          'queue_name': 'debug', 'group_size': group_size})
    tasks = [Task(command=f'{lmp} -in in.lammps -log log.lammps -screen none', task_work_path=f'task.{i:06d}/',
                  forward_files=['in.lammps', 'conf.lmp'], backward_files=['model_devi.out', 'traj.dump', 'log.lammps'])
             for i in range(ntasks)]
    submission = Submission(work_base='./', machine=machine, resources=resources, task_list=tasks,
                            forward_common_files=['graph.000.pb', 'graph.001.pb'])
    start = time.time()
    submission.run_submission(check_interval=interval)
    print(json.dumps({'start': start, 'end': time.time()}))
    """
)


def run_bare(stage, configuration_node, clock: TaskClock, interval: float, group_size: int) -> dict:
    clock.reset()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as scratch:
        root = pathlib.Path(scratch)
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=True)
        for folder in folders:  # the models next to the inputs, as the dispatchers stage them
            for index in range(2):
                os.link(root / model_filename(index), root / folder / model_filename(index))
        start = time.time()
        jobs = []
        for first in range(0, len(folders), group_size):
            command = ' && '.join(
                f'(cd {folder} && {clock.executable} -in in.lammps -log log.lammps -screen none)'
                for folder in folders[first : first + group_size]
            )
            done = subprocess.run(
                ['sbatch', '--parsable', '-n', '1', '-D', str(root), '-o', f'slurm.{first}.out', '--wrap', command],
                capture_output=True,
                text=True,
                check=True,
            )
            jobs.append(done.stdout.strip())
        queue = ['squeue', '-h', '-j', ','.join(jobs)]
        while subprocess.run(queue, capture_output=True, text=True, check=False).stdout.strip():
            time.sleep(interval)
        end = time.time()
        missing = [folder for folder in folders if not (root / folder / 'model_devi.out').exists()]
        if missing:
            raise SystemExit(f'bare Slurm jobs did not write model_devi.out in {missing}')
        return clock.timing(start, end, len(folders))


def run_dpdispatcher(stage, configuration_node, clock: TaskClock, interval: float, group_size: int) -> dict:
    """dpdispatcher's own clock, from submitting to having downloaded everything (its import is not counted)."""
    clock.reset()
    python = REPOSITORY / '.venv-dpgen' / 'bin' / 'python'
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as scratch:
        root = pathlib.Path(scratch) / 'work'
        root.mkdir()
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=True)
        arguments = [python, '-c', DPDISPATCHER, root, len(folders), clock.executable, KEY, interval, group_size]
        arguments = [str(argument) for argument in arguments]
        completed = subprocess.run(arguments, cwd=root, check=True, capture_output=True, text=True)
        times = json.loads(completed.stdout.strip().splitlines()[-1])
        missing = [folder for folder in folders if not (root / folder / 'model_devi.out').exists()]
        if missing:
            raise SystemExit(f'dpdispatcher did not bring back model_devi.out of {missing}')
        shutil.rmtree(str(root) + '-remote', ignore_errors=True)
        return clock.timing(times['start'], times['end'], len(folders))


CPU_LABEL = 'engine + PostgreSQL + RabbitMQ CPU'
SERVICES = ('postgres', 'beam.smp', 'epmd', 'sshd', 'munged', 'slurmctld', 'slurmscriptd')
"""Processes that serve the engine (database, broker, SSH, Slurm's controller): with ``--pin`` on the engine's core."""


def pin(engine_cores: set[int], job_cores: set[int]) -> None:
    """Put this process (and so the daemon it starts), the services and the SSH server on ``engine_cores`` and
    ``slurmd`` on ``job_cores``. With Slurm's ``TaskPlugin=task/none`` the jobs inherit slurmd's affinity, so the
    engine's CPU no longer slows the MD, as with a daemon on a machine of its own."""
    import psutil

    os.sched_setaffinity(0, engine_cores)
    for process in psutil.process_iter(['name']):
        cores = job_cores if process.info['name'] == 'slurmd' else engine_cores
        if process.info['name'] in (*SERVICES, 'slurmd'):
            try:
                process.cpu_affinity(sorted(cores))
            except psutil.Error:
                continue


def daemon(*arguments: str) -> None:
    profile = get_manager().get_profile().name
    subprocess.run(['verdi', '-p', profile, 'daemon', *arguments], check=True, capture_output=True)


def engine_cpu_seconds(profile: str) -> float:
    """CPU seconds used so far by this profile's daemon workers and by PostgreSQL and RabbitMQ: time the jobs on
    this machine's cores cannot use."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(['cmdline', 'name']):
        cmdline = ' '.join(process.info['cmdline'] or [])
        if f'-p {profile} daemon worker' in cmdline or process.info['name'] in ('postgres', 'beam.smp'):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def run_aiida(stage, configuration_node, models, code, *, workers: int, group_size: int, clock: TaskClock) -> dict:
    """The timing, and the CPU seconds the engine and its services used meanwhile."""
    clock.reset()
    profile = get_manager().get_profile().name
    daemon('start', str(workers))
    time.sleep(10)  # the workers' start-up is a once-per-daemon cost, not a per-job one
    cpu = engine_cpu_seconds(profile)
    try:
        start = time.time()
        node = submit(
            ExploreWorkChain,
            models=models,
            configurations={'cu': configuration_node},
            stage=stage,
            selection=SELECTION,
            group_size=group_size,
            lammps={'lammps': {'code': code}},
        )
        while not load_node(node.pk).is_terminated:
            time.sleep(0.5)
        end = time.time()
        cpu = engine_cpu_seconds(profile) - cpu
    finally:
        daemon('stop')
    node = load_node(node.pk)
    if not node.is_finished_ok:
        raise SystemExit(f'ExploreWorkChain<{node.pk}> failed: {node.exit_message}')
    return {**clock.timing(start, end, configuration_node.nframes), 'engine_cpu': cpu}


def run_aiida_floor(code, clock: TaskClock) -> dict:
    """AiiDA's own floor on this computer: one trivial CalcJob (``core.arithmetic.add``, a bash one-liner) submitted
    to a 1-worker daemon, with no workflow around it, no files to copy and nothing to parse or select."""
    clock.reset()
    daemon('start', '1')
    time.sleep(10)
    try:
        start = time.time()
        options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False}
        node = submit(
            CalculationFactory('core.arithmetic.add'), code=code, x=Int(1), y=Int(2), metadata={'options': options}
        )
        while not load_node(node.pk).is_terminated:
            time.sleep(0.5)
        end = time.time()
    finally:
        daemon('stop')
    node = load_node(node.pk)
    if not node.is_finished_ok:
        raise SystemExit(f'ArithmeticAddCalculation<{node.pk}> failed: {node.exit_message}')
    return clock.timing(start, end, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description='Orchestration cost per Slurm job: aiida-dpgen vs dpdispatcher.')
    parser.add_argument('--tasks', type=int, default=20)
    parser.add_argument('--group-size', type=int, default=1, help='MD tasks per Slurm job, for all runners')
    parser.add_argument('--nsteps', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--computer', default='localhost-slurm')
    parser.add_argument('--poll-interval', type=float, default=2.0)
    parser.add_argument(
        '--pin',
        action='store_true',
        help='engine, services and sshd on core 0, the Slurm jobs on the other cores (a daemon on its own machine)',
    )
    parser.add_argument('--replay', action='store_true', help=REPLAY_HELP)
    arguments = parser.parse_args()
    if arguments.group_size < 1 or arguments.tasks % arguments.group_size:
        parser.error(
            f'--tasks {arguments.tasks} --group-size {arguments.group_size}: the tasks must be a positive multiple of '
            'the group size, so that every runner makes the same jobs (e.g. --tasks 40 --group-size 20)'
        )

    computer = load_computer(arguments.computer)
    previous_interval = computer.get_minimum_job_poll_interval()
    computer.set_minimum_job_poll_interval(arguments.poll_interval)
    configuration_node, stage, clock = md_benchmark(
        arguments.tasks, arguments.nsteps, MODEL, SCRATCH / 'clock', arguments.replay
    )
    code = timed_code(clock, load_code(f'lmp@{arguments.computer}'))
    floor_clock = TaskClock(shutil.which('bash'), SCRATCH / 'clock')
    floor_code = timed_code(floor_clock, code, plugin='core.arithmetic.add')
    models = {f'model_{index}': DeepPotentialData(str(MODEL), type_map=['Cu']).store() for index in range(2)}
    rows = []
    group, interval = arguments.group_size, arguments.poll_interval
    all_cores = os.sched_getaffinity(0)
    if arguments.pin:
        if len(all_cores) < 2:
            parser.error(f'--pin needs at least 2 cores, this process may use {sorted(all_cores)}')
        pin({min(all_cores)}, all_cores - {min(all_cores)})
    try:
        for repeat in range(arguments.repeats):
            row = {
                'bare': run_bare(stage, configuration_node, clock, interval, group),
                'dpdispatcher': run_dpdispatcher(stage, configuration_node, clock, interval, group),
            }
            for workers in (1, 2):
                row[f'aiida_{workers}_worker'] = run_aiida(
                    stage, configuration_node, models, code, workers=workers, group_size=group, clock=clock
                )
            row['aiida_floor'] = run_aiida_floor(floor_code, floor_clock)
            rows.append(row)
            print(
                f'repeat {repeat}: '
                + '; '.join(
                    f'{name} {describe_timing(timing, digits=1, cpu_label=CPU_LABEL)}' for name, timing in row.items()
                )
            )
    finally:
        computer.set_minimum_job_poll_interval(previous_interval)
        if arguments.pin:
            pin(all_cores, all_cores)
    report(rows, arguments)


def timed_code(clock: TaskClock, code, plugin: str | None = None):
    """A code on ``code``'s computer, with its prepend text, that runs the clock's wrapper."""
    label = clock.executable.name
    try:
        return load_code(f'{label}@{code.computer.label}')
    except NotExistent:
        return InstalledCode(
            label=label,
            computer=code.computer,
            filepath_executable=str(clock.executable),
            default_calc_job_plugin=plugin or code.default_calc_job_plugin,
            prepend_text=code.prepend_text,
        ).store()


def report(rows: list[dict], arguments) -> None:
    ntasks, group = arguments.tasks, arguments.group_size
    njobs = ntasks // group
    print(
        f'\n{ntasks} {arguments.nsteps}-step LAMMPS tasks in {njobs} Slurm jobs of {group}, {len(rows)} repeats, '
        f'polling every {arguments.poll_interval:g} s'
        + (', engine and services pinned to core 0' if arguments.pin else '')
    )
    for name in ('bare', 'dpdispatcher', 'aiida_1_worker', 'aiida_2_worker'):
        wall = statistics.median(row[name]['wall'] for row in rows)
        overhead = statistics.median((row[name]['wall'] - row['bare']['wall']) / ntasks for row in rows)
        latency_median = statistics.median(latency(row[name]) for row in rows)
        span = statistics.median(row[name]['span'] - row['bare']['span'] for row in rows)
        print(
            f'{name:<16} median wall {wall:7.1f} s, {ntasks / wall * 3600:6.0f} tasks/hour, overhead per task '
            f'{overhead:5.2f} s (per job {overhead * ntasks / njobs:5.2f} s); latency before + after the tasks '
            f'{latency_median:5.1f} s, span {span:+5.1f} s against bare'
        )
    for name in ('aiida_1_worker', 'aiida_2_worker'):
        ratios = [
            (row[name]['wall'] - row['bare']['wall']) / (row['dpdispatcher']['wall'] - row['bare']['wall'])
            for row in rows
        ]
        latency_ratios = [latency(row[name]) / latency(row['dpdispatcher']) for row in rows]
        print(
            f'{name} / dpdispatcher, pair by pair: overheads median {statistics.median(ratios):.2f}, '
            f'latencies median {statistics.median(latency_ratios):.2f}'
        )
    floor = sorted(latency(row['aiida_floor']) for row in rows)
    print(
        f"AiiDA's floor, one trivial CalcJob alone through the daemon: latency median {statistics.median(floor):.2f} s "
        f'(min {floor[0]:.2f}, max {floor[-1]:.2f})'
    )
    print(
        json.dumps(
            {
                'rows': rows,
                'tasks': ntasks,
                'group_size': group,
                'nsteps': arguments.nsteps,
                'poll': arguments.poll_interval,
            }
        )
    )


main()
