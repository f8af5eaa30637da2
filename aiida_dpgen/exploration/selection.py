"""Classify explored frames by model deviation and pick the candidates to label.

Semantics follow DP-GEN's ``_select_by_model_devi_standard`` so that counts are comparable:

* frames whose step is below ``skip`` are ignored;
* candidate if ``f_lo <= max_devi_f < f_hi``, or ``v_lo <= max_devi_v < v_hi`` when virial trust
  levels are given;
* otherwise failed if ``max_devi_f >= f_hi`` or ``max_devi_v >= v_hi``;
* otherwise accurate.

One deliberate difference: a frame with a NaN deviation (a diverged model) is failed; DP-GEN raises.

The cap (``fp_task_max`` per system) is a seeded choice that does not depend on the order or grouping in
which frames are seen: every candidate gets a key and the ``fp_task_max`` smallest keys win. Keeping the
smallest keys per file and merging gives exactly the overall choice, so selection over any number of frames
needs memory for ``fp_task_max`` candidates per system only. The ``candidate_choice`` decides the keys:

* ``uniform`` (DP-GEN, the default): a pseudo-random key from (seed, task, step), a uniform random choice;
* ``max_devi_f`` (dpgen2's ``fixed-levels-max-select``): the largest force deviations first;
* ``inv_pop_f[:N]`` (dpgen2's ``candi_sel_prob``): a weighted random choice without replacement (Efraimidis
  and Spirakis), each candidate's weight the inverse of the number of candidates in its bin of N (10) equal
  bins of the force deviation between the trust levels. Within a bin the order is the keys' order, so each
  bin keeps its ``fp_task_max`` smallest keys and counts its candidates: memory for N x ``fp_task_max``.
  dpgen2 draws with replacement (a frame can be labeled twice); this draws without.
* ``diverse[:K]`` (none of DP-GEN, dpgen2): a uniform random pool of K (10) x ``fp_task_max`` candidates, kept
  like the uniform choice, from which ``select_candidates`` takes the ``fp_task_max`` most different by
  farthest-point sampling over the descriptor of one ensemble model (:mod:`aiida_dpgen.exploration.diversity`):
  memory for K x ``fp_task_max`` candidates, descriptors for those only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from aiida_dpgen.exploration.deviation import SELECTION_COLUMNS, read_model_devi
from aiida_dpgen.exploration.ranking import at_or_above, ranked_skyline
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


def adaptive_failed(max_devi_f: np.ndarray, f_hi: float) -> np.ndarray:
    """Frames the adaptive lower level calls failed: above ``f_hi`` (strictly, as DP-GEN and dpgen2 there) or
    NaN. The deviation is taken as the jobs store it (float32), so that a job and the level computed later from
    the stored deviations agree on every frame."""
    deviation = np.asarray(max_devi_f, dtype=np.float32).astype(np.float64)
    with np.errstate(invalid='ignore'):
        return np.isnan(deviation) | (deviation > f_hi)


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


UNIFORM = 'uniform'
MAX_DEVIATION = 'max_devi_f'
INVERSE_POPULATION = 'inv_pop_f'
DIVERSE = 'diverse'
CANDIDATE_CHOICES = {
    UNIFORM: 'a uniform random choice (DP-GEN, dpgen2 default)',
    MAX_DEVIATION: 'the largest force deviations first (dpgen2 fixed-levels-max-select)',
    INVERSE_POPULATION: 'weighted by the inverse population of the force-deviation bin between the levels; '
    '"inv_pop_f:N" for N bins, 10 by default (dpgen2 candi_sel_prob)',
    DIVERSE: 'the most different by farthest-point sampling over a model descriptor, from a random pool of K x '
    'fp_task_max; "diverse:K", K 10 by default',
}
DEFAULT_NUMBER = {INVERSE_POPULATION: 10, DIVERSE: 10}
"""The default N of "inv_pop_f:N" (bins) and K of "diverse:K" (pool size over fp_task_max)."""


def parse_candidate_choice(value: str) -> tuple[str, int]:
    """``'uniform'``, ``'max_devi_f'``, ``'inv_pop_f[:N]'`` or ``'diverse[:K]'`` as (name, number): the bins of
    ``inv_pop_f``, the pool factor of ``diverse``, 1 for the others. Errors name the value and the choices."""
    expected = '; '.join(f'{name}: {meaning}' for name, meaning in CANDIDATE_CHOICES.items())
    name, _, number = str(value).partition(':')
    if name not in CANDIDATE_CHOICES or (number and name not in DEFAULT_NUMBER):
        raise ValueError(f'selection.candidate_choice={value!r}: expected one of {expected}')
    if name not in DEFAULT_NUMBER:
        return name, 1
    if not number:
        return name, DEFAULT_NUMBER[name]
    if not number.isdigit() or int(number) < 1:
        raise ValueError(f'selection.candidate_choice={value!r}: the number after "{name}:" must be an integer >= 1')
    return name, int(number)


def max_deviation_keys(seed: int, tasks: np.ndarray, steps: np.ndarray, max_devi_f: np.ndarray) -> np.ndarray:
    """Keys under which the smallest are the largest force deviations (compared as float32, as they are
    stored; NaN first), ties broken by the seeded random key."""
    deviation = np.nan_to_num(np.asarray(max_devi_f, dtype=np.float32), nan=np.inf)
    order_bits = np.maximum(deviation, np.float32(0)).view(np.uint32).astype(np.uint64)
    random_bits = priority_keys(seed, tasks, steps) >> np.uint64(32)
    return ((np.uint64(0xFFFFFFFF) - order_bits) << np.uint64(32)) | random_bits


def deviation_bins(max_devi_f: np.ndarray, f_lo: float, f_hi: float, bins: int) -> np.ndarray:
    """dpgen2's histogram bin of each candidate: ``bins`` equal bins from ``f_lo`` to ``f_hi``, deviations
    outside them in the first or last bin."""
    width = (f_hi - f_lo) / bins
    if bins <= 1 or width <= 0:
        return np.zeros(len(max_devi_f), dtype=np.int64)
    index = np.floor((np.asarray(max_devi_f, dtype=float) - f_lo) / width)
    return np.clip(np.nan_to_num(index, nan=bins - 1), 0, bins - 1).astype(np.int64)


def weighted_order(keys: np.ndarray, bins: np.ndarray, population: np.ndarray | None) -> np.ndarray:
    """Candidates in the order they win the cap: by key, or with the bins' ``population``, by
    ``-log(u) * population(bin)`` with ``u = 1 - key / 2**64`` (Efraimidis and Spirakis with weights
    1 / population)."""
    if population is None or len(population) <= 1:
        return np.argsort(keys, kind='stable')
    exponential = -np.log1p(-(np.asarray(keys).astype(np.float64) / 2.0**64))
    return np.argsort(exponential * np.asarray(population)[bins], kind='stable')


def winners(
    keys: np.ndarray,
    bins: np.ndarray,
    population: np.ndarray | None,
    *,
    tasks: np.ndarray,
    steps: np.ndarray,
    cap: int,
    minimum: int = 0,
) -> np.ndarray:
    """Indices of the candidates that win a cap of ``cap`` (:func:`weighted_order`), sorted by (task, step);
    none when fewer than ``minimum`` win (DP-GEN's ``fp_task_min``)."""
    won = weighted_order(keys, bins, population)[:cap]
    if len(won) < max(minimum, 1):
        return np.empty(0, dtype=np.int64)
    return won[np.lexsort((steps[won], tasks[won]))]


def tapered_task_max(fp_task_max: int, accurate_ratio: float, threshold: float = 1.0, soft: float | None = None) -> int:
    """DP-GEN's ``fp_accurate_threshold`` and ``fp_accurate_soft_threshold``: the full cap below ``soft``,
    none from ``threshold`` on, and in between ``int(fp_task_max * (ratio - threshold) / (soft - threshold))``,
    falling linearly to zero. Without ``soft`` the cap drops straight to zero at ``threshold``."""
    soft = threshold if soft is None else soft
    if not (0 <= soft <= threshold <= 1):
        raise ValueError(
            f'fp_accurate_soft_threshold={soft} and fp_accurate_threshold={threshold}: expected 0 <= soft <= '
            'threshold <= 1'
        )
    if math.isnan(accurate_ratio) or accurate_ratio < soft:
        return fp_task_max
    if accurate_ratio >= threshold:
        return 0
    return int(fp_task_max * (accurate_ratio - threshold) / (soft - threshold))


@dataclasses.dataclass
class SystemSelection:
    """Running counts, histogram and capped candidates of one system; feed it file by file."""

    cap: int
    seed: int = 0
    choice: str = UNIFORM
    bins: int = 1
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3, dtype=np.int64))
    histogram: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(len(HISTOGRAM_EDGES) - 1, np.int64))
    keys: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    tasks: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    steps: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    bin_of: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    population: np.ndarray = dataclasses.field(default=None)
    adaptive: bool = False
    deviation: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.float32))

    def __post_init__(self):
        if self.population is None:
            self.population = np.zeros(self.bins, dtype=np.int64)

    @classmethod
    def from_settings(cls, settings: SelectionSettings) -> SystemSelection:
        """An empty selection with the cap, seed and candidate choice of ``settings``."""
        choice, number = parse_candidate_choice(settings.candidate_choice)
        if choice == INVERSE_POPULATION:
            return cls(cap=settings.fp_task_max, seed=settings.seed, choice=choice, bins=number)
        return cls(
            cap=settings.pool(settings.fp_task_max),
            seed=settings.seed,
            choice=UNIFORM if choice == DIVERSE else choice,
            adaptive=settings.adaptive_lower is not None,
        )

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
        if self.adaptive:  # any frame not failed may be a candidate once every job's frames set the level
            chosen = kept & ~adaptive_failed(max_devi_f, trust.f_hi)
        else:
            is_candidate = categories == CANDIDATE
            chosen = is_candidate if everything else kept & is_candidate
        candidate_steps = steps[chosen].astype(np.int64)
        tasks = np.full(len(candidate_steps), task, dtype=np.int64)
        keys = bins = None
        if self.choice == MAX_DEVIATION:
            keys = max_deviation_keys(self.seed, tasks, candidate_steps, max_devi_f[chosen])
        elif self.choice == INVERSE_POPULATION:
            bins = deviation_bins(max_devi_f[chosen], trust.f_lo, trust.f_hi, self.bins)
        self.offer(tasks, candidate_steps, keys, bins, max_devi_f[chosen])
        return np.where(kept, categories, -1)

    def offer(
        self,
        tasks: np.ndarray,
        steps: np.ndarray,
        keys: np.ndarray | None = None,
        bins: np.ndarray | None = None,
        deviation: np.ndarray | None = None,
    ) -> None:
        """Add candidates (task, step) with their keys (default: the seeded random ones), bins (default: the
        first) and force deviations (needed by the adaptive level); each bin keeps the ``cap`` with the smallest
        keys and counts them all, or with the adaptive level, the skyline of the cap
        (:func:`~aiida_dpgen.exploration.ranking.ranked_skyline`)."""
        if keys is None:
            keys = priority_keys(self.seed, tasks, steps)
        bins = np.zeros(len(keys), dtype=np.int64) if bins is None else np.asarray(bins, dtype=np.int64)
        deviation = np.full(len(keys), np.nan, np.float32) if deviation is None else np.asarray(deviation, np.float32)
        self.population += np.bincount(bins, minlength=self.bins)
        self._keep(tasks, steps, keys, bins, deviation)

    def _keep(self, tasks, steps, keys, bins, deviation) -> None:
        self.keys = np.concatenate([self.keys, keys])
        self.tasks = np.concatenate([self.tasks, tasks])
        self.steps = np.concatenate([self.steps, steps])
        self.bin_of = np.concatenate([self.bin_of, bins])
        self.deviation = np.concatenate([self.deviation, deviation])
        if len(self.keys) > 2 * self._expected_size():
            self._trim()

    def _expected_size(self) -> int:
        if self.adaptive:  # a skyline holds about cap x ln(frames)
            return self.cap * max(1, int(math.log(max(len(self.keys), 2))) + 1)
        return self.cap * self.bins

    def _trim(self) -> None:
        if self.adaptive:
            keep = ranked_skyline(self.deviation, self.tasks, self.steps, self.keys, self.cap)
        elif len(self.keys) <= self.cap:
            return
        elif self.bins == 1:
            keep = np.argpartition(self.keys, self.cap)[: self.cap] if self.cap > 0 else np.empty(0, dtype=np.int64)
        else:
            order = np.lexsort((self.keys, self.bin_of))
            sorted_bins = self.bin_of[order]
            keep = order[np.arange(len(order)) - np.searchsorted(sorted_bins, sorted_bins) < self.cap]
        self.keys, self.tasks, self.steps = self.keys[keep], self.tasks[keep], self.steps[keep]
        self.bin_of, self.deviation = self.bin_of[keep], self.deviation[keep]

    def merge(self, other: SystemSelection) -> None:
        self.counts += other.counts
        self.histogram += other.histogram
        self.population += other.population
        self._keep(other.tasks, other.steps, other.keys, other.bin_of, other.deviation)

    def chosen(
        self, task_min: int = 0, cap: int | None = None, threshold: tuple | None = None
    ) -> list[tuple[int, int]]:
        """The capped candidates as (task, step), sorted: the first ``cap`` (default: the selection's) in the
        order they win; none if that is fewer than ``task_min`` (DP-GEN's fp_task_min). With the adaptive level,
        among the frames ranked at or above its ``threshold`` (:func:`.ranking.rank_threshold`)."""
        self._trim()
        cap = self.cap if cap is None else min(cap, self.cap)
        rows = np.arange(len(self.keys))
        if self.adaptive:
            rows = np.flatnonzero(at_or_above(self.deviation, self.tasks, self.steps, threshold))
        order = rows[
            winners(
                self.keys[rows],
                self.bin_of[rows],
                self.population,
                tasks=self.tasks[rows],
                steps=self.steps[rows],
                cap=cap,
                minimum=task_min,
            )
        ]
        return [(int(self.tasks[i]), int(self.steps[i])) for i in order]

    def kept(self) -> list[tuple[int, int, int, int, float]]:
        """Every candidate still in the running as (task, step, key, bin, force deviation): with bins, each bin's
        ``cap`` smallest keys, since which of them win depends on all the bins' populations; with the adaptive
        level, the skyline, since the level depends on every job's frames."""
        self._trim()
        order = np.lexsort((self.steps, self.tasks))
        return [
            (int(self.tasks[i]), int(self.steps[i]), int(self.keys[i]), int(self.bin_of[i]), float(self.deviation[i]))
            for i in order
        ]

    def statistics(self) -> dict:
        total = int(self.counts.sum())
        ratios = self.counts / total if total else np.zeros(3)
        statistics = {
            'frames': total,
            **{name: int(count) for name, count in zip(CATEGORY_NAMES, self.counts, strict=True)},
            **{f'{name}_ratio': float(ratio) for name, ratio in zip(CATEGORY_NAMES, ratios, strict=True)},
            'max_devi_f_histogram': self.histogram.tolist(),
        }
        if self.bins > 1:
            statistics['candidate_bins'] = self.population.tolist()
        return statistics


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
    'candidate_choice': 'which candidates the cap keeps: "uniform" (random, default), "max_devi_f" (largest force '
    'deviations first), "inv_pop_f[:N]" (weighted by the inverse population of N deviation bins) or "diverse[:K]" '
    '(the most different of a random pool of K x fp_task_max, by a model descriptor)',
    'fp_accurate_threshold': 'no labels for a system whose accurate ratio reaches this (DP-GEN, default 1)',
    'fp_accurate_soft_threshold': 'from this accurate ratio on, the cap falls linearly to none at '
    'fp_accurate_threshold (DP-GEN, default: fp_accurate_threshold)',
    'adaptive_lower': 'the lower force level adapts per system so that the max(numb_candi_f, int(rate_candi_f x '
    'frames)) frames with the largest deviations below f_trust_hi are candidates (DP-GEN '
    'model_devi_adapt_trust_lo, dpgen2 adaptive-lower): {"numb_candi_f": N, "rate_candi_f": r}',
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
    candidate_choice: str = UNIFORM
    fp_accurate_threshold: float = 1.0
    fp_accurate_soft_threshold: float | None = None
    adaptive_lower: tuple[int, float] | None = None

    @property
    def diverse(self) -> bool:
        """Whether the cap's winners are the most different of a pool (``candidate_choice`` ``diverse``)."""
        return parse_candidate_choice(self.candidate_choice)[0] == DIVERSE

    def pool(self, cap: int) -> int:
        """How many candidates per system the jobs keep and merge for a cap of ``cap``: K x ``cap`` for the
        diverse choice, from which ``cap`` are picked, ``cap`` for the others."""
        return cap * parse_candidate_choice(self.candidate_choice)[1] if self.diverse else cap

    def task_max(self, accurate_ratio: float) -> int:
        """The cap of a system with this accurate ratio, after DP-GEN's labeling taper (:func:`tapered_task_max`)."""
        return tapered_task_max(
            self.fp_task_max, accurate_ratio, self.fp_accurate_threshold, self.fp_accurate_soft_threshold
        )

    @classmethod
    def from_dict(cls, settings: dict, system_names) -> SelectionSettings:
        """Validate a selection dictionary (keys: :data:`SELECTION_KEYS`); errors name the key and the fix."""
        unknown = sorted(set(settings) - set(SELECTION_KEYS))
        if unknown:
            raise ValueError(f'selection: unknown keys {unknown}; valid keys: {", ".join(SELECTION_KEYS)}')
        numbers = ('fp_task_max', 'fp_task_min', 'skip', 'seed')
        values = {key: settings.get(key, SELECTION_DEFAULTS[key]) for key in numbers}
        for key, value in values.items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f'selection.{key}={value!r}: expected an integer >= 0 ({SELECTION_KEYS[key]})')
        relative = settings.get('f_avg_relative', SELECTION_DEFAULTS['f_avg_relative'])
        if not isinstance(relative, bool):
            raise ValueError(f'selection.f_avg_relative={relative!r}: expected true or false')
        choice = settings.get('candidate_choice', SELECTION_DEFAULTS['candidate_choice'])
        parse_candidate_choice(choice)
        threshold, soft = _labeling_taper(settings)
        trust = _trust_levels(settings, system_names)
        return cls(
            trust=trust,
            f_avg_relative=relative,
            candidate_choice=choice,
            fp_accurate_threshold=threshold,
            fp_accurate_soft_threshold=soft,
            adaptive_lower=_adaptive_lower(settings, trust),
            **values,
        )


def _trust_levels(settings: dict, system_names) -> dict[str, TrustLevels]:
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
    return trust


ADAPTIVE_LOWER_KEYS = {
    'numb_candi_f': 'at least this many frames below f_trust_hi are candidates (DP-GEN model_devi_numb_candi_f)',
    'rate_candi_f': 'at least this share of the frames below f_trust_hi are candidates (dpgen2 rate_candi_f; '
    'DP-GEN model_devi_perc_candi_f / 100)',
}


def _adaptive_lower(settings: dict, trust: dict[str, TrustLevels]) -> tuple[int, float] | None:
    """``adaptive_lower`` as (numb_candi_f, rate_candi_f), or None; errors name the key and the fix."""
    adaptive = settings.get('adaptive_lower')
    if adaptive is None:
        return None
    where = 'selection.adaptive_lower'
    if not isinstance(adaptive, dict) or not adaptive or set(adaptive) - set(ADAPTIVE_LOWER_KEYS):
        raise ValueError(
            f'{where}={adaptive!r}: expected a dictionary with some of '
            + '; '.join(f'{key}: {meaning}' for key, meaning in ADAPTIVE_LOWER_KEYS.items())
        )
    number, rate = adaptive.get('numb_candi_f', 0), adaptive.get('rate_candi_f', 0.0)
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise ValueError(f'{where}.numb_candi_f={number!r}: expected an integer >= 0')
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise ValueError(f'{where}.rate_candi_f={rate!r}: expected a share from 0 to 1 (1 % is 0.01)')
    if number == 0 and rate == 0:
        raise ValueError(f'{where}: numb_candi_f and rate_candi_f are both 0, so no frame would be a candidate')
    choice = parse_candidate_choice(settings.get('candidate_choice', UNIFORM))[0]
    conflicts = {
        'candidate_choice': choice == INVERSE_POPULATION
        and 'inv_pop_f bins the deviations between the levels, and the adapted level is known only when every '
        'job is merged; choose uniform, max_devi_f or diverse',
        'f_avg_relative': settings.get('f_avg_relative', False)
        and 'relative deviations are not stored per frame; use fixed levels with f_avg_relative',
        'v_trust_lo': any(levels.v_lo is not None for levels in trust.values())
        and 'the lower level adapts for the force deviation only; leave v_trust_lo and v_trust_hi out',
    }
    for key, problem in conflicts.items():
        if problem:
            raise ValueError(f'{where} with {key}: {problem}')
    return int(number), float(rate)


def _labeling_taper(settings: dict) -> tuple[float, float]:
    threshold = settings.get('fp_accurate_threshold', 1.0)
    soft = settings.get('fp_accurate_soft_threshold', threshold)
    for key, value in (('fp_accurate_threshold', threshold), ('fp_accurate_soft_threshold', soft)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ValueError(f'selection.{key}={value!r}: expected a ratio from 0 to 1 ({SELECTION_KEYS[key]})')
    if soft > threshold:
        raise ValueError(
            f'selection.fp_accurate_soft_threshold={soft!r} is above fp_accurate_threshold={threshold!r}: the cap '
            'starts falling at the soft threshold and reaches none at the other; lower the soft one'
        )
    return float(threshold), float(soft)


SELECTION_DEFAULTS = {
    field.name: field.default for field in dataclasses.fields(SelectionSettings) if field.name != 'trust'
}
"""The selection's defaults (``fp_task_max`` 300, as in the paper): read them here, not as literals elsewhere."""
