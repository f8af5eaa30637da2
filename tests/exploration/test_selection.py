"""Selection: DP-GEN's categories, edge cases, per-system trust levels, and the reproducible cap."""

from __future__ import annotations

import re

import numpy as np
import pytest

from aiida_dpgen.exploration.selection import (
    ACCURATE,
    CANDIDATE,
    FAILED,
    SystemSelection,
    TrustLevels,
    classify,
)

PAPER = TrustLevels(f_lo=0.05, f_hi=0.20)


def table(forces, virials=None, steps=None):
    """Rows of (step, max_devi_v, max_devi_f), the columns selection reads."""
    forces = np.asarray(forces, dtype=float)
    rows = np.zeros((len(forces), 3))
    rows[:, 0] = np.arange(len(forces)) * 10 if steps is None else steps
    rows[:, 1] = 0.0 if virials is None else virials
    rows[:, 2] = forces
    return rows


def categories_of(rows, trust, skip=0):
    return classify(rows[:, 0], rows[:, 1], rows[:, 2], trust, skip)


def test_values_exactly_on_the_thresholds_follow_lo_inclusive_hi_exclusive():
    categories, _ = categories_of(table([0.0499999, 0.05, 0.1999999, 0.20, 5.0]), PAPER)
    assert categories.tolist() == [ACCURATE, CANDIDATE, CANDIDATE, FAILED, FAILED]


def test_nan_deviation_is_failed_not_an_error():
    categories, _ = categories_of(table([np.nan, 0.1]), PAPER)
    assert categories.tolist() == [FAILED, CANDIDATE]


def test_virial_levels_make_a_frame_candidate_or_failed_on_their_own():
    trust = TrustLevels(f_lo=0.05, f_hi=0.20, v_lo=0.1, v_hi=0.5)
    categories, _ = categories_of(table([0.01, 0.01, 0.01, 0.3], virials=[0.01, 0.2, 0.6, 0.2]), trust)
    assert categories.tolist() == [ACCURATE, CANDIDATE, FAILED, CANDIDATE]


def test_leading_steps_below_skip_are_not_counted():
    selection = SystemSelection(cap=10)
    categories = selection.add(0, table([0.1, 0.1, 0.1], steps=[0, 10, 20]), PAPER, skip=10)
    assert categories.tolist() == [-1, CANDIDATE, CANDIDATE]
    assert selection.statistics()['candidate'] == 2


@pytest.mark.parametrize(('forces', 'expected'), [([], (0, 0, 0)), ([0.01] * 4, (4, 0, 0)), ([9.0] * 3, (0, 0, 3))])
def test_empty_all_accurate_and_all_failed(forces, expected):
    selection = SystemSelection(cap=10)
    selection.add(0, table(forces), PAPER)
    statistics = selection.statistics()
    assert (statistics['accurate'], statistics['candidate'], statistics['failed']) == expected
    assert selection.chosen() == []
    assert statistics['frames'] == len(forces)


def test_ratios_and_histogram_cover_every_counted_frame():
    selection = SystemSelection(cap=10)
    selection.add(0, table([0.01, 0.1, 0.1, 0.5]), PAPER)
    statistics = selection.statistics()
    assert (statistics['accurate_ratio'], statistics['candidate_ratio'], statistics['failed_ratio']) == (
        0.25,
        0.5,
        0.25,
    )
    assert sum(statistics['max_devi_f_histogram']) == 4


def test_cap_is_reproducible_and_independent_of_how_frames_are_grouped():
    rng = np.random.default_rng(3)
    tasks = [table(rng.uniform(0.06, 0.19, 300)) for _ in range(5)]

    whole = SystemSelection(cap=25, seed=7)
    for task, rows in enumerate(tasks):
        whole.add(task, rows, PAPER)

    parts = [SystemSelection(cap=25, seed=7) for _ in range(2)]
    for task, rows in enumerate(tasks):
        parts[task % 2].add(task, rows, PAPER)
    parts[0].merge(parts[1])

    assert len(whole.chosen()) == 25
    assert whole.chosen() == parts[0].chosen()
    assert whole.statistics()['candidate'] == parts[0].statistics()['candidate'] == 1500
    other_seed = SystemSelection(cap=25, seed=8)
    for task, rows in enumerate(tasks):
        other_seed.add(task, rows, PAPER)
    assert other_seed.chosen() != whole.chosen()


def test_memory_stays_bounded_by_the_cap():
    selection = SystemSelection(cap=10, seed=1)
    for task in range(50):
        selection.add(task, table(np.full(1000, 0.1)), PAPER)
        assert len(selection.keys) <= 2 * 10 + 1000
    assert len(selection.chosen()) == 10


def test_fewer_candidates_than_task_min_selects_none():
    selection = SystemSelection(cap=10)
    selection.add(0, table([0.1, 0.1, 0.01]), PAPER)
    assert selection.chosen(task_min=3) == []
    assert len(selection.chosen(task_min=2)) == 2


@pytest.mark.parametrize(
    ('levels', 'message'),
    [
        ({'f_lo': 0.2, 'f_hi': 0.2}, r'f_lo=0.2 and f_hi=0.2; expected 0 <= f_lo < f_hi'),
        ({'f_lo': 0.3, 'f_hi': 0.1}, r'expected 0 <= f_lo < f_hi'),
        ({'f_lo': 0.05, 'f_hi': 0.2, 'v_lo': 0.1}, r'give both v_lo and v_hi or neither'),
    ],
)
def test_inconsistent_trust_levels_are_refused(levels, message):
    with pytest.raises(ValueError, match=message):
        TrustLevels(**levels)


def test_selection_over_worker_processes_equals_one_process(tmp_path):
    from aiida_dpgen.exploration.deviation import write_model_devi
    from aiida_dpgen.exploration.selection import select_files

    rng = np.random.default_rng(5)
    files = []
    for task in range(6):
        rows = np.column_stack([np.arange(200) * 10, 10 ** rng.uniform(-2.5, 0, (200, 6))])
        write_model_devi(tmp_path / f'{task}.out', rows)
        files.append((task, tmp_path / f'{task}.out'))

    one = select_files(files, PAPER, cap=20, seed=3)
    two = select_files(files, PAPER, cap=20, seed=3, workers=2)

    assert one.statistics() == two.statistics()
    assert one.chosen() == two.chosen()


def test_selection_settings_fill_defaults_and_apply_per_system_levels():
    from aiida_dpgen.exploration.selection import SelectionSettings

    settings = SelectionSettings.from_dict(
        {'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'per_system': {'surface': {'f_trust_hi': 0.3}}, 'fp_task_max': 100},
        ['bulk', 'surface'],
    )
    assert settings.trust['bulk'] == TrustLevels(0.05, 0.2)
    assert settings.trust['surface'] == TrustLevels(0.05, 0.3)
    assert (settings.fp_task_max, settings.fp_task_min, settings.skip, settings.seed) == (100, 0, 0, 0)


@pytest.mark.parametrize(
    ('settings', 'message'),
    [
        ({'f_trust_lo': 0.2, 'f_trust_hi': 0.05}, 'selection: trust levels: f_lo=0.2 and f_hi=0.05'),
        ({'f_trust_hi': 0.2}, 'selection.f_trust_lo=None: expected a number'),
        ({'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_max': -1}, 'selection.fp_task_max=-1'),
        ({'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'trust_lo': 1}, "unknown keys ['trust_lo']"),
        ({'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'per_system': {'bcc': {}}}, "selection.per_system: ['bcc']"),
        (
            {'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'per_system': {'fcc': {'f_trust_lo': 0.3}}},
            'selection.per_system.fcc: trust levels: f_lo=0.3',
        ),
    ],
)
def test_bad_selection_settings_name_the_key(settings, message):
    from aiida_dpgen.exploration.selection import SelectionSettings

    with pytest.raises(ValueError, match=re.escape(message)):
        SelectionSettings.from_dict(settings, ['fcc'])
