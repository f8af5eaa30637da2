"""What the paper-scale benchmark computes from its measurements: plain functions, tested without AiiDA.

An iteration's wall time splits into the engines' own time (the union of the intervals in which at least one
engine ran) and the orchestration (the rest); the targets compare late iterations with early ones.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Mapping, Sequence

EARLY = range(3, 11)
"""Iterations 3 to 10 (counted from 1, as the issue and the paper count them)."""
LATE = range(40, 49)
ORCHESTRATION_RATIO = 1.2
STORAGE_FACTOR = 2.0
QUERY_SECONDS = 5.0
RUN_MINUTES = 90.0


@dataclasses.dataclass(frozen=True)
class IterationWindow:
    name: str
    start: float
    end: float

    def contains(self, moment: float) -> bool:
        return self.start < moment <= self.end


def busy_seconds(intervals: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """Length of the union of ``intervals`` inside ``[start, end]``: the time at least one of them covered."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, current_start, current_end = 0.0, None, None
    for a, b in clipped:
        if current_end is None or a > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = a, b
        else:
            current_end = max(current_end, b)
    if current_end is not None:
        total += current_end - current_start
    return total


def window_median(rows: Sequence[Mapping], iterations: range, key: str) -> float | None:
    """Median of ``key`` over the rows of ``iterations`` (counted from 1); None when none ran."""
    values = [row[key] for row in rows if row['iteration'] + 1 in iterations]
    return statistics.median(values) if values else None


def storage_target(row: Mapping) -> float | None:
    """What the iteration stored over what it added (labels, models, compact deviations); None if it added none."""
    if not row['new_data_bytes']:
        return None
    return (row['database_added'] + row['repository_added']) / row['new_data_bytes']


def summarize_targets(rows: Sequence[Mapping], query_seconds: Mapping[str, float], wall_seconds: float) -> dict:
    """Each target of the paper-scale issue with its measured value, as lines to print and as numbers."""
    lines, values = [], {}
    early, late = window_median(rows, EARLY, 'orchestration'), window_median(rows, LATE, 'orchestration')
    if early is not None and late is not None:
        ratio = late / early
        values['orchestration_ratio'] = ratio
        verdict = 'met' if ratio <= ORCHESTRATION_RATIO else 'NOT met'
        lines.append(
            f'orchestration per iteration: median of iterations 40-48 {late:.1f} s, of 3-10 {early:.1f} s: '
            f'ratio {ratio:.2f} (target <= {ORCHESTRATION_RATIO}: {verdict})'
        )
        early_task = window_median(rows, EARLY, 'orchestration_per_task')
        late_task = window_median(rows, LATE, 'orchestration_per_task')
        task_ratio = values['orchestration_per_task_window_ratio'] = late_task / early_task
        lines.append(
            f'orchestration per MD task (later stages have 2-4x the tasks): median of iterations 40-48 '
            f'{late_task * 1000:.1f} ms, of 3-10 {early_task * 1000:.1f} ms: ratio {task_ratio:.2f} '
            f'(target <= {ORCHESTRATION_RATIO}: {"met" if task_ratio <= ORCHESTRATION_RATIO else "NOT met"})'
        )
    else:
        lines.append('orchestration per iteration: needs iterations 3-10 and 40-48 (run all 48 stages)')
    per_task = [row['orchestration_per_task'] for row in rows if 'orchestration_per_task' in row]
    if len(per_task) >= 4:
        half = len(per_task) // 2
        first, second = statistics.median(per_task[:half]), statistics.median(per_task[half:])
        values['orchestration_per_task_ratio'] = second / first
        lines.append(
            f'orchestration per MD task (the stages differ 8x in tasks): median {first * 1000:.1f} ms in the first '
            f'half of the run, {second * 1000:.1f} ms in the second (ratio {second / first:.2f})'
        )
    ratios = [(row['iteration'], storage_target(row)) for row in rows]
    ratios = [(number, ratio) for number, ratio in ratios if ratio is not None]
    if ratios:
        worst_iteration, worst = max(ratios, key=lambda item: item[1])
        over = [number for number, ratio in ratios if ratio > STORAGE_FACTOR]
        values['storage_ratio_max'] = worst
        values['storage_ratio_median'] = statistics.median(ratio for _, ratio in ratios)
        lines.append(
            f'storage per iteration / new labels, models and deviations: median '
            f'{values["storage_ratio_median"]:.2f}, worst {worst:.2f} (iteration {worst_iteration}); target <= '
            f'{STORAGE_FACTOR}: {"met" if not over else f"NOT met in {len(over)} of {len(ratios)} iterations"}'
        )
    retrieved = [row['retrieved_per_md_job'] for row in rows if row['md_jobs']]
    if retrieved:
        values['retrieved_per_md_job_max'] = max(retrieved)
        lines.append(
            f'bytes retrieved per MD job: median {statistics.median(retrieved) / 1024**2:.2f} MB, '
            f'largest {max(retrieved) / 1024**2:.2f} MB'
        )
    slow = {
        name: seconds
        for name, seconds in query_seconds.items()
        if name.startswith(('report', 'status', 'provenance')) and seconds > QUERY_SECONDS
    }
    queries = {
        name: seconds for name, seconds in query_seconds.items() if name.startswith(('report', 'status', 'provenance'))
    }
    if queries:
        lines.append(
            'queries: '
            + ', '.join(f'{name} {seconds:.2f} s' for name, seconds in queries.items())
            + f' (target < {QUERY_SECONDS:g} s each: {"met" if not slow else "NOT met: " + ", ".join(slow)})'
        )
    early_rss, late_rss = window_median(rows, EARLY, 'rss'), window_median(rows, LATE, 'rss')
    if early_rss and late_rss:
        values['rss_ratio'] = late_rss / early_rss
        lines.append(
            f'runner RSS: iterations 40-48 {late_rss / 1024**2:.0f} MB, 3-10 {early_rss / 1024**2:.0f} MB '
            f'(ratio {values["rss_ratio"]:.2f})'
        )
    values['run_minutes'] = wall_seconds / 60
    full = len(rows) >= LATE.stop - 1
    lines.append(
        f'whole run: {wall_seconds / 60:.1f} min for {len(rows)} iterations'
        + (f' (target {RUN_MINUTES:g} min: {"met" if wall_seconds / 60 <= RUN_MINUTES else "NOT met"})' if full else '')
    )
    return {'lines': lines, 'values': values}
