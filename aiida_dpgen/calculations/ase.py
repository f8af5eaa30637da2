"""`AseSinglePointCalculation`: energy, forces and stress of one structure from an ASE calculator, as a job.

The ASE labeler runs through a CalcJob like the DFT engines, so it is dispatched to any computer and its
results come with provenance; the code is a Python interpreter that has ASE (and the calculator's module).
"""

from __future__ import annotations

import json

from aiida.engine import CalcJob
from aiida.orm import ArrayData, Dict, StructureData

from aiida_dpgen.calculations.python_script import python_script_job
from aiida_dpgen.labeling.frames import MD_KEYS

SCRIPT = 'ase_single_point.py'
RESULTS = 'results.json'


def validate_calculator(value: Dict, _) -> str | None:
    specification = value.get_dict()
    unknown = sorted(set(specification) - {'calculator', 'kwargs', 'md', 'profile'})
    if unknown:
        return (
            f'calculator: unknown key(s) {unknown}; expected "calculator" ("module:Class"), "kwargs", "md" and '
            '"profile"'
        )
    name = specification.get('calculator', '')
    module, _, class_name = name.partition(':')
    if not module or not class_name:
        return f'calculator.calculator={name!r}: expected "module:Class", e.g. "ase.calculators.emt:EMT"'
    if not isinstance(specification.get('kwargs', {}), dict):
        return f'calculator.kwargs={specification["kwargs"]!r}: expected a dictionary of keyword arguments'
    profile = specification.get('profile')
    if profile is not None and (
        not isinstance(profile, dict)
        or ':' not in str(profile.get('class', ''))
        or not isinstance(profile.get('kwargs', {}), dict)
    ):
        return (
            f'calculator.profile={profile!r}: expected {{"class": "module:Class", "kwargs": {{...}}}}, the '
            'ASE profile that runs the engine, e.g. "ase.calculators.espresso:EspressoProfile"'
        )
    md = specification.get('md')
    if md is not None and (not isinstance(md, dict) or set(md) != set(MD_KEYS)):
        return f'calculator.md={md!r}: expected {{"temperature": K, "nsteps": N, "timestep": fs}}'
    return None


class AseSinglePointCalculation(CalcJob):
    """One structure, one ASE calculator: ``python ase_single_point.py`` on the computer; with ``md`` in the
    calculator, a short MD from the structure whose every step is in ``output_trajectory``."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('structure', valid_type=StructureData, help='The structure to compute.')
        spec.input(
            'calculator',
            valid_type=Dict,
            validator=validate_calculator,
            help='{"calculator": "module:Class", "kwargs": {...}}, e.g. {"calculator": "ase.calculators.emt:EMT"}',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'dpgen.ase'
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.output('output_parameters', valid_type=Dict, help='energy (eV), calculator, wall_seconds')
        spec.output('output_arrays', valid_type=ArrayData, help='forces (eV/Å) and, if periodic, stress (eV/Å^3)')
        spec.output(
            'output_trajectory',
            valid_type=ArrayData,
            required=False,
            help='With md: energies (eV), forces (eV/Å), positions (Å), cells (Å) and stresses (eV/Å^3) of each step.',
        )
        spec.exit_code(300, 'ERROR_NO_RESULTS', message='The script wrote no results.json; see _scheduler-stderr.txt.')
        spec.exit_code(310, 'ERROR_INVALID_RESULTS', message='results.json could not be read: {error}')

    def prepare_for_submission(self, folder):
        structure = self.inputs.structure
        atoms = structure.get_ase()
        with folder.open('structure.json', 'w') as handle:
            payload = {
                'symbols': atoms.get_chemical_symbols(),
                'positions': atoms.positions.tolist(),
                'cell': atoms.cell.array.tolist(),
                'pbc': [bool(value) for value in atoms.pbc],
            }
            json.dump(payload, handle)
        with folder.open('calculator.json', 'w') as handle:
            json.dump(self.inputs.calculator.get_dict(), handle)
        return python_script_job(folder, self.inputs.code, 'aiida_dpgen.calculations.scripts', SCRIPT, [RESULTS])
