"""Merge the selections of an exploration's jobs into the candidates to label, the statistics and the task outcomes."""

from __future__ import annotations

import dpdata
import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict

from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.data.configurations import ConfigurationsData
from aiida_dpgen.exploration import candidates, diversity
from aiida_dpgen.exploration.selection import CATEGORY_NAMES, SelectionSettings
from aiida_dpgen.exploration.strategies import adaptive_levels_of_jobs


@calcfunction
def select_candidates(selection: Dict, model: DeepPotentialData | None = None, **jobs) -> dict:
    """Keep, per system, the ``fp_task_max`` candidates with the smallest priority keys over all jobs.

    Each job already kept its own smallest keys, so this is the same choice as over all frames at once.
    A system with fewer than ``fp_task_min`` candidates gets none (DP-GEN's ``fp_task_min``). With the
    ``diverse`` candidate choice the keys give a pool of K x ``fp_task_max``, and the ``fp_task_max`` most
    different of it by the descriptor of ``model`` (one of the ensemble) are kept. Outputs:
    ``candidates.<system>`` (ConfigurationsData, for the systems that have any), ``statistics``
    (per system and overall: counts, ratios, histograms, candidates chosen) and, where the jobs' task summaries
    are given, ``task_summary`` (tasks by outcome and frames, summed over the jobs). Graphs made before the
    summaries carry ``task_results`` (each job's task outcomes), which are merged into ``task_results``.

    ``jobs`` has namespaces keyed by job label: ``candidate_frames`` (the packed candidates each job kept),
    ``statistics`` (each job's counts per system), ``task_summary`` (each job's tasks by outcome) and, for the
    ``adaptive_lower`` level, ``deviations`` (each job's stored deviations, from which each system's level is
    computed: its counts then replace the jobs' fixed-level ones, and the level is ``f_trust_lo_adapted``). The
    jobs' full ``task_results`` are not taken: every input link of a process is checked against all the
    earlier ones by content, loading each Dict again, which for thousands of tasks cost seconds per job.
    """
    candidate_frames, statistics = jobs['candidate_frames'], jobs['statistics']
    names = sorted(candidate_frames)
    systems = candidate_frames[names[0]].base.attributes.get('systems')
    type_map = candidate_frames[names[0]].base.attributes.get('type_map')
    settings = SelectionSettings.from_dict(selection.get_dict(), systems)
    if settings.diverse and model is None:
        raise ValueError(
            f'selection.candidate_choice={settings.candidate_choice!r}: the diverse choice needs a model of the '
            'ensemble for its descriptors; give one, or choose "uniform"'
        )
    packed = candidates.concatenate([_packed(candidate_frames[job]) for job in names])

    per_system = {
        system: _merge_statistics([statistics[job].get(system) for job in sorted(statistics)]) for system in systems
    }
    thresholds = dict.fromkeys(systems)
    if settings.adaptive_lower is not None:
        thresholds = _adapt_lower_levels(settings, systems, jobs.get('deviations'), per_system)
    outputs = {}
    for number, system in enumerate(systems):
        cap = settings.task_max(per_system[system]['accurate_ratio'] if per_system[system]['frames'] else 0.0)
        population = per_system[system].get('candidate_bins')
        rows = candidates.chosen_rows(
            packed,
            number,
            settings.pool(cap),
            settings.fp_task_min,
            population,
            adaptive=settings.adaptive_lower is not None,
            threshold=thresholds[system],
        )
        if settings.diverse:
            per_system[system]['pool'] = len(rows)
            rows = _most_different(packed, rows, cap, model, type_map)
        per_system[system]['chosen'] = len(rows)
        if cap < settings.fp_task_max:
            per_system[system]['tapered_task_max'] = cap
        if len(rows):
            outputs[system] = _configurations(candidates.take(packed, rows), type_map)
    overall = _merge_statistics(list(per_system.values()))
    overall['chosen'] = sum(entry['chosen'] for entry in per_system.values())
    result = {'statistics': Dict({'systems': per_system, 'overall': overall})}
    if 'task_summary' in jobs:
        summaries = jobs['task_summary']
        result['task_summary'] = Dict(sum_summaries([summaries[job].get_dict() for job in sorted(summaries)]))
    if 'task_results' in jobs:
        task_results = jobs['task_results']
        result['task_results'] = Dict(
            merge_task_results([task_results[job].get_dict() for job in sorted(task_results)])
        )
    if outputs:
        result['candidates'] = outputs
    return result


def _adapt_lower_levels(settings: SelectionSettings, systems: list[str], deviations, per_system: dict) -> dict:
    """Each system's adaptive lower level over the jobs' stored ``deviations``; its counts replace the jobs'
    (which used the fixed levels) in ``per_system``, with the level as ``f_trust_lo_adapted``. Returns each
    system's rank threshold."""
    if not deviations or any('system' not in node.get_arraynames() for node in deviations.values()):
        raise ValueError(
            "selection.adaptive_lower: the level is computed from every job's deviations with their system per "
            "task; give the jobs' deviations (ExploreWorkChain does), from jobs of this plugin version"
        )

    def load_jobs():
        for label in sorted(deviations):
            node = deviations[label]
            arrays = {name: node.get_array(name) for name in ('task', 'system', 'offsets', 'steps', 'values')}
            ours = np.array([systems.index(name) for name in node.base.attributes.get('systems')], dtype=np.int64)
            arrays['system'] = ours[arrays['system']]  # the job's system numbers as this selection's
            yield arrays

    number, rate = settings.adaptive_lower
    f_hi = [settings.trust[system].f_hi for system in systems]
    levels = adaptive_levels_of_jobs(load_jobs, f_hi, number=number, rate=rate, skip=settings.skip)
    for system, level in zip(systems, levels, strict=True):
        counts = {name: getattr(level, name) for name in CATEGORY_NAMES}
        frames = level.frames
        per_system[system].update(
            frames=frames,
            **counts,
            **{f'{name}_ratio': (count / frames if frames else 0.0) for name, count in counts.items()},
            f_trust_lo_adapted=level.f_lo,
        )
    return {system: level.threshold for system, level in zip(systems, levels, strict=True)}


def _most_different(packed: dict, rows: np.ndarray, count: int, model: DeepPotentialData, type_map) -> np.ndarray:
    """The ``count`` of ``rows`` farthest apart in ``model``'s descriptor (:func:`diversity.diverse_subset`, from
    the smallest key), sorted as the rows were."""
    if len(rows) <= count:
        return rows
    pool = candidates.take(packed, rows)
    cells, positions, types = zip(*candidates.frames(pool), strict=True)
    model_types = [model.type_map.index(element) for element in type_map]
    atom_types = [np.take(model_types, frame_types) for frame_types in types]  # as the model numbers them
    with model.as_path() as path:
        values = diversity.descriptors(str(path), np.array(cells), positions, atom_types)
    features = diversity.fingerprints(values, atom_types, len(model.type_map))
    return np.sort(rows[diversity.diverse_subset(features, pool['key'], count)])


def sum_summaries(summaries: list[dict]) -> dict:
    """Task counts by outcome and frames, added up over jobs."""
    total: dict[str, int] = {}
    for summary in summaries:
        for key, value in summary.items():
            total[key] = total.get(key, 0) + value
    return total


def merge_task_results(jobs: list[dict]) -> dict:
    """``tasks`` (task index -> outcome) of all jobs, and their ``summary`` counts summed."""
    tasks = {}
    for job in jobs:
        tasks.update(job['tasks'])
    return {'tasks': tasks, 'summary': sum_summaries([job['summary'] for job in jobs])}


def _merge_statistics(parts: list[dict | None]) -> dict:
    parts = [part for part in parts if part]
    counts = {name: sum(part[name] for part in parts) for name in CATEGORY_NAMES}
    frames = sum(counts.values())
    histogram = np.sum([part['max_devi_f_histogram'] for part in parts], axis=0) if parts else []
    merged = {
        'frames': frames,
        **counts,
        **{f'{name}_ratio': (counts[name] / frames if frames else 0.0) for name in CATEGORY_NAMES},
        'max_devi_f_histogram': [int(value) for value in histogram],
    }
    bins = [part['candidate_bins'] for part in parts if 'candidate_bins' in part]
    if bins:
        merged['candidate_bins'] = [int(value) for value in np.sum(bins, axis=0)]
    return merged


def _packed(node) -> dict[str, np.ndarray]:
    """A job's packed candidates; those of jobs from before the candidate choices have no ``bin`` (all in one)."""
    names = node.get_arraynames()
    packed = {name: node.get_array(name) for name in candidates.ARRAYS if name in names}
    packed.setdefault('bin', np.zeros(len(packed['key']), dtype=np.int64))
    return packed


def _configurations(packed: dict, type_map: list[str]) -> ConfigurationsData:
    systems = []
    for cell, positions, types in candidates.frames(packed):
        present = sorted(set(types.tolist()))
        system = dpdata.System(
            data={
                'atom_names': [type_map[kind] for kind in present],
                'atom_numbs': [int(np.sum(types == kind)) for kind in present],
                'atom_types': np.array([present.index(kind) for kind in types]),
                'orig': np.zeros(3),
                'cells': cell[np.newaxis],
                'coords': positions[np.newaxis],
                'nopbc': False,
            }
        )
        systems.append(system)
    node = ConfigurationsData(systems, type_map=type_map)
    if node.base.attributes.get('nsystems') == 1:  # frames keep their (task, step) order only within one formula
        node.base.attributes.set('tasks', packed['task'].tolist())
        node.base.attributes.set('steps', packed['step'].tolist())
    return node
