"""The skyline and rank threshold that make the adaptive lower level mergeable over jobs."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_dpgen.exploration.ranking import at_or_above, rank_order, rank_threshold, ranked_skyline
from aiida_dpgen.exploration.selection import priority_keys


def frames(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    tasks = rng.integers(0, 50, count)
    steps = rng.permutation(count) * 10
    deviation = np.round(rng.lognormal(np.log(0.1), 0.8, count), 2).astype(np.float32)  # ties on purpose
    return deviation, tasks, steps, priority_keys(seed, tasks, steps)


def winners_at(deviation, tasks, steps, keys, threshold, *, cap):
    """By definition: the cap smallest keys among the frames ranked at or above the threshold."""
    above = np.flatnonzero(at_or_above(deviation, tasks, steps, threshold))
    return set(above[np.argsort(keys[above])[:cap]].tolist())


def test_the_skyline_holds_the_winners_for_every_level_and_is_small():
    deviation, tasks, steps, keys = frames(20_000)
    cap = 7
    skyline = ranked_skyline(deviation, tasks, steps, keys, cap)
    order = rank_order(deviation, tasks, steps)
    for count in (1, 5, 50, 999, 20_000):
        lowest = order[count - 1]
        threshold = (deviation[lowest], tasks[lowest], steps[lowest])
        assert winners_at(deviation, tasks, steps, keys, threshold, cap=cap) <= set(skyline.tolist())
    assert len(skyline) < cap * (np.log(20_000) + 2), 'about cap x ln(frames) for random keys'
    # a frame is in it exactly when fewer than cap frames of a higher rank have a smaller key
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    some = np.random.default_rng(1).choice(len(keys), 300, replace=False)
    for frame in some:
        higher = order[: position[frame]]
        assert (np.sum(keys[higher] < keys[frame]) < cap) == (frame in set(skyline.tolist()))


def test_the_skyline_of_jobs_merged_is_the_skyline_of_all_frames():
    deviation, tasks, steps, keys = frames(5_000, seed=4)
    cap = 5
    everything = set(ranked_skyline(deviation, tasks, steps, keys, cap).tolist())
    jobs = np.array_split(np.random.default_rng(2).permutation(len(keys)), 6)
    kept = np.concatenate([job[ranked_skyline(deviation[job], tasks[job], steps[job], keys[job], cap)] for job in jobs])
    merged = kept[ranked_skyline(deviation[kept], tasks[kept], steps[kept], keys[kept], cap)]
    assert set(merged.tolist()) == everything


def test_the_rank_threshold_streams_to_the_count_th_highest_frame():
    deviation, tasks, steps, _ = frames(10_000, seed=5)
    order = rank_order(deviation, tasks, steps)
    chunks = [(deviation[part], tasks[part], steps[part]) for part in np.array_split(np.arange(10_000), 13)]
    for count in (1, 37, 10_000):
        lowest = order[count - 1]
        assert rank_threshold(chunks, count) == (float(deviation[lowest]), int(tasks[lowest]), int(steps[lowest]))
        assert np.sum(at_or_above(deviation, tasks, steps, rank_threshold(chunks, count))) == count
    assert rank_threshold(chunks, 0) is None
    assert not at_or_above(deviation, tasks, steps, None).any()
    with pytest.raises(ValueError, match='10001 frames wanted, 10000 given'):
        rank_threshold(chunks, 10_001)
