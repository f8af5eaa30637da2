"""Read the errors that ``dp test`` logs, per system and weighted over systems."""

from __future__ import annotations

import re

_METRIC_NAMES = {
    'Energy MAE': 'energy_mae',
    'Energy RMSE': 'energy_rmse',
    'Energy MAE/Natoms': 'energy_mae_per_atom',
    'Energy RMSE/Natoms': 'energy_rmse_per_atom',
    'Force MAE': 'force_mae',
    'Force RMSE': 'force_rmse',
    'Virial MAE': 'virial_mae',
    'Virial RMSE': 'virial_rmse',
    'Virial MAE/Natoms': 'virial_mae_per_atom',
    'Virial RMSE/Natoms': 'virial_rmse_per_atom',
}
"""Log labels of DeePMD-kit 3 (whitespace collapsed) and the keys they get; units eV, eV/atom, eV/Å."""

_LINE = re.compile(r'(?P<label>(?:Energy|Force|Virial)\s+[A-Za-z/]+)\s*:\s*(?P<value>\S+)')
_SYSTEM = re.compile(r'# testing system : (?P<system>\S+)')
_NFRAMES = re.compile(r'# number of test data : (?P<n>\d+)')
_AVERAGE = re.compile(r'# -+weighted average of errors-+')


def parse_dp_test_log(text: str) -> dict:
    """``{'systems': {path: {'nframes': n, 'force_rmse': ...}}, 'average': {...}}`` from a ``dp test`` log.

    Reads both the console log (stderr) and the file that ``dp test -l`` writes, which adds the logger name.
    """
    systems: dict[str, dict] = {}
    average: dict[str, float] = {}
    current: dict | None = None
    for line in text.splitlines():
        if match := _SYSTEM.search(line):
            current = systems.setdefault(match['system'], {})
        elif _AVERAGE.search(line):
            current = average
        elif (match := _NFRAMES.search(line)) and current is not None:
            current['nframes'] = int(match['n'])
        elif (match := _LINE.search(line)) and current is not None:
            key = _METRIC_NAMES.get(' '.join(match['label'].split()))
            if key:
                current[key] = float(match['value'])
    if not systems:
        raise ValueError('no "# testing system :" section found in the dp test log; did dp test run?')
    return {'systems': systems, 'average': average}
