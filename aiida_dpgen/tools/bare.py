"""Run finished jobs again outside AiiDA, to measure what the engine adds around them."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence


def rerun_bare(folders: Sequence[pathlib.Path]) -> float:
    """Wall time of the jobs' own ``_aiidasubmit.sh`` run in copies of their working folders, all started at
    once as the engine started them; a job that fails raises ``RuntimeError`` naming its copy."""
    with tempfile.TemporaryDirectory() as scratch:
        copies = []
        for index, folder in enumerate(folders):
            copy = pathlib.Path(scratch) / f'job_{index}'
            shutil.copytree(folder, copy, symlinks=True)
            copies.append(copy)
        start = time.perf_counter()
        processes = [
            subprocess.Popen(['bash', '_aiidasubmit.sh'], cwd=copy, stdout=subprocess.DEVNULL) for copy in copies
        ]
        failed = [str(copy) for copy, process in zip(copies, processes, strict=True) if process.wait() != 0]
        if failed:
            raise RuntimeError(f'a bare rerun failed in {failed}')
        return time.perf_counter() - start


TIMED_WRAPPER = """#!/bin/bash
started=$EPOCHREALTIME
{program} "$@"
status=$?
echo "$started $EPOCHREALTIME" >> {log}
exit $status
"""


class TaskClock:
    """An executable wrapping ``program`` that appends each run's start and end (wall clock, s) to a log. Every
    runner of a benchmark starts its tasks through it, so that a run's wall time splits into the dispatcher's
    latency (before the first task starts, after the last one ends) and the span of the tasks themselves."""

    def __init__(self, program: str, folder: pathlib.Path):
        folder.mkdir(parents=True, exist_ok=True)
        name = pathlib.Path(program).name
        self.log = folder / f'{name}.log'
        self.executable = folder / f'{name}-timed'
        self.executable.write_text(TIMED_WRAPPER.format(program=program, log=self.log))
        self.executable.chmod(0o755)

    def reset(self) -> None:
        self.log.write_text('')

    def timing(self, start: float, end: float, ntasks: int) -> dict:
        """Wall time from ``start`` to ``end`` (``time.time()``), the latency before the first task started and
        after the last one ended, and the span of the tasks between them; ``ntasks`` runs must have been logged."""
        times = [tuple(map(float, line.split())) for line in self.log.read_text().splitlines()]
        if len(times) != ntasks:
            raise RuntimeError(f'{len(times)} of {ntasks} tasks logged their times in {self.log}: some did not run')
        first = min(started for started, _ in times)
        last = max(ended for _, ended in times)
        return {'wall': end - start, 'before': first - start, 'after': end - last, 'span': last - first}


REPLAY_PROGRAM = """#!/bin/bash
# Stands in for lmp: puts one recorded task's outputs where LAMMPS would have written them, at once.
while [ $# -gt 0 ]; do
    case $1 in -in) input=$2; shift ;; -log) log=$2; shift ;; esac
    shift
done
folder=$(dirname "$input")
cp {recording}/{model_devi} {recording}/{dump} "$folder"/ && cp {recording}/{log} "$log"
"""


def replaying_lmp(lmp: str, stage: dict, configurations, model: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    """An executable that takes ``lmp``'s arguments and, instead of running MD, copies in the outputs of the first
    task of ``stage``, run once here with ``lmp``: tasks that take no time, so that a benchmark times nothing but
    the dispatcher's own work on real files (deviations, dump, log) for any number of tasks."""
    from aiida_dpgen.exploration.tasks import DUMP_FILE, INPUT_FILE, LOG_FILE, MODEL_DEVI_FILE

    recording = folder / 'recording'
    shutil.rmtree(recording, ignore_errors=True)
    recording.mkdir(parents=True)
    task = recording / write_md_tasks(recording, stage, configurations, model, in_place=True)[0]
    subprocess.run([lmp, '-in', INPUT_FILE, '-log', LOG_FILE, '-screen', 'none'], cwd=task, check=True)
    for name in (MODEL_DEVI_FILE, DUMP_FILE, LOG_FILE):
        shutil.copy(task / name, recording / name)
    shutil.rmtree(task)
    for copy in recording.glob('graph.*.pb'):
        copy.unlink()
    program = folder / 'lmp-replay'
    program.write_text(
        REPLAY_PROGRAM.format(recording=recording, model_devi=MODEL_DEVI_FILE, dump=DUMP_FILE, log=LOG_FILE)
    )
    program.chmod(0o755)
    return program


REPLAY_HELP = (
    'Tasks that take no time: lmp runs one task, and every task copies its outputs in instead of running MD, so '
    'that the latency is measured without the MD competing for the cores, for any number of tasks.'
)


def md_benchmark(ntasks: int, nsteps: int, model: pathlib.Path, folder: pathlib.Path, replay: bool = False):
    """The benchmarks' MD: ``ntasks`` rattled 32-atom Cu cells, one NVT stage of ``nsteps`` at 300 K, and a
    `TaskClock` in ``folder`` around ``lmp`` (around `replaying_lmp` with ``replay``). Returns the stored
    configurations, the stage and the clock."""
    lmp = shutil.which('lmp')
    if lmp is None:
        raise RuntimeError('lmp is not on PATH: activate .venv (scripts/install.sh installs it)')
    configurations = rattled_cu_cells(ntasks)
    stage = {'systems': ['cu'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': nsteps, 'trj_freq': 10}
    if replay:
        lmp = str(replaying_lmp(lmp, stage, configurations, model, folder))
    return configurations, stage, TaskClock(lmp, folder)


def latency(timing: dict) -> float:
    """The dispatcher's own time in a :meth:`TaskClock.timing`: before the first task and after the last one."""
    return timing['before'] + timing['after']


def describe_timing(timing: dict, digits: int = 2, cpu_label: str = 'engine CPU') -> str:
    """One line of a :meth:`TaskClock.timing`, with the engine's CPU seconds where the runner measured them."""
    described = ', '.join(f'{key} {timing[key]:.{digits}f} s' for key in ('wall', 'before', 'span', 'after'))
    if 'engine_cpu' in timing:
        described += f' ({cpu_label} {timing["engine_cpu"]:.1f} s)'
    return described


def rattled_cu_cells(ntasks: int):
    """``ntasks`` rattled 32-atom fcc Cu cells as one stored ConfigurationsData: the benchmarks' MD starting points."""
    from ase.build import bulk

    from aiida_dpgen.data import ConfigurationsData

    frames = []
    for seed in range(ntasks):
        atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat(2)
        atoms.rattle(0.02, seed=seed)
        frames.append(atoms)
    return ConfigurationsData.from_ase(frames, type_map=['Cu']).store()


def write_md_tasks(root: pathlib.Path, stage: dict, configurations, model: pathlib.Path, in_place: bool) -> list[str]:
    """The LAMMPS task folders of ``stage`` over the frames of ``configurations`` (system ``cu``), with two copies
    of ``model`` in ``root``, as ExploreWorkChain writes them, for runners outside AiiDA; ``in_place``: input
    scripts for a run whose working directory is the task folder. Returns the folder names."""
    import numpy as np

    from aiida_dpgen.exploration.schedule import expand_tasks
    from aiida_dpgen.exploration.tasks import CONF_FILE, INPUT_FILE, md_input, model_filename, task_folder, write_conf

    frames = configurations.to_ase()
    for index in range(2):
        shutil.copy(model, root / model_filename(index))
    folders = []
    for index, task in enumerate(expand_tasks(stage, {'cu': len(frames)})):
        folder = root / task_folder(index)
        folder.mkdir()
        atoms = frames[task.configuration]
        write_conf(folder / CONF_FILE, atoms.cell[:], atoms.positions, np.zeros(len(atoms), dtype=int), 1)
        script = md_input(task.md, 2, [63.546], '.' if in_place else task_folder(index))
        (folder / INPUT_FILE).write_text(script)
        folders.append(task_folder(index))
    return folders


CLOCKED_WRAPPER = """#!/bin/bash
# Runs {program} and appends its start, end (wall clock, s) and CPU seconds (user + system of its children).
started=$EPOCHREALTIME
{program} "$@"
status=$?
ended=$EPOCHREALTIME
times > "{log}.$$"  # not in a pipe: a subshell would count none of the program's CPU
cpu=$(awk 'NR == 2 {{ for (i = 1; i <= 2; i++) {{ split($i, t, /[ms]/); total += 60 * t[1] + t[2] }}; print total }}' \
    "{log}.$$")
rm -f "{log}.$$"
echo "$started $ended $cpu" >> {log}
exit $status
"""


class EngineClock:
    """An executable around ``program`` that appends each run's start, end and CPU seconds to a log, so that a
    benchmark can tell the engines' own time (and CPU) from everything around it."""

    def __init__(self, program: str, folder: pathlib.Path, name: str | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        name = name or pathlib.Path(program).name
        self.log = folder / f'{name}.clock'
        self.executable = folder / f'{name}-clocked'
        self.executable.write_text(CLOCKED_WRAPPER.format(program=program, log=self.log))
        self.executable.chmod(0o755)
        self.log.touch()

    @classmethod
    def reading(cls, folder: pathlib.Path, name: str) -> EngineClock:
        """The clock ``name`` in ``folder`` as it is, to read its runs; its wrapper is left alone. (Building an
        ``EngineClock`` writes the wrapper anew: doing that to read the clocks of a run that is going once
        replaced its engines with another program.)"""
        clock = cls.__new__(cls)
        clock.log = folder / f'{name}.clock'
        clock.executable = folder / f'{name}-clocked'
        if not clock.log.is_file():
            raise ValueError(f'{clock.log}: no such clock; name one of the *.clock files in {folder}')
        return clock

    def runs(self) -> list[tuple[float, float, float]]:
        """``(start, end, cpu_seconds)`` of every run so far."""
        return [tuple(map(float, line.split())) for line in self.log.read_text().splitlines() if line.strip()]


LIBRARY_REPLAY_PROGRAM = r"""#!/bin/bash
# Stands in for lmp: puts a recorded task's outputs where LAMMPS would have written them. The recording is
# chosen by the task's atom count, ensemble and number of steps, and among its variants by a hash of the task's
# folder path (unique per job and task); the dump is strained homogeneously by up to +-1 % (cell and positions
# scaled alike), again by that hash, so that no two replayed tasks give the same frames.
while [ $# -gt 0 ]; do
    case $1 in -in) input=$2; shift ;; -log) log=$2; shift ;; esac
    shift
done
folder=$(dirname "$input")
key=$(awk '$2 == "atoms" && !n {{ n = $1 }} $1 == "fix" && $2 == "dpgen_md" {{ e = $4 }} $1 == "run" {{ r = $2 }}
           END {{ print n "_" e "_" r }}' "$folder/{conf}" "$input")
hash=$(printf '%s' "$PWD/$folder" | cksum)
hash=${{hash%% *}}
recording={recordings}/$key/$((hash % {variants}))
if [ ! -d "$recording" ]; then
    echo "no recording $recording for this task (atoms_ensemble_steps $key)" >&2
    exit 3
fi
cp "$recording/{model_devi}" "$folder/" && cp "$recording/{log_file}" "$log" || exit 4
awk -v s="$(( (hash / {variants}) % 2001 ))" '
    BEGIN {{ s = 1 + (s - 1000) * 1e-5 }}
    bounds > 0 {{ $1 = $1 * s; $2 = $2 * s; if (NF > 2) $3 = $3 * s; print; bounds--; next }}
    /^ITEM: BOX BOUNDS/ {{ bounds = 3; print; next }}
    /^ITEM: ATOMS/ {{ atoms = 1; print; next }}
    /^ITEM:/ {{ atoms = 0; print; next }}
    atoms {{ $3 = $3 * s; $4 = $4 * s; $5 = $5 * s; print; next }}
    {{ print }}' OFMT=%.8g "$recording/{dump}" > "$folder/{dump}"
"""


def recording_key(natoms: int, ensemble: str, nsteps: int) -> str:
    """The folder name of a recording in a replay library: what the replaying program reads from a task."""
    return f'{natoms}_{ensemble}_{nsteps}'


def library_replaying_lmp(recordings: pathlib.Path, variants: int, folder: pathlib.Path) -> pathlib.Path:
    """An executable that takes ``lmp``'s arguments and copies in a task's outputs from ``recordings``
    (``<atoms>_<ensemble>_<steps>/<variant>/`` with ``model_devi.out``, ``traj.dump``, ``log.lammps`` of a real
    LAMMPS run, ``variants`` of each), strained per task so that every replayed frame differs."""
    from aiida_dpgen.exploration.tasks import CONF_FILE, DUMP_FILE, LOG_FILE, MODEL_DEVI_FILE

    if not recordings.is_dir():
        raise ValueError(f'recordings={str(recordings)!r} does not exist; record them first (or leave it out)')
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / 'lmp-replay-library'
    program.write_text(
        LIBRARY_REPLAY_PROGRAM.format(
            recordings=recordings.resolve(),
            variants=variants,
            conf=CONF_FILE,
            model_devi=MODEL_DEVI_FILE,
            dump=DUMP_FILE,
            log_file=LOG_FILE,
        )
    )
    program.chmod(0o755)
    return program
