"""Parser for `AseSinglePointCalculation`: the energy, forces and stress of ``results.json``."""

from __future__ import annotations

import json

import numpy as np
from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser

from aiida_dpgen.calculations.ase import RESULTS


class AseSinglePointParser(Parser):
    def parse(self, **kwargs) -> ExitCode:
        if RESULTS not in self.retrieved.base.repository.list_object_names():
            return self.exit_codes.ERROR_NO_RESULTS
        try:
            results = json.loads(self.retrieved.base.repository.get_object_content(RESULTS, mode='r'))
            forces = np.array(results['forces'], dtype=float)
            energy = float(results['energy'])
        except (ValueError, KeyError, TypeError) as exception:
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error=repr(exception))
        natoms = len(self.node.inputs.structure.sites)
        if forces.shape != (natoms, 3):
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error=f'forces of shape {forces.shape} for {natoms}')
        arrays = ArrayData()
        arrays.set_array('forces', forces)
        if 'stress' in results:
            arrays.set_array('stress', np.array(results['stress'], dtype=float).reshape(3, 3))
        parameters = {
            'energy': energy,
            'energy_units': 'eV',
            'calculator': results.get('calculator'),
            'wall_seconds': results.get('wall_seconds'),
        }
        self.out('output_parameters', Dict(parameters))
        self.out('output_arrays', arrays)
        return ExitCode(0)
