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
        if 'trajectory' in results:
            try:
                self.out('output_trajectory', self._trajectory(results['trajectory'], natoms))
            except (ValueError, KeyError, TypeError) as exception:
                return self.exit_codes.ERROR_INVALID_RESULTS.format(error=f'trajectory: {exception!r}')
        self.out('output_parameters', Dict(parameters))
        self.out('output_arrays', arrays)
        return ExitCode(0)

    @staticmethod
    def _trajectory(trajectory: dict, natoms: int) -> ArrayData:
        arrays = ArrayData()
        steps = len(trajectory['energy'])
        shapes = {'positions': (steps, natoms, 3), 'forces': (steps, natoms, 3), 'cell': (steps, 3, 3)}
        if all(stress is not None for stress in trajectory.get('stress', [None])):
            shapes['stress'] = (steps, 3, 3)
        arrays.set_array('energies', np.array(trajectory['energy'], dtype=float))
        for key, shape in shapes.items():
            values = np.array(trajectory[key], dtype=float)
            if values.shape != shape:
                raise ValueError(f'{key} of shape {values.shape}, expected {shape}')
            arrays.set_array({'cell': 'cells', 'stress': 'stresses'}.get(key, key), values)
        return arrays
