"""`AseSinglePointCalculation`: energy, forces and stress of one structure from an ASE calculator, as a job.

The ASE labeler runs through a CalcJob like the DFT engines, so it is dispatched to any computer and its
results come with provenance; the code is a Python interpreter that has ASE (and the calculator's module).
"""

from __future__ import annotations

import json
import re

from aiida.engine import CalcJob
from aiida.orm import ArrayData, Dict, List, StructureData, to_aiida_type

from aiida_dpgen.calculations.options import set_job_defaults
from aiida_dpgen.calculations.python_script import python_script_job
from aiida_dpgen.labeling.frames import MD_KEYS

SCRIPT = 'ase_single_point.py'
RESULTS = 'results.json'
TASK_NAME = re.compile(r'^[A-Za-z0-9_]+$')


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
        set_job_defaults(spec, parser='dpgen.ase')
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
        with folder.open('structure.json', 'w') as handle:
            json.dump(structure_payload(self.inputs.structure), handle)
        return calculator_job(self, folder)


def structure_payload(structure: StructureData) -> dict:
    atoms = structure.get_ase()
    return {
        'symbols': atoms.get_chemical_symbols(),
        'positions': atoms.positions.tolist(),
        'cell': atoms.cell.array.tolist(),
        'pbc': [bool(value) for value in atoms.pbc],
    }


def calculator_job(calculation: CalcJob, folder):
    with folder.open('calculator.json', 'w') as handle:
        json.dump(calculation.inputs.calculator.get_dict(), handle)
    return python_script_job(folder, calculation.inputs.code, 'aiida_dpgen.calculations.scripts', SCRIPT, [RESULTS])


def validate_packed_inputs(inputs: dict, _) -> str | None:
    structures = inputs.get('structures', {})
    if not structures:
        return 'structures: no task given; pass at least one StructureData'
    wrong = sorted(task for task in structures if not TASK_NAME.match(task))
    if wrong:
        return f'structures: task names {wrong} are not plain names; use letters, digits and underscores'
    if 'md' in inputs['calculator'].get_dict():
        return 'calculator.md: a packed job computes single points; run MD with AseSinglePointCalculation'
    if 'type_map' in inputs:
        type_map = inputs['type_map'].get_list()
        outside = sorted({kind.symbol for node in structures.values() for kind in node.kinds} - set(type_map))
        if outside:
            return f'type_map={type_map}: the structures have elements {outside} outside it; add them'
    return None


class PackedAseCalculation(CalcJob):
    """Single points of many structures with one ASE calculator in one job: one Python process computes them
    in turn (an EMT label takes milliseconds, a job and a Python start far more). The labels of every task that
    gave one are the ``output_dataset`` (a `LabeledDatasetData` made by this job, so each frame's calculation is
    its creator), with the same numbers `AseSinglePointCalculation` gives; ``task_status`` says ``ok`` or why
    not for every task, ``output_parameters`` the calculator and each task's wall time. One dataset per job, not
    two nodes per label: a loop labels thousands of frames, and every node and link is a database row."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace('structures', valid_type=StructureData, dynamic=True, help='The structure of each task.')
        spec.input(
            'calculator',
            valid_type=Dict,
            validator=validate_calculator,
            help='{"calculator": "module:Class", "kwargs": {...}}, the same for every task',
        )
        spec.input(
            'type_map',
            valid_type=List,
            required=False,
            serializer=to_aiida_type,
            help="The dataset's type map (element symbols in type order); default: the structures' elements, sorted.",
        )
        spec.inputs.validator = validate_packed_inputs
        set_job_defaults(spec, parser='dpgen.ase_packed')
        from aiida_dpgen.data.dataset import LabeledDatasetData

        spec.output(
            'output_dataset', valid_type=LabeledDatasetData, required=False, help='The tasks that gave a label.'
        )
        spec.output('output_parameters', valid_type=Dict, help='calculator, wall_seconds per task')
        spec.output('task_status', valid_type=Dict, help='Per task: "ok", or why it gave no label.')
        spec.default_output_node = 'task_status'
        spec.exit_code(300, 'ERROR_NO_RESULTS', message='The script wrote no results.json; see _scheduler-stderr.txt.')
        spec.exit_code(310, 'ERROR_INVALID_RESULTS', message='results.json could not be read: {error}')
        spec.exit_code(
            320,
            'ERROR_TASKS_FAILED',
            message='{count} of {total} tasks gave no label: {statuses}. The other tasks are in the outputs.',
        )

    def prepare_for_submission(self, folder):
        structures = self.inputs.structures
        with folder.open('structure.json', 'w') as handle:
            json.dump({'tasks': {task: structure_payload(structures[task]) for task in sorted(structures)}}, handle)
        calc_info = calculator_job(self, folder)
        # The labels become the output dataset; the results file and the structures' JSON (a copy of the input
        # nodes) would only store every label twice more.
        calc_info.retrieve_list = [name for name in calc_info.retrieve_list if name != RESULTS]
        calc_info.retrieve_temporary_list = [RESULTS]
        calc_info.provenance_exclude_list = ['structure.json']
        return calc_info
