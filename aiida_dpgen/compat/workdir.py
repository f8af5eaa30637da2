"""What a DP-GEN (dpgen 0.x) working directory holds: plain functions, no AiiDA.

``dpgen run`` writes one ``iter.NNNNNN`` folder per iteration (``00.train``: the ensemble, ``01.model_devi``:
the MD tasks and their ``model_devi.out``, ``02.fp``: the labeling tasks and the labeled frames
``data.SSS``) and appends ``ITER STEP`` to ``record.dpgen`` after each of an iteration's nine steps. An
iteration is complete when its last step (8, post_fp) is recorded or a later iteration has started;
only complete iterations are imported, because an unfinished one has no labels to learn from.

The scan reads the directory as DP-GEN left it (symlinks, copied models, deleted task folders) and, as
well, the copy of one iteration that the importer stores (:meth:`IterationFiles.stored_files`), so that
the import calcfunction reads its input with the same code.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from collections.abc import Mapping, Sequence

import dpdata

from aiida_dpgen.exploration.selection import SystemSelection, TrustLevels, select_files

RECORD = 'record.dpgen'
POST_FP_STEP = 8
TRAIN, MODEL_DEVI, FP = '00.train', '01.model_devi', '02.fp'
MODEL_SUFFIXES = ('.pb', '.pth')
"""Frozen-model files DP-GEN writes (TensorFlow and PyTorch backends)."""
TRAINING_FILES = ('input.json', 'out.json', 'lcurve.out')
"""What a training folder holds that tells about its model: the input (resolved in out.json) and the learning curve."""

_GRAPH = re.compile(r'graph\.(\d{3})(\.pb|\.pth)')
_TRAIN_TASK = re.compile(r'\d{3}')
_TASK = re.compile(r'task\.(\d{3})\.(\d{6})')
_DATA = re.compile(r'data\.(\d{3})')


def iteration_name(index: int) -> str:
    return f'iter.{index:06d}'


@dataclasses.dataclass(frozen=True)
class ModelDeviFile:
    """The ``model_devi.out`` of MD task ``task.SSS.NNNNNN``: ``system`` is SSS (an index into sys_configs)."""

    system: int
    task: int
    path: pathlib.Path


@dataclasses.dataclass(frozen=True)
class IterationFiles:
    """The files of one complete iteration that the import needs.

    ``models``: the frozen models in model order; ``training``: their training folders (None where
    deleted); ``models_copied``: DP-GEN reused the previous ensemble (it does so when the previous
    iteration labeled nothing); ``fp_data``: per system index, the folder of labeled frames;
    ``fp_tasks``: per system index, how many frames were sent to labeling, None when the task folders
    are gone; ``current_job``: ``01.model_devi/cur_job.json``, the exploration DP-GEN ran.
    """

    index: int
    path: pathlib.Path
    models: tuple[pathlib.Path, ...]
    training: tuple[pathlib.Path | None, ...]
    models_copied: bool
    model_devi: tuple[ModelDeviFile, ...]
    fp_data: dict[int, pathlib.Path]
    fp_tasks: dict[int, int] | None
    current_job: dict | None

    @property
    def name(self) -> str:
        return iteration_name(self.index)

    @property
    def systems(self) -> list[int]:
        """System indices that were explored, sorted."""
        return sorted({entry.system for entry in self.model_devi})

    def stored_files(self) -> dict[str, pathlib.Path]:
        """Relative path -> file: the part of the iteration that is stored, laid out as DP-GEN lays it out.

        The preferred model file becomes ``00.train/graph.NNN.<suffix>`` (symlinks resolved), the labeled
        frames keep only what DeePMD-kit reads (the ``set.*`` arrays, or the raw files where there are none).
        """
        files = {}
        for number, model in enumerate(self.models):
            files[f'{TRAIN}/graph.{number:03d}{model.suffix}'] = model
        for number, folder in enumerate(self.training):
            for name in TRAINING_FILES:
                if folder is not None and (folder / name).is_file():
                    files[f'{TRAIN}/{number:03d}/{name}'] = folder / name
        for entry in self.model_devi:
            files[f'{MODEL_DEVI}/task.{entry.system:03d}.{entry.task:06d}/model_devi.out'] = entry.path
        for system, folder in sorted(self.fp_data.items()):
            for path in deepmd_files(folder):
                files[f'{FP}/data.{system:03d}/{path.relative_to(folder).as_posix()}'] = path
        return files


@dataclasses.dataclass(frozen=True)
class DpgenWorkdir:
    """A DP-GEN working directory: its complete iterations, in order, and the last iteration it started."""

    path: pathlib.Path
    iterations: tuple[IterationFiles, ...]
    last_started: int


def read_record(path: str | pathlib.Path) -> list[tuple[int, int]]:
    """The ``(iteration, step)`` pairs of a ``record.dpgen``, in file order."""
    path = pathlib.Path(path)
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not all(field.isdigit() for field in fields):
            raise ValueError(
                f'{path}, line {number}: {line!r} is not "ITER STEP" (two integers); '
                'DP-GEN writes one such line per finished step: repair or remove the line'
            )
        entries.append((int(fields[0]), int(fields[1])))
    return entries


def complete_iterations(record: Sequence[tuple[int, int]]) -> list[int]:
    """Iterations that reached post_fp (step 8), or that a later iteration followed; sorted."""
    if not record:
        return []
    last = max(iteration for iteration, _ in record)
    finished = {iteration for iteration, step in record if step == POST_FP_STEP}
    return sorted({iteration for iteration, _ in record if iteration < last} | finished)


def scan_workdir(path: str | pathlib.Path) -> DpgenWorkdir:
    """The complete iterations of the DP-GEN working directory ``path``, checked for what the import needs."""
    path = pathlib.Path(path).resolve()
    if not path.is_dir():
        raise ValueError(f'workdir={str(path)!r}: no such directory; pass the folder in which `dpgen run` ran')
    record_path = path / RECORD
    if not record_path.is_file():
        raise ValueError(
            f'{path}: no {RECORD}, so this is not a DP-GEN working directory; pass the folder in which '
            f'`dpgen run` ran (it holds {RECORD} and the iter.NNNNNN folders)'
        )
    record = read_record(record_path)
    complete = complete_iterations(record)
    if not complete:
        reached = max(record, default=None)
        raise ValueError(
            f'{record_path}: no iteration is complete (last record: {reached}); an iteration is complete at '
            f'step {POST_FP_STEP} (post_fp). Let dpgen finish iteration 0, or start afresh with DpgenWorkChain'
        )
    missing = [index for index in range(complete[-1] + 1) if index not in complete]
    if missing:
        raise ValueError(
            f'{record_path}: iterations {missing} never completed but later ones did; the record is not from one '
            'run. Repair the record so that it lists the iterations in order'
        )
    iterations = tuple(scan_iteration(path / iteration_name(index), index) for index in complete)
    return DpgenWorkdir(path=path, iterations=iterations, last_started=max(index for index, _ in record))


def scan_iteration(path: str | pathlib.Path, index: int) -> IterationFiles:
    """The models, deviations and labeled frames of the iteration folder ``path`` (``iter.NNNNNN``)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ValueError(
            f'{path}: missing, but {RECORD} says iteration {index} is complete; restore the folder or cut '
            f'{RECORD} back to the iterations that are present'
        )
    models, training = _models(path / TRAIN)
    current_job = path / MODEL_DEVI / 'cur_job.json'
    return IterationFiles(
        index=index,
        path=path,
        models=models,
        training=training,
        models_copied=(path / TRAIN / 'copied').exists(),
        model_devi=_model_devi_files(path / MODEL_DEVI),
        fp_data=_fp_data(path / FP),
        fp_tasks=_fp_tasks(path / FP),
        current_job=json.loads(current_job.read_text()) if current_job.is_file() else None,
    )


def _models(train: pathlib.Path) -> tuple[tuple[pathlib.Path, ...], tuple[pathlib.Path | None, ...]]:
    """The model files in model order, ``graph.NNN.pb`` preferred, and the training folders."""
    if not train.is_dir():
        raise ValueError(f'{train}: missing; the models of every complete iteration are needed to continue from it')
    numbers = {int(match[1]) for entry in train.iterdir() if (match := _GRAPH.fullmatch(entry.name))}
    numbers |= {int(entry.name) for entry in train.iterdir() if _TRAIN_TASK.fullmatch(entry.name) and entry.is_dir()}
    models, training, missing = [], [], []
    for number in sorted(numbers):
        folder = train / f'{number:03d}'
        candidates = [train / f'graph.{number:03d}{suffix}' for suffix in MODEL_SUFFIXES]
        candidates += [folder / f'frozen_model{suffix}' for suffix in MODEL_SUFFIXES]
        model = next((candidate for candidate in candidates if candidate.is_file()), None)
        if model is None:
            missing.append(number)
            continue
        models.append(model.resolve())
        training.append(folder.resolve() if folder.is_dir() else None)
    if not numbers or missing:
        raise ValueError(
            f'{train}: no frozen model for model(s) {missing or "any"} (looked for graph.NNN.pb and '
            'NNN/frozen_model.pb, and .pth); the models of every complete iteration are needed, restore them'
        )
    if sorted(numbers) != list(range(len(numbers))):
        raise ValueError(
            f'{train}: models {sorted(numbers)} are not numbered 000, 001, ... without gaps; restore the missing ones'
        )
    return tuple(models), tuple(training)


def _model_devi_files(folder: pathlib.Path) -> tuple[ModelDeviFile, ...]:
    tasks = sorted(entry for entry in folder.iterdir() if _TASK.fullmatch(entry.name)) if folder.is_dir() else []
    if not tasks:
        raise ValueError(
            f'{folder}: no task.SSS.NNNNNN folders; the model deviations of a complete iteration are needed to '
            'count its accurate, candidate and failed frames'
        )
    files = []
    for task in tasks:
        match = _TASK.fullmatch(task.name)
        if not (task / 'model_devi.out').is_file():
            raise ValueError(
                f'{task / "model_devi.out"}: missing; every exploration task counts towards the ratios, '
                'restore the file from a backup'
            )
        files.append(ModelDeviFile(system=int(match[1]), task=int(match[2]), path=task / 'model_devi.out'))
    return tuple(files)


def _fp_data(folder: pathlib.Path) -> dict[int, pathlib.Path]:
    data = {}
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = _DATA.fullmatch(entry.name)
        if match is None or not entry.is_dir():
            continue
        if not deepmd_systems(entry):
            raise ValueError(
                f'{entry}: no DeePMD-kit system in it (no type.raw); post_fp writes the labeled frames there, '
                'restore them or remove the empty folder'
            )
        data[int(match[1])] = entry
    return data


def _fp_tasks(folder: pathlib.Path) -> dict[int, int] | None:
    """Labeling tasks per system; None when the labeled frames are there but the task folders are not."""
    entries = list(folder.iterdir()) if folder.is_dir() else []
    counts: dict[int, int] = {}
    for entry in entries:
        match = _TASK.fullmatch(entry.name)
        if match is not None and entry.is_dir():
            counts[int(match[1])] = counts.get(int(match[1]), 0) + 1
    if not counts and any(_DATA.fullmatch(entry.name) for entry in entries):
        return None
    return counts


def deepmd_systems(path: str | pathlib.Path) -> list[pathlib.Path]:
    """The DeePMD-kit system folders (with a ``type.raw``) at or below ``path``, sorted."""
    path = pathlib.Path(path)
    if (path / 'type.raw').is_file():
        return [path]
    return sorted(type_file.parent for type_file in path.rglob('type.raw'))


def deepmd_format(system: pathlib.Path) -> str:
    """``deepmd/npy`` where the frames are in ``set.*`` folders, else ``deepmd/raw``."""
    return 'deepmd/npy' if any(system.glob('set.*')) else 'deepmd/raw'


def deepmd_files(path: pathlib.Path) -> list[pathlib.Path]:
    """The files DeePMD-kit reads of every system below ``path``: DP-GEN also writes the raw text copies."""
    files = []
    for system in deepmd_systems(path):
        if deepmd_format(system) == 'deepmd/npy':
            files += [system / name for name in ('type.raw', 'type_map.raw', 'nopbc') if (system / name).is_file()]
            files += sorted(item for folder in system.glob('set.*') for item in folder.rglob('*') if item.is_file())
        else:
            files += sorted(item for item in system.iterdir() if item.is_file())
    return files


def read_labeled_systems(path: str | pathlib.Path, type_map: Sequence[str]) -> list[dpdata.LabeledSystem]:
    """Every labeled system at or below ``path``, atom types following ``type_map``."""
    return [
        dpdata.LabeledSystem(str(system), fmt=deepmd_format(system), type_map=list(type_map))
        for system in deepmd_systems(path)
    ]


def _resolve(workdir: pathlib.Path, prefix: str | None) -> pathlib.Path:
    """DP-GEN resolves relative prefixes against the folder it runs in: the working directory."""
    return (workdir / (prefix or '')).resolve()


def initial_data_paths(workdir: str | pathlib.Path, param: Mapping) -> dict[str, list[pathlib.Path]]:
    """Per ``init_data_sys`` entry (``init_000``, ...), its system folders below ``init_data_prefix``."""
    workdir = pathlib.Path(workdir).resolve()
    entries = param.get('init_data_sys')
    if not entries or isinstance(entries, str):
        raise ValueError(f'param.init_data_sys={entries!r}: expected a non-empty list of DeePMD-kit system folders')
    root = _resolve(workdir, param.get('init_data_prefix'))
    datasets = {}
    for number, entry in enumerate(entries):
        found = deepmd_systems(root / entry)
        if not found:
            raise ValueError(
                f'param.init_data_sys[{number}]={entry!r}: no DeePMD-kit system (type.raw) at {root / entry}; '
                f'init_data_prefix={param.get("init_data_prefix")!r} is read relative to {workdir}: set it to '
                'the folder that holds the initial data'
            )
        datasets[f'init_{number:03d}'] = found
    return datasets


def configuration_files(workdir: str | pathlib.Path, param: Mapping) -> list[list[pathlib.Path]]:
    """Per ``sys_configs`` entry, the files its glob patterns match (below ``sys_configs_prefix``)."""
    workdir = pathlib.Path(workdir).resolve()
    sys_configs = param.get('sys_configs')
    if not sys_configs or isinstance(sys_configs, str):
        raise ValueError(
            f'param.sys_configs={sys_configs!r}: expected a list with one list of glob patterns per system'
        )
    root = _resolve(workdir, param.get('sys_configs_prefix'))
    systems = []
    for number, entry in enumerate(sys_configs):
        patterns = [entry] if isinstance(entry, str) else list(entry)
        # DP-GEN's order: each pattern's matches sorted, pattern after pattern (it does not sort them overall)
        files = [match for pattern in patterns for match in sorted(_glob(root / pattern)) if match.is_file()]
        if not files:
            raise ValueError(
                f'param.sys_configs[{number}]={patterns}: no file matches below {root}; sys_configs_prefix='
                f'{param.get("sys_configs_prefix")!r} is read relative to {workdir}: set it to the folder '
                'that holds the configurations'
            )
        systems.append(files)
    return systems


def _glob(pattern: pathlib.Path) -> list[pathlib.Path]:
    return list(pathlib.Path(pattern.anchor).glob(str(pattern.relative_to(pattern.anchor))))


STAGE_KEYS = ('ensemble', 'temps', 'press', 'nsteps', 'trj_freq')


def check_param(param: Mapping) -> None:
    """Refuse runs whose counts this import cannot recompute, naming the key and the reason."""
    engine = param.get('model_devi_engine', 'lammps')
    if engine != 'lammps':
        raise ValueError(
            f'param.model_devi_engine={engine!r}: only LAMMPS explorations can be imported (their model_devi.out '
            'is what the ratios are recomputed from)'
        )
    if param.get('model_devi_f_avg_relative'):
        raise ValueError(
            'param.model_devi_f_avg_relative=True: the deviations were divided by RMS forces from trajectories '
            'the import does not read; it cannot recompute the ratios'
        )
    if param.get('model_devi_adapt_trust_lo'):
        raise ValueError(
            'param.model_devi_adapt_trust_lo=True: DP-GEN chose the lower trust level per system from the data, '
            'and did not record it; the import cannot recompute the ratios, set fixed trust levels to import'
        )


def default_system_names(param: Mapping) -> list[str]:
    """``sys_000``, ``sys_001``, ...: one name per ``sys_configs`` entry, as DP-GEN numbers its data folders."""
    return [f'sys_{index:03d}' for index in range(len(param.get('sys_configs') or []))]


def iteration_job(param: Mapping, iteration: IterationFiles) -> dict:
    """The exploration job DP-GEN ran in ``iteration``: ``cur_job.json``, else ``model_devi_jobs[index]``."""
    if iteration.current_job is not None:
        return dict(iteration.current_job)
    jobs = param.get('model_devi_jobs') or []
    return dict(jobs[iteration.index]) if iteration.index < len(jobs) else {}


def _flat_indices(value) -> list[int] | None:
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        flat = [index for item in value for index in (_flat_indices(item) or [None])]
        return flat if all(isinstance(index, int) for index in flat) else None
    return None


def stage_from_job(job: Mapping, system_names: Sequence[str], explored: Sequence[int]) -> dict:
    """The stage of a DP-GEN job as a report records it: system names and the MD conditions."""
    indices = _flat_indices(job.get('sys_idx')) or list(explored)
    stage = {'systems': [system_names[index] for index in indices if index < len(system_names)]}
    return {**stage, **{key: job[key] for key in STAGE_KEYS if key in job}}


def exploration_statistics(
    iteration: IterationFiles,
    trust: Mapping[str, TrustLevels],
    system_names: Sequence[str],
    chosen: Mapping[str, int],
    skip: int = 0,
) -> dict:
    """Counts, ratios and deviation histograms per system and overall, recomputed from the model_devi.out files
    with our selection (DP-GEN's rules); ``chosen``: frames DP-GEN sent to labeling, per system."""
    systems, overall = {}, SystemSelection(cap=0)
    for index in iteration.systems:
        name = system_names[index]
        files = [(entry.task, entry.path) for entry in iteration.model_devi if entry.system == index]
        selection = select_files(files, trust[name], cap=0, skip=skip)
        overall.merge(selection)
        systems[name] = {**selection.statistics(), 'chosen': int(chosen.get(name, 0))}
    return {'systems': systems, 'overall': {**overall.statistics(), 'chosen': int(sum(chosen.values()))}}


def labeling_summary(labeled: Mapping[str, int], submitted: Mapping[str, int] | None, engine: str | None) -> dict:
    """The labeling of an iteration as far as the folders tell: frames sent (task folders) and frames labeled.

    Without task folders the frames sent are unknown and taken as the frames labeled.
    """
    submitted = dict(labeled) if submitted is None else dict(submitted)
    excluded = sum(max(count - labeled.get(name, 0), 0) for name, count in submitted.items())
    return {
        'submitted': sum(submitted.values()),
        'labeled': sum(labeled.values()),
        'excluded': excluded,
        'excluded_by_reason': {'no labeled frame from DP-GEN post_fp': excluded} if excluded else {},
        'engine': engine,
    }
