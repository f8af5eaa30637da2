"""`DpLammpsCalculation`: a group of DPMD tasks with ensemble model deviation, run by LAMMPS in one job.

The port design follows aiida-lammps' ``lammps.raw`` (``files``, ``filenames``, ``settings``), but the
scripts are written here, one per task, from an exploration stage (:mod:`aiida_dpgen.exploration.schedule`),
and the parser reads what ``lammps.raw`` does not: the model deviation of every frame, the outcome of every
task, and the candidate frames.
"""

from __future__ import annotations

import importlib.resources
import io
import json
import pathlib
import zipfile
from functools import cached_property

import numpy as np
from aiida.common import CalcInfo, CodeInfo, CodeRunMode
from aiida.engine import CalcJob
from aiida.orm import AbstractCode, ArrayData, Dict, List, SinglefileData, to_aiida_type
from aiida_lammps.data.trajectory import LammpsTrajectory
from ase.data import atomic_masses, atomic_numbers

from aiida_dpgen.calculations.options import set_job_defaults
from aiida_dpgen.data import ConfigurationsData, DeepPotentialData
from aiida_dpgen.exploration import job
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


def model_suffix(models) -> str:
    """The frozen-model suffix the ensemble shares (``.pb`` or ``.pth``): LAMMPS runs one backend per pair style."""
    checkpoints = sorted(name for name, model in models.items() if model.is_checkpoint)
    if checkpoints:
        message = f'models: {checkpoints} are PyTorch checkpoints (.pt); LAMMPS runs frozen models: freeze them'
        raise ValueError(message + ' (`dp --pt freeze`) and give the .pth files')
    suffixes = {pathlib.PurePath(model.filename).suffix for model in models.values()}
    if len(suffixes) != 1:
        backends = sorted({model.deepmd_backend for model in models.values()})
        raise ValueError(
            f'models: the ensemble mixes backends {backends}; train every model with one backend '
            '(train.base.dp.backend)'
        )
    return suffixes.pop()


def validate_inputs(inputs: dict, _) -> str | None:
    """Everything a job needs is consistent before it is submitted; the message names the port and the fix."""
    models, configurations = inputs.get('models', {}), inputs.get('configurations', {})
    if len(models) < 2:
        return f'models: got {len(models)} model(s); the model deviation needs an ensemble of at least two'
    if not configurations:
        return 'configurations: none given; pass ConfigurationsData nodes by system name'
    try:
        type_map = model_type_map(models)
        model_suffix(models)
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
    return validate_python(inputs)


def validate_python(inputs: dict) -> str | None:
    python, code = inputs.get('python'), inputs.get('code')
    if python is None:
        return None
    if 'selection' not in inputs:
        return 'python: selecting on the computer needs a selection (trust levels); give `selection` or drop `python`'
    if code is not None and python.computer.uuid != code.computer.uuid:
        return (
            f'python: {python.full_label} runs on {python.computer.label}, LAMMPS ({code.full_label}) on '
            f'{code.computer.label}; the selection runs in the MD job, so give a Python on {code.computer.label}'
        )
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
        spec.input(
            'python',
            valid_type=AbstractCode,
            required=False,
            help='A Python 3.10+ with numpy on the same computer. With it (and a selection), the job selects its '
            'candidates there after the MD: only the compact deviations, the candidate frames and the logs of tasks '
            'that did not complete come back, not the trajectories.',
        )
        spec.inputs.validator = validate_inputs
        set_job_defaults(spec, parser=cls._DEFAULT_PARSER)

        spec.output('deviations', valid_type=ArrayData, help='Steps and the six deviations of every frame, per task.')
        spec.output('task_results', valid_type=Dict, help='Per task: system, conditions, status, frames.')
        spec.output('task_summary', valid_type=Dict, required=False, help='Tasks by outcome, and frames.')
        spec.output('statistics', valid_type=Dict, required=False, help='Per system: counts, ratios, histogram.')
        spec.output('candidate_frames', valid_type=ArrayData, required=False, help='Capped candidates, packed.')
        spec.output_namespace(
            'failed_trajectories',
            valid_type=LammpsTrajectory,
            dynamic=True,
            required=False,
            help="The trajectories of the tasks that lost atoms or failed (task_NNNNNN), as aiida-lammps' "
            'LammpsTrajectory: what a user opens to see how the MD went wrong.',
        )
        spec.default_output_node = 'task_results'

        spec.exit_code(300, 'ERROR_NO_RETRIEVED_TEMPORARY_FOLDER', message='The temporary retrieved folder is missing.')
        spec.exit_code(
            310, 'ERROR_NO_TASK_RAN', message='No task wrote model_devi.out: LAMMPS or the DeePMD plugin did not start.'
        )
        spec.exit_code(
            311,
            'ERROR_NO_SELECTION_FILE',
            message='The selection on the computer wrote no selection.json: see _scheduler-stderr.txt and select.err '
            '(the `python` code needs numpy).',
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
        nmodels, suffix = len(self.inputs.models), model_suffix(self.inputs.models)
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
                values = dict(task.template_values)
                script = template_input(
                    self._stage['template'], values, nmodels, task.md.trj_freq, name, forces, suffix=suffix
                )
            else:
                script = md_input(task.md, nmodels, masses, name, forces, suffix=suffix)
            with subfolder.open(INPUT_FILE, 'w') as handle:
                handle.write(script)
            codeinfo = CodeInfo()
            codeinfo.code_uuid = self.inputs.code.uuid
            codeinfo.cmdline_params = ['-in', f'{name}/{INPUT_FILE}', '-log', f'{name}/{LOG_FILE}', '-screen', 'none']
            codeinfos.append(codeinfo)

        local_copy_list = [
            (model.uuid, model.filename, model_filename(number, suffix))
            for number, (_, model) in enumerate(sorted(self.inputs.models.items()))
        ]
        filenames = self.inputs.filenames.get_dict() if 'filenames' in self.inputs else {}
        for key, node in self.inputs.get('files', {}).items():
            local_copy_list.append((node.uuid, node.filename, filenames.get(key, node.filename)))

        settings = self.inputs.settings.get_dict() if 'settings' in self.inputs else {}
        extra = settings.get('additional_retrieve_list', [])
        calcinfo = CalcInfo()
        calcinfo.codes_run_mode = CodeRunMode.SERIAL
        calcinfo.local_copy_list = local_copy_list
        # Each task's conf.lmp and in.lammps are made from this job's input nodes (the stage, the configurations, the
        # task indices), so they are not stored with the job again: thousands of tasks per exploration would put
        # two files each into the repository (and spend the time to write them) for what the inputs already say.
        calcinfo.provenance_exclude_list = [task_folder(index) for index in self.inputs.tasks.get_list()]
        if 'python' in self.inputs:
            codeinfos.append(self._selection_on_computer(folder, tasks))
            calcinfo.retrieve_list = [(f'{FAILED_LOGS}/*.log', '.', 2), *extra]
            calcinfo.retrieve_temporary_list = [job.ARRAYS_FILE, job.RESULTS_FILE, (f'{FAILED_LOGS}/*.dump', '.', 2)]
        else:
            calcinfo.retrieve_list = [(f'task.*/{LOG_FILE}', '.', 2), *extra]
            calcinfo.retrieve_temporary_list = [(f'task.*/{MODEL_DEVI_FILE}', '.', 2), (f'task.*/{DUMP_FILE}', '.', 2)]
        calcinfo.codes_info = codeinfos
        return calcinfo

    def _selection_on_computer(self, folder, tasks) -> CodeInfo:
        """The last step of the job: ``python select_on_computer.py`` with the task list, the selection and the
        pure-numpy exploration modules of this package (a zip on its ``sys.path``), so the computer needs numpy only."""
        described = [[index, tasks[index].system, tasks[index].describe()] for index in self.inputs.tasks.get_list()]
        specification = {
            'tasks': described,
            'systems': self._stage['systems'],
            'selection': self.inputs.selection.get_dict(),
            'failed_logs': FAILED_LOGS,
        }
        with folder.open(SELECTION_TASKS, 'w') as handle:
            json.dump(specification, handle)
        script = importlib.resources.files('aiida_dpgen.calculations.scripts').joinpath(SELECTION_SCRIPT)
        folder.create_file_from_filelike(script.open('rb'), SELECTION_SCRIPT, 'wb')
        folder.create_file_from_filelike(io.BytesIO(exploration_modules()), SELECTION_MODULES, 'wb')
        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.python.uuid
        codeinfo.cmdline_params = [SELECTION_SCRIPT]
        codeinfo.stdout_name = 'select.out'
        codeinfo.stderr_name = 'select.err'
        return codeinfo


SELECTION_SCRIPT = 'select_on_computer.py'
SELECTION_TASKS = 'select_tasks.json'
SELECTION_MODULES = 'aiida_dpgen_exploration.zip'
FAILED_LOGS = 'failed_logs'
MODULES = (
    '__init__.py',
    'exploration/__init__.py',
    'exploration/candidates.py',
    'exploration/deviation.py',
    'exploration/job.py',
    'exploration/ranking.py',
    'exploration/selection.py',
    'exploration/tasks.py',
    'exploration/trajectory.py',
    'utils/__init__.py',
    'utils/memory.py',
)
"""What :func:`aiida_dpgen.exploration.job.select_job` imports: numpy and the standard library beyond these."""


def exploration_modules() -> bytes:
    """This package's selection code as a zip that Python imports from (``sys.path``), without AiiDA."""
    package = importlib.resources.files('aiida_dpgen')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name in MODULES:
            info = zipfile.ZipInfo(f'aiida_dpgen/{name}', date_time=(2020, 1, 1, 0, 0, 0))  # the same bytes each time
            archive.writestr(info, package.joinpath(name).read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def configuration_frames(configurations: ConfigurationsData):
    """``(cell, positions, element per atom)`` of every frame, in the order configuration indices count them."""
    for system in configurations.to_dpdata():
        names = system['atom_names']
        elements = [names[kind] for kind in system['atom_types']]
        for frame in range(system.get_nframes()):
            yield system['cells'][frame], system['coords'][frame], elements
