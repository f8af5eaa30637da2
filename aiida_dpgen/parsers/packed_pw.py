"""Parser for `PackedPwCalculation`: every task read by aiida-quantumespresso's own ``pw.x`` parsers.

Each task's stdout and XML go through ``parse_stdout`` and ``parse_xml`` and the ``PwParser`` steps that
build ``output_parameters`` and ``output_trajectory``, so a packed label has the same nodes, units and
conventions as one from ``PwBaseWorkChain``. A task gives outputs only when its SCF converged and printed
forces and stress; for the others ``task_status`` says why, and the work chain labels them again alone.
"""

from __future__ import annotations

import types

from aiida.engine import ExitCode
from aiida.orm import Dict
from aiida.parsers import Parser
from aiida_quantumespresso.calculations.pw import PwCalculation
from aiida_quantumespresso.parsers.parse_raw.pw import parse_stdout
from aiida_quantumespresso.parsers.parse_xml.parse import parse_xml
from aiida_quantumespresso.parsers.pw import PwParser

from aiida_dpgen.calculations.packed_pw import OUTPUT_FILE, XML_FILE

OK = 'ok'
SCF_UNCONVERGED = 'scf_unconverged'

# PwParser's checks that need a parser instance ask it only for these: an SCF, and PwCalculation's exit codes
_SCF_PARSER = types.SimpleNamespace(get_calculation_type=lambda: 'scf', exit_codes=PwCalculation.exit_codes)
_EXIT_LABELS = {code.status: label for label, code in dict(PwCalculation.exit_codes).items()}


def parse_task(stdout: str | None, xml, parameters: dict, structure) -> tuple[str, dict | None, object | None]:
    """``(status, output_parameters, output_trajectory)`` of one task from its stdout text and XML handle
    (``None`` when the file is missing); the outputs only for status ``ok``."""
    if stdout is None:
        return 'stdout missing: the task did not run', None, None
    parsed_stdout, logs = parse_stdout(stdout, parameters, None)
    errors = set(logs['error'])
    if 'ERROR_OUTPUT_STDOUT_INCOMPLETE' in errors:
        return 'stdout incomplete: pw.x stopped before the end (killed, or the job ran out of time)', None, None
    if 'ERROR_ELECTRONIC_CONVERGENCE_NOT_REACHED' in errors:
        return SCF_UNCONVERGED, None, None
    premature = PwParser.validate_premature_exit(_SCF_PARSER, logs)
    if premature is not None:
        return f'pw.x error {_EXIT_LABELS[premature.status]}', None, None
    if xml is None:
        return 'XML missing', None, None
    try:
        parsed_xml, _ = parse_xml(xml)
    except Exception as exception:  # any unreadable XML is one task's failure, not the job's
        return f'XML unreadable: {exception}', None, None

    parsed_xml.pop('bands', None)
    parsed_xml.pop('structure', None)
    trajectory = parsed_xml.pop('trajectory', {})
    PwParser.backwards_compatibility_trajectory(_SCF_PARSER, trajectory, parsed_stdout)
    output_parameters = PwParser.build_output_parameters(parsed_stdout, parsed_xml)
    PwParser.backwards_compatibility_parameters(output_parameters, parsed_stdout)
    PwParser.final_trajectory_frame_to_parameters(output_parameters, trajectory)
    output_trajectory = PwParser.build_output_trajectory(trajectory, structure)
    missing = [name for name in ('forces', 'stress') if name not in output_trajectory.get_arraynames()]
    if 'energy' not in output_parameters or missing:
        return f'no {" and ".join(missing) or "energy"} in the output (tprnfor/tstress off?)', None, None
    return OK, output_parameters, output_trajectory


class PackedPwParser(Parser):
    def parse(self, **kwargs) -> ExitCode:
        retrieved = self.retrieved
        files = {str(root / name) for root, _, names in retrieved.base.repository.walk() for name in names}
        statuses = {}
        for task, structure in sorted(self.node.inputs.structures.items()):
            stdout_path, xml_path = f'{task}/{OUTPUT_FILE}', f'{task}/{XML_FILE}'
            stdout = retrieved.base.repository.get_object_content(stdout_path) if stdout_path in files else None
            parameters = self.node.inputs.parameters[task].get_dict()
            if xml_path in files:
                with retrieved.base.repository.open(xml_path) as xml:
                    status, output_parameters, output_trajectory = parse_task(stdout, xml, parameters, structure)
            else:
                status, output_parameters, output_trajectory = parse_task(stdout, None, parameters, structure)
            statuses[task] = status
            if status == OK:
                self.out(f'output_parameters.{task}', Dict(output_parameters))
                self.out(f'output_trajectory.{task}', output_trajectory)
        self.out('task_status', Dict(statuses))

        failed = {task: status for task, status in statuses.items() if status != OK}
        if failed and len(failed) == len(statuses):
            return self.exit_codes.ERROR_NO_TASK_CONVERGED.format(statuses=_counted(failed))
        if failed:
            return self.exit_codes.ERROR_TASKS_FAILED.format(
                count=len(failed), total=len(statuses), statuses=_counted(failed)
            )
        return ExitCode(0)


def _counted(statuses: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return '; '.join(f'{count} x {status}' for status, count in sorted(counts.items()))
