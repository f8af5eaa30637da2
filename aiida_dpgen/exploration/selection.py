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

from aiida_dpgen.exploration.deviation import SELECTION_COLUMNS, read_model_devi
from aiida_dpgen.utils.memory import keep_freed_memory

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


def classify(
    steps: np.ndarray, max_devi_v: np.ndarray, max_devi_f: np.ndarray, trust: TrustLevels, skip: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Category of each frame, and the mask of frames not skipped (step at least ``skip``)."""
    kept = steps >= skip
    categories = _levels(max_devi_f, trust.f_lo, trust.f_hi)
    if trust.v_lo is not None:
        virial = _levels(max_devi_v, trust.v_lo, trust.v_hi)
        either_candidate = (categories == CANDIDATE) | (virial == CANDIDATE)
        categories = np.where(either_candidate, np.int8(CANDIDATE), np.maximum(categories, virial))
    return categories, kept


def _levels(deviation: np.ndarray, low: float, high: float) -> np.ndarray:
    """0 below ``low``, 1 from ``low`` up to ``high``, 2 from ``high`` on, and 2 for NaN."""
    with np.errstate(invalid='ignore'):
        levels = (deviation >= low).astype(np.int8) + (deviation >= high)
    levels[np.isnan(deviation)] = FAILED
    return levels


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
        """Count the frames of one task, a table with the columns step, max_devi_v, max_devi_f
        (:data:`~aiida_dpgen.exploration.deviation.SELECTION_COLUMNS`); returns the frames' categories
        (skipped frames: -1)."""
        steps, max_devi_v, max_devi_f = table[:, 0], table[:, 1], table[:, 2]
        categories, kept = classify(steps, max_devi_v, max_devi_f, trust, skip)
        everything = skip <= 0 or bool(kept.all())
        counted = categories if everything else categories[kept]
        self.counts += np.bincount(counted, minlength=3)
        force = max_devi_f if everything else max_devi_f[kept]
        self.histogram += np.histogram(force[np.isfinite(force)], bins=HISTOGRAM_EDGES)[0]
        is_candidate = categories == CANDIDATE
        candidate_steps = steps[is_candidate if everything else kept & is_candidate].astype(np.int64)
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
    files: Iterable[tuple[int, str]], trust: TrustLevels, *, cap: int, seed: int = 0, skip: int = 0, workers: int = 1
) -> SystemSelection:
    """Stream ``(task, path)`` model_devi files of one system through a :class:`SystemSelection`.

    With ``workers`` > 1 the files are split over that many processes; because the cap keeps the
    smallest keys, merging their selections gives exactly the single-process result.
    """
    files = list(files)
    if workers > 1 and len(files) > workers:
        import functools
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunks = [files[index::workers] for index in range(workers)]
        one_process = functools.partial(select_files, trust=trust, cap=cap, seed=seed, skip=skip)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn')) as pool:
            parts = list(pool.map(one_process, chunks))
        merged = parts[0]
        for part in parts[1:]:
            merged.merge(part)
        return merged

    keep_freed_memory()
    selection = SystemSelection(cap=cap, seed=seed)
    for task, path in files:
        selection.add(task, read_model_devi(path, SELECTION_COLUMNS), trust, skip)
    return selection


SELECTION_KEYS = {
    'f_trust_lo': 'force deviation (eV/Å) from which a frame is a candidate',
    'f_trust_hi': 'force deviation (eV/Å) from which a frame is failed',
    'v_trust_lo': 'virial deviation (eV) from which a frame is a candidate (optional)',
    'v_trust_hi': 'virial deviation (eV) from which a frame is failed (optional)',
    'per_system': 'system name -> trust levels overriding the ones above for that system',
    'fp_task_max': 'at most this many candidates per system are labeled (default 300, as in the paper)',
    'fp_task_min': 'fewer candidates than this in a system: none of them is labeled (default 0)',
    'skip': 'frames with a step below this are ignored (DP-GEN model_devi_skip, default 0)',
    'seed': 'seed of the random choice of capped candidates (default 0)',
    'f_avg_relative': 'force deviations divided by the RMS force of their trajectory, so that the force trust '
    'levels are relative (DP-GEN model_devi_f_avg_relative, default false)',
}
TRUST_KEYS = ('f_trust_lo', 'f_trust_hi', 'v_trust_lo', 'v_trust_hi')


@dataclasses.dataclass(frozen=True)
class SelectionSettings:
    """Trust levels per system, the cap, the minimum, the skipped leading steps and the seed."""

    trust: dict[str, TrustLevels]
    fp_task_max: int = 300
    fp_task_min: int = 0
    skip: int = 0
    seed: int = 0
    f_avg_relative: bool = False

    @classmethod
    def from_dict(cls, settings: dict, system_names) -> SelectionSettings:
        """Validate a selection dictionary (keys: :data:`SELECTION_KEYS`); errors name the key and the fix."""
        unknown = sorted(set(settings) - set(SELECTION_KEYS))
        if unknown:
            raise ValueError(f'selection: unknown keys {unknown}; valid keys: {", ".join(SELECTION_KEYS)}')
        per_system = settings.get('per_system', {})
        outside = sorted(set(per_system) - set(system_names))
        if outside:
            raise ValueError(
                f'selection.per_system: {outside} are not explored systems ({", ".join(system_names)}); fix the names'
            )
        trust = {}
        for name in system_names:
            levels = {key: settings.get(key) for key in TRUST_KEYS}
            override = per_system.get(name, {})
            bad = sorted(set(override) - set(TRUST_KEYS))
            if bad:
                raise ValueError(f'selection.per_system.{name}: unknown keys {bad}; expected some of {TRUST_KEYS}')
            levels.update(override)
            where = f'selection.per_system.{name}' if override else 'selection'
            for key in ('f_trust_lo', 'f_trust_hi'):
                if not isinstance(levels[key], int | float):
                    raise ValueError(f'{where}.{key}={levels[key]!r}: expected a number ({SELECTION_KEYS[key]})')
            try:
                trust[name] = TrustLevels(*(levels[key] for key in TRUST_KEYS))
            except ValueError as exception:
                raise ValueError(f'{where}: {exception}') from None
        numbers = ('fp_task_max', 'fp_task_min', 'skip', 'seed')
        values = {key: settings.get(key, SELECTION_DEFAULTS[key]) for key in numbers}
        for key, value in values.items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'selection.{key}={value!r}: expected an integer >= 0 ({SELECTION_KEYS[key]})')
        relative = settings.get('f_avg_relative', SELECTION_DEFAULTS['f_avg_relative'])
        if not isinstance(relative, bool):
            raise ValueError(f'selection.f_avg_relative={relative!r}: expected true or false')
        return cls(trust=trust, f_avg_relative=relative, **values)


SELECTION_DEFAULTS = {
    field.name: field.default for field in dataclasses.fields(SelectionSettings) if field.name != 'trust'
}
"""The selection's defaults (``fp_task_max`` 300, as in the paper): read them here, not as literals elsewhere."""
