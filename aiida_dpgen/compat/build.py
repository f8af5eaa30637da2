"""A translated ``param.json`` (and ``machine.json``) as stored nodes, computers, codes and a DpgenWorkChain builder.

The initial data and configurations are read with dpdata exactly as DP-GEN reads them (deepmd/npy systems,
``sys_format`` files); pseudopotentials become an aiida-pseudo family (pw.x) or an aiida-vasp POTCAR family
named after their content, so running the same inputs twice reuses them.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import tempfile

from aiida import orm

from aiida_dpgen.compat.importer import load_dpgen_import
from aiida_dpgen.compat.machine import StepMachine
from aiida_dpgen.compat.nodes import load_configurations, load_datasets
from aiida_dpgen.compat.param import DpgenParam
from aiida_dpgen.labelers.base import labeler_from_specification

LABEL_PLUGINS = {
    'quantumespresso': 'quantumespresso.pw',
    'vasp': 'vasp.vasp',
    'cp2k': 'cp2k',
    'gaussian': 'gaussian',
}
STEP_PLUGINS = {'train': 'dpgen.train', 'explore': 'dpgen.lammps'}


def _digest(files: dict[str, pathlib.Path]) -> str:
    digest = hashlib.sha256()
    for element, path in sorted(files.items()):
        digest.update(element.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def pretrained_model_node(path: pathlib.Path):
    """The pretrained model as a node: a PyTorch checkpoint or a frozen model, with what it says of itself."""
    from aiida_dpgen.data import DeepPotentialData
    from aiida_dpgen.training.finetune import CHECKPOINT_SUFFIX

    if path.suffix == CHECKPOINT_SUFFIX:
        return DeepPotentialData.from_checkpoint(path)
    return DeepPotentialData.from_frozen_model(path)


def install_labeler_files(param: DpgenParam) -> dict:
    """The labeler specification with its pseudopotential family, installed from ``labeler_files`` if missing."""
    specification = dict(param.labeler)
    files = param.labeler_files
    if not files:
        return specification
    label = f'dpgen-import/{specification["engine"]}/{_digest(files)}'
    if specification['engine'] == 'quantumespresso':
        from aiida_dpgen.labeling.pseudos import install_pseudo_family

        install_pseudo_family(label, files=files)
        specification['pseudo_family'] = label
    elif specification['engine'] == 'vasp':
        from aiida_vasp.data.potcar import PotcarData

        with tempfile.TemporaryDirectory() as scratch:
            for element, path in files.items():
                (pathlib.Path(scratch) / element).mkdir()
                shutil.copyfile(path, pathlib.Path(scratch) / element / 'POTCAR')
            PotcarData.upload_potcar_family(
                scratch, label, group_description='from a DP-GEN param.json', stop_if_existing=False
            )
        specification['potential_family'] = label
        specification['potential_mapping'] = {element: element for element in files}
    return specification


def get_or_create_computer(settings: dict, label: str | None = None) -> orm.Computer:
    """A computer with these host, transport, scheduler, work directory and, where given, MPI command
    (``mpirun_command``): an existing one, or a new one, configured for the current user."""
    if not pathlib.PurePosixPath(settings['work_dir']).is_absolute():
        raise ValueError(
            f"machine.json remote_root={settings['work_dir']!r}: AiiDA needs an absolute path for the computer's "
            'work directory; set remote_root to one'
        )
    query = orm.QueryBuilder().append(
        orm.Computer,
        filters={
            'hostname': settings['hostname'],
            'transport_type': settings['transport'],
            'scheduler_type': settings['scheduler'],
        },
    )
    mpirun_command = settings.get('mpirun_command')
    for computer in query.all(flat=True):
        same_mpi = mpirun_command is None or computer.get_mpirun_command() == mpirun_command
        if computer.get_workdir() == settings['work_dir'] and computer.is_configured and same_mpi:
            return computer
    scheduler = settings['scheduler'].split('.')[-1]
    label = label or f'dpgen-{settings["hostname"]}-{scheduler}'
    existing = {computer.label for computer in orm.Computer.collection.all()}
    candidate, number = label, 1
    while candidate in existing:
        number += 1
        candidate = f'{label}-{number}'
    computer = orm.Computer(
        label=candidate,
        hostname=settings['hostname'],
        description='created by aiida-dpgen run from a DP-GEN machine.json',
        transport_type=settings['transport'],
        scheduler_type=settings['scheduler'],
        workdir=settings['work_dir'],
    )
    if mpirun_command is not None:
        computer.set_mpirun_command(mpirun_command)
    computer.store()
    computer.set_minimum_job_poll_interval(10.0 if settings['transport'] == 'core.ssh' else 2.0)
    computer.configure(**settings.get('ssh', {}))
    return computer


def get_or_create_code(computer: orm.Computer, code: dict, plugin: str, prepend_text: str = '') -> orm.InstalledCode:
    executable = code['executable']
    query = orm.QueryBuilder().append(
        orm.InstalledCode,
        filters={
            'dbcomputer_id': computer.pk,
            'attributes.filepath_executable': executable,
            'attributes.input_plugin': plugin,
        },
    )
    existing = query.first(flat=True)
    if existing is not None:
        return existing
    label = pathlib.PurePath(executable).name
    return orm.InstalledCode(
        label=label,
        computer=computer,
        filepath_executable=executable,
        default_calc_job_plugin=plugin,
        with_mpi=code['withmpi'],
        prepend_text=prepend_text,
    ).store()


def codes_from_machine(machines: dict[str, StepMachine], label_engine: str) -> dict[str, orm.InstalledCode]:
    codes = {}
    for step, machine in machines.items():
        computer = get_or_create_computer({**machine.computer, **_mpi(machine.code)})
        plugin = STEP_PLUGINS.get(step) or LABEL_PLUGINS[label_engine]
        codes[step] = get_or_create_code(computer, machine.code, plugin)
    return codes


def _mpi(code: dict) -> dict:
    return {'mpirun_command': code['mpirun_command']} if 'mpirun_command' in code else {}


def build_dpgen_builder(
    param: DpgenParam,
    codes: dict[str, orm.AbstractCode],
    *,
    machines: dict[str, StepMachine] | None = None,
    protocol: str = 'balanced',
    continue_from: str | None = None,
):
    """The DpgenWorkChain builder of a translated param.json, with ``codes`` per step (train, explore, label).

    :param continue_from: the group of an imported DP-GEN run (:func:`aiida_dpgen.compat.importer.import_dpgen_run`):
        its initial data, configurations and iterations are taken, so the loop continues after them.
    """
    from aiida_dpgen.workflows.dpgen import DpgenWorkChain

    labeler = install_labeler_files(param)
    if codes['label'].with_mpi is not None:
        # the engine protocols ask for MPI; a DP-GEN command without a launcher runs the executable as it is
        labeler['options'] = {'withmpi': codes['label'].with_mpi}
    resources = {step: machine.resources for step, machine in (machines or {}).items() if machine.resources}
    overrides = {}
    if machines and 'explore' in machines:
        overrides['explore'] = {'group_size': machines['explore'].group_size}
    if machines and 'label' in machines and labeler_from_specification(labeler).supports_packing:
        overrides['label'] = {'group_size': machines['label'].group_size}
    if continue_from is not None:
        imported = load_dpgen_import(continue_from)
        datasets, configurations = imported['datasets'], imported['configurations']
    else:
        datasets = load_datasets(param.init_data, param.type_map)
        configurations = load_configurations(param.configurations, param.sys_format, param.type_map)
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets=datasets,
        configurations=configurations,
        schedule=param.schedule,
        selection=param.selection,
        labeler=labeler,
        protocol=protocol,
        overrides=overrides,
        resources=resources,
    )
    builder.train.numb_models = orm.Int(param.numb_models)
    builder.train.base.dp.parameters = orm.Dict(param.training_parameters)
    builder.train.base.dp.compress = orm.Bool(param.compress)
    builder.train.base.dp.backend = orm.Str(param.backend)
    if param.pretrained_model is not None:
        builder.train.pretrained_model = pretrained_model_node(param.pretrained_model)
        builder.finetune_policy = orm.Str(param.finetune_policy)
    if param.train_reuse is not None:
        builder.train_reuse = orm.Dict(param.train_reuse)
    if param.max_excluded_ratio is not None:
        builder.label.max_excluded_ratio = orm.Float(param.max_excluded_ratio)
    if param.screens is not None:
        builder.label.screens = orm.Dict(param.screens)
    if continue_from is not None:
        builder.restart_from = imported['restart_from']
    return builder
