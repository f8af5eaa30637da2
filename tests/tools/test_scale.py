"""The paper-scale benchmark's arithmetic: engines' busy time, storage ratio, targets."""

from __future__ import annotations

import pytest

from aiida_dpgen.tools.scale import IterationWindow, busy_seconds, storage_target, summarize_targets


def test_busy_time_is_the_union_of_the_engine_runs_inside_the_window():
    runs = [(0.0, 4.0), (2.0, 6.0), (8.0, 9.0), (9.5, 20.0), (-5.0, -1.0)]
    assert busy_seconds(runs, 0.0, 10.0) == pytest.approx(6.0 + 1.0 + 0.5)
    assert busy_seconds([], 0.0, 10.0) == 0.0
    assert busy_seconds([(3.0, 5.0), (3.5, 4.0)], 4.5, 10.0) == pytest.approx(0.5)
    assert IterationWindow('iter_000', 1.0, 2.0).contains(2.0) and not IterationWindow('x', 1.0, 2.0).contains(1.0)


def row(iteration, orchestration=10.0, stored=150, new=100, rss=100 * 1024**2):
    return {
        'iteration': iteration,
        'orchestration': orchestration,
        'orchestration_per_task': orchestration / 1000,
        'database_added': stored // 3,
        'repository_added': stored - stored // 3,
        'new_data_bytes': new,
        'retrieved_per_md_job': 2 * 1024**2,
        'md_jobs': 3,
        'rss': rss,
    }


def test_targets_compare_iterations_40_to_48_with_3_to_10_and_name_what_misses():
    rows = [row(number, orchestration=10.0 if number < 20 else 13.0) for number in range(48)]
    rows[30]['repository_added'] += 1000  # one iteration stores far more than it adds
    queries = {'report': 1.2, 'status': 6.5, 'provenance model': 0.9, 'verdi archive create': 30.0}
    targets = summarize_targets(rows, queries, wall_seconds=80 * 60)
    text = '\n'.join(targets['lines'])
    assert targets['values']['orchestration_ratio'] == pytest.approx(1.3)
    assert 'ratio 1.30 (target <= 1.2: NOT met)' in text
    assert 'median of iterations 40-48 13.0 ms, of 3-10 10.0 ms: ratio 1.30 (target <= 1.2: NOT met)' in text
    assert 'worst 11.50 (iteration 30)' in text and 'NOT met in 1 of 48 iterations' in text
    assert 'NOT met: status' in text and 'verdi archive' not in text.split('queries:')[1].split('\n')[0]
    assert '80.0 min for 48 iterations (target 90 min: met)' in text
    assert 'median 10.0 ms in the first half of the run, 13.0 ms in the second (ratio 1.30)' in text
    assert storage_target(row(0, new=0)) is None


def test_a_short_run_says_what_the_comparison_needs():
    targets = summarize_targets([row(0), row(1)], {}, wall_seconds=60)
    assert targets['lines'][0].endswith('(run all 48 stages)')
    assert 'orchestration_ratio' not in targets['values']
    assert targets['lines'][-1] == 'whole run: 1.0 min for 2 iterations'
