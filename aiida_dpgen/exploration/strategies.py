"""Ways to choose which frames to label beyond fixed trust levels and a uniform random cap.

Plain numpy, no AiiDA. Each function states the definition it follows, so that a run set up the way of DP-GEN
0.14 or dpgen2 selects the same frames here:

* **adaptive lower level** (DP-GEN ``model_devi_adapt_trust_lo`` with ``model_devi_numb_candi_f`` and
  ``model_devi_perc_candi_f``; dpgen2 ``adaptive-lower`` with ``numb_candi_f`` and ``rate_candi_f``): the
  frames at or below the upper level are ranked by deviation, and the ``max(number, int(rate * frames))`` with
  the largest deviations are candidates; the lower level becomes the smallest deviation among them;
* **convergence of the lower level** (dpgen2 ``conv_tolerance`` over ``n_checked_steps``);
* **largest deviations first** (dpgen2 ``fixed-levels-max-select``): the cap keeps the candidates with the
  largest force deviation instead of random ones;
* **inverse population** (dpgen2 ``candi_sel_prob: inv_pop_f[:nhist]``): a candidate's chance of being kept
  is inversely proportional to how many candidates share its bin of the force deviation between the levels;
* **labeling taper** (DP-GEN ``fp_accurate_threshold`` and ``fp_accurate_soft_threshold``): fewer labels as
  the accurate ratio rises, none above the threshold.

Every cap here is a set of smallest keys, like :class:`~aiida_dpgen.exploration.selection.SystemSelection`'s:
the same frames are chosen whatever the order or grouping in which they are seen.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from aiida_dpgen.exploration.selection import ACCURATE, CANDIDATE, FAILED, priority_keys

UNIFORM = 'uniform'
MAX_DEVIATION = 'max_devi_f'
INVERSE_POPULATION = 'inv_pop_f'
CANDIDATE_CHOICES = {
    UNIFORM: 'a uniform random choice (DP-GEN, dpgen2 default)',
    MAX_DEVIATION: 'the largest force deviations first (dpgen2 fixed-levels-max-select)',
    INVERSE_POPULATION: 'weighted by the inverse population of the force-deviation bin between the levels; '
    '"inv_pop_f:N" for N bins, 10 by default (dpgen2 candi_sel_prob)',
}
DEFAULT_BINS = 10


def parse_candidate_choice(value: str) -> tuple[str, int]:
    """``'uniform'``, ``'max_devi_f'``, ``'inv_pop_f'`` or ``'inv_pop_f:N'`` as (name, bins); bins is 0 for the
    choices that use none. Errors name the value and the choices."""
    expected = '; '.join(f'{name}: {meaning}' for name, meaning in CANDIDATE_CHOICES.items())
    name, _, bins = str(value).partition(':')
    if name not in CANDIDATE_CHOICES or (bins and name != INVERSE_POPULATION):
        raise ValueError(f'selection.candidate_choice={value!r}: expected one of {expected}')
    if name != INVERSE_POPULATION:
        return name, 0
    if not bins:
        return name, DEFAULT_BINS
    if not bins.isdigit() or int(bins) < 1:
        raise ValueError(f'selection.candidate_choice={value!r}: the number of bins after "inv_pop_f:" must be >= 1')
    return name, int(bins)


# --- adaptive lower level -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AdaptiveLevels:
    """What the adaptive lower level gives for one system: the levels it chose (``None`` for a virial level
    when virials are not used) and every frame's category (accurate, candidate, failed)."""

    f_lo: float
    v_lo: float | None
    categories: np.ndarray


def candidate_count(frames: int, number: int, rate: float) -> int:
    """``max(number, int(rate * frames))``, at most ``frames``: how many frames at or below the upper level
    become candidates (dpgen2's ``rate``; DP-GEN's percentage is ``rate * 100``)."""
    return min(frames, max(int(number), int(rate * frames)))


def adaptive_lower_levels(
    tasks: np.ndarray,
    steps: np.ndarray,
    max_devi_f: np.ndarray,
    *,
    f_hi: float,
    number_f: int,
    rate_f: float,
    max_devi_v: np.ndarray | None = None,
    v_hi: float | None = None,
    number_v: int = 0,
    rate_v: float = 0.0,
) -> AdaptiveLevels:
    """The adaptive lower trust levels of one system's frames (skipped frames already left out).

    As in DP-GEN and dpgen2: a frame is failed when its force deviation is above ``f_hi`` (or its virial
    deviation above ``v_hi``), strictly, unlike the fixed levels' ``>=``. The others are ranked by force
    deviation, ties by task and step, and the last :func:`candidate_count` of them are candidates; likewise
    by virial deviation when ``v_hi`` is given; a frame is a candidate if either ranking makes it one. The
    lower level is the smallest deviation among a ranking's candidates, or the upper level when it has none.
    A NaN deviation (a diverged model) is failed, as in the fixed levels (DP-GEN would rank it)."""
    tasks, steps = np.asarray(tasks), np.asarray(steps)
    force = np.asarray(max_devi_f, dtype=float)
    use_virial = v_hi is not None
    virial = np.asarray(max_devi_v, dtype=float) if use_virial else np.zeros_like(force)
    if use_virial and virial.shape != force.shape:
        raise ValueError('adaptive lower level: a virial deviation is needed for every frame when v_hi is given')
    with np.errstate(invalid='ignore'):
        failed = np.isnan(force) | (force > f_hi)
        if use_virial:
            failed |= np.isnan(virial) | (virial > v_hi)
    kept = np.flatnonzero(~failed)
    categories = np.full(len(force), ACCURATE, dtype=np.int8)
    categories[failed] = FAILED

    def rank(deviation: np.ndarray, high: float, number: int, rate: float) -> float:
        count = candidate_count(len(kept), number, rate)
        if count == 0:
            return float(high)
        order = kept[np.lexsort((steps[kept], tasks[kept], deviation[kept]))]
        chosen = order[len(order) - count :]
        categories[chosen] = CANDIDATE
        return float(deviation[chosen[0]])

    f_lo = rank(force, f_hi, number_f, rate_f)
    v_lo = rank(virial, v_hi, number_v, rate_v) if use_virial else None
    return AdaptiveLevels(f_lo=f_lo, v_lo=v_lo, categories=categories)


def levels_converged(levels: list[float], tolerance: float, checked: int) -> bool:
    """dpgen2's convergence of an adaptive lower level: the last ``checked`` levels of a stage (this
    iteration's included) each differ from the one before by less than ``tolerance``; never with fewer than
    two levels or fewer than ``checked``."""
    recent = list(levels)[-checked:] if checked > 0 else []
    if len(levels) < checked or len(recent) < 2:
        return False
    return all(abs(after - before) < tolerance for before, after in itertools.pairwise(recent))


# --- the cap: which candidates are kept -----------------------------------------------------------------


def max_deviation_keys(seed: int, tasks: np.ndarray, steps: np.ndarray, max_devi_f: np.ndarray) -> np.ndarray:
    """Keys under which the smallest are the largest force deviations (float32, as the deviations are
    stored), ties broken by the seeded random key: a cap of smallest keys keeps the largest deviations."""
    deviation = np.nan_to_num(np.asarray(max_devi_f, dtype=np.float32), nan=np.inf)
    order_bits = np.maximum(deviation, np.float32(0)).view(np.uint32).astype(np.uint64)
    random_bits = priority_keys(seed, tasks, steps) >> np.uint64(32)
    return ((np.uint64(0xFFFFFFFF) - order_bits) << np.uint64(32)) | random_bits


def exponential_variates(keys: np.ndarray) -> np.ndarray:
    """``-log(u)`` with ``u = 1 - key / 2**64`` in (0, 1]: increasing with the key, so the smallest keys of a bin
    are its most likely frames."""
    return -np.log1p(-(np.asarray(keys).astype(np.float64) / 2.0**64))


def deviation_bins(max_devi_f: np.ndarray, f_lo: float, f_hi: float, bins: int) -> np.ndarray:
    """dpgen2's histogram bin of each candidate: ``bins`` equal bins from ``f_lo`` to ``f_hi``, deviations
    outside them in the first or last bin."""
    width = (f_hi - f_lo) / bins
    if width <= 0:
        return np.zeros(len(max_devi_f), dtype=np.int64)
    index = np.floor((np.asarray(max_devi_f, dtype=float) - f_lo) / width)
    return np.clip(np.nan_to_num(index, nan=bins - 1), 0, bins - 1).astype(np.int64)


@dataclasses.dataclass
class InversePopulation:
    """The inverse-population cap of one system, fed in any order and mergeable.

    A weighted choice without replacement (Efraimidis and Spirakis): each candidate draws ``u`` in (0, 1) from
    its seeded key (``u = 1 - key / 2**64``) and the ``cap`` with the largest ``u ** population(bin)`` are kept,
    so a frame of a bin of ``p`` candidates is ``p`` times less likely than one alone in its bin. Within a bin
    that order is the order of the keys, so keeping each bin's ``cap`` smallest keys, and counting every bin's
    candidates, is enough: memory for ``bins * cap`` candidates whatever their number. dpgen2 draws with
    replacement (a frame can be labeled twice); this draws without."""

    cap: int
    bins: int
    seed: int = 0
    population: np.ndarray = dataclasses.field(default=None)
    keys: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    tasks: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    steps: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))
    bin_of: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self):
        if self.population is None:
            self.population = np.zeros(self.bins, dtype=np.int64)

    def offer(self, tasks: np.ndarray, steps: np.ndarray, bins: np.ndarray, keys: np.ndarray | None = None) -> None:
        """Count candidates ``(task, step)`` in their ``bins`` and keep each bin's ``cap`` smallest keys."""
        tasks, steps, bins = (np.asarray(array, dtype=np.int64) for array in (tasks, steps, bins))
        self.population += np.bincount(bins, minlength=self.bins)
        self._add(tasks, steps, bins, priority_keys(self.seed, tasks, steps) if keys is None else keys)

    def _add(self, tasks, steps, bins, keys) -> None:
        self.keys = np.concatenate([self.keys, keys])
        self.tasks = np.concatenate([self.tasks, tasks])
        self.steps = np.concatenate([self.steps, steps])
        self.bin_of = np.concatenate([self.bin_of, bins])
        if len(self.keys) > 2 * self.cap * self.bins:
            self._trim()

    def _trim(self) -> None:
        order = np.lexsort((self.keys, self.bin_of))
        bins = self.bin_of[order]
        first = np.searchsorted(bins, bins, side='left')
        keep = order[np.arange(len(order)) - first < self.cap]
        self.keys, self.tasks, self.steps, self.bin_of = (
            self.keys[keep],
            self.tasks[keep],
            self.steps[keep],
            self.bin_of[keep],
        )

    def merge(self, other: InversePopulation) -> None:
        self.population += other.population
        self._add(other.tasks, other.steps, other.bin_of, other.keys)

    def chosen(self) -> list[tuple[int, int]]:
        """The kept candidates as (task, step), sorted."""
        self._trim()
        if not len(self.keys):
            return []
        weighted = exponential_variates(self.keys) * self.population[self.bin_of]
        keep = np.argsort(weighted, kind='stable')[: self.cap]
        order = keep[np.lexsort((self.steps[keep], self.tasks[keep]))]
        return [(int(self.tasks[index]), int(self.steps[index])) for index in order]


# --- the labeling taper ---------------------------------------------------------------------------------


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
