"""select_candidates: merging the jobs' capped candidates equals one cap over all of them."""

from __future__ import annotations

import numpy as np
import pytest
from aiida.orm import ArrayData, Dict

from aiida_dpgen.calculations.functions.select_candidates import select_candidates
from aiida_dpgen.exploration import candidates
from aiida_dpgen.exploration.selection import priority_keys
from aiida_dpgen.exploration.trajectory import DumpFrame


def job_frames(systems, records, seed):
    node = ArrayData()
    for name, array in candidates.pack(records, seed).items():
        node.set_array(name, array)
    node.base.attributes.set('systems', systems)
    node.base.attributes.set('type_map', ['Al', 'Cu'])
    return node


def frame(step, natoms=2):
    positions = np.full((natoms, 3), float(step)) + np.arange(natoms)[:, None]
    return DumpFrame(step, np.eye(3) * 5, positions, np.array([1] * natoms))


def job_statistics(candidate_counts):
    return Dict(
        {
            system: {
                'frames': 10,
                'accurate': 10 - count,
                'candidate': count,
                'failed': 0,
                'max_devi_f_histogram': [1, 2, 3],
            }
            for system, count in candidate_counts.items()
        }
    )


def test_merged_cap_equals_the_cap_over_all_candidates_and_statistics_add_up(aiida_profile):
    seed, cap = 5, 3
    jobs = {
        'job_000': [(0, 0, frame(10)), (0, 0, frame(20)), (0, 1, frame(10)), (1, 2, frame(30, natoms=3))],
        'job_001': [(0, 3, frame(10)), (0, 3, frame(40)), (0, 4, frame(50)), (1, 5, frame(60, natoms=3))],
    }
    outputs = select_candidates(
        Dict({'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_max': cap, 'seed': seed}),
        candidate_frames={label: job_frames(['fcc', 'bcc'], records, seed) for label, records in jobs.items()},
        statistics={'job_000': job_statistics({'fcc': 3, 'bcc': 1}), 'job_001': job_statistics({'fcc': 3, 'bcc': 1})},
    )
    fcc = [(task, step.step) for records in jobs.values() for system, task, step in records if system == 0]
    tasks, steps = np.array([t for t, _ in fcc]), np.array([s for _, s in fcc])
    expected = sorted(fcc[index] for index in np.argsort(priority_keys(seed, tasks, steps))[:cap])

    chosen = outputs['candidates']['fcc']
    assert list(zip(chosen.base.attributes.get('tasks'), chosen.base.attributes.get('steps'), strict=True)) == expected
    positions = [atoms.positions[0, 0] for atoms in chosen.to_ase()]
    assert positions == [float(step) for _, step in expected], 'each frame is the one its (task, step) names'
    assert outputs['candidates']['bcc'].nframes == 2

    statistics = outputs['statistics'].get_dict()
    assert statistics['systems']['fcc']['candidate'] == 6 and statistics['systems']['fcc']['chosen'] == cap
    assert statistics['overall']['frames'] == 40
    assert statistics['overall']['candidate_ratio'] == pytest.approx(8 / 40)
    assert statistics['overall']['max_devi_f_histogram'] == [4, 8, 12]
    assert statistics['overall']['chosen'] == cap + 2


def test_fewer_candidates_than_fp_task_min_gives_none_for_that_system(aiida_profile):
    outputs = select_candidates(
        Dict({'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_min': 2}),
        candidate_frames={
            'job_000': job_frames(['fcc', 'bcc'], [(0, 0, frame(10)), (0, 0, frame(20)), (1, 1, frame(10))], 0)
        },
        statistics={'job_000': job_statistics({'fcc': 2, 'bcc': 1})},
    )
    assert sorted(outputs['candidates']) == ['fcc']
    assert outputs['statistics']['systems']['bcc']['chosen'] == 0


def test_the_jobs_task_summaries_are_added_up(aiida_profile):
    outputs = select_candidates(
        Dict({'f_trust_lo': 0.05, 'f_trust_hi': 0.2}),
        candidate_frames={label: job_frames(['fcc'], [(0, 0, frame(10))], 0) for label in ('job_000', 'job_001')},
        statistics={label: job_statistics({'fcc': 1}) for label in ('job_000', 'job_001')},
        task_summary={
            'job_000': Dict({'tasks': 2, 'completed': 2, 'lost_atoms': 0, 'failed': 0, 'frames': 6}),
            'job_001': Dict({'tasks': 1, 'completed': 0, 'lost_atoms': 1, 'failed': 0, 'frames': 1}),
        },
    )
    assert outputs['task_summary'].get_dict() == {'tasks': 3, 'completed': 2, 'lost_atoms': 1, 'failed': 0, 'frames': 7}
    assert 'task_results' not in outputs, "each job's own task_results stay where they are; no merged copy"


def test_task_outcomes_of_graphs_made_before_the_summaries_are_still_gathered(aiida_profile):
    def outcomes(tasks: dict) -> Dict:
        statuses = [task['status'] for task in tasks.values()]
        summary = {'tasks': len(tasks), 'completed': statuses.count('completed'), 'lost_atoms': 0, 'failed': 0}
        summary['lost_atoms'] = statuses.count('lost_atoms')
        return Dict({'tasks': tasks, 'summary': {**summary, 'frames': sum(t['frames'] for t in tasks.values())}})

    outputs = select_candidates(
        Dict({'f_trust_lo': 0.05, 'f_trust_hi': 0.2}),
        candidate_frames={label: job_frames(['fcc'], [(0, 0, frame(10))], 0) for label in ('job_000', 'job_001')},
        statistics={label: job_statistics({'fcc': 1}) for label in ('job_000', 'job_001')},
        task_results={
            'job_000': outcomes({'0': {'status': 'completed', 'frames': 3}, '1': {'status': 'completed', 'frames': 3}}),
            'job_001': outcomes({'2': {'status': 'lost_atoms', 'frames': 1}}),
        },
    )
    gathered = outputs['task_results'].get_dict()
    assert sorted(gathered['tasks']) == ['0', '1', '2']
    assert gathered['tasks']['2']['status'] == 'lost_atoms'
    assert gathered['summary'] == {'tasks': 3, 'completed': 2, 'lost_atoms': 1, 'failed': 0, 'frames': 7}


def test_the_labeling_taper_lowers_the_cap_of_a_mostly_accurate_system(aiida_profile):
    """DP-GEN's fp_accurate_soft_threshold 0.5 and fp_accurate_threshold 0.9: fcc is 70 % accurate, so its cap
    of 4 falls to int(4 * (0.7 - 0.9) / (0.5 - 0.9)) = 2; bcc (90 % accurate) gets none."""
    records = [(0, 0, frame(step)) for step in (10, 20, 30, 40)] + [(1, 1, frame(10))]
    outputs = select_candidates(
        Dict(
            {
                'f_trust_lo': 0.05,
                'f_trust_hi': 0.2,
                'fp_task_max': 4,
                'fp_accurate_threshold': 0.9,
                'fp_accurate_soft_threshold': 0.5,
            }
        ),
        candidate_frames={'job_000': job_frames(['fcc', 'bcc'], records, 0)},
        statistics={'job_000': job_statistics({'fcc': 3, 'bcc': 1})},
    )
    systems = outputs['statistics'].get_dict()['systems']
    assert (systems['fcc']['chosen'], systems['fcc']['tapered_task_max']) == (2, 2)
    assert (systems['bcc']['chosen'], systems['bcc']['tapered_task_max']) == (0, 0)
    assert 'bcc' not in outputs['candidates']


def test_inverse_population_over_jobs_uses_every_jobs_bin_counts(aiida_profile):
    """Two jobs whose candidates fall in bins 0 and 1: the merge weighs them by the summed populations."""
    seed = 3
    job_records = {
        'job_000': [(0, 0, frame(step)) for step in range(10, 110, 10)],
        'job_001': [(0, 1, frame(10)), (0, 1, frame(20))],
    }
    job_bins = {'job_000': [0] * 10, 'job_001': [1, 1]}
    nodes = {}
    for label, records in job_records.items():
        node = ArrayData()
        for name, array in candidates.pack(records, seed, bins=job_bins[label]).items():
            node.set_array(name, array)
        node.base.attributes.set('systems', ['fcc'])
        node.base.attributes.set('type_map', ['Al', 'Cu'])
        nodes[label] = node
    statistics = {
        label: Dict(
            {'fcc': {**job_statistics({'fcc': sum(population)}).get_dict()['fcc'], 'candidate_bins': population}}
        )
        for label, population in (('job_000', [10, 0]), ('job_001', [0, 2]))
    }
    outputs = select_candidates(
        Dict(
            {'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_max': 4, 'seed': seed, 'candidate_choice': 'inv_pop_f:2'}
        ),
        candidate_frames=nodes,
        statistics=statistics,
    )
    systems = outputs['statistics'].get_dict()['systems']
    assert systems['fcc']['candidate_bins'] == [10, 2]
    packed = candidates.concatenate(
        [{name: nodes[label].get_array(name) for name in candidates.ARRAYS} for label in nodes]
    )
    tasks, steps = packed['task'], packed['step']
    exponential = -np.log1p(-(priority_keys(seed, tasks, steps).astype(np.float64) / 2.0**64))
    winners = np.argsort(exponential * np.array([10, 2])[packed['bin']], kind='stable')[:4]
    chosen = outputs['candidates']['fcc']
    assert list(zip(chosen.base.attributes.get('tasks'), chosen.base.attributes.get('steps'), strict=True)) == sorted(
        (int(tasks[index]), int(steps[index])) for index in winners
    )


def test_the_diverse_choice_without_a_model_is_refused_naming_the_key(aiida_profile):
    with pytest.raises(ValueError, match=r"candidate_choice='diverse:2': the diverse choice needs a model"):
        select_candidates(
            Dict({'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'candidate_choice': 'diverse:2'}),
            candidate_frames={'job_000': job_frames(['fcc'], [(0, 0, frame(10))], 0)},
            statistics={'job_000': job_statistics({'fcc': 1})},
        )


@pytest.mark.parametrize('choice', ['uniform', 'max_devi_f'])
def test_the_adaptive_lower_level_over_jobs_is_its_definition_over_all_frames(aiida_profile, choice):
    from aiida_dpgen.exploration.job import deviation_arrays
    from aiida_dpgen.exploration.selection import CANDIDATE, SelectionSettings, SystemSelection, max_deviation_keys
    from aiida_dpgen.exploration.strategies import adaptive_lower_levels

    settings = {
        'f_trust_lo': 0.05,
        'f_trust_hi': 0.3005,
        'fp_task_max': 5,
        'seed': 9,
        'skip': 20,
        'candidate_choice': choice,
        'adaptive_lower': {'numb_candi_f': 10, 'rate_candi_f': 0.05},
    }
    systems = ['fcc', 'bcc']
    rng = np.random.default_rng(4)
    tables = {}  # task -> (system number, table of step and the six deviations)
    for task in range(9):
        steps = np.arange(0, 1000, 10)
        force = np.round(rng.lognormal(np.log(0.08), 0.9, len(steps)), 3)  # ties, and frames above f_trust_hi
        force[rng.integers(len(steps))] = np.nan
        columns = np.zeros((len(steps), 7))
        columns[:, 0], columns[:, 4] = steps, force
        tables[task] = (task % 2, columns)
    parsed = SelectionSettings.from_dict(settings, systems)
    candidate_frames, statistics, deviations = {}, {}, {}
    for number, tasks in enumerate(([0, 1, 2], [3, 4, 5, 6], [7, 8])):
        label = f'job_{number:03d}'
        per_system = {name: SystemSelection.from_settings(parsed) for name in systems}
        for task in tasks:
            system, table = tables[task]
            per_system[systems[system]].add(task, table[:, [0, 1, 4]], parsed.trust[systems[system]], parsed.skip)
        kept = [(systems.index(name), *entry) for name in systems for entry in per_system[name].kept()]
        assert len(kept) < sum(len(tables[task][1]) for task in tasks), 'each job keeps its skyline, not all frames'
        packed = candidates.pack(
            [(system, task, frame(step)) for system, task, step, *_ in kept],
            9,
            [entry[3] for entry in kept],
            [entry[4] for entry in kept],
            [entry[5] for entry in kept],
        )
        node = ArrayData()
        for name, array in packed.items():
            node.set_array(name, array)
        node.base.attributes.set('systems', systems)
        node.base.attributes.set('type_map', ['Al', 'Cu'])
        candidate_frames[label] = node
        statistics[label] = Dict({name: selection.statistics() for name, selection in per_system.items()})
        arrays = deviation_arrays(tasks, [tables[task][1] for task in tasks], [tables[task][0] for task in tasks])
        deviations[label] = ArrayData()
        for name, array in arrays.items():
            deviations[label].set_array(name, array)
        deviations[label].base.attributes.set('systems', systems)

    outputs = select_candidates(
        Dict(settings), candidate_frames=candidate_frames, statistics=statistics, deviations=deviations
    )

    for number, name in enumerate(systems):
        ours = [task for task, (system, _) in tables.items() if system == number]
        rows = np.concatenate([tables[task][1][tables[task][1][:, 0] >= 20] for task in ours])
        tasks = np.concatenate([[task] * int(np.sum(tables[task][1][:, 0] >= 20)) for task in ours])
        force = rows[:, 4].astype(np.float32).astype(float)  # as the jobs store them
        levels = adaptive_lower_levels(tasks, rows[:, 0], force, f_hi=0.3005, number_f=10, rate_f=0.05)
        candidate = levels.categories == CANDIDATE
        if choice == 'uniform':
            keys = priority_keys(9, tasks[candidate], rows[candidate, 0])
        else:
            keys = max_deviation_keys(9, tasks[candidate], rows[candidate, 0], force[candidate])
        won = np.argsort(keys)[:5]
        expected = sorted(
            zip(tasks[candidate][won].tolist(), rows[candidate, 0][won].astype(int).tolist(), strict=True)
        )
        node = outputs['candidates'][name]
        assert list(zip(node.base.attributes.get('tasks'), node.base.attributes.get('steps'), strict=True)) == expected
        got = outputs['statistics']['systems'][name]
        assert got['candidate'] == int(candidate.sum()) == max(10, int(0.05 * np.sum(levels.categories != 2)))
        assert (got['failed'], got['accurate']) == (
            int(np.sum(levels.categories == 2)),
            int(np.sum(levels.categories == 0)),
        )
        assert got['f_trust_lo_adapted'] == pytest.approx(levels.f_lo)
        assert got['frames'] == len(rows)
