"""Parser for `PropertiesCalculation`: the scalar properties as a Dict, the curves as arrays."""

from __future__ import annotations

import json

import numpy as np
from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser

from aiida_dpgen.calculations.properties import RESULTS


def split_results(results: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """The scalars of a suite's ``results.json`` and its curves (``eos_<prototype>_volumes`` / ``_energies``,
    ``phonon_distances``, ``phonon_frequencies``, ``phonon_ticks``) as arrays."""
    scalars = json.loads(json.dumps(results))
    curves = {}
    for name, entry in scalars.get('prototypes', {}).items():
        eos = entry.pop('eos', None)
        if eos is not None:
            curves[f'eos_{name}_volumes'] = np.array(eos.pop('volumes'), dtype=float)
            curves[f'eos_{name}_energies'] = np.array(eos.pop('energies'), dtype=float)
            entry['eos'] = eos
    phonons = scalars.get('phonons')
    if phonons is not None:
        for key in ('distances', 'frequencies', 'ticks'):
            curves[f'phonon_{key}'] = np.array(phonons.pop(key), dtype=float)
    return scalars, curves


class PropertiesParser(Parser):
    def parse(self, **kwargs) -> ExitCode:
        if RESULTS not in self.retrieved.base.repository.list_object_names():
            return self.exit_codes.ERROR_NO_RESULTS
        try:
            results = json.loads(self.retrieved.base.repository.get_object_content(RESULTS, mode='r'))
            scalars, curves = split_results(results)
        except (ValueError, KeyError, TypeError) as exception:
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error=repr(exception))
        arrays = ArrayData()
        for name, values in curves.items():
            arrays.set_array(name, values)
        self.out('properties', Dict(scalars))
        self.out('curves', arrays)
        return ExitCode(0)
