"""Orchestration cost per MD task: ExploreWorkChain with grouped tasks against dpdispatcher, same LAMMPS tasks.

Run on any profile with a ``localhost`` computer (``scripts/run-example.sh`` creates one):

    verdi run benchmarks/orchestration.py [--tasks 20] [--group-size 10] [--nsteps 20] [--repeats 3]
                                          [--poll-interval 5] [--replay]

The tasks are short DPMD runs (32 Cu atoms, two models, NVT) with the same input scripts for all runners:
  A. bare: ``lmp`` once per task, the tasks of a group one after another in a shell script, all groups'
     scripts started at once (the work itself with the dispatchers' parallelism: the baseline),
  B. dpdispatcher (DP-GEN's dispatcher, from ``.venv-dpgen``): Shell batch on the local machine, the same
     ``group_size``, checking its jobs every ``--poll-interval`` seconds (as the engine polls the scheduler),
  C. aiida-dpgen: ``ExploreWorkChain`` with the same ``group_size`` on this profile, including the selection
     and storing every result in the provenance graph,
  D. AiiDA's floor: one trivial ``core.arithmetic.add`` CalcJob alone on the same computer (a bash one-liner, no
     workflow, no files, no parsing): the latency any AiiDA process that runs a job has on this profile.
Overhead per task = (wall time - bare wall time) / tasks, for B and C, measured in the same run, in turn,
``--repeats`` times; the median is reported with the spread.

Every runner starts LAMMPS through the same small wrapper that logs when each task started and ended, so each
wall time splits into: the dispatcher's latency before the first task starts and after the last one ends (its
own work: preparing, submitting, polling, retrieving, parsing, selecting), and the span of the tasks themselves.
The latency does not carry the MD's run-to-run noise (the bare baseline varies by tens of seconds on a shared
machine); a longer span than bare's is the dispatcher's CPU slowing the MD down.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import shutil
import statistics
import subprocess
import tempfile
import textwrap
import time

from aiida.orm import Int, load_computer
from aiida.plugins import CalculationFactory

import aiida_dpgen
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.tools.bare import (
    REPLAY_HELP,
    TaskClock,
    describe_timing,
    latency,
    md_benchmark,
    write_md_tasks,
)
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.explore import ExploreWorkChain
from aiida_dpgen.workflows.runner import run_get_node

REPOSITORY = pathlib.Path(aiida_dpgen.__file__).parents[1]  # `verdi run` does not set a usable __file__
MODEL = REPOSITORY / 'tests' / 'fixtures' / 'models' / 'cu_se_e2_a.pb'
SELECTION = {'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_max': 10}

DPDISPATCHER = textwrap.dedent(
    """
    import json, sys, time
    from dpdispatcher import Machine, Resources, Submission, Task
    root, lmp = sys.argv[1], sys.argv[4]
    ntasks, group_size, interval = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[5])
    machine = Machine.load_from_dict({'batch_type': 'Shell', 'context_type': 'LocalContext',
                                      'local_root': root, 'remote_root': root + '/remote'})
    resources = Resources.load_from_dict({'number_node': 1, 'cpu_per_node': 1, 'gpu_per_node': 0,
                                          'queue_name': '', 'group_size': group_size})
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


def run_bare(stage, configuration_node, clock: TaskClock, group_size: int) -> dict:
    """The groups as plain shell scripts, all started at once (as both dispatchers start their jobs), each
    running its tasks one after another."""
    clock.reset()
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=False)
        groups = [folders[start : start + group_size] for start in range(0, len(folders), group_size)]
        scripts = [
            '\n'.join(
                f'{clock.executable} -in {folder}/in.lammps -log {folder}/log.lammps -screen none' for folder in group
            )
            for group in groups
        ]
        start = time.time()
        processes = [
            subprocess.Popen(['bash', '-c', script], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for script in scripts
        ]
        if any(process.wait() != 0 for process in processes):
            raise SystemExit('a bare LAMMPS run failed')
        return clock.timing(start, time.time(), len(folders))


def run_dpdispatcher(stage, configuration_node, clock: TaskClock, group_size: int, interval: float) -> dict:
    """dpdispatcher's own clock, from submitting to having downloaded everything (its import is not counted)."""
    clock.reset()
    python = REPOSITORY / '.venv-dpgen' / 'bin' / 'python'
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=True)
        arguments = [
            str(python), '-c', DPDISPATCHER, str(root), str(len(folders)), str(group_size), str(clock.executable),
            str(interval),
        ]  # fmt: skip
        completed = subprocess.run(arguments, cwd=root, check=True, capture_output=True, text=True)
        missing = [folder for folder in folders if not (root / folder / 'model_devi.out').exists()]
        if missing:
            raise SystemExit(f'dpdispatcher did not bring back model_devi.out of {missing}')
        clock_times = json.loads(completed.stdout.strip().splitlines()[-1])
        return clock.timing(clock_times['start'], clock_times['end'], len(folders))


def engine_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_aiida(stage, configuration_node, models, code, *, group_size: int, clock: TaskClock) -> dict:
    """The timing, and the CPU time the engine (this process) used meanwhile, which the MD cannot use."""
    clock.reset()
    cpu = engine_cpu_seconds()
    start = time.time()
    _, node = run_get_node(
        ExploreWorkChain,
        models=models,
        configurations={'cu': configuration_node},
        stage=stage,
        selection=SELECTION,
        group_size=group_size,
        lammps={'lammps': {'code': code}},
    )
    end = time.time()
    if not node.is_finished_ok:
        raise SystemExit(f'ExploreWorkChain<{node.pk}> failed: {node.exit_message}')
    timing = clock.timing(start, end, configuration_node.nframes * len(stage['temps']))
    return {**timing, 'engine_cpu': engine_cpu_seconds() - cpu}


def run_aiida_floor(code, clock: TaskClock) -> dict:
    """AiiDA's own floor on this profile: one trivial CalcJob (``core.arithmetic.add``, a bash one-liner) with no
    workflow around it, no files to copy and nothing to parse or select."""
    clock.reset()
    start = time.time()
    _, node = run_get_node(CalculationFactory('core.arithmetic.add'), code=code, x=Int(1), y=Int(2))
    end = time.time()
    if not node.is_finished_ok:
        raise SystemExit(f'ArithmeticAddCalculation<{node.pk}> failed: {node.exit_message}')
    return clock.timing(start, end, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description='Orchestration cost per MD task, aiida-dpgen vs dpdispatcher.')
    parser.add_argument('--tasks', type=int, default=20)
    parser.add_argument('--group-size', type=int, default=10)
    parser.add_argument('--nsteps', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--computer', default='localhost')
    parser.add_argument(
        '--poll-interval',
        type=float,
        default=5.0,
        help="How often both dispatchers check their jobs (s): the computer's minimum scheduler poll interval "
        "during the run (verdi presto sets 1) and dpdispatcher's check_interval (its default is 30).",
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
    try:
        measure(arguments)
    finally:
        computer.set_minimum_job_poll_interval(previous_interval)


def measure(arguments) -> None:
    clocks = pathlib.Path(tempfile.gettempdir()) / 'aiida-dpgen-orchestration'
    configuration_node, stage, clock = md_benchmark(arguments.tasks, arguments.nsteps, MODEL, clocks, arguments.replay)
    code = get_or_create_code(
        clock.executable.name, str(clock.executable), computer=arguments.computer, plugin='dpgen.lammps'
    )
    floor_clock = TaskClock(shutil.which('bash'), clocks)
    floor_code = get_or_create_code(
        'bash-timed', str(floor_clock.executable), computer=arguments.computer, plugin='core.arithmetic.add'
    )
    models = {f'model_{index}': DeepPotentialData(str(MODEL), type_map=['Cu']).store() for index in range(2)}

    rows = []
    for repeat in range(arguments.repeats):
        row = {
            'bare': run_bare(stage, configuration_node, clock, arguments.group_size),
            'dpdispatcher': run_dpdispatcher(
                stage, configuration_node, clock, arguments.group_size, arguments.poll_interval
            ),
            'aiida': run_aiida(stage, configuration_node, models, code, group_size=arguments.group_size, clock=clock),
            'aiida-floor': run_aiida_floor(floor_code, floor_clock),
        }
        rows.append(row)
        print(
            f'repeat {repeat}: '
            + '; '.join(
                f'{name} {describe_timing(timing, cpu_label="engine process CPU")}' for name, timing in row.items()
            )
        )
    report(rows, arguments)


def report(rows: list[dict], arguments) -> None:
    ntasks = arguments.tasks

    def spread(values):
        values = sorted(values)
        return f'median {statistics.median(values):6.3f} s (min {values[0]:.3f}, max {values[-1]:.3f})'

    print(
        f'\n{ntasks} tasks of {arguments.nsteps} MD steps, group_size {arguments.group_size}, {len(rows)} repeats, '
        f'scheduler polled every {arguments.poll_interval:g} s'
    )
    for name in ('bare', 'dpdispatcher', 'aiida'):
        medians = ', '.join(
            f'{key} {statistics.median(row[name][key] for row in rows):7.2f} s' for key in ('wall', 'span')
        )
        latency_median = statistics.median(latency(row[name]) for row in rows)
        print(f'{name:<14} median {medians}, latency before + after the tasks {latency_median:6.2f} s')
    for name, label in (('dpdispatcher', 'dpdispatcher'), ('aiida', 'aiida-dpgen')):
        overheads = [(row[name]['wall'] - row['bare']['wall']) / ntasks for row in rows]
        print(f'overhead per task (wall - bare wall), {label:<13} {spread(overheads)}')
    for name, label in (('dpdispatcher', 'dpdispatcher'), ('aiida', 'aiida-dpgen')):
        per_task = [(latency(row[name]) - latency(row['bare'])) / ntasks for row in rows]
        print(f'latency per task (own work outside the tasks), {label:<13} {spread(per_task)}')
        slowdown = [row[name]['span'] - row['bare']['span'] for row in rows]
        print(f'span longer than bare (CPU taken from the MD), {label:<13} {spread(slowdown)} per run')
    floor = [latency(row['aiida-floor']) for row in rows]
    print(
        f"AiiDA's floor, one trivial CalcJob alone: latency {spread(floor)} "
        f'(before {statistics.median(row["aiida-floor"]["before"] for row in rows):.2f} s, '
        f'after {statistics.median(row["aiida-floor"]["after"] for row in rows):.2f} s)'
    )
    ratio = [latency(row['aiida']) / latency(row['dpdispatcher']) for row in rows]
    print(f'ratio of latencies aiida-dpgen / dpdispatcher, pair by pair: median {statistics.median(ratio):.2f}')
    print(
        json.dumps({'rows': rows, 'tasks': ntasks, 'group_size': arguments.group_size, 'poll': arguments.poll_interval})
    )


main()
