"""What ``aiida-dpgen run --dry-run`` prints: the translated run, stage by stage, without storing anything."""

from __future__ import annotations

import json
import math

import numpy as np

from aiida_dpgen.compat.machine import StepMachine
from aiida_dpgen.compat.param import DpgenParam
from aiida_dpgen.exploration.schedule import count_tasks_and_frames


def _frames(folder) -> int:
    return sum(len(np.load(box, mmap_mode='r')) for box in sorted(folder.glob('set.*/box.npy')))


def all_notes(param: DpgenParam, machines: dict[str, StepMachine] | None) -> list[str]:
    """What has no effect here, or differs from DP-GEN, in param.json and machine.json."""
    return param.notes + [note for machine in (machines or {}).values() for note in machine.notes]


def describe_run(param: DpgenParam, machines: dict[str, StepMachine] | None = None) -> str:
    """A plain-text plan: data, training, labeler, selection, every stage's tasks and frames, the machines."""
    lines = [f'type_map: {param.type_map}', 'initial data:']
    for name, folders in param.init_data.items():
        lines.append(f'  {name}: {len(folders)} system(s), {sum(_frames(folder) for folder in folders)} frames')
    lines.append('initial configurations:')
    counts = {name: len(files) for name, files in param.configurations.items()}
    for name, files in param.configurations.items():
        lines.append(f'  {name}: {len(files)} file(s) ({param.sys_format}), first {files[0]}')
    training = param.training_parameters.get('training', {})
    descriptor = param.training_parameters.get('model', {}).get('descriptor', {})
    lines.append(
        f'training: {param.numb_models} models, {descriptor.get("type")} rcut {descriptor.get("rcut")} Å, '
        f'{training.get("numb_steps")} steps, backend {param.backend}'
        + (f'; reuse from iteration 1: {param.train_reuse}' if param.train_reuse is not None else '')
        + (
            f'; fine-tuned from {param.pretrained_model} ({param.finetune_policy})'
            if param.pretrained_model is not None
            else ''
        )
    )
    lines.append(f'selection: {json.dumps(param.selection)}')
    files = {element: str(path) for element, path in param.labeler_files.items()}
    lines.append(f'labeler: {json.dumps(param.labeler)}' + (f', files {files}' if files else ''))
    if param.screens is not None:
        lines.append(f'geometry screens before labeling: {json.dumps(param.screens)} (fp_skip_bad_box)')
    if param.max_excluded_ratio is not None:
        lines.append(f'labeling fails above {param.max_excluded_ratio:.0%} excluded frames (ratio_failed)')
    group_size = machines['explore'].group_size if machines else 1
    lines.append('schedule:')
    for index, stage in enumerate(param.schedule):
        tasks, frames = count_tasks_and_frames(stage, counts)
        conditions = (
            f'template {sorted(stage.get("rev_mat", {}))}'
            if 'template' in stage
            else f'{stage["ensemble"]} T={stage["temps"]} K'
            + (f' P={stage["press"]} bar' if 'npt' in stage['ensemble'] else '')
        )
        lines.append(
            f'  iteration {index}: {", ".join(stage["systems"])}; {conditions}; {stage.get("nsteps")} steps of '
            f'{stage["timestep"]} ps, every {stage["trj_freq"]}: {tasks} MD tasks in {math.ceil(tasks / group_size)} '
            f'job(s), {frames} frames'
        )
    if machines:
        lines.append('machines:')
        for step, machine in machines.items():
            computer = machine.computer
            lines.append(
                f'  {step}: {computer["scheduler"]} over {computer["transport"]} on {computer["hostname"]} '
                f'({computer["work_dir"]}), {machine.code["executable"]}'
                + (' with MPI' if machine.code['withmpi'] else '')
                + f', resources {json.dumps(machine.resources)}'
            )
    lines += [f'note: {note}' for note in all_notes(param, machines)]
    lines += [f'warning: {warning}' for warning in param.warnings]
    return '\n'.join(lines)
