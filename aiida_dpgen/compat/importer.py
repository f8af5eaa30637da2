"""Import a DP-GEN working directory into the provenance graph, so that a DpgenWorkChain continues it.

Each complete iteration becomes one :func:`import_dpgen_iteration` calcfunction, whose inputs are the
iteration's files (a FolderData), the dataset it started from and its settings, and whose outputs are the
report, the dataset and the models a DpgenWorkChain iteration gives. The iterations chain through their
datasets, so the graph shows where every frame came from; the initial data and configurations are root
inputs, as a user would create them. Everything lands in one group, ``dpgen-import/<folder name>``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence

from aiida import orm

from aiida_dpgen.calculations.functions.import_dpgen_iteration import import_dpgen_iteration
from aiida_dpgen.compat.nodes import load_configurations, load_datasets
from aiida_dpgen.compat.trust import selection_settings
from aiida_dpgen.compat.workdir import (
    IterationFiles,
    check_param,
    configuration_files,
    default_system_names,
    initial_data_paths,
    iteration_job,
    scan_workdir,
    stage_from_job,
)
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.data.model import sha256_of
from aiida_dpgen.loop.iterations import ITERATION_LABELS, ITERATION_OUTPUTS, validate_restart_from
from aiida_dpgen.utils.systems import validate_type_map

GROUP_PREFIX = 'dpgen-import/'
EXTRA = 'dpgen_import'
"""The group's extra that records which node is what, by UUID (see :func:`load_dpgen_import`)."""


def import_dpgen_run(
    workdir: str | pathlib.Path,
    param: Mapping,
    *,
    system_names: Sequence[str] | None = None,
    group_label: str | None = None,
) -> dict:
    """Store the complete iterations of the DP-GEN run in ``workdir`` (run with ``param``, its param.json).

    :param system_names: one name per ``sys_configs`` entry, the names the continuing DpgenWorkChain's
        configurations and schedule use; default ``sys_000``, ``sys_001``, ...
    :param group_label: default ``dpgen-import/<name of workdir>``; a group of that label must not exist.
    :returns: ``restart_from`` (``{iter_NNN: {report, models, labels}}``, ``labels`` where the iteration
        labeled any, as ``DpgenWorkChain.get_builder_restart_from`` gives it), ``datasets`` (``init_000``, ...
        per ``init_data_sys`` entry, each trained on beside the iterations' labels),
        ``configurations`` (by system name) and ``group``; with them a DpgenWorkChain continues the run.
    """
    run = scan_workdir(workdir)
    check_param(param)
    type_map = validate_type_map(param.get('type_map'))
    names = _system_names(param, system_names)
    for iteration in run.iterations:
        _check_systems(iteration, names)
    label = group_label or f'{GROUP_PREFIX}{run.path.name}'
    if orm.QueryBuilder().append(orm.Group, filters={'label': label}).count():
        raise ValueError(
            f'group {label!r} exists: {run.path} was imported before; load it with load_dpgen_import({label!r}), '
            'or pass another group_label'
        )
    datasets = load_datasets(initial_data_paths(run.path, param), type_map)
    files = dict(zip(names, configuration_files(run.path, param), strict=True))
    configurations = load_configurations(files, param.get('sys_format', 'vasp/poscar'), type_map)

    group = orm.Group(label=label, description=f'DP-GEN run {run.path} imported by aiida-dpgen').store()
    for name, node in [*datasets.items(), *configurations.items()]:
        node.label = name
        group.add_nodes(node.store())
    initial_frames = sum(node.nframes for node in datasets.values())
    restart_from = _import_iterations(
        run.iterations, initial_frames, group, param=param, names=names, type_map=type_map
    )
    error = validate_restart_from(restart_from, type_map)
    if error:
        raise ValueError(error)
    group.base.extras.set(EXTRA, _uuids(run.path, restart_from, datasets, configurations))
    return {
        'restart_from': restart_from,
        'datasets': datasets,
        'configurations': configurations,
        'group': group,
    }


def load_dpgen_import(group: str | orm.Group) -> dict:
    """What :func:`import_dpgen_run` returned, from its group (label or node)."""
    group = group if isinstance(group, orm.Group) else orm.load_group(group)
    if EXTRA not in group.base.extras.all:
        raise ValueError(f'group {group.label!r} was not made by import_dpgen_run (no {EXTRA!r} extra)')
    uuids = group.base.extras.get(EXTRA)
    restart_from = {}
    for name, iteration in uuids['restart_from'].items():
        restart_from[name] = {
            key: orm.load_node(iteration[key])
            for key in (*ITERATION_OUTPUTS, ITERATION_LABELS)
            if key in iteration and key != 'models'
        }
        restart_from[name]['models'] = {key: orm.load_node(uuid) for key, uuid in iteration['models'].items()}
    return {
        'restart_from': restart_from,
        'datasets': {name: orm.load_node(uuid) for name, uuid in uuids['datasets'].items()},
        'configurations': {name: orm.load_node(uuid) for name, uuid in uuids['configurations'].items()},
        'group': group,
    }


def _import_iterations(
    iterations: Sequence[IterationFiles],
    initial_frames: int,
    group: orm.Group,
    *,
    param: Mapping,
    names: list[str],
    type_map: list[str],
) -> dict:
    """One calcfunction per iteration, each told how many labeled frames the ones before gave; the restart_from
    mapping."""
    restart_from = {}
    frames, models = initial_frames, None
    for iteration in iterations:
        copied = models is not None and _same_models(iteration, models)
        settings = orm.Dict({**_settings(param, iteration, names, type_map, copied), 'previous_frames': frames})
        files = _files(iteration)
        try:
            outputs, node = import_dpgen_iteration.run_get_node(files=files, settings=settings)
        except Exception as exception:
            raise ValueError(
                f'{iteration.path}: import failed ({exception}); what was stored so far is in group '
                f'{group.label!r}, delete it (`verdi group delete --delete-nodes {group.label}`) before importing again'
            ) from exception
        if not copied:
            models = dict(outputs['models'])
        restart_from[f'iter_{iteration.index:03d}'] = {'report': outputs['report'], 'models': models}
        if 'labels' in outputs:
            restart_from[f'iter_{iteration.index:03d}'][ITERATION_LABELS] = outputs['labels']
            frames += outputs['labels'].nframes
        group.add_nodes([files, settings, node, *node.base.links.get_outgoing().all_nodes()])
    return restart_from


def _system_names(param: Mapping, system_names: Sequence[str] | None) -> list[str]:
    defaults = default_system_names(param)
    if system_names is None:
        return defaults
    names = list(system_names)
    if len(names) != len(defaults) or len(set(names)) != len(names):
        raise ValueError(
            f'system_names={names}: expected {len(defaults)} distinct names, one per param.sys_configs entry'
        )
    return names


def _check_systems(iteration: IterationFiles, names: list[str]) -> None:
    beyond = sorted({index for index in [*iteration.systems, *iteration.fp_data] if index >= len(names)})
    if beyond:
        raise ValueError(
            f'{iteration.path}: system indices {beyond} but param.sys_configs has {len(names)} entries; '
            'import with the param.json of this run'
        )


def iteration_selection(param: Mapping, iteration: IterationFiles, names: list[str]) -> dict:
    """The selection settings DP-GEN applied in ``iteration``: its job's trust levels over the run's, for the
    systems it explored, translated as `aiida-dpgen run` translates them."""
    return selection_settings(param, names, job=iteration_job(param, iteration), explored=iteration.systems)


def _settings(param: Mapping, iteration: IterationFiles, names: list[str], type_map: list[str], copied: bool) -> dict:
    job = iteration_job(param, iteration)
    fp_tasks = iteration.fp_tasks
    return {
        'iteration': iteration.index,
        'stage_index': iteration.index,
        'stage': stage_from_job(job, names, iteration.systems),
        'selection': iteration_selection(param, iteration, names),
        'system_names': names,
        'type_map': type_map,
        'fp_tasks': None if fp_tasks is None else {f'{index:03d}': count for index, count in fp_tasks.items()},
        'engine': param.get('fp_style'),
        'models_copied': copied,
        'source': str(iteration.path),
    }


def _files(iteration: IterationFiles) -> orm.FolderData:
    folder = orm.FolderData()
    for relative, path in iteration.stored_files().items():
        folder.base.repository.put_object_from_file(str(path), relative)
    folder.label = iteration.name
    return folder


def _same_models(iteration: IterationFiles, models: dict[str, DeepPotentialData]) -> bool:
    """Whether the iteration's model files are the previous ensemble's, byte for byte: DP-GEN links them
    (and writes ``00.train/copied``) when the previous iteration labeled too little to train on."""
    files = []
    for path in iteration.models:
        with path.open('rb') as handle:
            files.append(sha256_of(handle))
    return sorted(files) == sorted(model.sha256 for model in models.values())


def _uuids(path: pathlib.Path, restart_from: dict, datasets: dict, configurations: dict) -> dict:
    return {
        'workdir': str(path),
        'datasets': {name: node.uuid for name, node in datasets.items()},
        'configurations': {name: node.uuid for name, node in configurations.items()},
        'restart_from': {
            name: {
                **{
                    key: iteration[key].uuid
                    for key in (*ITERATION_OUTPUTS, ITERATION_LABELS)
                    if key in iteration and key != 'models'
                },
                'models': {key: model.uuid for key, model in iteration['models'].items()},
            }
            for name, iteration in restart_from.items()
        },
    }
