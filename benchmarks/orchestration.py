"""Orchestration cost per MD task: ExploreWorkChain with grouped tasks against dpdispatcher, same LAMMPS tasks.

Run on any profile with a ``localhost`` computer (``scripts/run-example.sh`` creates one):

    verdi run benchmarks/orchestration.py [--tasks 20] [--group-size 10] [--nsteps 20] [--repeats 3]
                                          [--poll-interval 5]

The tasks are short DPMD runs (32 Cu atoms, two models, NVT) with the same input scripts for all runners:
  A. bare: ``lmp`` once per task, the tasks of a group one after another in a shell script, all groups'
     scripts started at once (the work itself with the dispatchers' parallelism: the baseline),
  B. dpdispatcher (DP-GEN's dispatcher, from ``.venv-dpgen``): Shell batch on the local machine, the same
     ``group_size``, checking its jobs every ``--poll-interval`` seconds (as the engine polls the scheduler),
  C. aiida-dpgen: ``ExploreWorkChain`` with the same ``group_size`` on this profile, including the selection
     and storing every result in the provenance graph.
Overhead per task = (wall time - bare wall time) / tasks, for B and C, measured in the same run, in turn,
``--repeats`` times; the median is reported with the spread.
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

from aiida.engine import run_get_node
from aiida.orm import load_computer

import aiida_dpgen
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.tools.bare import rattled_cu_cells, write_md_tasks
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.explore import ExploreWorkChain

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
    start = time.perf_counter()
    submission.run_submission(check_interval=interval)
    print(json.dumps({'seconds': time.perf_counter() - start}))
    """
)


def run_bare(stage, configuration_node, lmp: str, group_size: int) -> float:
    """The groups as plain shell scripts, all started at once (as both dispatchers start their jobs), each
    running its tasks one after another."""
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=False)
        groups = [folders[start : start + group_size] for start in range(0, len(folders), group_size)]
        scripts = [
            '\n'.join(f'{lmp} -in {folder}/in.lammps -log {folder}/log.lammps -screen none' for folder in group)
            for group in groups
        ]
        start = time.perf_counter()
        processes = [
            subprocess.Popen(['bash', '-c', script], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for script in scripts
        ]
        if any(process.wait() != 0 for process in processes):
            raise SystemExit('a bare LAMMPS run failed')
        return time.perf_counter() - start


def run_dpdispatcher(stage, configuration_node, lmp: str, group_size: int, interval: float) -> float:
    python = REPOSITORY / '.venv-dpgen' / 'bin' / 'python'
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        folders = write_md_tasks(root, stage, configuration_node, MODEL, in_place=True)
        start = time.perf_counter()
        arguments = [str(python), '-c', DPDISPATCHER, str(root), str(len(folders)), str(group_size), lmp, str(interval)]
        subprocess.run(arguments, cwd=root, check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        missing = [folder for folder in folders if not (root / folder / 'model_devi.out').exists()]
        if missing:
            raise SystemExit(f'dpdispatcher did not bring back model_devi.out of {missing}')
        return elapsed


def engine_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_aiida(stage, configuration_node, models, code, group_size: int) -> tuple[float, float]:
    """Wall time, and CPU time the engine (this process) used meanwhile, which the MD cannot use."""
    cpu = engine_cpu_seconds()
    start = time.perf_counter()
    _, node = run_get_node(
        ExploreWorkChain,
        models=models,
        configurations={'cu': configuration_node},
        stage=stage,
        selection=SELECTION,
        group_size=group_size,
        lammps={'lammps': {'code': code}},
    )
    elapsed = time.perf_counter() - start
    if not node.is_finished_ok:
        raise SystemExit(f'ExploreWorkChain<{node.pk}> failed: {node.exit_message}')
    return elapsed, engine_cpu_seconds() - cpu


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

    lmp = shutil.which('lmp')
    if lmp is None:
        raise SystemExit('lmp is not on PATH: activate .venv (scripts/install.sh installs it)')
    code = get_or_create_code('lmp', 'lmp', computer=arguments.computer, plugin='dpgen.lammps')
    models = {f'model_{index}': DeepPotentialData(str(MODEL), type_map=['Cu']).store() for index in range(2)}
    configuration_node = rattled_cu_cells(arguments.tasks)
    stage = {'systems': ['cu'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': arguments.nsteps, 'trj_freq': 10}

    rows = []
    for repeat in range(arguments.repeats):
        bare = run_bare(stage, configuration_node, lmp, arguments.group_size)
        dispatcher = run_dpdispatcher(stage, configuration_node, lmp, arguments.group_size, arguments.poll_interval)
        aiida, engine_cpu = run_aiida(stage, configuration_node, models, code, arguments.group_size)
        rows.append({'bare': bare, 'dpdispatcher': dispatcher, 'aiida': aiida, 'engine_cpu': engine_cpu})
        print(
            f'repeat {repeat}: bare {bare:.2f} s, dpdispatcher {dispatcher:.2f} s, aiida-dpgen {aiida:.2f} s '
            f'(engine process CPU {engine_cpu:.1f} s)'
        )

    ntasks = arguments.tasks

    def overhead(row, name):
        return (row[name] - row['bare']) / ntasks

    print(
        f'\n{ntasks} tasks of {arguments.nsteps} MD steps, group_size {arguments.group_size}, {len(rows)} repeats, '
        f'scheduler polled every {arguments.poll_interval:g} s'
    )
    for name in ('bare', 'dpdispatcher', 'aiida'):
        print(f'{name:<14} median wall {statistics.median(row[name] for row in rows):7.2f} s')
    ours = sorted(overhead(row, 'aiida') for row in rows)
    theirs = sorted(overhead(row, 'dpdispatcher') for row in rows)
    for name, values in (('dpdispatcher', theirs), ('aiida-dpgen', ours)):
        spread = f'min {values[0]:.3f}, max {values[-1]:.3f}'
        print(f'overhead per task, {name:<13} median {statistics.median(values):6.3f} s ({spread})')
    ratio = sorted((row['aiida'] - row['bare']) / (row['dpdispatcher'] - row['bare']) for row in rows)
    print(f'ratio of overheads aiida-dpgen / dpdispatcher, pair by pair: median {statistics.median(ratio):.2f}')
    print(
        json.dumps({'rows': rows, 'tasks': ntasks, 'group_size': arguments.group_size, 'poll': arguments.poll_interval})
    )


main()
