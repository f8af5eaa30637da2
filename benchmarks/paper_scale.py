"""The paper's Cu run at its own size: 48 stages, about 25 M explored frames, 7,500+ labels, cost per iteration.

    verdi run benchmarks/paper_scale.py [--iterations 48] [--fp-task-max 60] [--group-size 200]
                                        [--label-group-size 200] [--recordings DIR] [--output DIR]

``DpgenWorkChain`` on this profile over the stages of ``paper_cu_schedule()`` with the paper's task counts
(600 to 4,800 DPMD tasks per iteration: 3 bulk crystals x 5-20 configurations x 5 temperatures x 8 pressures,
then 2 surfaces x 240-480 slabs x 5 temperatures), 4 models per iteration with the ``fast`` training protocol,
EMT labels through the ASE labeler, packed. What is cheap here is only the engines' work:

- MD is replayed: ``lmp`` is a program that copies in the outputs of a real LAMMPS DPMD run recorded once
  (``--recordings``: per crystal or slab, ensemble and MD length, two temperatures), strained by up to 1 %
  per task and per job, so that every replayed frame differs from every other; the deviations are the
  recorded ones. The exploration's grouping, parsing, selection and candidate extraction are the real ones.
- Labels come from EMT, which takes milliseconds per frame; the labeling's packing, parsing, exclusion and
  dataset building are the real ones.

The loop, its provenance and its reports are exactly what a user runs. Every engine call goes through a
clock that logs its start, end and CPU seconds, so each iteration's wall time splits into the engines' own
time (the union of their runs) and the orchestration (the rest). Per iteration the benchmark prints and
plots: wall time per step, orchestration, engine CPU, nodes and links added, database and repository
growth, the runner's RSS, the bytes the jobs' retrieval lists name; at the end the time of the report,
status and provenance commands and of ``verdi archive create``, and the issue's targets with their values.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
from aiida import orm
from aiida.engine import submit
from aiida.manage import get_manager

import aiida_dpgen
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.exploration.schedule import count_tasks_and_frames, expand_tasks, paper_cu_schedule
from aiida_dpgen.exploration.tasks import (
    CONF_FILE,
    DUMP_FILE,
    INPUT_FILE,
    LOG_FILE,
    MODEL_DEVI_FILE,
    md_input,
    model_filename,
    write_conf,
)
from aiida_dpgen.loop.iterations import ITERATION_PREFIX
from aiida_dpgen.tools.bare import EngineClock, library_replaying_lmp, recording_key
from aiida_dpgen.tools.scale import IterationWindow, busy_seconds, summarize_targets
from aiida_dpgen.workflows.dpgen import DpgenWorkChain
from aiida_dpgen.workflows.runner import run_get_node
from aiida_dpgen.workflows.train import TrainWorkChain

REPOSITORY = pathlib.Path(aiida_dpgen.__file__).parents[1]
STAGES = 48
TRUST_PERCENTILES = (40, 85)
"""The trust levels are these percentiles of the recorded force deviations: the recording ensemble is young (two
``fast`` models on 30 frames) and calls nearly every frame failed at the paper's 0.05/0.20 eV/Å, while the run
this benchmark stands for spends most iterations with most frames accurate and some candidates."""
RECORDING_TEMPERATURES = (300.0, 800.0)
BULK = ('fcc', 'hcp', 'bcc')
SURFACES = ('fcc_surface', 'hcp_surface')
CONFIGURATIONS = {'fcc': 20, 'hcp': 20, 'bcc': 20, 'fcc_surface': 480, 'hcp_surface': 480}
"""The most configurations any stage of paper_cu_schedule() asks per system."""


def cells() -> dict:
    """The crystals and slabs of the run: 32-, 36- and 54-atom bulk cells, 36- and 48-atom slabs."""
    from ase.build import bulk, fcc111, hcp0001

    return {
        'fcc': bulk('Cu', 'fcc', a=3.61, cubic=True).repeat(2),
        'hcp': bulk('Cu', 'hcp', a=2.55, c=4.16).repeat((3, 3, 2)),
        'bcc': bulk('Cu', 'bcc', a=2.87, cubic=True).repeat(3),
        'fcc_surface': fcc111('Cu', size=(3, 3, 4), a=3.61, vacuum=6.0, periodic=True),
        'hcp_surface': hcp0001('Cu', size=(4, 4, 3), a=2.55, c=4.16, vacuum=6.0, periodic=True),
    }


def rattled(atoms, count: int, seed: int) -> list:
    generator = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        frame = atoms.copy()
        frame.set_cell(frame.cell[:] * (1 + generator.uniform(-0.02, 0.02)), scale_atoms=True)
        frame.positions += generator.normal(0, 0.03, frame.positions.shape)
        frames.append(frame)
    return frames


def initial_inputs() -> tuple[dict, dict]:
    """EMT labels of 6 rattled frames per system (the initial data) and the systems' configurations."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    labeled, configurations = [], {}
    for number, (name, atoms) in enumerate(cells().items()):
        for frame in rattled(atoms, 6, seed=number):
            frame.calc = EMT()
            energy, forces, stress = frame.get_potential_energy(), frame.get_forces(), frame.get_stress()
            frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces, stress=stress)
            labeled.append(frame)
        frames = rattled(atoms, CONFIGURATIONS[name], seed=100 + number)
        configurations[name] = ConfigurationsData.from_ase(frames, ['Cu']).store()
    return {'init': LabeledDatasetData.from_ase(labeled, ['Cu']).store()}, configurations


def record(recordings: pathlib.Path, codes: dict, datasets: dict, configurations: dict) -> None:
    """Real LAMMPS DPMD runs, one per system, ensemble, MD length of the schedule and temperature, with two
    models trained here on the initial data (so the deviations are a young ensemble's)."""
    builder = TrainWorkChain.get_builder_from_protocol(codes['train'], datasets, protocol='fast')
    builder.numb_models = orm.Int(2)
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'recording: training failed, TrainWorkChain<{node.pk}>: {node.exit_message}')
    scratch = recordings.with_name(recordings.name + '.partial')
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    models = []
    for number, key in enumerate(sorted(results['models'])):
        models.append(scratch / model_filename(number))
        with results['models'][key].open(mode='rb') as source:
            models[-1].write_bytes(source.read())
    runs = recording_folders(scratch, models, configurations)
    print(f'recording {len(runs)} real LAMMPS runs, two at a time, into {recordings}', flush=True)
    run_two_at_a_time(runs, [shutil.which('lmp'), '-in', INPUT_FILE, '-log', LOG_FILE, '-screen', 'none'])
    for folder in runs:
        missing = [name for name in (MODEL_DEVI_FILE, DUMP_FILE, LOG_FILE) if not (folder / name).exists()]
        if missing:
            raise SystemExit(f'recording: {folder} has no {missing}; see {folder / LOG_FILE}')
        for name in (INPUT_FILE, CONF_FILE):
            (folder / name).unlink()
    scratch.rename(recordings)


def recording_folders(scratch: pathlib.Path, models: list[pathlib.Path], configurations: dict) -> list[pathlib.Path]:
    """A LAMMPS task folder per recording the schedule needs (atoms, ensemble, steps) and temperature."""
    folders = []
    for stage in paper_cu_schedule():
        for system in stage['systems']:
            atoms = configurations[system].to_ase()[0]
            for variant, temperature in enumerate(RECORDING_TEMPERATURES):
                settings = {**stage, 'systems': [system], 'temps': [temperature]}
                settings.pop('configurations_per_system')
                if 'press' in settings:
                    settings['press'] = [1.0]
                task = expand_tasks(settings, {system: 1})[0]
                folder = scratch / recording_key(len(atoms), task.md.ensemble, task.md.nsteps) / str(variant)
                if folder.exists():
                    continue
                folder.mkdir(parents=True)
                write_conf(folder / CONF_FILE, atoms.cell[:], atoms.positions, np.zeros(len(atoms), dtype=int), 1)
                script = md_input(task.md, len(models), [63.546], '.')
                for number, model in enumerate(models):
                    script = script.replace(f'../{model_filename(number)}', str(model))
                (folder / INPUT_FILE).write_text(script)
                folders.append(folder)
    return folders


def run_two_at_a_time(folders: list[pathlib.Path], command: list[str]) -> None:
    running: list[subprocess.Popen] = []
    for folder in folders:
        while len(running) >= 2:
            time.sleep(0.2)
            running = [process for process in running if process.poll() is None]
        running.append(subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for process in running:
        process.wait()


def trust_levels(recordings: pathlib.Path) -> dict:
    """``f_trust_lo`` and ``f_trust_hi`` at `TRUST_PERCENTILES` of every recorded frame's max force deviation."""
    from aiida_dpgen.exploration.deviation import MAX_DEVI_F, read_model_devi

    deviations = np.concatenate(
        [read_model_devi(path)[:, MAX_DEVI_F] for path in sorted(recordings.glob(f'*/*/{MODEL_DEVI_FILE}'))]
    )
    low, high = np.percentile(deviations[np.isfinite(deviations)], TRUST_PERCENTILES)
    return {'f_trust_lo': round(float(low), 4), 'f_trust_hi': round(float(high), 4)}


def clocked_codes(folder: pathlib.Path, computer: orm.Computer, recordings: pathlib.Path) -> tuple[dict, dict]:
    """``dp``, the replaying ``lmp`` and a Python with ASE, each behind an `EngineClock`, as codes."""
    programs = {
        'train': shutil.which('dp'),
        'explore': str(library_replaying_lmp(recordings, len(RECORDING_TEMPERATURES), folder)),
        'label': sys.executable,
    }
    plugins = {'train': 'dpgen.train', 'explore': 'dpgen.lammps', 'label': 'dpgen.ase'}
    clocks, codes = {}, {}
    stamp = datetime.datetime.now().strftime('%Y%m%d%H%M%S')
    for step, program in programs.items():
        clocks[step] = EngineClock(program, folder / 'clocks', name=step)
        codes[step] = orm.InstalledCode(
            label=f'paper-scale-{step}-{stamp}',
            computer=computer,
            filepath_executable=str(clocks[step].executable),
            default_calc_job_plugin=plugins[step],
        ).store()
    return codes, clocks


def scale_computer(poll_interval: float) -> orm.Computer:
    """A localhost computer of its own, polled every ``poll_interval`` seconds, without a login shell."""
    label = f'localhost-paper-scale-{poll_interval:g}s'
    try:
        return orm.load_computer(label)
    except Exception:  # not there yet
        pass
    computer = orm.Computer(
        label=label,
        hostname='localhost',
        transport_type='core.local',
        scheduler_type='core.direct',
        workdir=str(pathlib.Path.home() / 'aiida-paper-scale'),
    ).store()
    computer.set_minimum_job_poll_interval(poll_interval)
    computer.configure(safe_interval=0, use_login_shell=False)
    return computer


@dataclasses.dataclass
class Sample:
    time: float
    database_bytes: int
    repository_bytes: int
    rss_bytes: int


def folder_bytes(path: pathlib.Path) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += (pathlib.Path(root) / name).lstat().st_size
            except FileNotFoundError:  # packed or removed meanwhile
                continue
    return total


def rss_bytes(pid: int | str = 'self') -> int:
    try:
        status = pathlib.Path(f'/proc/{pid}/status').read_text()
    except OSError:  # the process ended meanwhile
        return 0
    for line in status.splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
    return 0


class Storage:
    """Where a profile keeps its database and repository, and a connection that reads them without AiiDA's own
    session (which belongs to the runner): the SQLite file of the embedded profile, or PostgreSQL."""

    SUMMARIES = (
        "SELECT COUNT(*) FROM db_dbnode WHERE node_type LIKE 'process.calculation.calcfunction.%' "
        'AND {function} = {placeholder} AND id > {placeholder}'
    )

    def __init__(self, profile):
        config = profile.storage_config
        self.sqlite = profile.storage_backend == 'core.sqlite_dos'
        if self.sqlite:
            root = pathlib.Path(config['filepath'])
            self.database, self.container = root / 'database.sqlite', root / 'container'
        else:
            self.config = config
            self.container = pathlib.Path(config['repository_uri'].removeprefix('file://')) / 'container'

    def connect(self):
        if self.sqlite:
            return sqlite3.connect(f'file:{self.database}?mode=ro', uri=True, timeout=30)
        import psycopg

        config = self.config
        return psycopg.connect(
            host=config['database_hostname'],
            port=config['database_port'],
            user=config['database_username'],
            password=config['database_password'],
            dbname=config['database_name'],
            autocommit=True,
        )

    def summaries(self, connection, after_pk: int) -> int:
        if self.sqlite:
            query = self.SUMMARIES.format(function="json_extract(attributes, '$.function_name')", placeholder='?')
        else:  # psycopg takes %s for parameters, so the LIKE pattern's % is written %%
            query = self.SUMMARIES.format(function="attributes->>'function_name'", placeholder='%s')
            query = query.replace("calcfunction.%'", "calcfunction.%%'")
        return connection.execute(query, ('summarize_iteration', after_pk)).fetchone()[0]

    def database_bytes(self, connection) -> int:
        if self.sqlite:
            return sum(path.stat().st_size for path in self.database.parent.glob('database.sqlite*'))
        return connection.execute('SELECT pg_database_size(current_database())').fetchone()[0]


def daemon_worker_pids() -> list[int]:
    """The processes of this profile's daemon workers (``verdi ... daemon worker``)."""
    pids = []
    for entry in pathlib.Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / 'cmdline').read_bytes().split(b'\0')
            except OSError:
                continue
            if b'daemon' in command and b'worker' in command:
                pids.append(int(entry.name))
    return pids


class Sampler(threading.Thread):
    """Measures database and repository size and the runner's RSS (this process, or the daemon workers) each time
    an iteration's report is stored."""

    def __init__(self, storage: Storage, after_pk: int, daemon: bool):
        super().__init__(daemon=True)
        self.storage, self.after_pk, self.daemon = storage, after_pk, daemon
        self.connection = None
        self.samples: list[Sample] = [self.sample()]
        self.stopped = threading.Event()

    def sample(self) -> Sample:
        connection = self.connection or self.storage.connect()
        try:
            database = self.storage.database_bytes(connection)
        finally:
            if connection is not self.connection:
                connection.close()
        pids = daemon_worker_pids() if self.daemon else ['self']
        rss = sum(rss_bytes(pid) for pid in pids)
        return Sample(time.time(), database, folder_bytes(self.storage.container), rss)

    def run(self) -> None:
        self.connection = self.storage.connect()
        seen = 0
        while not self.stopped.wait(1.0):
            try:
                count = self.storage.summaries(self.connection, self.after_pk)
            except Exception:  # a locked SQLite file or a busy server, for a moment
                continue
            if count > seen:
                seen = count
                self.samples.append(self.sample())
        self.connection.close()
        self.connection = None


def last_pk() -> int:
    return orm.QueryBuilder().append(orm.Node, project='id').order_by({orm.Node: {'id': 'desc'}}).first(flat=True) or 0


def repository_bytes(node: orm.Node) -> int:
    """Bytes of a node's own repository files."""
    total = 0
    for root, _, names in node.base.repository.walk():
        for name in names:
            with node.base.repository.open(str(root / name), mode='rb') as handle:
                total += len(handle.read())
    return total


def retrieved_bytes(job: orm.CalcJobNode) -> int:
    """Bytes of the files a job's retrieve lists name (both kept and temporary), in its working folder."""
    remote = job.outputs.remote_folder.get_remote_path() if 'remote_folder' in job.outputs else None
    if remote is None or not pathlib.Path(remote).is_dir():
        return 0
    patterns = [*(job.get_retrieve_list() or []), *(job.get_retrieve_temporary_list() or [])]
    total = 0
    for pattern in patterns:
        name = pattern[0] if isinstance(pattern, list | tuple) else pattern
        total += sum(path.stat().st_size for path in pathlib.Path(remote).glob(name) if path.is_file())
    return total


def windows(node: orm.WorkChainNode) -> list[IterationWindow]:
    """Each iteration's start and end: the loop's creation or the previous report, to its own report. The
    iterations a continued loop took over from the run it continues ended before it started: they have none."""
    reports = node.outputs.iterations
    start = node.ctime.timestamp()
    ends = sorted((reports[name]['report'].creator.ctime.timestamp(), name) for name in reports)
    ends = [(end, name) for end, name in ends if end > start]
    result = []
    for end, name in ends:
        result.append(IterationWindow(name=name, start=start, end=end))
        start = end
    return result


def step_walls(node: orm.WorkChainNode, name: str) -> dict:
    walls = {}
    for link in node.base.links.get_outgoing(node_class=orm.WorkChainNode).all():
        if link.link_label.startswith(f'{name}_'):
            step = link.link_label[len(name) + 1 :]
            walls[step] = (link.node.mtime - link.node.ctime).total_seconds()
    return walls


def count_in_window(window: IterationWindow) -> tuple[int, int]:
    start = datetime.datetime.fromtimestamp(window.start, datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(window.end, datetime.timezone.utc)
    filters = {'ctime': {'and': [{'>': start}, {'<=': end}]}}
    nodes = orm.QueryBuilder().append(orm.Node, filters=filters).count()
    links = (
        orm.QueryBuilder()
        .append(orm.Node, filters=filters, tag='new')
        .append(orm.Node, with_outgoing='new', project='id')
    )
    return nodes, links.count()


def iteration_rows(node: orm.WorkChainNode, clocks: dict, samples: list[Sample]) -> list[dict]:
    rows = []
    runs = {step: clock.runs() for step, clock in clocks.items()}
    for window in windows(node):
        number = int(window.name.removeprefix(ITERATION_PREFIX))
        iteration = node.outputs.iterations[window.name]
        report = iteration['report'].get_dict()
        intervals = [(start, end) for step_runs in runs.values() for start, end, _ in step_runs]
        engines = busy_seconds(intervals, window.start, window.end)
        cpu = sum(cpu for step_runs in runs.values() for start, _, cpu in step_runs if window.contains(start))
        nodes, links = count_in_window(window)
        before = max((s for s in samples if s.time <= window.start + 1e-3), key=lambda s: s.time, default=samples[0])
        after = min((s for s in samples if s.time >= window.end), key=lambda s: s.time, default=samples[-1])
        explore = next(child for child in node.called if _label(child) == f'{window.name}_explore')
        jobs = [child for child in explore.called_descendants if isinstance(child, orm.CalcJobNode)]
        retrieved = [retrieved_bytes(job) for job in jobs]
        labels = iteration.get('labels') if 'labels' in iteration else None
        deviations = sum(repository_bytes(array) for array in explore.outputs.deviations.values())
        models = (
            sum(repository_bytes(model) for model in iteration['models'].values())
            if report['training']['trained']
            else 0
        )
        label_bytes = repository_bytes(labels) if labels is not None else 0
        rows.append(
            {
                'iteration': number,
                'tasks': report['exploration']['tasks'],
                'frames': report['exploration']['frames'],
                'candidate_ratio': report['exploration']['candidate_ratio'],
                'labeled': report['labeling']['labeled'],
                'dataset_frames': report['dataset']['frames'],
                'wall': window.end - window.start,
                'steps': step_walls(node, window.name),
                'engines': engines,
                'orchestration': window.end - window.start - engines,
                'orchestration_per_task': (window.end - window.start - engines)
                / max(report['exploration']['tasks'], 1),
                'engine_cpu': cpu,
                'nodes': nodes,
                'links': links,
                'database_added': after.database_bytes - before.database_bytes,
                'repository_added': after.repository_bytes - before.repository_bytes,
                'database_bytes': after.database_bytes,
                'repository_bytes': after.repository_bytes,
                'rss': after.rss_bytes,
                'md_jobs': len(jobs),
                'retrieved_per_md_job': (sum(retrieved) / len(retrieved)) if retrieved else 0,
                'new_data_bytes': label_bytes + models + deviations,
                'label_bytes': label_bytes,
                'model_bytes': models,
                'deviation_bytes': deviations,
            }
        )
    return rows


def _label(node: orm.ProcessNode) -> str:
    link = node.base.links.get_incoming(link_type=_call_work()).first()
    return link.link_label if link is not None else ''


def _call_work():
    from aiida.common.links import LinkType

    return LinkType.CALL_WORK


HEADER = (
    f'{"iter":>4} {"tasks":>5} {"frames":>8} {"cand%":>6} {"labels":>6} {"data":>6} {"wall_s":>7} {"train":>6} '
    f'{"explore":>7} {"label":>6} {"orch_s":>7} {"cpu_s":>7} {"nodes":>6} {"links":>6} {"db_MB":>6} '
    f'{"repo_MB":>7} {"+st_MB":>6} {"new_MB":>6} {"rss_MB":>6} {"ret/job_MB":>10}'
)


def format_row(row: dict) -> str:
    megabyte = 1024**2
    steps = row['steps']
    return (
        f'{row["iteration"]:>4} {row["tasks"]:>5} {row["frames"]:>8} {row["candidate_ratio"]:>6.1%} '
        f'{row["labeled"]:>6} {row["dataset_frames"]:>6} {row["wall"]:>7.1f} {steps.get("train", 0):>6.1f} '
        f'{steps.get("explore", 0):>7.1f} {steps.get("label", 0):>6.1f} {row["orchestration"]:>7.1f} '
        f'{row["engine_cpu"]:>7.1f} {row["nodes"]:>6} {row["links"]:>6} {row["database_bytes"] / megabyte:>6.1f} '
        f'{row["repository_bytes"] / megabyte:>7.1f} '
        f'{(row["database_added"] + row["repository_added"]) / megabyte:>6.2f} '
        f'{row["new_data_bytes"] / megabyte:>6.2f} {row["rss"] / megabyte:>6.0f} '
        f'{row["retrieved_per_md_job"] / megabyte:>10.2f}'
    )


def time_command(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f'{" ".join(command)} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}')
    return elapsed


def query_times(node: orm.WorkChainNode, profile: str, output: pathlib.Path) -> dict:
    """Wall time of the commands a user runs on a finished run (each a fresh process, Python start included)."""
    iterations = node.outputs.iterations
    last = iterations[sorted(iterations)[-1]]
    model = next(iter(last['models'].values()))
    labelled = [iterations[name]['labels'] for name in sorted(iterations) if 'labels' in iterations[name]]
    times = {
        'report': time_command(['aiida-dpgen', 'report', str(node.pk), '-p', profile]),
        'status': time_command(['aiida-dpgen', 'status', str(node.pk), '-p', profile]),
        'provenance model': time_command(['aiida-dpgen', 'provenance', 'model', str(model.pk), '-p', profile]),
        'python start': time_command([sys.executable, '-c', 'import aiida_dpgen.cli']),
    }
    if labelled:
        dataset = labelled[-1]
        system = dataset.system_names[0]
        times['provenance frame'] = time_command(
            ['aiida-dpgen', 'provenance', 'frame', str(dataset.pk), system, '0', '-p', profile]
        )
    archive = output / 'paper-scale.aiida'
    archive.unlink(missing_ok=True)
    times['verdi archive create'] = time_command(
        ['verdi', '-p', profile, 'archive', 'create', str(archive), '-N', str(node.pk)]
    )
    times['archive_bytes'] = archive.stat().st_size
    return times


def plot(rows: list[dict], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    iterations = [row['iteration'] for row in rows]
    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0][0]
    for step in ('train', 'explore', 'label'):
        ax.plot(iterations, [row['steps'].get(step, 0) for row in rows], label=step)
    ax.plot(iterations, [row['orchestration'] for row in rows], 'k--', label='orchestration (wall - engines)')
    ax.set(xlabel='iteration', ylabel='seconds', title='Time per iteration')
    ax.legend(fontsize=8)
    ax = axes[0][1]
    megabyte = 1024**2
    ax.plot(iterations, [(row['database_added'] + row['repository_added']) / megabyte for row in rows], label='stored')
    ax.plot(iterations, [2 * row['new_data_bytes'] / megabyte for row in rows], 'k--', label='2 x new data')
    ax.set(xlabel='iteration', ylabel='MB added', title='Storage added per iteration')
    ax.legend(fontsize=8)
    ax = axes[1][0]
    ax.plot(iterations, [row['nodes'] for row in rows], label='nodes')
    ax.plot(iterations, [row['links'] for row in rows], label='links')
    ax.plot(iterations, [row['tasks'] for row in rows], ':', label='MD tasks')
    ax.set(xlabel='iteration', title='Graph growth per iteration')
    ax.legend(fontsize=8)
    ax = axes[1][1]
    ax.plot(iterations, [row['rss'] / megabyte for row in rows], label='runner RSS')
    ax.plot(iterations, [row['database_bytes'] / megabyte for row in rows], label='database')
    ax.plot(iterations, [row['repository_bytes'] / megabyte for row in rows], label='repository')
    ax.set(xlabel='iteration', ylabel='MB', title='Totals')
    ax.legend(fontsize=8)
    for ax in axes.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iterations', type=int, default=STAGES, help='Run the first N stages (1 to 48).')
    parser.add_argument('--fp-task-max', type=int, default=60, help='Labels per system and iteration at most.')
    parser.add_argument('--group-size', type=int, default=200, help='MD tasks per exploration job.')
    parser.add_argument('--label-group-size', type=int, default=200, help='EMT single points per labeling job.')
    parser.add_argument('--poll-interval', type=float, default=1.0, help="The computer's job poll interval (s).")
    parser.add_argument(
        '--recordings',
        type=pathlib.Path,
        default=None,
        help='A folder of recorded LAMMPS runs from an earlier run of this benchmark; default: record them now '
        'into OUTPUT/recordings.',
    )
    parser.add_argument(
        '--select-here',
        action='store_true',
        help='Bring every trajectory back and select on this machine, as without a `select` code (the default '
        'selects on the computer where the MD ran).',
    )
    parser.add_argument('--output', type=pathlib.Path, default=pathlib.Path('paper-scale'), help='Results go here.')
    parser.add_argument(
        '--daemon',
        action='store_true',
        help="Submit the loop to this profile's daemon (start it with `verdi daemon start 2`) instead of running it "
        "here; runner RSS is then the daemon workers'.",
    )
    parser.add_argument(
        '--continue-from',
        type=pathlib.Path,
        default=None,
        help="A stopped run's paper_scale.json: continue its loop (same profile) after the iterations the file "
        'has rows for (remove the rows of any to run again), up to --iterations, and report its rows and the new '
        'ones together.',
    )
    parser.add_argument('--markdown', action='store_true', help='With --report: the table in Markdown.')
    parser.add_argument(
        '--report', type=pathlib.Path, default=None, help="A finished run's paper_scale.json: print and plot it again."
    )
    arguments = parser.parse_args(argv)
    for option, value, least in (
        ('--iterations', arguments.iterations, 1),
        ('--fp-task-max', arguments.fp_task_max, 1),
        ('--group-size', arguments.group_size, 1),
        ('--label-group-size', arguments.label_group_size, 1),
    ):
        if value < least:
            parser.error(f'{option}={value}: expected at least {least}')
    if arguments.iterations > STAGES:
        parser.error(f'--iterations={arguments.iterations}: the paper has {STAGES} stages; give 1 to {STAGES}')
    if arguments.poll_interval <= 0:
        parser.error(f'--poll-interval={arguments.poll_interval}: expected a positive number of seconds')
    if arguments.report is not None and not arguments.report.is_file():
        parser.error(f'--report={arguments.report}: no such file; give the paper_scale.json of a finished run')
    if arguments.continue_from is not None and not arguments.continue_from.is_file():
        parser.error(
            f'--continue-from={arguments.continue_from}: no such file; give the paper_scale.json of the stopped run'
        )
    if arguments.recordings is not None and not arguments.recordings.is_dir():
        parser.error(f'--recordings={arguments.recordings}: no such folder; leave the option out to record them now')
    return arguments


MARKDOWN_HEADER = (
    '| iter | tasks | frames | labels | data | wall s | train s | explore s | label s | orchestration s | per task ms '
    '| engine CPU s | nodes | links | +database MB | +repository MB | new data MB | RSS MB | retrieved per MD job MB |'
)


def markdown_row(row: dict) -> str:
    megabyte, steps = 1024**2, row['steps']
    cells = [
        row['iteration'],
        row['tasks'],
        f'{row["frames"]:,}',
        row['labeled'],
        row['dataset_frames'],
        f'{row["wall"]:.1f}',
        *(f'{steps.get(step, 0):.1f}' for step in ('train', 'explore', 'label')),
        f'{row["orchestration"]:.1f}',
        f'{row["orchestration"] / max(row["tasks"], 1) * 1000:.0f}',
        f'{row["engine_cpu"]:.1f}',
        row['nodes'],
        row['links'],
        *(f'{row[key] / megabyte:.2f}' for key in ('database_added', 'repository_added', 'new_data_bytes')),
        f'{row["rss"] / megabyte:.0f}',
        f'{row["retrieved_per_md_job"] / megabyte:.2f}',
    ]
    return '| ' + ' | '.join(str(cell) for cell in cells) + ' |'


def report_again(path: pathlib.Path, markdown: bool = False) -> None:
    """Print the table and the targets of a finished run from its JSON, and draw its plots again."""
    result = json.loads(path.read_text())
    rows = result['rows']
    for row in rows:
        row.setdefault('orchestration_per_task', row['orchestration'] / max(row['tasks'], 1))
    if markdown:
        print(MARKDOWN_HEADER + '\n|' + '---|' * (MARKDOWN_HEADER.count('|') - 1))
        print('\n'.join(markdown_row(row) for row in rows))
    else:
        print(HEADER)
        print('\n'.join(format_row(row) for row in rows))
    print(
        f'\n{len(rows)} iterations in {result["wall_seconds"] / 60:.1f} min: {result["tasks"]:,} MD tasks, '
        f'{result["frames"]:,} frames, {result["labels"]:,} labels'
    )
    times = result['query_seconds']
    print(
        'commands on the finished run (s, each a new process): '
        + ', '.join(f'{key} {value:.2f}' for key, value in times.items() if key != 'archive_bytes')
        + f'; archive {times.get("archive_bytes", 0) / 1024**2:.0f} MB'
    )
    for line in summarize_targets(rows, times, result['wall_seconds'])['lines']:
        print(line)
    plot(rows, path.with_suffix('.png'))


def checked_storage(daemon: bool) -> tuple[str, Storage]:
    profile = get_manager().get_profile()
    if profile.storage_backend not in ('core.sqlite_dos', 'core.psql_dos'):
        raise SystemExit(
            f'profile {profile.name}: storage {profile.storage_backend}; expected core.sqlite_dos or core.psql_dos'
        )
    if daemon:
        from aiida.engine.daemon.client import get_daemon_client

        if not get_daemon_client().is_daemon_running:
            raise SystemExit(f'--daemon: the daemon of profile {profile.name} is not running; `verdi daemon start 2`')
    return profile.name, Storage(profile)


def loop_builder(arguments: argparse.Namespace, output: pathlib.Path) -> tuple:
    """The loop over the first ``--iterations`` stages, its codes' clocks: initial data, recordings, codes."""
    schedule = paper_cu_schedule()[: arguments.iterations]
    counts = [count_tasks_and_frames(stage, CONFIGURATIONS) for stage in schedule]
    print(
        f'{len(schedule)} stages: {sum(t for t, _ in counts)} MD tasks, {sum(f for _, f in counts):,} frames; '
        f'at most {arguments.fp_task_max} labels per system and iteration',
        flush=True,
    )
    datasets, configurations = initial_inputs()
    computer = scale_computer(arguments.poll_interval)
    recordings = (arguments.recordings or output / 'recordings').resolve()
    if not recordings.is_dir():
        codes, _ = clocked_codes(output / 'setup', computer, output)  # lmp is not replayed while recording
        record(recordings, codes, datasets, configurations)
    codes, clocks = clocked_codes(output, computer, recordings)
    if not arguments.select_here:
        codes['select'] = orm.InstalledCode(
            label=f'{codes["label"].label}-select', computer=computer, filepath_executable=sys.executable
        ).store()
    levels = trust_levels(recordings)
    print(f'trust levels at the {TRUST_PERCENTILES} percentiles of the recorded deviations: {levels}', flush=True)
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets=datasets,
        configurations=configurations,
        schedule=schedule,
        selection={**levels, 'fp_task_max': arguments.fp_task_max},
        labeler={'engine': 'ase'},
        protocol='fast',
    )
    builder.train.numb_models = orm.Int(4)
    builder.explore.group_size = orm.Int(arguments.group_size)
    builder.label.group_size = orm.Int(arguments.label_group_size)
    builder.convergence = orm.Dict({'max_iterations': len(schedule)})
    if arguments.continue_from is not None:
        kept = len(json.loads(arguments.continue_from.read_text())['rows'])
        builder = continued(builder, stopped_loop(arguments.continue_from), kept)
    return builder, clocks


def stopped_loop(path: pathlib.Path) -> orm.WorkChainNode:
    """The loop of the run whose paper_scale.json is ``path``, in this profile."""
    from aiida.common.exceptions import NotExistent

    pk = json.loads(path.read_text())['pk']
    try:
        node = orm.load_node(pk)
    except NotExistent:
        raise SystemExit(
            f'--continue-from={path}: its loop <{pk}> is not in this profile; run in its profile'
        ) from None
    if getattr(node, 'process_label', None) != 'DpgenWorkChain':
        raise SystemExit(f'--continue-from={path}: node <{pk}> is a {type(node).__name__}, not a DpgenWorkChain')
    return node


def continued(fresh, node: orm.WorkChainNode, kept: int):
    """The stopped loop ``node`` continued after its first ``kept`` iterations with ``fresh``'s codes (clocked
    anew, so that this run's engines are timed) and iteration limit: the same data, models and settings."""
    builder = DpgenWorkChain.get_builder_restart_from(node)
    builder.restart_from = {name: builder.restart_from[name] for name in sorted(builder.restart_from)[:kept]}
    builder.train.base.dp.code = fresh.train.base.dp.code
    builder.explore.lammps.lammps.code = fresh.explore.lammps.lammps.code
    if 'python' in fresh.explore.lammps.lammps:
        builder.explore.lammps.lammps.python = fresh.explore.lammps.lammps.python
    builder.label.code = fresh.label.code
    builder.convergence = fresh.convergence
    print(
        f'continuing DpgenWorkChain<{node.pk}> after its {len(builder.restart_from)} completed iterations', flush=True
    )
    return builder


def run_measured(builder, storage: Storage, daemon: bool) -> tuple[orm.WorkChainNode, float, list[Sample]]:
    sampler = Sampler(storage, last_pk(), daemon)
    sampler.start()
    start = time.time()
    if daemon:
        node = submit(builder)
        print(f'submitted DpgenWorkChain<{node.pk}> to the daemon', flush=True)
        while not node.is_terminated:
            time.sleep(5)
    else:
        _, node = run_get_node(builder)
    wall = time.time() - start
    sampler.stopped.set()
    sampler.join()
    sampler.samples.append(sampler.sample())
    print(f'\nDpgenWorkChain<{node.pk}>: {node.process_state.value}, exit status {node.exit_status}, {wall:.0f} s')
    return node, wall, sampler.samples


def main() -> None:
    arguments = parse_arguments()
    if arguments.report is not None:
        report_again(arguments.report, arguments.markdown)
        return
    output = arguments.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    profile, storage = checked_storage(arguments.daemon)
    builder, clocks = loop_builder(arguments, output)
    node, wall, samples = run_measured(builder, storage, arguments.daemon)

    rows = iteration_rows(node, clocks, samples)
    times = query_times(node, profile, output)
    continued_from = None
    if arguments.continue_from is not None:
        # the stopped run's rows for the iterations this run took over, their time added to this run's
        previous = json.loads(arguments.continue_from.read_text())
        taken_over = previous['rows']
        rows = taken_over + rows
        continued_from = {'pk': previous['pk'], 'iterations': len(taken_over)}
        wall += sum(row['wall'] for row in taken_over)
    result = {
        'pk': node.pk,
        'finished_ok': node.is_finished_ok,
        'wall_seconds': wall,
        'labels': sum(row['labeled'] for row in rows),
        'frames': sum(row['frames'] for row in rows),
        'tasks': sum(row['tasks'] for row in rows),
        'rows': rows,
        'query_seconds': times,
        'targets': summarize_targets(rows, times, wall),
        'profile': profile,
        'continued_from': continued_from,
        'arguments': {key: str(value) for key, value in vars(arguments).items()},
    }
    path = output / 'paper_scale.json'
    path.write_text(json.dumps(result, indent=1))
    report_again(path)
    print(f'table, targets and plots: {path}, {path.with_suffix(".png")}')


if __name__ == '__main__':
    main()
