"""Single point of one structure with an ASE calculator; run by `AseSinglePointCalculation` on the computer.

Reads ``structure.json`` and ``calculator.json`` (``{"calculator": "module:Class", "kwargs": {...}}``) from
the working directory and writes ``results.json``: energy (eV), forces (eV/Å), stress (eV/Å^3, ASE's
convention, 3x3) when the calculator gives one, and the wall time of the calculation. Uses only the
standard library, numpy and ASE, so any Python with ASE runs it.
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


def main():
    structure = json.loads(pathlib.Path('structure.json').read_text())
    specification = json.loads(pathlib.Path('calculator.json').read_text())
    module_name, _, class_name = specification['calculator'].partition(':')
    calculator_class = getattr(importlib.import_module(module_name), class_name)
    atoms = Atoms(
        symbols=structure['symbols'], positions=structure['positions'], cell=structure['cell'], pbc=structure['pbc']
    )
    atoms.calc = calculator_class(**specification.get('kwargs', {}))
    start = time.perf_counter()
    results = {'energy': float(atoms.get_potential_energy()), 'forces': atoms.get_forces().tolist()}
    if all(structure['pbc']):
        with contextlib.suppress(PropertyNotImplementedError):
            results['stress'] = atoms.get_stress(voigt=False).tolist()
    results['wall_seconds'] = time.perf_counter() - start
    results['calculator'] = specification['calculator']
    if not np.all(np.isfinite(results['energy'])) or not np.all(np.isfinite(results['forces'])):
        print('the calculator returned a non-finite energy or force', file=sys.stderr)
        sys.exit(2)
    pathlib.Path('results.json').write_text(json.dumps(results))


if __name__ == '__main__':
    main()
