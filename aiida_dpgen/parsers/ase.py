"""Parser for `AseSinglePointCalculation`: the energy, forces and stress of ``results.json``."""

from __future__ import annotations

import json

import numpy as np
from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser

from aiida_dpgen.calculations.ase import RESULTS


def label_nodes(results: dict, natoms: int) -> tuple[Dict, ArrayData]:
    """``output_parameters`` and ``output_arrays`` of one single point's results; ``ValueError`` (or
    ``KeyError``, ``TypeError``) when they are incomplete or of the wrong shape."""
    forces = np.array(results['forces'], dtype=float)
    energy = float(results['energy'])
    if forces.shape != (natoms, 3):
        raise ValueError(f'forces of shape {forces.shape} for {natoms} atoms')
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
    return Dict(parameters), arrays


def read_results(parser: Parser) -> dict | ExitCode:
    if RESULTS not in parser.retrieved.base.repository.list_object_names():
        return parser.exit_codes.ERROR_NO_RESULTS
    try:
        return json.loads(parser.retrieved.base.repository.get_object_content(RESULTS, mode='r'))
    except ValueError as exception:
        return parser.exit_codes.ERROR_INVALID_RESULTS.format(error=repr(exception))


class AseSinglePointParser(Parser):
    def parse(self, **kwargs) -> ExitCode:
        results = read_results(self)
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


class PackedAseParser(Parser):
    """Every task of a `PackedAseCalculation` read as `AseSinglePointParser` reads one, all labels into one
    dataset; a task without a label is named in ``task_status`` with its reason, and the work chain labels it
    again alone."""

    def parse(self, **kwargs) -> ExitCode:
        from aiida_dpgen.data.dataset import LabeledDatasetData
        from aiida_dpgen.labelers.ase import AseLabeler
        from aiida_dpgen.labeling.frames import labels_to_systems

        results = read_results(self)
        if isinstance(results, ExitCode):
            return results
        tasks = results.get('tasks') if isinstance(results, dict) else None
        if not isinstance(tasks, dict):
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error='no "tasks" in results.json')
        structures = self.node.inputs.structures
        statuses, labels, seconds = {}, [], {}
        for task in sorted(structures):
            result = tasks.get(task)
            if result is None:
                statuses[task] = 'no result: the script stopped before this task'
                continue
            if 'error' in result:
                statuses[task] = f'calculator error: {result["error"]}'
                continue
            try:
                parameters, arrays = label_nodes(result, len(structures[task].sites))
                labels.append(AseLabeler.convert_outputs(structures[task], parameters, arrays))
            except (ValueError, KeyError, TypeError) as exception:
                statuses[task] = f'invalid result: {exception!r}'
                continue
            statuses[task] = OK
            seconds[task] = result.get('wall_seconds')
        if labels:
            type_map = self._type_map(labels)
            self.out('output_dataset', LabeledDatasetData(labels_to_systems(labels, type_map), type_map=type_map))
        calculator = next((tasks[task].get('calculator') for task in seconds), None)
        self.out('output_parameters', Dict({'calculator': calculator, 'wall_seconds': seconds}))
        self.out('task_status', Dict(statuses))
        failed = {task: status for task, status in statuses.items() if status != OK}
        if failed:
            summary = '; '.join(sorted(set(failed.values())))
            return self.exit_codes.ERROR_TASKS_FAILED.format(count=len(failed), total=len(statuses), statuses=summary)
        return ExitCode(0)

    def _type_map(self, labels) -> list[str]:
        if 'type_map' in self.node.inputs:
            return self.node.inputs.type_map.get_list()
        return sorted({symbol for label in labels for symbol in label.symbols})


OK = 'ok'
