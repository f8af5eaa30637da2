"""Exploration schedules: which MD tasks run in which iteration.

A stage is one entry of DP-GEN's ``model_devi_jobs`` (systems, temperatures, pressures, ensemble, MD
length, sampling frequency), with systems named rather than indexed. :func:`from_model_devi_jobs`
reads DP-GEN's form (``sys_idx`` into ``sys_configs``); :func:`paper_cu_schedule` writes the Cu schedule
of the paper's Table A.1; :class:`StagedSchedule` repeats a stage with longer MD until its accurate ratio
passes a threshold, then moves on.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

from aiida_dpgen.exploration.strategies import levels_converged
from aiida_dpgen.exploration.tasks import ENSEMBLES, PRESSURE_ENSEMBLES, MdSettings, validate_template

STAGE_KEYS = {
    'systems': 'names of configuration sets to start from',
    'temps': 'temperatures (K)',
    'press': 'pressures (bar), required for NPT',
    'ensemble': f'one of {", ".join(ENSEMBLES)}',
    'nsteps': 'MD steps per task',
    'trj_freq': 'frames are saved and deviations computed every trj_freq steps',
    'timestep': 'ps, default 0.002',
    'tau_t': 'thermostat damping (ps), default 0.1',
    'tau_p': 'barostat damping (ps), default 0.5',
    'neighbor_skin': 'Å, default 1.0',
    'neighbor_every': 'default 1',
    'relative_f': 'relative force deviation level (eV/Å), DeePMD-kit `relative` keyword',
    'relative_v': 'relative virial deviation level (eV), DeePMD-kit `relative_v` keyword',
    'configurations_per_system': 'use only the first N configurations of each system',
    'template': 'a LAMMPS input template with V_* placeholders (DP-GEN template mode)',
    'rev_mat': 'placeholder -> list of values; every combination is a task (V_TEMP, V_PRES, V_NSTEPS are also '
    "recorded as the task's temperature, pressure and length)",
    'velocity_seed': 'seed of the initial velocities, default 1',
    'shuffle_atoms': "true: the atoms of each task's starting configuration trade places at random, seeded by "
    "velocity_seed and the task, so an alloy's elements sit differently in every task (DP-GEN shuffle_poscar)",
    'masses': 'atomic masses (amu) in type_map order (DP-GEN mass_map), default the standard ones',
}
DEFAULTS = {'timestep': 0.002, 'tau_t': 0.1, 'tau_p': 0.5, 'neighbor_skin': 1.0, 'neighbor_every': 1}
PAPER_PRESSURES = (1.0, 10.0, 100.0, 1000.0, 5000.0, 10000.0, 20000.0, 50000.0)
CU_MELTING_POINT = 1357.77


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One MD task: where it starts (system, configuration index) and how it runs."""

    system: str
    configuration: int
    md: MdSettings
    template_values: tuple[tuple[str, object], ...] = ()

    def describe(self) -> dict:
        return {
            'system': self.system,
            'configuration': self.configuration,
            'ensemble': 'template' if self.template_values else self.md.ensemble,
            'temperature': self.md.temperature,
            'pressure': self.md.pressure,
            'nsteps': self.md.nsteps,
            'trj_freq': self.md.trj_freq,
            **dict(self.template_values),
        }


def validate_stage(stage: Mapping, system_names: Sequence[str] | None = None, where: str = 'stage') -> dict:
    """Check a stage and fill in defaults; errors name the key, the value and what is expected."""
    if not isinstance(stage, Mapping):
        raise ValueError(f'{where}: expected a dictionary, got {type(stage).__name__}')
    unknown = sorted(set(stage) - set(STAGE_KEYS))
    if unknown:
        raise ValueError(f'{where}: unknown keys {unknown}; valid keys: {", ".join(STAGE_KEYS)}')
    stage = {**DEFAULTS, **stage}
    required = ('systems', 'trj_freq') if 'V_NSTEPS' in stage.get('rev_mat', {}) else ('systems', 'nsteps', 'trj_freq')
    for key in required:
        if key not in stage:
            raise ValueError(f'{where}.{key}: missing; {STAGE_KEYS[key]}')
    systems = stage['systems']
    if isinstance(systems, str) or not systems:
        raise ValueError(f'{where}.systems={systems!r}: expected a non-empty list of configuration set names')
    if system_names is not None:
        unknown_systems = [name for name in systems if name not in system_names]
        if unknown_systems:
            raise ValueError(
                f'{where}.systems: {unknown_systems} are not among the configurations given ({", ".join(system_names)})'
            )
    if 'template' in stage:
        _validate_template_stage(stage, where)
    else:
        _validate_ensemble_stage(stage, where)
    masses = stage.get('masses')
    if masses is not None and (
        isinstance(masses, str) or not isinstance(masses, Sequence) or not all(_positive(mass) for mass in masses)
    ):
        raise ValueError(f'{where}.masses={masses!r}: expected a list of positive masses (amu), one per type_map entry')
    if not isinstance(stage.get('shuffle_atoms', False), bool):
        raise ValueError(f'{where}.shuffle_atoms={stage["shuffle_atoms"]!r}: expected true or false')
    count = stage.get('configurations_per_system')
    if count is not None and not (isinstance(count, int) and count > 0):
        raise ValueError(f'{where}.configurations_per_system={count!r}: expected a positive integer')
    return stage


def _positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _validate_template_stage(stage: Mapping, where: str) -> None:
    if 'temps' in stage or 'ensemble' in stage:
        raise ValueError(f'{where}: give either `template` with `rev_mat` or `ensemble` with `temps`, not both')
    rev_mat = stage.get('rev_mat', {})
    for name, values in rev_mat.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f'{where}.rev_mat.{name}={values!r}: expected a non-empty list of values')
    validate_template(stage['template'], {name: values[0] for name, values in rev_mat.items()})


def _validate_ensemble_stage(stage: Mapping, where: str) -> None:
    ensemble = stage.get('ensemble')
    if ensemble not in ENSEMBLES:
        raise ValueError(f'{where}.ensemble={ensemble!r}: unknown; expected one of {", ".join(ENSEMBLES)}')
    temps = stage.get('temps')
    if not temps or isinstance(temps, str | int | float):
        raise ValueError(f'{where}.temps={temps!r}: expected a non-empty list of temperatures in K')
    press = stage.get('press')
    if ensemble in PRESSURE_ENSEMBLES and not press:
        raise ValueError(f'{where}.press={press!r}: ensemble {ensemble!r} needs a non-empty list of pressures (bar)')
    try:
        _settings(stage, temps[0], press[0] if press else None)
    except ValueError as exception:
        raise ValueError(f'{where}.{exception}') from None


def _settings(stage: Mapping, temperature, pressure, nsteps=None) -> MdSettings:
    return MdSettings(
        ensemble=stage.get('ensemble', 'nvt'),
        temperature=float(temperature),
        pressure=None if pressure is None else float(pressure),
        nsteps=stage['nsteps'] if nsteps is None else nsteps,
        trj_freq=stage['trj_freq'],
        timestep=stage['timestep'],
        tau_t=stage['tau_t'],
        tau_p=stage['tau_p'],
        neighbor_skin=stage['neighbor_skin'],
        neighbor_every=stage['neighbor_every'],
        relative_f=stage.get('relative_f'),
        relative_v=stage.get('relative_v'),
        velocity_seed=stage.get('velocity_seed', 1),
    )


def expand_tasks(stage: Mapping, configuration_counts: Mapping[str, int]) -> list[TaskSpec]:
    """All tasks of a stage, in DP-GEN's order: system, configuration, temperature, pressure."""
    stage = validate_stage(stage, list(configuration_counts))
    tasks = []
    for system in stage['systems']:
        count = configuration_counts[system]
        if stage.get('configurations_per_system'):
            count = min(count, stage['configurations_per_system'])
        for configuration in range(count):
            if 'template' in stage:
                rev_mat = stage.get('rev_mat', {})
                for combination in itertools.product(*rev_mat.values()):
                    values = tuple(zip(rev_mat, combination, strict=True))
                    named = dict(values)
                    settings = _settings(stage, named.get('V_TEMP', 1.0), named.get('V_PRES'), named.get('V_NSTEPS'))
                    tasks.append(TaskSpec(system, configuration, settings, values))
            else:
                pressures = stage.get('press') if stage['ensemble'] in PRESSURE_ENSEMBLES else [None]
                for temperature, pressure in itertools.product(stage['temps'], pressures):
                    tasks.append(TaskSpec(system, configuration, _settings(stage, temperature, pressure)))
    return tasks


def from_model_devi_jobs(model_devi_jobs: Sequence[Mapping], sys_configs_names: Sequence[str]) -> list[dict]:
    """DP-GEN's ``model_devi_jobs`` as stages; ``sys_idx`` indexes ``sys_configs_names``."""
    stages = []
    for number, original in enumerate(model_devi_jobs):
        where = f'model_devi_jobs[{number}]'
        job = dict(original)
        indices = job.pop('sys_idx', None)
        if not indices:
            raise ValueError(f'{where}.sys_idx={indices!r}: expected a non-empty list of indices into sys_configs')
        for index in indices:
            if not isinstance(index, int) or not 0 <= index < len(sys_configs_names):
                raise ValueError(
                    f'{where}.sys_idx: index {index!r} is out of range; sys_configs has {len(sys_configs_names)} '
                    f'entries (0 to {len(sys_configs_names) - 1})'
                )
        job.pop('_idx', None)
        if 'dt' in job:
            job['timestep'] = job.pop('dt')
        if 'taut' in job:
            job['tau_t'] = job.pop('taut')
        if 'taup' in job:
            job['tau_p'] = job.pop('taup')
        stage = {'systems': [sys_configs_names[index] for index in indices], **job}
        stages.append(validate_stage(stage, sys_configs_names, where))
    return stages


def paper_cu_schedule(
    melting_point: float = CU_MELTING_POINT,
    bulk_systems: Sequence[str] = ('fcc', 'hcp', 'bcc'),
    surface_systems: Sequence[str] = ('fcc_surface', 'hcp_surface'),
    timestep: float = 0.002,
    trj_freq: int = 10,
) -> list[dict]:
    """The Cu exploration of the paper's Table A.1: four temperature intervals of eight NPT bulk iterations,
    then four NVT surface iterations per interval.

    Temperatures: five per interval, 50 K and 0.1-0.4 Tm, then 0.5-0.9 Tm, 1.0-1.4 Tm, 1.5-1.9 Tm,
    truncated to kelvin as in the table. Bulk: eight pressures, 5, 5, 10, 10, 10, 10, 20, 20 configurations
    per crystal, 2 ps twice, then 6 ps (600, 600, 1200 x 4, 2400 x 2 DPMD runs). Surfaces: 240, 240, 480,
    480 configurations per structure, 2, 2, 6, 6 ps.
    """
    # Five temperatures per interval, 0.1 Tm apart, from 0, 0.5, 1.0, 1.5 Tm; 0 K is replaced by 50 K.
    intervals = [
        [max(50.0, float(int((start + 0.1 * index) * melting_point))) for index in range(5)]
        for start in (0.0, 0.5, 1.0, 1.5)
    ]
    steps = {2: round(2 / timestep), 6: round(6 / timestep)}
    bulk = [(5, 2), (5, 2), (10, 6), (10, 6), (10, 6), (10, 6), (20, 6), (20, 6)]
    surface = [(240, 2), (240, 2), (480, 6), (480, 6)]
    common = {'trj_freq': trj_freq, 'timestep': timestep}
    schedule = []
    for temps in intervals:
        for count, length in bulk:
            schedule.append(
                {
                    'systems': list(bulk_systems),
                    'temps': temps,
                    'press': list(PAPER_PRESSURES),
                    'ensemble': 'npt',
                    'nsteps': steps[length],
                    'configurations_per_system': count,
                    **common,
                }
            )
    for temps in intervals:
        for count, length in surface:
            schedule.append(
                {
                    'systems': list(surface_systems),
                    'temps': temps,
                    'ensemble': 'nvt',
                    'nsteps': steps[length],
                    'configurations_per_system': count,
                    **common,
                }
            )
    return schedule


def count_tasks_and_frames(stage: Mapping, configuration_counts: Mapping[str, int]) -> tuple[int, int]:
    """Number of MD tasks and of frames with a deviation (step 0 included) a stage produces."""
    tasks = expand_tasks(stage, configuration_counts)
    return len(tasks), sum(task.md.nsteps // task.md.trj_freq + 1 for task in tasks)


@dataclasses.dataclass(frozen=True)
class StageNotConverged:
    """A stage that used up its repeats without its accurate ratio reaching the threshold (``fatal_at_max``)."""

    stage_index: int
    repeats: int
    accurate_ratio: float
    threshold: float


@dataclasses.dataclass(frozen=True)
class StagedSchedule:
    """Stages explored in order; a stage is repeated, with the MD lengths of ``nsteps`` in turn (the last one
    repeated), until its accurate ratio reaches ``accurate_threshold``, or with ``level_tolerance``, until every
    system's adaptive lower level changed by less than it over the stage's last ``level_checked`` iterations
    (dpgen2's convergence of ``adaptive-lower``, :func:`~aiida_dpgen.exploration.strategies.levels_converged`),
    or ``max_repeats`` times; then the next stage, or with ``fatal_at_max`` (dpgen2's), the loop stops there."""

    stages: tuple[dict, ...]
    nsteps: tuple[int, ...]
    accurate_threshold: float = 0.99
    max_repeats: int = 8
    fatal_at_max: bool = False
    level_tolerance: float | None = None
    level_checked: int = 2

    def __post_init__(self):
        if not self.stages:
            raise ValueError('stages: expected at least one stage')
        if not self.nsteps or any(not isinstance(n, int) or n <= 0 for n in self.nsteps):
            raise ValueError(f'nsteps={self.nsteps!r}: expected a non-empty list of positive step counts')
        if not 0 < self.accurate_threshold <= 1:
            raise ValueError(f'accurate_threshold={self.accurate_threshold}: expected a ratio in (0, 1]')
        if not isinstance(self.max_repeats, int) or isinstance(self.max_repeats, bool) or self.max_repeats < 1:
            raise ValueError(f'max_repeats={self.max_repeats!r}: expected a positive number of iterations')
        if not isinstance(self.fatal_at_max, bool):
            raise ValueError(f'fatal_at_max={self.fatal_at_max!r}: expected true or false')
        tolerance = self.level_tolerance
        if tolerance is not None and (
            not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or tolerance <= 0
        ):
            raise ValueError(
                f"level_tolerance={tolerance!r}: expected a force deviation > 0 (eV/Å), e.g. 0.05 as dpgen2's "
                'conv_tolerance; it needs selection.adaptive_lower'
            )
        checked = self.level_checked
        if not isinstance(checked, int) or isinstance(checked, bool) or checked < 2:
            raise ValueError(f'level_checked={checked!r}: expected at least 2 iterations to compare levels')

    def _levels_converged(self, levels: list) -> bool:
        """Whether every system's adaptive lower level over this stage's iterations so far has converged; never
        without ``level_tolerance`` or while an iteration has no levels."""
        if self.level_tolerance is None or any(level is None for level in levels):
            return False
        return all(
            levels_converged(list(system), self.level_tolerance, self.level_checked)
            for system in zip(*levels, strict=True)
        )

    def next_stage(self, history: Sequence[tuple]) -> tuple[int, dict] | StageNotConverged | None:
        """The index and settings of the stage to explore next, given ``(stage index, accurate ratio)`` of the
        iterations so far, each with a third item, the systems' adaptive lower levels, where the selection has
        them; ``None`` when every stage has passed or run out of repeats, or with ``fatal_at_max`` the
        :class:`StageNotConverged` that ran out."""
        stage_index, repeats, levels = 0, 0, []
        for index, accurate_ratio, *adapted in history:
            if index != stage_index:
                raise ValueError(f'history: iteration at stage {index} while stage {stage_index} was due')
            repeats += 1
            levels.append(adapted[0] if adapted and adapted[0] else None)
            passed = accurate_ratio >= self.accurate_threshold or self._levels_converged(levels)
            if not passed and repeats >= self.max_repeats and self.fatal_at_max:
                return StageNotConverged(stage_index, repeats, accurate_ratio, self.accurate_threshold)
            if passed or repeats >= self.max_repeats:
                stage_index, repeats, levels = stage_index + 1, 0, []
        if stage_index >= len(self.stages):
            return None
        nsteps = self.nsteps[min(repeats, len(self.nsteps) - 1)]
        return stage_index, {**self.stages[stage_index], 'nsteps': nsteps}
