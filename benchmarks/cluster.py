"""Orchestration cost per scheduler job on Slurm over SSH: aiida-dpgen's daemon (1 and 2 workers) against
dpdispatcher, the same tiny LAMMPS tasks on the same one-node Slurm, ``--group-size`` tasks per job.

Run on the production profile (``scripts/setup-production.sh`` creates it, with ``localhost-slurm``):

    verdi -p dpgen-production run benchmarks/cluster.py [--tasks 20] [--group-size 1] [--nsteps 20]
                                                        [--repeats 2] [--poll-interval 2]

Runners, in turn, ``--repeats`` times:
  A. bare: ``sbatch --wrap`` once per group of tasks (run one after another), all submitted at once,
     ``squeue`` polled until they are gone (Slurm's own cost of scheduling the jobs, the baseline);
  B. dpdispatcher 1.1 (DP-GEN's dispatcher, from ``.venv-dpgen``): Slurm batch over SSHContext to localhost with
     the key of ``scripts/start-services.sh``, the same ``group_size``, checking every ``--poll-interval`` seconds;
  C. aiida-dpgen: an ``ExploreWorkChain`` with the same ``group_size`` submitted to the daemon (1 worker, then 2
     workers) on ``localhost-slurm`` (core.ssh + core.slurm), scheduler polled every ``--poll-interval``
     seconds, including the selection and storing every result in PostgreSQL.
Overhead per task = (wall time - bare wall time) / tasks, per job the same over the number of jobs; the ratio
against dpdispatcher is taken pair by pair. ``--tasks`` must be a multiple of ``--group-size``, so that all three
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

from aiida.engine import submit
from aiida.manage import get_manager
from aiida.orm import load_code, load_computer, load_node

import aiida_dpgen
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.exploration.tasks import model_filename
from aiida_dpgen.tools.bare import rattled_cu_cells, write_md_tasks
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
    start = time.perf_counter()
    submission.run_submission(check_interval=interval)
    print(json.dumps({'seconds': time.perf_counter() - start}))
    """
)


def run_bare(stage, configuration_node, lmp: str, interval: float, group_size: int) -> float:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as scratch:
        root = pathlib.Path(scratch)
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=True)
        for folder in folders:  # the models next to the inputs, as the dispatchers stage them
            for index in range(2):
                os.link(root / model_filename(index), root / folder / model_filename(index))
        start = time.perf_counter()
        jobs = []
        for first in range(0, len(folders), group_size):
            command = ' && '.join(
                f'(cd {folder} && {lmp} -in in.lammps -log log.lammps -screen none)'
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
        elapsed = time.perf_counter() - start
        missing = [folder for folder in folders if not (root / folder / 'model_devi.out').exists()]
        if missing:
            raise SystemExit(f'bare Slurm jobs did not write model_devi.out in {missing}')
        return elapsed


def run_dpdispatcher(stage, configuration_node, lmp: str, interval: float, group_size: int) -> float:
    python = REPOSITORY / '.venv-dpgen' / 'bin' / 'python'
    SCRATCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as scratch:
        root = pathlib.Path(scratch) / 'work'
        root.mkdir()
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=True)
        start = time.perf_counter()
        arguments = [python, '-c', DPDISPATCHER, root, len(folders), lmp, KEY, interval, group_size]
        arguments = [str(argument) for argument in arguments]
        subprocess.run(arguments, cwd=root, check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        missing = [folder for folder in folders if not (root / folder / 'model_devi.out').exists()]
        if missing:
            raise SystemExit(f'dpdispatcher did not bring back model_devi.out of {missing}')
        shutil.rmtree(str(root) + '-remote', ignore_errors=True)
        return elapsed


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


def run_aiida(stage, configuration_node, models, code, *, workers: int, group_size: int) -> tuple[float, float]:
    """Wall time, and the CPU seconds the engine and its services used meanwhile."""
    profile = get_manager().get_profile().name
    daemon('start', str(workers))
    time.sleep(10)  # the workers' start-up is a once-per-daemon cost, not a per-job one
    cpu = engine_cpu_seconds(profile)
    try:
        start = time.perf_counter()
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
        elapsed = time.perf_counter() - start
        cpu = engine_cpu_seconds(profile) - cpu
    finally:
        daemon('stop')
    node = load_node(node.pk)
    if not node.is_finished_ok:
        raise SystemExit(f'ExploreWorkChain<{node.pk}> failed: {node.exit_message}')
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description='Orchestration cost per Slurm job: aiida-dpgen vs dpdispatcher.')
    parser.add_argument('--tasks', type=int, default=20)
    parser.add_argument('--group-size', type=int, default=1, help='MD tasks per Slurm job, for all runners')
    parser.add_argument('--nsteps', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--computer', default='localhost-slurm')
    parser.add_argument('--poll-interval', type=float, default=2.0)
    arguments = parser.parse_args()
    if arguments.group_size < 1 or arguments.tasks % arguments.group_size:
        parser.error(
            f'--tasks {arguments.tasks} --group-size {arguments.group_size}: the tasks must be a positive multiple of '
            'the group size, so that every runner makes the same jobs (e.g. --tasks 40 --group-size 20)'
        )

    lmp = shutil.which('lmp')
    if lmp is None:
        raise SystemExit('lmp is not on PATH: activate .venv (scripts/install.sh installs it)')
    computer = load_computer(arguments.computer)
    previous_interval = computer.get_minimum_job_poll_interval()
    computer.set_minimum_job_poll_interval(arguments.poll_interval)
    code = load_code(f'lmp@{arguments.computer}')
    models = {f'model_{index}': DeepPotentialData(str(MODEL), type_map=['Cu']).store() for index in range(2)}
    configuration_node = rattled_cu_cells(arguments.tasks)
    stage = {'systems': ['cu'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': arguments.nsteps, 'trj_freq': 10}
    rows, engine_cpu = [], []
    group = arguments.group_size
    try:
        for repeat in range(arguments.repeats):
            row = {
                'bare': run_bare(stage, configuration_node, lmp, arguments.poll_interval, group),
                'dpdispatcher': run_dpdispatcher(stage, configuration_node, lmp, arguments.poll_interval, group),
            }
            row['aiida_1_worker'], engine_1 = run_aiida(
                stage, configuration_node, models, code, workers=1, group_size=group
            )
            row['aiida_2_workers'], engine_2 = run_aiida(
                stage, configuration_node, models, code, workers=2, group_size=group
            )
            rows.append(row)
            engine_cpu.append({'aiida_1_worker': engine_1, 'aiida_2_workers': engine_2})
            print(f'repeat {repeat}: ' + ', '.join(f'{name} {seconds:.1f} s' for name, seconds in row.items()))
            print(f'  engine + PostgreSQL + RabbitMQ CPU: 1 worker {engine_1:.1f} s, 2 workers {engine_2:.1f} s')
    finally:
        computer.set_minimum_job_poll_interval(previous_interval)

    ntasks = arguments.tasks
    njobs = ntasks // group
    print(
        f'\n{ntasks} {arguments.nsteps}-step LAMMPS tasks in {njobs} Slurm jobs of {group}, {len(rows)} repeats, '
        f'polling every {arguments.poll_interval:g} s'
    )
    for name in rows[0]:
        wall = statistics.median(row[name] for row in rows)
        overhead = statistics.median((row[name] - row['bare']) / ntasks for row in rows)
        throughput = ntasks / wall * 3600
        print(
            f'{name:<16} median wall {wall:7.1f} s, {throughput:6.0f} tasks/hour, overhead per task {overhead:6.2f} s, '
            f'per job {overhead * ntasks / njobs:6.2f} s'
        )
    for name in ('aiida_1_worker', 'aiida_2_workers'):
        ratios = [(row[name] - row['bare']) / (row['dpdispatcher'] - row['bare']) for row in rows]
        print(f'ratio of overheads {name} / dpdispatcher, pair by pair: median {statistics.median(ratios):.2f}')
    print(
        json.dumps(
            {
                'rows': rows,
                'engine_cpu': engine_cpu,
                'tasks': ntasks,
                'group_size': group,
                'nsteps': arguments.nsteps,
                'poll': arguments.poll_interval,
            }
        )
    )


main()
