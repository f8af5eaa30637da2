"""Parser for `AseSinglePointCalculation`: the energy, forces and stress of ``results.json``."""

from __future__ import annotations

import json
import pathlib

import numpy as np
from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser

from aiida_dpgen.calculations.ase import RESULTS


def checked_results(results: dict, natoms: int) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy, forces and stress (or None) of one single point's results; ``ValueError`` (or ``KeyError``,
    ``TypeError``) when they are incomplete or of the wrong shape."""
    forces = np.array(results['forces'], dtype=float)
    energy = float(results['energy'])
    if forces.shape != (natoms, 3):
        raise ValueError(f'forces of shape {forces.shape} for {natoms} atoms')
    stress = np.array(results['stress'], dtype=float).reshape(3, 3) if 'stress' in results else None
    return energy, forces, stress


def label_nodes(results: dict, natoms: int) -> tuple[Dict, ArrayData]:
    """``output_parameters`` and ``output_arrays`` of one single point's results (see :func:`checked_results`)."""
    energy, forces, stress = checked_results(results, natoms)
    arrays = ArrayData()
    arrays.set_array('forces', forces)
    if stress is not None:
        arrays.set_array('stress', stress)
    parameters = {
        'energy': energy,
        'energy_units': 'eV',
        'calculator': results.get('calculator'),
        'wall_seconds': results.get('wall_seconds'),
    }
    return Dict(parameters), arrays


class ResultsParser(Parser):
    """Reads the ``results.json`` the ASE script writes (the CalcJob declares ERROR_NO_RESULTS and
    ERROR_INVALID_RESULTS)."""

    def read_results(self, temporary: str | None = None) -> dict | ExitCode:
        """The results from the retrieved folder, or from ``temporary`` (the temporary retrieved folder)."""
        try:
            if temporary is not None:
                path = pathlib.Path(temporary) / RESULTS
                if not path.is_file():
                    return self.exit_codes.ERROR_NO_RESULTS
                return json.loads(path.read_text())
            if RESULTS not in self.retrieved.base.repository.list_object_names():
                return self.exit_codes.ERROR_NO_RESULTS
            return json.loads(self.retrieved.base.repository.get_object_content(RESULTS, mode='r'))
        except ValueError as exception:
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error=repr(exception))


class AseSinglePointParser(ResultsParser):
    def parse(self, **kwargs) -> ExitCode:
        results = self.read_results()
        if isinstance(results, ExitCode):
            return results
        natoms = len(self.node.inputs.structure.sites)
        try:
            parameters, arrays = label_nodes(results, natoms)
        except (ValueError, KeyError, TypeError) as exception:
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error=repr(exception))
        if 'trajectory' in results:
            try:
                self.out('output_trajectory', self._trajectory(results['trajectory'], natoms))
            except (ValueError, KeyError, TypeError) as exception:
                return self.exit_codes.ERROR_INVALID_RESULTS.format(error=f'trajectory: {exception!r}')
        self.out('output_parameters', parameters)
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
