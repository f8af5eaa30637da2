"""Ways to choose which frames to label beyond fixed trust levels and a uniform random cap.

Plain numpy, no AiiDA. Each function states the definition it follows, so that a run set up the way of DP-GEN
0.14 or dpgen2 selects the same frames here:

* **adaptive lower level** (DP-GEN ``model_devi_adapt_trust_lo`` with ``model_devi_numb_candi_f`` and
  ``model_devi_perc_candi_f``; dpgen2 ``adaptive-lower`` with ``numb_candi_f`` and ``rate_candi_f``): the
  frames at or below the upper level are ranked by deviation, and the ``max(number, int(rate * frames))`` with
  the largest deviations are candidates; the lower level becomes the smallest deviation among them;
* **convergence of the lower level** (dpgen2 ``conv_tolerance`` over ``n_checked_steps``);
* **the adaptive level of a run's jobs** (:func:`adaptive_levels_of_jobs`): the same force level computed from
  every job's stored deviations in two streaming passes (count, then the top ``count``), so that an exploration
  of any size gets it exactly with memory for one job's deviations and ``count`` frames.

Which candidates the cap keeps (uniform, largest deviations first, inverse population) is the
``candidate_choice`` of :mod:`aiida_dpgen.exploration.selection`, where the cap lives.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from aiida_dpgen.exploration.job import DEVIATION_COLUMNS
from aiida_dpgen.exploration.ranking import TopRanked
from aiida_dpgen.exploration.selection import ACCURATE, CANDIDATE, FAILED, adaptive_failed

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


# --- the adaptive level of a run's jobs ----------------------------------------------------------------------

MAX_DEVI_F = DEVIATION_COLUMNS.index('max_devi_f')
"""Column of the force deviation in the jobs' stored ``values``."""


@dataclasses.dataclass(frozen=True)
class SystemLevel:
    """The adaptive force level of one system over all jobs: the rank of its lowest candidate (None: no
    candidate), the level (the upper one when there is no candidate) and the frames by category."""

    threshold: tuple | None
    f_lo: float
    frames: int
    accurate: int
    candidate: int
    failed: int


def _frames_of(job: dict, skip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame of a job's stored deviations: system index, task, step and force deviation (step >= skip)."""
    lengths = np.diff(job['offsets'])
    systems, tasks = np.repeat(job['system'], lengths), np.repeat(job['task'], lengths)
    steps, force = job['steps'], job['values'][:, MAX_DEVI_F]
    kept = steps >= skip
    return systems[kept], tasks[kept], steps[kept], force[kept]


def adaptive_levels_of_jobs(
    load_jobs: Callable[[], Iterable[dict]],
    f_hi: Sequence[float],
    *,
    number: int,
    rate: float,
    skip: int = 0,
) -> list[SystemLevel]:
    """The adaptive lower level of each system (:func:`adaptive_lower_levels`, force only) over the deviations of
    all jobs. ``load_jobs()`` yields each job's arrays (``task``, ``system``, ``offsets``, ``steps``, ``values``,
    as the jobs store them) and is called twice; ``f_hi[i]`` is system *i*'s upper level."""
    upper = np.asarray(f_hi, dtype=np.float64)
    frames, failed = np.zeros(len(f_hi), np.int64), np.zeros(len(f_hi), np.int64)
    for job in load_jobs():
        systems, _, _, force = _frames_of(job, skip)
        frames += np.bincount(systems, minlength=len(f_hi))
        failed += np.bincount(systems[adaptive_failed(force, upper[systems])], minlength=len(f_hi))
    counts = [candidate_count(int(total - lost), number, rate) for total, lost in zip(frames, failed, strict=True)]
    tops = [TopRanked(count) for count in counts]
    if any(counts):
        for job in load_jobs():
            systems, tasks, steps, force = _frames_of(job, skip)
            below = ~adaptive_failed(force, upper[systems])
            for system, top in enumerate(tops):
                ours = below & (systems == system)
                top.add(force[ours], tasks[ours], steps[ours])
    levels = []
    for system, top in enumerate(tops):
        threshold = top.threshold()
        levels.append(
            SystemLevel(
                threshold=threshold,
                f_lo=float(f_hi[system]) if threshold is None else threshold[0],
                frames=int(frames[system]),
                accurate=int(frames[system] - failed[system] - counts[system]),
                candidate=counts[system],
                failed=int(failed[system]),
            )
        )
    return levels
