"""The selection strategies against their definitions in DP-GEN 0.14 and dpgen2, written out here as plain
loops over lists, the way those codes state them."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_dpgen.exploration.selection import (
    ACCURATE,
    CANDIDATE,
    DIVERSE,
    FAILED,
    INVERSE_POPULATION,
    MAX_DEVIATION,
    UNIFORM,
    SelectionSettings,
    SystemSelection,
    TrustLevels,
    deviation_bins,
    max_deviation_keys,
    parse_candidate_choice,
    priority_keys,
    tapered_task_max,
)
from aiida_dpgen.exploration.strategies import (
    adaptive_lower_levels,
    candidate_count,
    levels_converged,
)


def frames(count: int, seed: int = 0, ties: bool = True):
    """Tasks, steps and deviations of ``count`` frames; rounded to 2 decimals so that ties occur."""
    rng = np.random.default_rng(seed)
    tasks = rng.integers(0, 5, count)
    steps = rng.permutation(count) * 10
    force = rng.lognormal(np.log(0.1), 0.8, count)
    virial = rng.lognormal(np.log(0.5), 0.8, count)
    if ties:
        force, virial = np.round(force, 2), np.round(virial, 2)
    return tasks, steps, force, virial


def adaptive_by_definition(tasks, steps, force, virial, *, f_hi, numb_f, perc_f, v_hi, numb_v, perc_v):
    """DP-GEN's ``_select_by_model_devi_adaptive_trust_low`` as its documentation states it: collect
    [deviation, task, step] of the frames not above the upper levels, sort, take the last
    max(numb, int(perc * 0.01 * n)) of each list; the lower level is the first of them."""
    coll_f, coll_v, failed, accurate = [], [], [], set()
    for task, step, md_f, md_v in zip(tasks.tolist(), steps.tolist(), force.tolist(), virial.tolist(), strict=True):
        if md_f > f_hi or md_v > v_hi:
            failed.append((task, step))
        else:
            coll_f.append([md_f, task, step])
            coll_v.append([md_v, task, step])
            accurate.add((task, step))
    coll_f.sort()
    coll_v.sort()
    numb_f = min(len(coll_f), max(numb_f, int(perc_f * 0.01 * len(coll_f))))
    numb_v = min(len(coll_v), max(numb_v, int(perc_v * 0.01 * len(coll_v))))
    f_lo = coll_f[-numb_f][0] if numb_f else f_hi
    v_lo = coll_v[-numb_v][0] if numb_v else v_hi
    candidates = {tuple(entry[1:]) for entry in coll_f[len(coll_f) - numb_f :]}
    candidates |= {tuple(entry[1:]) for entry in coll_v[len(coll_v) - numb_v :]}
    return f_lo, v_lo, candidates, set(failed), accurate - candidates


def sets(tasks, steps, categories, category):
    return {
        (int(task), int(step)) for task, step, code in zip(tasks, steps, categories, strict=True) if code == category
    }


@pytest.mark.parametrize(
    ('numb_f', 'perc_f', 'numb_v', 'perc_v', 'use_virial'),
    [(10, 0.0, 0, 0.0, False), (10, 5.0, 0, 0.0, False), (200, 1.0, 0, 0.0, False), (5, 2.0, 7, 3.0, True)],
)
def test_the_adaptive_lower_level_is_dp_gens(numb_f, perc_f, numb_v, perc_v, use_virial):
    tasks, steps, force, virial = frames(2000)
    f_hi, v_hi = 0.3, 1.5
    expected = adaptive_by_definition(
        tasks, steps, force, virial if use_virial else np.zeros_like(force), f_hi=f_hi, numb_f=numb_f,
        perc_f=perc_f, v_hi=v_hi if use_virial else np.inf, numb_v=numb_v, perc_v=perc_v,
    )  # fmt: skip

    levels = adaptive_lower_levels(
        tasks, steps, force, f_hi=f_hi, number_f=numb_f, rate_f=perc_f * 0.01,
        max_devi_v=virial if use_virial else None, v_hi=v_hi if use_virial else None,
        number_v=numb_v, rate_v=perc_v * 0.01,
    )  # fmt: skip

    assert levels.f_lo == expected[0]
    assert levels.v_lo == (expected[1] if use_virial else None)
    assert sets(tasks, steps, levels.categories, CANDIDATE) == expected[2]
    assert sets(tasks, steps, levels.categories, FAILED) == expected[3]
    assert sets(tasks, steps, levels.categories, ACCURATE) == expected[4]
    assert len(expected[2]) >= max(numb_f, numb_v), 'the test data must make candidates'


def test_the_adaptive_lower_level_is_dpgen2s_with_its_rate():
    """dpgen2's ``adaptive-lower`` defaults (numb_candi_f 200, rate_candi_f 0.01): the same ranking, the rate
    as a fraction."""
    tasks, steps, force, _ = frames(50_000, seed=3)
    levels = adaptive_lower_levels(tasks, steps, force, f_hi=0.5, number_f=200, rate_f=0.01)
    kept = force <= 0.5
    count = max(200, int(0.01 * kept.sum()))
    assert np.sum(levels.categories == CANDIDATE) == count == candidate_count(int(kept.sum()), 200, 0.01)
    assert levels.f_lo == np.sort(force[kept])[-count]
    assert np.all(force[levels.categories == ACCURATE] <= levels.f_lo)


def test_adaptive_edge_cases_name_what_happens():
    tasks, steps = np.arange(4), np.zeros(4, dtype=int)
    nothing = adaptive_lower_levels(tasks, steps, np.array([0.1, 0.2, 0.3, 0.4]), f_hi=0.35, number_f=0, rate_f=0.0)
    assert nothing.f_lo == 0.35, 'no candidate: the lower level is the upper one'
    assert nothing.categories.tolist() == [ACCURATE, ACCURATE, ACCURATE, FAILED]
    diverged = adaptive_lower_levels(
        tasks, steps, np.array([np.nan, 0.2, 0.3, 0.35]), f_hi=0.35, number_f=10, rate_f=0.0
    )
    assert diverged.categories.tolist() == [FAILED, CANDIDATE, CANDIDATE, CANDIDATE], 'NaN failed, 0.35 is not above'
    assert diverged.f_lo == 0.2
    with pytest.raises(ValueError, match='virial deviation is needed'):
        adaptive_lower_levels(
            tasks, steps, np.ones(4), f_hi=1.0, number_f=1, rate_f=0.0, max_devi_v=np.ones(3), v_hi=1.0
        )


def test_levels_converge_as_in_dpgen2():
    assert not levels_converged([0.10], 0.05, 2), 'one level is never converged'
    assert levels_converged([0.10, 0.12], 0.05, 2)
    assert not levels_converged([0.10, 0.20], 0.05, 2)
    assert not levels_converged([0.10, 0.12], 0.05, 3), 'fewer levels than checked'
    assert levels_converged([0.5, 0.10, 0.12, 0.13], 0.05, 3), 'only the last three count'
    assert not levels_converged([0.10, 0.12, 0.20], 0.05, 3)


def test_max_deviation_keys_keep_the_largest_deviations_in_any_order():
    tasks, steps, force, _ = frames(500, seed=1)
    keys = max_deviation_keys(7, tasks, steps, force)
    whole = SystemSelection(cap=20, seed=7)
    whole.offer(tasks, steps, keys)
    parts = [SystemSelection(cap=20, seed=7) for _ in range(3)]
    for index, part in enumerate(parts):
        rows = np.arange(len(tasks))[index::3][::-1]
        part.offer(tasks[rows], steps[rows], keys[rows])
    for part in parts[1:]:
        parts[0].merge(part)
    assert parts[0].chosen() == whole.chosen()
    chosen = {(task, step) for task, step in whole.chosen()}
    chosen_force = [value for task, step, value in zip(tasks, steps, force, strict=True) if (task, step) in chosen]
    assert min(chosen_force) >= np.sort(force.astype(np.float32))[-20]


def test_max_deviation_keys_put_diverged_frames_first_and_break_ties_by_seed():
    tasks, steps = np.arange(3), np.zeros(3, dtype=int)
    keys = max_deviation_keys(0, tasks, steps, np.array([0.1, np.nan, 0.1]))
    assert keys.argmin() == 1
    assert keys[0] != keys[2]
    assert (keys[0] >> np.uint64(32)) == (keys[2] >> np.uint64(32))


def inverse_population_by_definition(tasks, steps, bins, populations, *, seed, cap):
    """Efraimidis and Spirakis over every candidate at once (no per-bin trimming): weight 1 / population, score
    ``u ** (1 / weight)`` with ``u = 1 - key / 2**64``, the ``cap`` largest scores (compared as logarithms)."""
    u = 1.0 - priority_keys(seed, tasks, steps).astype(np.float64) / 2.0**64
    weight = 1.0 / populations[bins]
    log_score = np.log(u) / weight
    keep = np.argsort(-log_score, kind='stable')[:cap]
    return sorted((int(tasks[index]), int(steps[index])) for index in keep)


def test_inverse_population_cap_is_exact_mergeable_and_favours_rare_deviations():
    tasks, steps, force, _ = frames(3000, seed=2, ties=False)
    trust = TrustLevels(0.05, 0.4)
    table = np.column_stack([steps, np.zeros_like(force), force])

    def selection():
        return SystemSelection(cap=30, seed=4, choice=INVERSE_POPULATION, bins=10)

    whole = selection()
    for task in range(5):
        whole.add(task, table[tasks == task], trust)
    parts = [selection() for _ in range(3)]
    for task in range(5):
        rows = tasks == task
        parts[task % 3].add(task, table[rows][::-1], trust)
    for part in parts[1:]:
        parts[0].merge(part)

    candidates = (force >= 0.05) & (force < 0.4)
    bins = deviation_bins(force[candidates], 0.05, 0.4, 10)
    populations = np.bincount(bins, minlength=10)
    expected = inverse_population_by_definition(tasks[candidates], steps[candidates], bins, populations, seed=4, cap=30)
    assert whole.chosen() == expected == parts[0].chosen()
    assert whole.statistics()['candidate_bins'] == populations.tolist()
    assert len(whole.keys) <= 30 * 10, 'memory: at most cap candidates per bin'
    chosen = set(expected)
    chosen_bins = [
        bin_
        for task, step, bin_ in zip(tasks[candidates], steps[candidates], bins, strict=True)
        if (task, step) in chosen
    ]
    rare = populations < np.median(populations[populations > 0])
    assert np.mean(rare[chosen_bins]) > rare[bins].mean(), 'rare bins are more likely than their share'


def test_max_deviation_choice_in_a_selection_keeps_the_largest_candidates():
    tasks, steps, force, _ = frames(1000, seed=5, ties=False)
    table = np.column_stack([steps, np.zeros_like(force), force])
    settings = SelectionSettings.from_dict(
        {'f_trust_lo': 0.05, 'f_trust_hi': 0.4, 'fp_task_max': 15, 'candidate_choice': 'max_devi_f'}, ['cu']
    )
    selection = SystemSelection.from_settings(settings)
    for task in range(5):
        selection.add(task, table[tasks == task], settings.trust['cu'])
    candidates = force[(force >= 0.05) & (force < 0.4)]
    chosen = set(selection.chosen())
    kept = [value for task, step, value in zip(tasks, steps, force, strict=True) if (task, step) in chosen]
    assert sorted(kept) == sorted(np.sort(candidates)[-15:].tolist())
    assert len(selection.chosen(cap=5)) == 5, 'a tapered cap takes the first winners'


def test_deviation_bins_follow_dpgen2():
    bins = deviation_bins(np.array([0.0, 0.05, 0.0849, 0.0851, 0.39, 0.4, 5.0]), 0.05, 0.4, 10)
    assert bins.tolist() == [0, 0, 0, 1, 9, 9, 9]


def test_the_labeling_taper_is_dp_gens():
    assert tapered_task_max(300, 0.5, threshold=0.99, soft=0.9) == 300
    assert tapered_task_max(300, 0.95, threshold=0.99, soft=0.9) == int(300 * (0.95 - 0.99) / (0.9 - 0.99))
    assert tapered_task_max(300, 0.99, threshold=0.99, soft=0.9) == 0
    assert tapered_task_max(300, 0.98, threshold=0.99) == 300, 'without soft: full cap below the threshold'
    assert tapered_task_max(300, 1.0) == 0, "DP-GEN's default threshold 1: no labels only when all are accurate"
    with pytest.raises(ValueError, match=r'fp_accurate_soft_threshold=0\.95 and fp_accurate_threshold=0\.9'):
        tapered_task_max(300, 0.5, threshold=0.9, soft=0.95)


def test_candidate_choices_parse_with_clear_errors():
    assert parse_candidate_choice('uniform') == (UNIFORM, 1)
    assert parse_candidate_choice('max_devi_f') == (MAX_DEVIATION, 1)
    assert parse_candidate_choice('inv_pop_f') == (INVERSE_POPULATION, 10)
    assert parse_candidate_choice('inv_pop_f:4') == (INVERSE_POPULATION, 4)
    with pytest.raises(ValueError, match=r"selection.candidate_choice='random': expected one of uniform"):
        parse_candidate_choice('random')
    assert parse_candidate_choice('diverse') == (DIVERSE, 10)
    assert parse_candidate_choice('diverse:3') == (DIVERSE, 3)
    with pytest.raises(ValueError, match='the number after "inv_pop_f:" must be an integer >= 1'):
        parse_candidate_choice('inv_pop_f:0')
    with pytest.raises(ValueError, match=r"candidate_choice='diverse:x'.*after \"diverse:\""):
        parse_candidate_choice('diverse:x')
    with pytest.raises(ValueError, match='expected one of'):
        parse_candidate_choice('uniform:3')


def test_the_diverse_choice_keeps_a_pool_of_k_caps_and_is_uniform_within_it():
    settings = SelectionSettings.from_dict(
        {'f_trust_lo': 0.1, 'f_trust_hi': 0.3, 'fp_task_max': 4, 'candidate_choice': 'diverse:3'}, ['fcc']
    )
    assert settings.diverse and settings.pool(4) == 12 and settings.pool(0) == 0
    selection = SystemSelection.from_settings(settings)
    assert (selection.cap, selection.choice, selection.bins) == (12, UNIFORM, 1)
    uniform = SelectionSettings.from_dict({'f_trust_lo': 0.1, 'f_trust_hi': 0.3, 'fp_task_max': 4}, ['fcc'])
    assert not uniform.diverse and uniform.pool(4) == 4


@pytest.mark.parametrize(
    ('adaptive', 'extra', 'message'),
    [
        ({'numb_candi_f': -1}, {}, r'selection.adaptive_lower.numb_candi_f=-1: expected an integer >= 0'),
        ({'rate_candi_f': 1.5}, {}, r'selection.adaptive_lower.rate_candi_f=1.5: expected a share from 0 to 1'),
        ({'numb_candi_f': 0}, {}, r'numb_candi_f and rate_candi_f are both 0'),
        ({'perc_candi_f': 5}, {}, r"selection.adaptive_lower=\{'perc_candi_f': 5\}: expected a dictionary with"),
        ({'numb_candi_f': 10}, {'candidate_choice': 'inv_pop_f'}, r'adaptive_lower with candidate_choice: inv_pop_f'),
        ({'numb_candi_f': 10}, {'f_avg_relative': True}, r'adaptive_lower with f_avg_relative'),
        ({'numb_candi_f': 10}, {'v_trust_lo': 0.1, 'v_trust_hi': 0.5}, r'adaptive_lower with v_trust_lo'),
    ],
)
def test_bad_adaptive_lower_settings_are_refused_naming_the_key(adaptive, extra, message):
    settings = {'f_trust_lo': 0.05, 'f_trust_hi': 0.3, 'adaptive_lower': adaptive, **extra}
    with pytest.raises(ValueError, match=message):
        SelectionSettings.from_dict(settings, ['fcc'])


def test_adaptive_lower_settings_read_dp_gen_and_dpgen2_shapes():
    settings = {'f_trust_lo': 0.05, 'f_trust_hi': 0.3, 'adaptive_lower': {'numb_candi_f': 200, 'rate_candi_f': 0.01}}
    assert SelectionSettings.from_dict(settings, ['fcc']).adaptive_lower == (200, 0.01)
    selection = SystemSelection.from_settings(SelectionSettings.from_dict(settings, ['fcc']))
    assert selection.adaptive and selection.cap == 300
    tasks, steps, force, _ = frames(3000, seed=8)
    force = force.astype(np.float32)
    for task in range(5):
        ours = tasks == task
        selection.add(task, np.column_stack([steps[ours], np.zeros(ours.sum()), force[ours]]), TrustLevels(0.05, 0.3))
    levels = adaptive_lower_levels(tasks, steps, force.astype(float), f_hi=0.3, number_f=200, rate_f=0.01)
    candidate = np.flatnonzero(levels.categories == CANDIDATE)
    lowest = candidate[np.lexsort((steps[candidate], tasks[candidate], force[candidate]))[0]]
    threshold = (float(force[lowest]), int(tasks[lowest]), int(steps[lowest]))
    won = candidate[np.argsort(priority_keys(0, tasks[candidate], steps[candidate]))[:300]]
    expected = sorted(zip(tasks[won].tolist(), steps[won].tolist(), strict=True))
    assert selection.chosen(threshold=threshold) == expected
    assert selection.chosen() == [], 'no threshold: no candidate'
