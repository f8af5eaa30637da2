"""One exploration job's results from its task folders: deviations, outcomes, counts and capped candidates.

Plain numpy, no AiiDA: the parser runs it on the files a job brought back, and the job itself can run it on
the computer where the MD ran (``select_on_computer.py``), so that only the compact result travels. Both give
the same :class:`JobSelection`, which :func:`save` and :func:`load` turn into two files and back.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from aiida_dpgen.exploration import candidates
from aiida_dpgen.exploration.deviation import MAX_DEVI_F, MAX_DEVI_V, STEP, read_model_devi
from aiida_dpgen.exploration.selection import SelectionSettings, SystemSelection
from aiida_dpgen.exploration.tasks import DUMP_FILE, MODEL_DEVI_FILE, task_folder
from aiida_dpgen.exploration.trajectory import FAILED, read_dump_frames, rms_force, task_outcome

CATEGORIES = ('accurate', 'candidate', 'failed')
ARRAYS_FILE = 'selection.npz'
RESULTS_FILE = 'selection.json'
DEVIATION_COLUMNS = ['max_devi_v', 'min_devi_v', 'avg_devi_v', 'max_devi_f', 'min_devi_f', 'avg_devi_f']


@dataclasses.dataclass
class JobSelection:
    """What a job's tasks gave: ``results`` per task index (system, conditions, status, frames, counts), the
    ``deviations`` of every frame (``task``, ``offsets``, ``steps``, ``values``), and with a selection the
    ``statistics`` per system and the capped ``candidates`` (packed, see :mod:`candidates`)."""

    results: dict[str, dict]
    deviations: dict[str, np.ndarray]
    statistics: dict[str, dict] | None = None
    candidates: dict[str, np.ndarray] | None = None
    missing_frames: int = 0


def select_job(
    root: pathlib.Path,
    tasks: Sequence[tuple[int, str, Mapping]],
    systems: Sequence[str],
    settings: SelectionSettings | None,
    read_log: Callable[[str], str],
) -> JobSelection:
    """The results of the tasks ``(index, system, description)`` whose folders (``task.NNNNNN``, with
    ``model_devi.out`` and ``traj.dump``) are under ``root``; ``read_log(folder)`` gives a task's LAMMPS log
    text ('' when there is none)."""
    per_system = None
    if settings is not None:
        per_system = {name: SystemSelection.from_settings(settings) for name in settings.trust}
    results, tables = {}, []
    for index, system, description in tasks:
        folder = task_folder(index)
        status, message = task_outcome(read_log(folder))
        deviation_file = root / folder / MODEL_DEVI_FILE
        table = read_model_devi(deviation_file) if deviation_file.exists() else np.empty((0, 7))
        tables.append(table)
        result = {**description, 'status': status, 'frames': len(table)}
        if message:
            result['message'] = message
        if per_system is not None and len(table):
            selected = table[:, [STEP, MAX_DEVI_V, MAX_DEVI_F]]
            if settings.f_avg_relative:
                try:
                    scale = rms_force(root / folder / DUMP_FILE)
                except (OSError, ValueError) as exception:
                    result.update(status=FAILED, message=f'no RMS force for relative deviations: {exception}')
                    results[str(index)] = result
                    continue
                selected = selected / np.array([1.0, 1.0, scale])
                result['rms_force'] = scale
            categories = per_system[system].add(index, selected, settings.trust[system], settings.skip)
            result.update({name: int(np.sum(categories == code)) for code, name in enumerate(CATEGORIES)})
        results[str(index)] = result
    system_numbers = [list(systems).index(task[1]) for task in tasks]
    selection = JobSelection(
        results=results, deviations=deviation_arrays([task[0] for task in tasks], tables, system_numbers)
    )
    if per_system is not None:
        selection.statistics = {name: chosen.statistics() for name, chosen in per_system.items()}
        selection.candidates, selection.missing_frames = candidate_frames(root, per_system, systems, settings.seed)
    return selection


def deviation_arrays(
    indices: Sequence[int], tables: Sequence[np.ndarray], systems: Sequence[int]
) -> dict[str, np.ndarray]:
    """Steps (int64) and the six deviations (float32: the file prints 7 significant digits) of all frames, and
    per task its index and its system's (into the job's list of systems)."""
    stacked = np.concatenate(tables) if tables else np.empty((0, 7))
    return {
        'task': np.asarray(indices, dtype=np.int64),
        'system': np.asarray(systems, dtype=np.int64),
        'offsets': np.concatenate([[0], np.cumsum([len(table) for table in tables])]).astype(np.int64),
        'steps': stacked[:, 0].astype(np.int64),
        'values': stacked[:, 1:].astype(np.float32),
    }


def candidate_frames(
    root: pathlib.Path, per_system: Mapping[str, SystemSelection], systems: Sequence[str], seed: int
) -> tuple[dict[str, np.ndarray], int]:
    """The candidates still in the running read from the dumps, packed with their keys and bins; and how many
    were missing (a task died writing)."""
    by_task: dict[int, list[tuple]] = {}
    for number, name in enumerate(systems):
        for task, step, key, bin_, deviation in per_system[name].kept():
            by_task.setdefault(task, []).append((number, step, key, bin_, deviation))
    records, keys, bins, deviations, missing = [], [], [], [], 0
    for task, chosen in sorted(by_task.items()):
        dump = root / task_folder(task) / DUMP_FILE
        found = read_dump_frames(dump, [entry[1] for entry in chosen]) if dump.exists() else {}
        for number, step, key, bin_, deviation in chosen:
            if step in found:
                records.append((number, task, found[step]))
                keys.append(key)
                bins.append(bin_)
                deviations.append(deviation)
            else:
                missing += 1
    return candidates.pack(records, seed, keys, bins, deviations), missing


def save(selection: JobSelection, folder: pathlib.Path) -> None:
    """Write ``selection`` as ``selection.npz`` (the arrays) and ``selection.json`` (the rest) in ``folder``."""
    arrays = {f'deviations_{name}': array for name, array in selection.deviations.items()}
    if selection.candidates is not None:
        arrays.update({f'candidates_{name}': array for name, array in selection.candidates.items()})
    np.savez(folder / ARRAYS_FILE, **arrays)
    content = {'results': selection.results, 'statistics': selection.statistics, 'missing': selection.missing_frames}
    (folder / RESULTS_FILE).write_text(json.dumps(content))


def load(folder: pathlib.Path) -> JobSelection:
    """What :func:`save` wrote in ``folder``."""
    content = json.loads((folder / RESULTS_FILE).read_text())
    with np.load(folder / ARRAYS_FILE) as arrays:
        deviations = {name[len('deviations_') :]: arrays[name] for name in arrays.files if name.startswith('dev')}
        packed = {name[len('candidates_') :]: arrays[name] for name in arrays.files if name.startswith('cand')}
    return JobSelection(
        results=content['results'],
        deviations=deviations,
        statistics=content['statistics'],
        candidates=packed if content['statistics'] is not None else None,
        missing_frames=content['missing'],
    )
