"""Parser for `DpLammpsCalculation`: deviations of every frame, task outcomes, statistics, candidate frames.

``model_devi.out`` and the dumps come in the temporary retrieved folder: the deviations are kept in one
compact array node per job, and from the dumps only the frames the seeded cap keeps are read. A task that
lost atoms keeps the frames it wrote: they are parsed and selected like the others, and the loss is reported.
"""

from __future__ import annotations

import pathlib

import numpy as np
from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser

from aiida_dpgen.calculations.lammps import model_type_map
from aiida_dpgen.exploration import candidates
from aiida_dpgen.exploration.deviation import MAX_DEVI_F, MAX_DEVI_V, STEP, read_model_devi
from aiida_dpgen.exploration.schedule import expand_tasks, validate_stage
from aiida_dpgen.exploration.selection import SelectionSettings, SystemSelection
from aiida_dpgen.exploration.tasks import DUMP_FILE, LOG_FILE, MODEL_DEVI_FILE, task_folder
from aiida_dpgen.exploration.trajectory import (
    COMPLETED,
    FAILED,
    LOST_ATOMS,
    read_dump_frames,
    rms_force,
    task_outcome,
)
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
        tasks = expand_tasks(stage, {name: node.nframes for name, node in configurations.items()})
        indices = inputs.tasks.get_list()
        selection = None
        if 'selection' in inputs:
            selection = SelectionSettings.from_dict(inputs.selection.get_dict(), stage['systems'])
            per_system = {
                name: SystemSelection(cap=selection.fp_task_max, seed=selection.seed) for name in selection.trust
            }

        logs = read_texts(self.retrieved, [f'{task_folder(index)}/{LOG_FILE}' for index in indices])
        results, tables = {}, []
        for index in indices:
            task, folder = tasks[index], task_folder(index)
            log = logs.get(f'{folder}/{LOG_FILE}', '')
            status, message = task_outcome(log)
            deviation_file = temporary / folder / MODEL_DEVI_FILE
            table = read_model_devi(deviation_file) if deviation_file.exists() else np.empty((0, 7))
            tables.append(table)
            result = {**task.describe(), 'status': status, 'frames': len(table)}
            if message:
                result['message'] = message
            if selection is not None and len(table):
                selected = table[:, [STEP, MAX_DEVI_V, MAX_DEVI_F]]
                if selection.f_avg_relative:
                    try:
                        scale = rms_force(temporary / folder / DUMP_FILE)
                    except (OSError, ValueError) as exception:
                        result.update(status=FAILED, message=f'no RMS force for relative deviations: {exception}')
                        results[str(index)] = result
                        continue
                    selected = selected / np.array([1.0, 1.0, scale])
                    result['rms_force'] = scale
                categories = per_system[task.system].add(index, selected, selection.trust[task.system], selection.skip)
                result.update({name: int(np.sum(categories == code)) for code, name in enumerate(CATEGORIES)})
            results[str(index)] = result

        self.out('deviations', self._deviations(indices, tables))
        self.out('task_results', Dict({'tasks': results, 'summary': _summary(results)}))
        if selection is not None:
            self.out('statistics', Dict({name: chosen.statistics() for name, chosen in per_system.items()}))
            self.out('candidate_frames', self._candidate_frames(per_system, stage['systems'], temporary, selection))

        lost = [index for index, result in results.items() if result['status'] == LOST_ATOMS]
        if lost:
            self.logger.warning(f'tasks {lost} lost atoms; the frames they wrote before are parsed and selected')
        if not any(len(table) for table in tables):
            return self.exit_codes.ERROR_NO_TASK_RAN
        failed = [index for index, result in results.items() if result['status'] == FAILED]
        if failed:
            return self.exit_codes.ERROR_TASKS_FAILED.format(tasks=', '.join(failed))
        return ExitCode(0)

    @staticmethod
    def _deviations(indices, tables) -> ArrayData:
        """Steps (int64) and the six deviations (float32: the file prints 7 significant digits) of all frames."""
        node = ArrayData()
        node.set_array('task', np.asarray(indices, dtype=np.int64))
        node.set_array('offsets', np.concatenate([[0], np.cumsum([len(table) for table in tables])]).astype(np.int64))
        stacked = np.concatenate(tables) if tables else np.empty((0, 7))
        node.set_array('steps', stacked[:, 0].astype(np.int64))
        node.set_array('values', stacked[:, 1:].astype(np.float32))
        node.base.attributes.set(
            'columns', ['max_devi_v', 'min_devi_v', 'avg_devi_v', 'max_devi_f', 'min_devi_f', 'avg_devi_f']
        )
        return node

    def _candidate_frames(self, per_system, systems, temporary, selection) -> ArrayData:
        by_task: dict[int, list[tuple[int, int]]] = {}
        for number, name in enumerate(systems):
            for task, step in per_system[name].chosen():
                by_task.setdefault(task, []).append((number, step))
        records, missing = [], 0
        for task, chosen in sorted(by_task.items()):
            dump = temporary / task_folder(task) / DUMP_FILE
            found = read_dump_frames(dump, [step for _, step in chosen]) if dump.exists() else {}
            for number, step in chosen:
                if step in found:
                    records.append((number, task, found[step]))
                else:
                    missing += 1
        if missing:
            self.logger.warning(f'{missing} candidate frames are missing from the dumps (a task died while writing)')
        node = ArrayData()
        for name, array in candidates.pack(records, selection.seed).items():
            node.set_array(name, array)
        node.base.attributes.set('systems', list(systems))
        node.base.attributes.set('type_map', model_type_map(self.node.inputs.models))
        return node


CATEGORIES = ('accurate', 'candidate', 'failed')


def _summary(results: dict) -> dict:
    statuses = [result['status'] for result in results.values()]
    return {
        'tasks': len(statuses),
        **{status: statuses.count(status) for status in (COMPLETED, LOST_ATOMS, FAILED)},
        'frames': sum(result['frames'] for result in results.values()),
    }
