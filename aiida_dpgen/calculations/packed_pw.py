"""`PackedPwCalculation`: many ``pw.x`` single points in one scheduler job, one after another.

A DFT label of a small cell takes seconds to minutes, less than a cluster's queue takes to start a job; packing
several into one job is dpdispatcher's ``group_size`` for ``fp``. Each task's input is written by
aiida-quantumespresso's own input generator (``PwCalculation._generate_pwcp_inputdata``), so a packed label
runs exactly the input its ``PwCalculation`` would. Every task has its folder (``<task>/aiida.in``,
``aiida.out`` and its ``outdir``); the pseudopotentials are copied once into ``pseudo/``.
"""

from __future__ import annotations

import functools
import re

from aiida.common import CalcInfo, CodeInfo, CodeRunMode
from aiida.engine import CalcJob
from aiida.orm import Dict, KpointsData, StructureData, TrajectoryData, to_aiida_type
from aiida_pseudo.data.pseudo import UpfData
from aiida_quantumespresso.calculations.pw import PwCalculation

from aiida_dpgen.calculations.options import set_job_defaults

INPUT_FILE = 'aiida.in'
OUTPUT_FILE = 'aiida.out'
XML_FILE = f'{PwCalculation._PREFIX}.save/{PwCalculation._DATAFILE_XML_POST_6_2}'
CRASH_FILE = 'CRASH'
TASK_NAME = re.compile(r'^[A-Za-z0-9_]+$')


def validate_inputs(inputs: dict, _) -> str | None:
    """The three task namespaces name the same tasks, each task an SCF; said before the job is submitted."""
    structures, parameters, kpoints = (inputs.get(name, {}) for name in ('structures', 'parameters', 'kpoints'))
    if not structures:
        return 'structures: no task given; pass at least one StructureData'
    for name, namespace in (('parameters', parameters), ('kpoints', kpoints)):
        if set(namespace) != set(structures):
            missing, extra = sorted(set(structures) - set(namespace)), sorted(set(namespace) - set(structures))
            return f'{name}: expected one entry per task of `structures`; missing {missing}, unknown {extra}'
    for task in sorted(structures):
        if not TASK_NAME.match(task):
            return f'structures.{task}: a task name is a folder name; use letters, digits and underscores'
        calculation = parameters[task].get_dict().get('CONTROL', {}).get('calculation', 'scf')
        if calculation != 'scf':
            return (
                f'parameters.{task}.CONTROL.calculation={calculation!r}: packed jobs run SCF single points; '
                'run other calculations with PwBaseWorkChain'
            )
        kinds = {kind.name for kind in structures[task].kinds}
        missing = sorted(kinds - set(inputs.get('pseudos', {})))
        if missing:
            return f'pseudos: no pseudopotential for the kinds {missing} of structures.{task}'
    unknown = sorted(set(inputs['settings'].get_dict()) - {'CMDLINE'}) if 'settings' in inputs else []
    if unknown:
        return f'settings: unknown keys {unknown}; a packed job takes only CMDLINE (extra pw.x command-line flags)'
    return None


@functools.cache
def _task_input_generator(task: str) -> type[PwCalculation]:
    """aiida-quantumespresso's input generator with the task's folder as ``outdir``: tasks run side by side
    in the job's folder, and each keeps its XML."""
    return type(f'PwTask_{task}', (PwCalculation,), {'_OUTPUT_SUBFOLDER': f'./{task}/'})


class PackedPwCalculation(CalcJob):
    """SCF single points (energy, forces, stress) of several structures with ``pw.x``, in series in one job.

    Tasks are keyed alike in ``structures``, ``parameters`` and ``kpoints``. The parser reads every task
    with aiida-quantumespresso's own stdout and XML parsers and outputs, per task that converged,
    ``output_parameters.<task>`` and ``output_trajectory.<task>`` as a ``PwCalculation`` would; ``task_status``
    says for every task ``ok`` or why not (SCF not converged, output missing or incomplete, an error of pw.x).
    """

    _DEFAULT_PARSER = 'dpgen.pw_packed'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace('structures', valid_type=StructureData, dynamic=True, help='The structure of each task.')
        spec.input_namespace('parameters', valid_type=Dict, dynamic=True, help="Each task's pw.x namelists.")
        spec.input_namespace('kpoints', valid_type=KpointsData, dynamic=True, help="Each task's k-point mesh.")
        spec.input_namespace('pseudos', valid_type=UpfData, dynamic=True, help='Pseudopotentials by kind name.')
        spec.input(
            'settings',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help='`CMDLINE`: extra pw.x command-line flags (e.g. ["-nk", "2"]), the same for every task.',
        )
        spec.inputs.validator = validate_inputs
        set_job_defaults(spec, parser=cls._DEFAULT_PARSER, withmpi=True, resources=None)

        spec.output_namespace('output_parameters', valid_type=Dict, dynamic=True, help='Per converged task.')
        spec.output_namespace('output_trajectory', valid_type=TrajectoryData, dynamic=True, help='Per converged task.')
        spec.output('task_status', valid_type=Dict, help='Per task: "ok", or why it gave no label.')
        spec.default_output_node = 'task_status'

        spec.exit_code(
            310, 'ERROR_NO_TASK_CONVERGED', message='No task gave a converged SCF with forces and stress: {statuses}.'
        )
        spec.exit_code(
            320,
            'ERROR_TASKS_FAILED',
            message='{count} of {total} tasks gave no label: {statuses}. The other tasks are in the outputs.',
        )

    def prepare_for_submission(self, folder) -> CalcInfo:
        cmdline = list(self.inputs.settings.get_dict().get('CMDLINE', [])) if 'settings' in self.inputs else []
        folder.get_subfolder(PwCalculation._PSEUDO_SUBFOLDER, create=True)
        copies: dict[str, tuple[str, str, str]] = {}
        codes_info = []
        for task in sorted(self.inputs.structures):
            folder.get_subfolder(task, create=True)
            text, pseudo_copies = _task_input_generator(task)._generate_pwcp_inputdata(
                self.inputs.parameters[task],
                {},
                self.inputs.pseudos,
                self.inputs.structures[task],
                self.inputs.kpoints[task],
            )
            with folder.open(f'{task}/{INPUT_FILE}', 'w') as handle:
                handle.write(text)
            copies.update({copy[2]: copy for copy in pseudo_copies})
            codeinfo = CodeInfo()
            codeinfo.code_uuid = self.inputs.code.uuid
            codeinfo.cmdline_params = [*cmdline, '-in', f'{task}/{INPUT_FILE}']
            codeinfo.stdout_name = f'{task}/{OUTPUT_FILE}'
            codeinfo.withmpi = self.inputs.metadata.options.withmpi
            codes_info.append(codeinfo)

        calcinfo = CalcInfo()
        calcinfo.codes_info = codes_info
        calcinfo.codes_run_mode = CodeRunMode.SERIAL
        calcinfo.local_copy_list = list(copies.values())
        calcinfo.retrieve_list = [(f'*/{OUTPUT_FILE}', '.', 2), (f'*/{XML_FILE}', '.', 3), CRASH_FILE]
        return calcinfo
