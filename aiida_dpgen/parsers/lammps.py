"""Parser for `DpLammpsCalculation`: deviations of every frame, task outcomes, statistics, candidate frames.

Where the job selected on its computer (``select_on_computer.py``, with the ``python`` input), the compact
``selection.npz`` and ``selection.json`` come back in the temporary retrieved folder and are read as they are.
Otherwise ``model_devi.out`` and the dumps come there and are selected here, by the same function
(:func:`aiida_dpgen.exploration.job.select_job`): the deviations are kept in one compact array node per job,
and from the dumps only the frames the seeded cap keeps are read. A task that lost atoms keeps the frames it
wrote: they are parsed and selected like the others, and the loss is reported.
"""

from __future__ import annotations

import pathlib

from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser
from aiida_lammps.data.trajectory import LammpsTrajectory
from aiida_lammps.parsers.parse_raw.lammps_output import parse_outputfile

from aiida_dpgen.calculations.lammps import FAILED_LOGS, model_type_map
from aiida_dpgen.exploration import job
from aiida_dpgen.exploration.schedule import expand_tasks, validate_stage
from aiida_dpgen.exploration.selection import SelectionSettings
from aiida_dpgen.exploration.tasks import DUMP_FILE, LOG_FILE
from aiida_dpgen.exploration.trajectory import COMPLETED, FAILED, LOST_ATOMS
from aiida_dpgen.utils.repository import read_texts


class DpLammpsParser(Parser):
    def parse(self, **kwargs) -> ExitCode:
        temporary = kwargs.get('retrieved_temporary_folder')
        if temporary is None:
            return self.exit_codes.ERROR_NO_RETRIEVED_TEMPORARY_FOLDER
        temporary = pathlib.Path(temporary)
        inputs = self.node.inputs
        configurations = inputs.configurations
        stage = validate_stage(inputs.stage.get_dict(), list(configurations))
        if (temporary / job.RESULTS_FILE).exists():
            selection = job.load(temporary)
        elif 'python' in inputs and 'selection' in inputs:
            return self.exit_codes.ERROR_NO_SELECTION_FILE
        else:
            selection = self._select_here(temporary, stage)

        results = selection.results
        self._diagnose_unfinished(results, temporary)
        self.out('deviations', self._deviations(selection.deviations, stage['systems']))
        summary = _summary(results)
        self.out('task_results', Dict({'tasks': results, 'summary': summary}))
        self.out('task_summary', Dict(summary))  # a small node for the exploration's selection to add up
        if selection.statistics is not None:
            self.out('statistics', Dict(selection.statistics))
            self.out('candidate_frames', self._candidate_frames(selection.candidates, stage['systems']))
            if selection.missing_frames:
                missing = selection.missing_frames
                self.logger.warning(
                    f'{missing} candidate frames are missing from the dumps (a task died while writing)'
                )

        lost = [index for index, result in results.items() if result['status'] == LOST_ATOMS]
        if lost:
            self.logger.warning(f'tasks {lost} lost atoms; the frames they wrote before are parsed and selected')
        if not any(result['frames'] for result in results.values()):
            return self.exit_codes.ERROR_NO_TASK_RAN
        failed = [index for index, result in results.items() if result['status'] == FAILED]
        if failed:
            return self.exit_codes.ERROR_TASKS_FAILED.format(tasks=', '.join(failed))
        return ExitCode(0)

    def _select_here(self, temporary: pathlib.Path, stage: dict) -> job.JobSelection:
        inputs = self.node.inputs
        configurations = inputs.configurations
        tasks = expand_tasks(stage, {name: node.nframes for name, node in configurations.items()})
        indices = inputs.tasks.get_list()
        settings = None
        if 'selection' in inputs:
            settings = SelectionSettings.from_dict(inputs.selection.get_dict(), stage['systems'])
        logs = read_texts(self.retrieved, [f'{job.task_folder(index)}/{LOG_FILE}' for index in indices])
        described = [(index, tasks[index].system, tasks[index].describe()) for index in indices]
        return job.select_job(
            temporary, described, stage['systems'], settings, lambda folder: logs.get(f'{folder}/{LOG_FILE}', '')
        )

    def _diagnose_unfinished(self, results: dict, temporary: pathlib.Path) -> None:
        """The tasks that lost atoms or failed, read with aiida-lammps: every error of the log (with the command
        that raised it, where LAMMPS names it) and its warnings go into the task's result, and the trajectory
        becomes a ``LammpsTrajectory`` output. Their logs and dumps came back either way (selecting here or on
        the computer)."""
        unfinished = [index for index, result in results.items() if result['status'] != COMPLETED]
        if not unfinished:
            return
        names = {index: job.task_folder(int(index)) for index in unfinished}
        logs = read_texts(
            self.retrieved,
            [path for name in names.values() for path in (f'{FAILED_LOGS}/{name}.log', f'{name}/{LOG_FILE}')],
        )
        trajectories = {}
        for index, name in names.items():
            text = logs.get(f'{FAILED_LOGS}/{name}.log', logs.get(f'{name}/{LOG_FILE}'))
            if text:
                results[index].update(lammps_log_messages(text))
            dump = next(
                (
                    path
                    for path in (temporary / FAILED_LOGS / f'{name}.dump', temporary / name / DUMP_FILE)
                    if path.is_file()
                ),
                None,
            )
            if dump is None:
                continue
            try:
                trajectories[name.replace('.', '_')] = LammpsTrajectory(str(dump))
            except OSError as exception:  # aiida-lammps refuses frames of different atom counts, or none
                results[index]['trajectory'] = f'not stored: {exception}'
        if trajectories:
            self.out('failed_trajectories', trajectories)

    @staticmethod
    def _deviations(arrays: dict, systems: list[str]) -> ArrayData:
        node = ArrayData()
        for name in ('task', 'system', 'offsets', 'steps', 'values'):
            if name in arrays:  # a job selected by an older plugin version has no system per task
                node.set_array(name, arrays[name])
        node.base.attributes.set('columns', job.DEVIATION_COLUMNS)
        node.base.attributes.set('systems', list(systems))
        return node

    def _candidate_frames(self, packed: dict, systems: list[str]) -> ArrayData:
        node = ArrayData()
        for name, array in packed.items():
            node.set_array(name, array)
        node.base.attributes.set('systems', list(systems))
        node.base.attributes.set('type_map', model_type_map(self.node.inputs.models))
        return node


def lammps_log_messages(text: str) -> dict:
    """``errors`` (each a dict with the ``message`` and, where LAMMPS prints it, the ``command``) and
    ``warnings`` of a LAMMPS log, as aiida-lammps' log parser reads them."""
    try:
        parsed = parse_outputfile(file_contents=text)['global']
    except (ValueError, SyntaxError, IndexError) as exception:  # its thermo table reader on a cut-off log
        return {'log_unreadable': f'{type(exception).__name__}: {exception}'}
    return {'errors': parsed['errors'], 'warnings': parsed['warnings']}


def _summary(results: dict) -> dict:
    statuses = [result['status'] for result in results.values()]
    return {
        'tasks': len(statuses),
        **{status: statuses.count(status) for status in (COMPLETED, LOST_ATOMS, FAILED)},
        'frames': sum(result['frames'] for result in results.values()),
    }
