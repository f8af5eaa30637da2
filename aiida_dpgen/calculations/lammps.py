"""`DpLammpsCalculation`: a group of DPMD tasks with ensemble model deviation, run by LAMMPS in one job.

The port design follows aiida-lammps' ``lammps.raw`` (``files``, ``filenames``, ``settings``), but the
scripts are written here, one per task, from an exploration stage (:mod:`aiida_dpgen.exploration.schedule`),
and the parser reads what ``lammps.raw`` does not: the model deviation of every frame, the outcome of every
task, and the candidate frames.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from aiida.common import CalcInfo, CodeInfo, CodeRunMode
from aiida.engine import CalcJob
from aiida.orm import ArrayData, Dict, List, SinglefileData, to_aiida_type
from ase.data import atomic_masses, atomic_numbers

from aiida_dpgen.data import ConfigurationsData, DeepPotentialData
from aiida_dpgen.exploration.schedule import expand_tasks, validate_stage
from aiida_dpgen.exploration.selection import SelectionSettings
from aiida_dpgen.exploration.tasks import (
    CONF_FILE,
    DUMP_FILE,
    INPUT_FILE,
    LOG_FILE,
    MODEL_DEVI_FILE,
    md_input,
    model_filename,
    shuffled_positions,
    task_folder,
    template_input,
    write_conf,
)


def model_type_map(models) -> list[str]:
    maps = {tuple(model.type_map) for model in models.values()}
    if len(maps) != 1:
        raise ValueError(f'models: they have different type maps {sorted(maps)}; an ensemble shares one type map')
    return list(maps.pop())


def validate_inputs(inputs: dict, _) -> str | None:
    """Everything a job needs is consistent before it is submitted; the message names the port and the fix."""
    models, configurations = inputs.get('models', {}), inputs.get('configurations', {})
    if len(models) < 2:
        return f'models: got {len(models)} model(s); the model deviation needs an ensemble of at least two'
    if not configurations:
        return 'configurations: none given; pass ConfigurationsData nodes by system name'
    try:
        type_map = model_type_map(models)
        stage = validate_stage(inputs['stage'].get_dict(), list(configurations))
        tasks = expand_tasks(stage, {name: node.nframes for name, node in configurations.items()})
        if 'selection' in inputs:
            SelectionSettings.from_dict(inputs['selection'].get_dict(), stage['systems'])
    except ValueError as exception:
        return str(exception)
    if 'masses' in stage and len(stage['masses']) != len(type_map):
        return f"stage.masses={stage['masses']}: expected one mass per element of the models' type_map {type_map}"
    for name in stage['systems']:
        outside = sorted(set(configurations[name].elements) - set(type_map))
        if outside:
            return f"configurations.{name}: elements {outside} are not in the models' type_map {type_map}"
    indices = inputs['tasks'].get_list()
    wrong = [index for index in indices if not (isinstance(index, int) and 0 <= index < len(tasks))]
    if not indices or wrong:
        return f'tasks: {wrong or indices} are not task indices of this stage (0 to {len(tasks) - 1})'
    return None


class DpLammpsCalculation(CalcJob):
    """Run the MD tasks ``tasks`` of an exploration ``stage``, one after another in one job, each in its folder.

    Every task writes ``model_devi.out`` (the DeePMD-kit plugin's deviation of the ensemble) and a dump at the
    same frequency. With ``selection`` given, the parser classifies every frame and extracts the candidates
    the seeded cap keeps, so only those frames leave the dumps.
    """

    _DEFAULT_PARSER = 'dpgen.lammps'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace('models', valid_type=DeepPotentialData, dynamic=True, help='The ensemble.')
        spec.input_namespace(
            'configurations', valid_type=ConfigurationsData, dynamic=True, help='Initial configurations by system.'
        )
        spec.input('stage', valid_type=Dict, serializer=to_aiida_type, help='The exploration stage, see schedule.')
        spec.input('tasks', valid_type=List, serializer=to_aiida_type, help="Indices of the stage's tasks to run.")
        spec.input('selection', valid_type=Dict, required=False, serializer=to_aiida_type, help='Trust levels, cap.')
        spec.input_namespace(
            'files', valid_type=SinglefileData, dynamic=True, required=False, help='Extra files a template reads.'
        )
        spec.input('filenames', valid_type=Dict, required=False, serializer=to_aiida_type, help='files -> filename.')
        spec.input(
            'settings',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help='`additional_retrieve_list`: more files to keep, relative to the job folder.',
        )
        spec.inputs.validator = validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = cls._DEFAULT_PARSER
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['withmpi'].default = False

        spec.output('deviations', valid_type=ArrayData, help='Steps and the six deviations of every frame, per task.')
        spec.output('task_results', valid_type=Dict, help='Per task: system, conditions, status, frames.')
        spec.output('statistics', valid_type=Dict, required=False, help='Per system: counts, ratios, histogram.')
        spec.output('candidate_frames', valid_type=ArrayData, required=False, help='Capped candidates, packed.')
        spec.default_output_node = 'task_results'

        spec.exit_code(300, 'ERROR_NO_RETRIEVED_TEMPORARY_FOLDER', message='The temporary retrieved folder is missing.')
        spec.exit_code(
            310, 'ERROR_NO_TASK_RAN', message='No task wrote model_devi.out: LAMMPS or the DeePMD plugin did not start.'
        )
        spec.exit_code(
            320,
            'ERROR_TASKS_FAILED',
            message='Tasks failed for another reason than lost atoms: {tasks}. Frames they wrote are parsed.',
        )

    @cached_property
    def _stage(self) -> dict:
        return validate_stage(self.inputs.stage.get_dict(), list(self.inputs.configurations))

    def prepare_for_submission(self, folder) -> CalcInfo:
        configurations = self.inputs.configurations
        type_map = model_type_map(self.inputs.models)
        masses = self._stage.get('masses') or [atomic_masses[atomic_numbers[element]] for element in type_map]
        tasks = expand_tasks(self._stage, {name: node.nframes for name, node in configurations.items()})
        frames = {name: list(configuration_frames(configurations[name])) for name in self._stage['systems']}
        nmodels = len(self.inputs.models)
        forces = 'selection' in self.inputs and bool(self.inputs.selection.get('f_avg_relative', False))

        codeinfos = []
        for index in self.inputs.tasks.get_list():
            task, name = tasks[index], task_folder(index)
            subfolder = folder.get_subfolder(name, create=True)
            cell, positions, elements = frames[task.system][task.configuration]
            types = np.array([type_map.index(element) for element in elements])
            if self._stage.get('shuffle_atoms'):
                positions = shuffled_positions(positions, self._stage.get('velocity_seed', 1), index)
            write_conf(subfolder.get_abs_path(CONF_FILE), cell, positions, types, len(type_map))
            if task.template_values:
                script = template_input(
                    self._stage['template'], dict(task.template_values), nmodels, task.md.trj_freq, name, forces
                )
            else:
                script = md_input(task.md, nmodels, masses, name, forces)
            with subfolder.open(INPUT_FILE, 'w') as handle:
                handle.write(script)
            codeinfo = CodeInfo()
            codeinfo.code_uuid = self.inputs.code.uuid
            codeinfo.cmdline_params = ['-in', f'{name}/{INPUT_FILE}', '-log', f'{name}/{LOG_FILE}', '-screen', 'none']
            codeinfos.append(codeinfo)

        local_copy_list = [
            (model.uuid, model.filename, model_filename(number))
            for number, (_, model) in enumerate(sorted(self.inputs.models.items()))
        ]
        filenames = self.inputs.filenames.get_dict() if 'filenames' in self.inputs else {}
        for key, node in self.inputs.get('files', {}).items():
            local_copy_list.append((node.uuid, node.filename, filenames.get(key, node.filename)))

        settings = self.inputs.settings.get_dict() if 'settings' in self.inputs else {}
        calcinfo = CalcInfo()
        calcinfo.codes_info = codeinfos
        calcinfo.codes_run_mode = CodeRunMode.SERIAL
        calcinfo.local_copy_list = local_copy_list
        calcinfo.retrieve_list = [(f'task.*/{LOG_FILE}', '.', 2), *settings.get('additional_retrieve_list', [])]
        calcinfo.retrieve_temporary_list = [(f'task.*/{MODEL_DEVI_FILE}', '.', 2), (f'task.*/{DUMP_FILE}', '.', 2)]
        return calcinfo


def configuration_frames(configurations: ConfigurationsData):
    """``(cell, positions, element per atom)`` of every frame, in the order configuration indices count them."""
    for system in configurations.to_dpdata():
        names = system['atom_names']
        elements = [names[kind] for kind in system['atom_types']]
        for frame in range(system.get_nframes()):
            yield system['cells'][frame], system['coords'][frame], elements
