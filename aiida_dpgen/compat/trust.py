"""DP-GEN's trust levels and selection keys as this package's selection settings.

One translation serves ``aiida-dpgen run`` (a fresh run from param.json) and the import of a DP-GEN working
directory (the levels an iteration was selected with), so that both select the same frames from the same
param.json. DP-GEN gives a level as a number, a list by system index or a dictionary from system index to level;
a model_devi_jobs entry may override the run's levels; its virial levels default to 1e10, which decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiida_dpgen.compat.arguments import DpgenInputError
from aiida_dpgen.exploration.selection import SELECTION_DEFAULTS, SelectionSettings

TRUST_KEYS = {
    'model_devi_f_trust_lo': 'f_trust_lo',
    'model_devi_f_trust_hi': 'f_trust_hi',
    'model_devi_v_trust_lo': 'v_trust_lo',
    'model_devi_v_trust_hi': 'v_trust_hi',
}
"""DP-GEN's trust-level keys and ours (:data:`aiida_dpgen.exploration.selection.SELECTION_KEYS`)."""

VIRIAL_OFF = 1e10
"""DP-GEN's default virial trust levels: from this value on, virials decide nothing."""

COUNT_KEYS = {'fp_task_max': 'fp_task_max', 'fp_task_min': 'fp_task_min', 'model_devi_skip': 'skip'}
"""DP-GEN's keys of the cap, the minimum and the skipped leading frames, and ours."""

ADAPTIVE_DEFAULTS = {'model_devi_numb_candi_f': 10, 'model_devi_perc_candi_f': 0.0}
"""DP-GEN 0.14's defaults of the adaptive lower level's keys (its percentage is our rate x 100)."""

TAPER_KEYS = ('fp_accurate_threshold', 'fp_accurate_soft_threshold')
"""DP-GEN's labeling taper, the same keys in the selection settings."""


def selection_settings(
    param: Mapping,
    system_names: Sequence[str],
    *,
    job: Mapping | None = None,
    explored: Sequence[int] | None = None,
) -> dict:
    """The selection settings (our keys) for the systems ``explored`` (indices into ``system_names``; all by
    default): the ``job``'s trust levels over the run's, per system where DP-GEN's are lists or dictionaries.

    Levels common to every system are top-level keys, the others go in ``per_system`` (only the keys that
    differ); virial levels are left out where every system has DP-GEN's default. Raises
    :class:`DpgenInputError` naming the key, the value and the fix.
    """
    job = job or {}
    indices = list(range(len(system_names)) if explored is None else explored)
    levels = {system_names[index]: _levels(param, job, index, len(system_names)) for index in indices}
    virials = [by_key[key] for by_key in levels.values() for key in ('v_trust_lo', 'v_trust_hi')]
    if all(value >= VIRIAL_OFF for value in virials):
        for by_key in levels.values():
            del by_key['v_trust_lo'], by_key['v_trust_hi']
    names = list(levels)
    common = levels[names[0]]
    selection = {
        **{ours: param.get(key, SELECTION_DEFAULTS[ours]) for key, ours in COUNT_KEYS.items()},
        **common,
    }
    if param.get('model_devi_f_avg_relative'):
        selection['f_avg_relative'] = True
    selection.update({key: param[key] for key in TAPER_KEYS if key in param})
    if param.get('model_devi_adapt_trust_lo'):
        selection['adaptive_lower'] = {
            'numb_candi_f': param.get('model_devi_numb_candi_f', ADAPTIVE_DEFAULTS['model_devi_numb_candi_f']),
            'rate_candi_f': param.get('model_devi_perc_candi_f', ADAPTIVE_DEFAULTS['model_devi_perc_candi_f']) / 100,
        }
    per_system = {}
    for name, by_key in levels.items():
        differing = {key: value for key, value in by_key.items() if value != common[key]}
        if differing:
            per_system[name] = differing
    if per_system:
        selection['per_system'] = per_system
    try:
        SelectionSettings.from_dict(selection, names)
    except ValueError as exception:
        keys = 'model_devi_*_trust_*'
        if 'fp_accurate' in str(exception):
            keys = 'fp_accurate_*'
        elif 'adaptive_lower' in str(exception):
            keys = 'model_devi_adapt_trust_lo, model_devi_*_candi_f'
        raise DpgenInputError(f'param.json {keys}: {exception}') from None
    return selection


def _levels(param: Mapping, job: Mapping, index: int, count: int) -> dict[str, float]:
    levels = {}
    for key, ours in TRUST_KEYS.items():
        value = job[key] if job.get(key) is not None else param.get(key)
        if value is None and ours.startswith('f_'):
            raise DpgenInputError(
                f'param.json {key}: missing; the force trust levels decide which frames are candidates'
            )
        levels[ours] = VIRIAL_OFF if value is None else _for_system(value, key, index, count)
    return levels


def _for_system(value, key: str, index: int, count: int) -> float:
    """System ``index``'s level from DP-GEN's number, list (by sys_idx) or dictionary (sys_idx -> level)."""
    if isinstance(value, bool) or not isinstance(value, int | float | list | Mapping):
        raise DpgenInputError(f'param.json {key}={value!r}: expected a number, a list or a dictionary of levels')
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        if index >= len(value):
            raise DpgenInputError(f'param.json {key}={value!r}: a list needs one level per sys_configs entry ({count})')
        return float(value[index])
    level = value.get(str(index), value.get(index))
    if level is None:
        raise DpgenInputError(f'param.json {key}: no level for system {index}; give one per sys_configs entry')
    return float(level)
