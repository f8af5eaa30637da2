"""Frames ranked by deviation, for the adaptive lower level: which frames a capped choice can ever need, and
the level itself, both mergeable over jobs in bounded memory.

A frame's rank is (deviation, task, step), compared in that order; the adaptive lower level makes the
``count`` highest-ranked frames below the upper level candidates (:mod:`aiida_dpgen.exploration.strategies`).
That ``count`` depends on every job's frames, so no job knows its candidates. But whatever the level, the cap
keeps the candidates with the smallest keys, and a frame can be among them only if fewer than ``cap`` frames of
a higher rank have a smaller key: that is its job's **skyline** (:func:`ranked_skyline`). The skyline of all
frames is contained in the union of the jobs' skylines, and a skyline holds about ``cap x ln(frames)`` frames
for random keys, so each job keeps and extracts only those. The level is the rank of the ``count``-th frame
(:func:`rank_threshold`), found by streaming over the stored deviations with memory for ``count`` frames.

Plain numpy; deviations are compared as float32, as the jobs store them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import numpy as np

CHUNK = 4096
"""Frames taken at a time by the skyline: those with a key above the cap's worst so far are dropped at once."""


def rank_order(deviation: np.ndarray, tasks: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Indices from the highest rank to the lowest."""
    return np.lexsort((np.asarray(steps), np.asarray(tasks), np.asarray(deviation, dtype=np.float32)))[::-1]


def ranked_skyline(
    deviation: np.ndarray, tasks: np.ndarray, steps: np.ndarray, keys: np.ndarray, cap: int
) -> np.ndarray:
    """Indices (sorted) of the frames with fewer than ``cap`` frames of a higher rank and a smaller key: the
    only frames that can win a cap of ``cap`` smallest keys among the frames at or above any rank."""
    if cap <= 0 or len(keys) == 0:
        return np.empty(0, dtype=np.int64)
    order = rank_order(deviation, tasks, steps)
    ordered_keys = np.asarray(keys, dtype=np.uint64)[order]
    worst: list[int] = []  # the cap smallest keys so far, negated: a max-heap
    kept = []
    for start in range(0, len(order), CHUNK):
        chunk = ordered_keys[start : start + CHUNK]
        positions = np.arange(start, start + len(chunk))
        if len(worst) == cap:
            below = chunk < np.uint64(-worst[0])
            chunk, positions = chunk[below], positions[below]
        for position, key in zip(positions.tolist(), chunk.tolist(), strict=True):
            if len(worst) < cap:
                heapq.heappush(worst, -key)
            elif key < -worst[0]:
                heapq.heapreplace(worst, -key)
            else:
                continue
            kept.append(position)
    return np.sort(order[np.asarray(kept, dtype=np.int64)])


class TopRanked:
    """The ``count`` highest-ranked frames seen so far, fed chunk by chunk: memory for ``count`` frames and one
    chunk."""

    def __init__(self, count: int):
        self.count = count
        self.best = (np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))

    def add(self, deviation: np.ndarray, tasks: np.ndarray, steps: np.ndarray) -> None:
        if self.count <= 0:
            return
        merged = [
            np.concatenate([kept, np.asarray(new, dtype=kept.dtype)])
            for kept, new in zip(self.best, (deviation, tasks, steps), strict=True)
        ]
        highest = rank_order(*merged)[: self.count]
        self.best = tuple(array[highest] for array in merged)

    def threshold(self) -> tuple | None:
        """The rank (deviation, task, step) of the ``count``-th frame, or None when ``count`` is 0."""
        if self.count <= 0:
            return None
        if len(self.best[0]) < self.count:
            raise ValueError(f'rank threshold: {self.count} frames wanted, {len(self.best[0])} given')
        lowest = rank_order(*self.best)[self.count - 1]
        return float(self.best[0][lowest]), int(self.best[1][lowest]), int(self.best[2][lowest])


def rank_threshold(chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], count: int) -> tuple | None:
    """The rank (deviation, task, step) of the ``count``-th highest frame of all ``chunks`` (each deviation,
    tasks, steps), or None when ``count`` is 0 (:class:`TopRanked`)."""
    top = TopRanked(count)
    for chunk in chunks:
        top.add(*chunk)
    return top.threshold()


def at_or_above(deviation: np.ndarray, tasks: np.ndarray, steps: np.ndarray, threshold: tuple | None) -> np.ndarray:
    """Mask of the frames ranked at or above ``threshold`` (none when it is None)."""
    deviation = np.asarray(deviation, dtype=np.float32)
    if threshold is None:
        return np.zeros(len(deviation), dtype=bool)
    level, task, step = np.float32(threshold[0]), threshold[1], threshold[2]
    tasks, steps = np.asarray(tasks), np.asarray(steps)
    return (deviation > level) | ((deviation == level) & ((tasks > task) | ((tasks == task) & (steps >= step))))
