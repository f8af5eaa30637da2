"""Classify explored frames by model deviation and pick the candidates to label.

Semantics follow DP-GEN's ``_select_by_model_devi_standard`` so that counts are comparable:

* frames whose step is below ``skip`` are ignored;
* candidate if ``f_lo <= max_devi_f < f_hi``, or ``v_lo <= max_devi_v < v_hi`` when virial trust
  levels are given;
* otherwise failed if ``max_devi_f >= f_hi`` or ``max_devi_v >= v_hi``;
* otherwise accurate.

One deliberate difference: a frame with a NaN deviation (a diverged model) is failed; DP-GEN raises.

The cap (``fp_task_max`` per system) is a seeded random choice that does not depend on the order or
grouping in which frames are seen: every candidate gets a pseudo-random key from (seed, task, step) and
the ``fp_task_max`` smallest keys win. Keeping the smallest keys per file and merging gives exactly the
overall choice, so selection over any number of frames needs memory for ``fp_task_max`` candidates per
system only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from aiida_dpgen.exploration.deviation import MAX_DEVI_F, MAX_DEVI_V, STEP

ACCURATE, CANDIDATE, FAILED = 0, 1, 2
CATEGORY_NAMES = ('accurate', 'candidate', 'failed')

HISTOGRAM_EDGES = np.concatenate([[0.0], np.logspace(-4, 1, 51), [np.inf]])
"""Bins of max_devi_f (eV/Å) for the deviation histograms: [0, 1e-4), 50 log bins up to 10, [10, inf)."""


@dataclasses.dataclass(frozen=True)
class TrustLevels:
    """Trust levels of one system, eV/Å for forces and eV for virials; no virial levels: forces decide."""

    f_lo: float
    f_hi: float
    v_lo: float | None = None
    v_hi: float | None = None

    def __post_init__(self):
        if not (math.isfinite(self.f_lo) and self.f_lo >= 0 and self.f_lo < self.f_hi):
            raise ValueError(
                f'trust levels: f_lo={self.f_lo} and f_hi={self.f_hi}; expected 0 <= f_lo < f_hi '
                f'(the paper uses f_lo=0.05, f_hi=0.20 eV/Å)'
            )
        if (self.v_lo is None) != (self.v_hi is None):
            raise ValueError(
                f'trust levels: give both v_lo and v_hi or neither, got v_lo={self.v_lo}, v_hi={self.v_hi}'
            )
        if self.v_lo is not None and not (self.v_lo >= 0 and self.v_lo < self.v_hi):
            raise ValueError(f'trust levels: v_lo={self.v_lo} and v_hi={self.v_hi}; expected 0 <= v_lo < v_hi')


def classify(table: np.ndarray, trust: TrustLevels, skip: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Category of each frame of a model-deviation table (n x 7), and the mask of frames not skipped."""
    kept = table[:, STEP] >= skip
    force = table[:, MAX_DEVI_F]
    with np.errstate(invalid='ignore'):
        candidate = (force >= trust.f_lo) & (force < trust.f_hi)
        failed = force >= trust.f_hi
        accurate = force < trust.f_lo
        if trust.v_lo is not None:
            virial = table[:, MAX_DEVI_V]
            candidate |= (virial >= trust.v_lo) & (virial < trust.v_hi)
            failed |= virial >= trust.v_hi
            accurate &= virial < trust.v_lo
    categories = np.full(len(table), FAILED, dtype=np.int8)
    categories[accurate & ~candidate & ~failed] = ACCURATE
    categories[candidate] = CANDIDATE
    return categories, kept


def priority_keys(seed: int, tasks: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Pseudo-random uint64 keys of frames (splitmix64 of seed, task and step): the same frame, the same key."""
    with np.errstate(over='ignore'):
        mixed = (
            (np.uint64(seed & 0xFFFFFFFF) << np.uint64(32))
            ^ (np.asarray(tasks).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
            ^ np.asarray(steps).astype(np.uint64)
        )
        mixed = mixed + np.uint64(0x9E3779B97F4A7C15)
        mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return mixed ^ (mixed >> np.uint64(31))


@dataclasses.dataclass
class SystemSelection:
    """Running counts, histogram and capped candidates of one system; feed it file by file."""

    cap: int
    seed: int = 0
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3, dtype=np.int64))
    histogram: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(len(HISTOGRAM_EDGES) - 1, np.int64))
    keys: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    tasks: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    steps: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def add(self, task: int, table: np.ndarray, trust: TrustLevels, skip: int = 0) -> np.ndarray:
        """Count the frames of one task; returns their categories (skipped frames: -1)."""
        categories, kept = classify(table, trust, skip)
        self.counts += np.bincount(categories[kept], minlength=3)
        force = table[kept, MAX_DEVI_F]
        self.histogram += np.histogram(force[np.isfinite(force)], bins=HISTOGRAM_EDGES)[0]
        candidate_steps = table[kept & (categories == CANDIDATE), STEP].astype(np.int64)
        self.offer(np.full(len(candidate_steps), task, dtype=np.int64), candidate_steps)
        return np.where(kept, categories, -1)

    def offer(self, tasks: np.ndarray, steps: np.ndarray, keys: np.ndarray | None = None) -> None:
        """Add candidates (task, step); only the ``cap`` with the smallest keys are kept."""
        if keys is None:
            keys = priority_keys(self.seed, tasks, steps)
        self.keys = np.concatenate([self.keys, keys])
        self.tasks = np.concatenate([self.tasks, tasks])
        self.steps = np.concatenate([self.steps, steps])
        if len(self.keys) > 2 * self.cap:
            self._trim()

    def _trim(self) -> None:
        if len(self.keys) > self.cap:
            keep = np.argpartition(self.keys, self.cap)[: self.cap] if self.cap > 0 else np.empty(0, dtype=np.int64)
            self.keys, self.tasks, self.steps = self.keys[keep], self.tasks[keep], self.steps[keep]

    def merge(self, other: SystemSelection) -> None:
        self.counts += other.counts
        self.histogram += other.histogram
        self.offer(other.tasks, other.steps, other.keys)

    def chosen(self, task_min: int = 0) -> list[tuple[int, int]]:
        """The capped candidates as (task, step), sorted; none if fewer than ``task_min`` (DP-GEN's fp_task_min)."""
        self._trim()
        if len(self.keys) < task_min:
            return []
        order = np.lexsort((self.steps, self.tasks))
        return [(int(self.tasks[i]), int(self.steps[i])) for i in order]

    def statistics(self) -> dict:
        total = int(self.counts.sum())
        ratios = self.counts / total if total else np.zeros(3)
        return {
            'frames': total,
            **{name: int(count) for name, count in zip(CATEGORY_NAMES, self.counts, strict=True)},
            **{f'{name}_ratio': float(ratio) for name, ratio in zip(CATEGORY_NAMES, ratios, strict=True)},
            'max_devi_f_histogram': self.histogram.tolist(),
        }


def select_files(
    files: Iterable[tuple[int, str]], trust: TrustLevels, cap: int, seed: int = 0, skip: int = 0
) -> SystemSelection:
    """Stream ``(task, path)`` model_devi files of one system through a :class:`SystemSelection`."""
    from aiida_dpgen.exploration.deviation import read_model_devi

    selection = SystemSelection(cap=cap, seed=seed)
    for task, path in files:
        selection.add(task, read_model_devi(path), trust, skip)
    return selection
