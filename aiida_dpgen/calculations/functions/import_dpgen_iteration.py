"""One complete iteration of a DP-GEN working directory as the report, dataset and models of a DpgenWorkChain's."""

from __future__ import annotations

import json
import pathlib

from aiida.engine import calcfunction
from aiida.orm import Dict, FolderData

from aiida_dpgen.calculations.functions.summarize_training import SUMMARY_METRICS
from aiida_dpgen.compat.workdir import (
    IterationFiles,
    exploration_statistics,
    labeling_summary,
    read_labeled_systems,
    scan_iteration,
)
from aiida_dpgen.data.dataset import LabeledDatasetData
from aiida_dpgen.data.model import DeepPotentialData
from aiida_dpgen.exploration.selection import SelectionSettings
from aiida_dpgen.loop.report import iteration_report
from aiida_dpgen.training.ensemble import spread
from aiida_dpgen.training.inputs import descriptor_summary
from aiida_dpgen.training.lcurve import final_metrics, parse_lcurve
from aiida_dpgen.utils import systems as systems_utils

UNKNOWN = ('cost', 'exploration.lost_atoms')
"""Report fields a DP-GEN directory does not tell; they read 0 (cost) and None and are listed in the report."""


@calcfunction
def import_dpgen_iteration(files: FolderData, settings: Dict) -> dict:
    """Turn one DP-GEN iteration, stored as ``files`` in DP-GEN's layout, into what a DpgenWorkChain iteration gives.

    ``files``: ``00.train/graph.NNN.pb`` (and ``00.train/NNN/`` input.json, out.json, lcurve.out),
    ``01.model_devi/task.SSS.NNNNNN/model_devi.out``, ``02.fp/data.SSS/``. ``settings``: ``iteration``,
    ``previous_frames`` (labeled frames before the iteration), ``stage_index``, ``stage``, ``selection`` (our keys),
    ``system_names`` (by DP-GEN system index), ``type_map``, ``fp_tasks`` (frames sent to labeling per system
    index, or None), ``engine`` (DP-GEN's fp_style), ``models_copied`` (DP-GEN reused the previous ensemble)
    and ``source`` (the folder imported).

    Outputs: ``report`` (as :func:`aiida_dpgen.loop.report.iteration_report`, ratios recomputed from the
    model_devi.out files with our selection), ``labels`` (the iteration's labels, when it has any) and
    ``models.model_N`` (unless the ensemble was copied from the previous iteration).
    """
    values = settings.get_dict()
    with files.base.repository.as_path() as root:
        iteration = scan_iteration(pathlib.Path(root), values['iteration'])
        return _outputs(iteration, values)


def _outputs(iteration: IterationFiles, values: dict) -> dict:
    type_map, names = values['type_map'], values['system_names']
    selection = SelectionSettings.from_dict(values['selection'], names)
    labels = {names[index]: read_labeled_systems(folder, type_map) for index, folder in iteration.fp_data.items()}
    labeled = {name: sum(system.get_nframes() for system in systems) for name, systems in labels.items()}
    fp_tasks = values.get('fp_tasks')
    submitted = None if fp_tasks is None else {names[int(index)]: count for index, count in fp_tasks.items()}
    outputs = {}
    previous_frames = values['previous_frames']
    dataset_frames = previous_frames
    added = [system for systems in labels.values() for system in systems]
    if added:
        outputs['labels'] = _labels(added, type_map, values['source'])
        dataset_frames += outputs['labels'].nframes
    if not values.get('models_copied'):
        outputs['models'] = {
            f'model_{number}': _model(path, folder, type_map)
            for number, (path, folder) in enumerate(zip(iteration.models, iteration.training, strict=True))
        }
    report = iteration_report(
        iteration=values['iteration'],
        stage_index=values['stage_index'],
        stage=values['stage'],
        selection=values['selection'],
        training=training_summary(iteration),
        exploration=exploration_statistics(
            iteration, selection.trust, names, labeled if submitted is None else submitted, selection.skip
        ),
        task_summary={'tasks': len(iteration.model_devi), 'lost_atoms': None},
        labeling=labeling_summary(labeled, submitted, values.get('engine')),
        dataset_frames=dataset_frames,
        previous_dataset_frames=previous_frames,
        cost={},
        trained=not values.get('models_copied'),
    )
    report['imported'] = {'source': values['source'], 'unknown': list(UNKNOWN)}
    return {'report': Dict(report), **outputs}


def _labels(added: list, type_map: list[str], source: str) -> LabeledDatasetData:
    try:
        labels = systems_utils.normalise(added, type_map, require_labels=True)
    except ValueError as exception:
        raise ValueError(f'{source}/02.fp: {exception}') from None
    merged, _ = systems_utils.merge([labels], type_map)
    return LabeledDatasetData(merged, type_map=type_map)


def training_summary(iteration: IterationFiles) -> dict:
    """Final errors per model and their spread from the learning curves, as ``summarize_training`` gives them."""
    models = {}
    for number, folder in enumerate(iteration.training):
        lcurve = None if folder is None else folder / 'lcurve.out'
        final = final_metrics(parse_lcurve(lcurve.read_text())) if lcurve is not None and lcurve.is_file() else {}
        models[f'model_{number}'] = {
            **{metric: final.get(metric) for metric in SUMMARY_METRICS},
            'steps': final.get('step'),
            'wall_time_seconds': None,
        }
    return {
        'models': models,
        'spread': {metric: spread([model[metric] for model in models.values()]) for metric in SUMMARY_METRICS},
    }


def model_attributes(folder: pathlib.Path | None, type_map: list[str]) -> dict | None:
    """Type map, descriptor, cutoff, sel, seed and steps from a training folder's out.json or input.json, as the
    training parser records them; None without a readable training input."""
    if folder is None:
        return None
    source = next((folder / name for name in ('out.json', 'input.json') if (folder / name).is_file()), None)
    if source is None:
        return None
    content = json.loads(source.read_text())
    try:
        summary = descriptor_summary(content)
        steps = content['training'].get('numb_steps', content['training'].get('stop_batch'))
    except (KeyError, AttributeError):
        return None
    last = _last_step(folder)
    return {
        **summary,
        'type_map': content['model'].get('type_map', type_map),
        'training_steps': steps if last is None else last,
    }


def _last_step(folder: pathlib.Path | None) -> int | None:
    lcurve = None if folder is None else folder / 'lcurve.out'
    if lcurve is None or not lcurve.is_file():
        return None
    steps = parse_lcurve(lcurve.read_text())['step']
    return int(steps[-1]) if len(steps) else None


def _model(path: pathlib.Path, folder: pathlib.Path | None, type_map: list[str]) -> DeepPotentialData:
    """The model with the metadata of its training input, or read by DeePMD-kit where the input is gone."""
    attributes = model_attributes(folder, type_map)
    if attributes is None:
        return DeepPotentialData.from_frozen_model(path, training_steps=_last_step(folder))
    return DeepPotentialData(str(path), **attributes)
