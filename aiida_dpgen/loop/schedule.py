"""When the concurrent-learning loop goes on, with which stage, and when it stops: plain functions.

The loop's history is one :class:`IterationRecord` per finished iteration. :class:`LoopPlan` turns the
schedule (a list of stages, one per iteration as DP-GEN's ``model_devi_jobs``, or a staged schedule that
repeats a stage until its accurate ratio passes a threshold) and the convergence criteria into a
decision: the next stage, or the reason to stop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from aiida_dpgen.exploration.schedule import StagedSchedule, StageNotConverged, validate_stage

CONVERGENCE_KEYS = {
    'candidate_ratio': 'stop once the candidate ratio stays below this value ...',
    'patience': '... for this many consecutive iterations (default 1)',
    'max_iterations': 'never run more iterations than this',
}
STAGED_KEYS = {
    'stages',
    'nsteps',
    'accurate_threshold',
    'max_repeats',
    'fatal_at_max',
    'level_tolerance',
    'level_checked',
}


@dataclasses.dataclass(frozen=True)
class IterationRecord:
    """What the plan needs to know about a finished iteration."""

    stage: int
    accurate_ratio: float
    candidate_ratio: float
    lower_levels: tuple[float, ...] | None = None
    """Each system's adaptive lower level (``selection.adaptive_lower``), in the order of the system names."""


@dataclasses.dataclass(frozen=True)
class Decision:
    """Either the next ``(stage index, stage)`` or, with ``stage`` None, the ``reason`` the loop stops."""

    stage_index: int | None = None
    stage: dict | None = None
    reason: str = ''
    failed: bool = False
    """The loop stops because a stage did not converge and the schedule says that is fatal (``fatal_at_max``)."""

    @property
    def stop(self) -> bool:
        return self.stage is None


@dataclasses.dataclass(frozen=True)
class ConvergenceCriteria:
    candidate_ratio: float | None = None
    patience: int = 1
    max_iterations: int | None = None

    @classmethod
    def from_dict(cls, settings: Mapping | None) -> ConvergenceCriteria:
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(CONVERGENCE_KEYS))
        if unknown:
            raise ValueError(f'convergence: unknown keys {unknown}; valid keys: {", ".join(CONVERGENCE_KEYS)}')
        criteria = cls(**settings)
        ratio = criteria.candidate_ratio
        if ratio is not None and not (isinstance(ratio, int | float) and 0 <= ratio <= 1):
            raise ValueError(f'convergence.candidate_ratio={ratio!r}: expected a ratio between 0 and 1, e.g. 0.01')
        if not (isinstance(criteria.patience, int) and criteria.patience >= 1):
            raise ValueError(f'convergence.patience={criteria.patience!r}: expected a positive number of iterations')
        limit = criteria.max_iterations
        if limit is not None and not (isinstance(limit, int) and limit >= 1):
            raise ValueError(f'convergence.max_iterations={limit!r}: expected a positive number of iterations')
        return criteria

    def converged(self, history: Sequence[IterationRecord]) -> bool:
        if self.candidate_ratio is None or len(history) < self.patience:
            return False
        return all(record.candidate_ratio < self.candidate_ratio for record in history[-self.patience :])


class LoopPlan:
    """The schedule and the convergence criteria of one loop, checked when it is built."""

    def __init__(self, schedule, convergence: Mapping | None = None, system_names: Sequence[str] | None = None):
        self.criteria = ConvergenceCriteria.from_dict(convergence)
        if isinstance(schedule, Mapping):
            unknown = sorted(set(schedule) - STAGED_KEYS)
            if unknown:
                raise ValueError(
                    f'schedule: unknown keys {unknown}; a staged schedule has {", ".join(sorted(STAGED_KEYS))}, '
                    'a plain schedule is a list of stages'
                )
            nsteps = tuple(schedule.get('nsteps', ()))
            stages = self._staged_stages(schedule.get('stages'), nsteps, system_names)
            try:
                self.staged = StagedSchedule(stages, nsteps, **_staged_options(schedule))
            except (TypeError, ValueError) as exception:
                raise ValueError(f'schedule.{exception}') from None
            self.stages = None
        else:
            self.stages = self._stages(schedule, system_names, 'schedule')
            self.staged = None

    @staticmethod
    def _stages(stages, system_names, where: str) -> tuple[dict, ...]:
        if isinstance(stages, str | Mapping) or not isinstance(stages, Sequence) or not stages:
            raise ValueError(f'{where}={stages!r}: expected a non-empty list of stages')
        return tuple(validate_stage(stage, system_names, f'{where}[{index}]') for index, stage in enumerate(stages))

    @classmethod
    def _staged_stages(cls, stages, nsteps: tuple, system_names) -> tuple[dict, ...]:
        """A staged schedule's stages. Their MD length is the schedule's ``nsteps`` (one per repeat), so a stage
        that sets its own is refused rather than silently overridden."""
        if isinstance(stages, Sequence) and not isinstance(stages, str):
            for index, stage in enumerate(stages):
                if isinstance(stage, Mapping) and 'nsteps' in stage:
                    raise ValueError(
                        f'schedule.stages[{index}].nsteps={stage["nsteps"]!r}: a staged schedule sets the MD length '
                        'of each repeat with schedule.nsteps; remove it from the stage'
                    )
            first = nsteps[0] if nsteps and isinstance(nsteps[0], int) and nsteps[0] > 0 else 1  # checked with the rest
            stages = [{**stage, 'nsteps': first} if isinstance(stage, Mapping) else stage for stage in stages]
        checked = cls._stages(stages, system_names, 'schedule.stages')
        return tuple({key: value for key, value in stage.items() if key != 'nsteps'} for stage in checked)

    def next(self, history: Sequence[IterationRecord]) -> Decision:
        count = len(history)
        if self.criteria.converged(history):
            last = ', '.join(f'{record.candidate_ratio:.2%}' for record in history[-self.criteria.patience :])
            return Decision(
                reason=f'converged: candidate ratio {last} below {self.criteria.candidate_ratio:.2%} '
                f'for {self.criteria.patience} iteration(s)'
            )
        if self.criteria.max_iterations is not None and count >= self.criteria.max_iterations:
            return Decision(reason=f'reached max_iterations={self.criteria.max_iterations}')
        if self.staged is not None:
            step = self.staged.next_stage(
                [(record.stage, record.accurate_ratio, record.lower_levels) for record in history]
            )
            if step is None:
                return Decision(reason=f'schedule done: all {len(self.staged.stages)} stages explored')
            if isinstance(step, StageNotConverged):
                return Decision(
                    reason=f'stage {step.stage_index} did not converge: accurate ratio {step.accurate_ratio:.2%} '
                    f'below {step.threshold:.2%} after {step.repeats} iteration(s) (fatal_at_max)',
                    failed=True,
                )
            return Decision(*step)
        if count >= len(self.stages):
            return Decision(reason=f'schedule done: all {len(self.stages)} stages explored')
        return Decision(count, self.stages[count])


def _staged_options(schedule: Mapping) -> dict:
    options = ('accurate_threshold', 'max_repeats', 'fatal_at_max', 'level_tolerance', 'level_checked')
    return {key: schedule[key] for key in options if key in schedule}
