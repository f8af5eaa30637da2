"""`PropertiesCalculation`: the paper's Table 1 properties of one potential, as one job.

The job runs `aiida_dpgen.properties.suite` (copied into its folder) with the code's Python: with a ``model``
through DeePMD-kit's ASE calculator (the code's Python needs deepmd-kit), otherwise with the ASE
``calculator`` given (a reference such as EMT). Every structure is relaxed by the potential itself.
"""

from __future__ import annotations

import json

from aiida.engine import CalcJob
from aiida.orm import ArrayData, Dict

from aiida_dpgen.calculations.ase import validate_calculator
from aiida_dpgen.calculations.python_script import python_script_job
from aiida_dpgen.data import DeepPotentialData

SCRIPT = 'suite.py'
RESULTS = 'results.json'
MODEL_FILE = 'model.pb'
DEEPMD_CALCULATOR = 'deepmd.calculator:DP'


def validate_inputs(inputs: dict, _) -> str | None:
    if ('model' in inputs) == ('calculator' in inputs):
        return 'model and calculator: give a Deep Potential model or an ASE calculator ("module:Class"), not both'
    element = inputs['settings'].get('element')
    model = inputs.get('model')
    if model is not None and element not in model.type_map:
        return f'settings.element={element!r} is not in the model type map {model.type_map}'
    return None


class PropertiesCalculation(CalcJob):
    """Equation of state of six prototypes, elastic constants, vacancy, interstitials, surfaces, stacking
    fault and phonons of one element for one potential (`aiida_dpgen.properties.suite`)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('model', valid_type=DeepPotentialData, required=False, help='A frozen Deep Potential model.')
        spec.input(
            'calculator',
            valid_type=Dict,
            required=False,
            validator=validate_calculator,
            help='Or an ASE calculator: {"calculator": "module:Class", "kwargs": {...}}.',
        )
        spec.input('settings', valid_type=Dict, help='What to compute and how (see the properties protocol).')
        spec.inputs.validator = validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'dpgen.properties'
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.output('properties', valid_type=Dict, help='Energies (eV/atom), volumes (Å³/atom), moduli (GPa), ...')
        spec.output('curves', valid_type=ArrayData, help='Equations of state and phonon bands.')
        spec.exit_code(300, 'ERROR_NO_RESULTS', message='The suite wrote no results.json; see _scheduler-stderr.txt.')
        spec.exit_code(310, 'ERROR_INVALID_RESULTS', message='results.json could not be read: {error}')

    def prepare_for_submission(self, folder):
        if 'model' in self.inputs:
            with self.inputs.model.open(mode='rb') as handle:
                folder.create_file_from_filelike(handle, MODEL_FILE, 'wb')
            calculator = {'calculator': DEEPMD_CALCULATOR, 'kwargs': {'model': MODEL_FILE}}
        else:
            calculator = self.inputs.calculator.get_dict()
        with folder.open('calculator.json', 'w') as handle:
            json.dump(calculator, handle)
        with folder.open('settings.json', 'w') as handle:
            json.dump(self.inputs.settings.get_dict(), handle)
        return python_script_job(folder, self.inputs.code, 'aiida_dpgen.properties', SCRIPT, [RESULTS])
