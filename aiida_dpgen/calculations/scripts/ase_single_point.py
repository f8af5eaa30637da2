"""Single point of one structure with an ASE calculator; run by `AseSinglePointCalculation` on the computer.

Reads ``structure.json`` and ``calculator.json`` (``{"calculator": "module:Class", "kwargs": {...}}``) from
the working directory and writes ``results.json``: energy (eV), forces (eV/Å), stress (eV/Å^3, ASE's
convention, 3x3) when the calculator gives one, and the wall time of the calculation. With ``"md":
{"temperature": K, "nsteps": N, "timestep": fs}`` in calculator.json it also runs a short Langevin MD from
the structure (velocities drawn at the temperature, seeded) and writes every one of its N steps, the first
being the single point, under ``trajectory``. When ``structure.json`` holds ``{"tasks": {name: structure}}``
(a packed job), every task is computed in turn with one calculator and ``results.json`` holds
``{"tasks": {name: results}}``; a task whose calculation raises gets ``{"error": message}`` instead, and the
others go on. Uses only the standard library, numpy and ASE, so any Python with ASE runs it.
"""

import contextlib
import importlib
import json
import pathlib
import sys
import time

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError


def frame(atoms, periodic):
    values = {
        'energy': float(atoms.get_potential_energy()),
        'forces': atoms.get_forces().tolist(),
        'positions': atoms.positions.tolist(),
        'cell': atoms.cell.array.tolist(),
    }
    if periodic:
        with contextlib.suppress(PropertyNotImplementedError):
            values['stress'] = atoms.get_stress(voigt=False).tolist()
    return values


def molecular_dynamics(atoms, md, periodic):
    from ase import units
    from ase.md import velocitydistribution
    from ase.md.langevin import Langevin

    rng = np.random.default_rng(2020)
    # thermalize_momenta is ASE 3.29's name; the computer's ASE may be older
    thermalize = getattr(velocitydistribution, 'thermalize_momenta', None)
    thermalize = thermalize or velocitydistribution.MaxwellBoltzmannDistribution
    thermalize(atoms, temperature_K=md['temperature'], rng=rng)
    dynamics = Langevin(
        atoms,
        md['timestep'] * units.fs,
        temperature_K=md['temperature'],
        friction=0.01 / units.fs,
        fixcm=False,
        rng=rng,
    )
    frames = []
    dynamics.attach(lambda: frames.append(frame(atoms, periodic)), interval=1)
    dynamics.run(md['nsteps'] - 1)  # the observer also sees the starting structure
    return {key: [values.get(key) for values in frames] for key in frames[0]}


def single_point(structure, calculator, specification):
    atoms = Atoms(
        symbols=structure['symbols'], positions=structure['positions'], cell=structure['cell'], pbc=structure['pbc']
    )
    atoms.calc = calculator
    start = time.perf_counter()
    results = frame(atoms, all(structure['pbc']))
    del results['positions'], results['cell']  # the structure's own, already in structure.json
    if specification.get('md'):
        results['trajectory'] = molecular_dynamics(atoms, specification['md'], all(structure['pbc']))
    results['wall_seconds'] = time.perf_counter() - start
    results['calculator'] = specification['calculator']
    if not np.all(np.isfinite(results['energy'])) or not np.all(np.isfinite(results['forces'])):
        raise FloatingPointError('the calculator returned a non-finite energy or force')
    return results


def main():
    structure = json.loads(pathlib.Path('structure.json').read_text())
    specification = json.loads(pathlib.Path('calculator.json').read_text())
    module_name, _, class_name = specification['calculator'].partition(':')
    calculator_class = getattr(importlib.import_module(module_name), class_name)
    calculator = calculator_class(**specification.get('kwargs', {}))
    if 'tasks' in structure:
        results = {'tasks': {}}
        for name, task in structure['tasks'].items():
            try:
                results['tasks'][name] = single_point(task, calculator, specification)
            except Exception as exception:  # one task's failure is reported, the others go on
                results['tasks'][name] = {'error': f'{type(exception).__name__}: {exception}'}
    else:
        try:
            results = single_point(structure, calculator, specification)
        except FloatingPointError as exception:
            print(exception, file=sys.stderr)
            sys.exit(2)
    pathlib.Path('results.json').write_text(json.dumps(results))


if __name__ == '__main__':
    main()
