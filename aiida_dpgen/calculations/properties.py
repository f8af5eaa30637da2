"""`PropertiesCalculation`: the paper's Table 1 properties of one potential, as one job.

The job runs `aiida_dpgen.properties.suite` (copied into its folder) with the code's Python: with a ``model``
through DeePMD-kit's ASE calculator (the code's Python needs deepmd-kit), otherwise with the ASE
``calculator`` given (a reference such as EMT, or a first-principles engine such as pw.x through ASE's
``Espresso``: then ``engine_code`` is the engine's code and ``files`` its pseudopotentials). Every structure is
relaxed by the potential itself.
"""

from __future__ import annotations

import json
import pathlib
import shlex

from aiida.engine import CalcJob
from aiida.orm import ArrayData, Dict, InstalledCode, SinglefileData

from aiida_dpgen.calculations.ase import validate_calculator
from aiida_dpgen.calculations.options import set_job_defaults
from aiida_dpgen.calculations.python_script import python_script_job
from aiida_dpgen.data import DeepPotentialData

SCRIPT = 'suite.py'
RESULTS = 'results.json'
MODEL_STEM = 'model'
"""The model's name in the job's folder, with the model's own suffix (DeePMD-kit picks the backend by it)."""
DEEPMD_CALCULATOR = 'deepmd.calculator:DP'


def validate_inputs(inputs: dict, _) -> str | None:
    if ('model' in inputs) == ('calculator' in inputs):
        return 'model and calculator: give a Deep Potential model or an ASE calculator ("module:Class"), not both'
    engine_code, calculator = inputs.get('engine_code'), inputs.get('calculator')
    if engine_code is not None and (calculator is None or 'profile' not in calculator.get_dict()):
        return 'engine_code: only a calculator with a "profile" (an engine run through ASE, e.g. pw.x) runs a code'
    if calculator is not None and 'profile' in calculator.get_dict() and engine_code is None:
        return f'engine_code: the calculator {calculator["calculator"]!r} runs an engine; give its code (e.g. pw.x)'
    if engine_code is not None and engine_code.computer.uuid != inputs['code'].computer.uuid:
        return (
            f'engine_code: {engine_code.full_label} is on another computer than code {inputs["code"].full_label}; '
            'the suite calls the engine from its own job'
        )
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
        spec.input(
            'engine_code',
            valid_type=InstalledCode,
            required=False,
            help="The engine a calculator's profile runs (pw.x), on the same computer; with more than one MPI "
            "process in the job's resources, under the computer's mpirun.",
        )
        spec.input_namespace(
            'files', valid_type=SinglefileData, dynamic=True, help='Files the calculator reads (pseudopotentials).'
        )
        spec.input('settings', valid_type=Dict, help='What to compute and how (see the properties protocol).')
        spec.inputs.validator = validate_inputs
        set_job_defaults(spec, parser='dpgen.properties')
        spec.output('properties', valid_type=Dict, help='Energies (eV/atom), volumes (Å³/atom), moduli (GPa), ...')
        spec.output('curves', valid_type=ArrayData, help='Equations of state and phonon bands.')
        spec.exit_code(300, 'ERROR_NO_RESULTS', message='The suite wrote no results.json; see _scheduler-stderr.txt.')
        spec.exit_code(310, 'ERROR_INVALID_RESULTS', message='results.json could not be read: {error}')

    def prepare_for_submission(self, folder):
        if 'model' in self.inputs:
            model_file = MODEL_STEM + pathlib.PurePath(self.inputs.model.filename).suffix
            with self.inputs.model.open(mode='rb') as handle:
                folder.create_file_from_filelike(handle, model_file, 'wb')
            calculator = {'calculator': DEEPMD_CALCULATOR, 'kwargs': {'model': model_file}}
        else:
            calculator = self.inputs.calculator.get_dict()
        if 'engine_code' in self.inputs:
            command = engine_command(self.inputs.engine_code, self.node.get_option('resources'))
            calculator['profile']['kwargs']['command'] = command
        with folder.open('calculator.json', 'w') as handle:
            json.dump(calculator, handle)
        with folder.open('settings.json', 'w') as handle:
            json.dump(self.inputs.settings.get_dict(), handle)
        calc_info = python_script_job(folder, self.inputs.code, 'aiida_dpgen.properties', SCRIPT, [RESULTS])
        calc_info.local_copy_list = [
            (node.uuid, node.filename, node.filename) for _, node in sorted(self.inputs.get('files', {}).items())
        ]
        if 'engine_code' in self.inputs:
            calc_info.prepend_text = self.inputs.engine_code.prepend_text
        return calc_info


def engine_command(code: InstalledCode, resources: dict) -> str:
    """``code``'s executable, under its computer's mpirun when ``resources`` hold more than one MPI process,
    the placeholders filled as AiiDA fills them for a code run with MPI (the suite's Python itself runs
    without MPI and starts the engine)."""
    computer = code.computer
    scheduler = computer.get_scheduler()
    resources = dict(resources)
    scheduler.preprocess_resources(resources, computer.get_default_mpiprocs_per_machine())
    job_resource = scheduler.create_job_resource(**resources)
    executable = str(code.get_executable())
    if job_resource.get_tot_num_mpiprocs() <= 1:
        return shlex.quote(executable)
    values = {'tot_num_mpiprocs': job_resource.get_tot_num_mpiprocs(), **dict(job_resource.items())}
    mpirun = [argument.format(**values) for argument in computer.get_mpirun_command()]
    return shlex.join([*mpirun, executable])
