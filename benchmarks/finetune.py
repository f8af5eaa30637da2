"""Does fine-tuning pay off? The Cu loop fine-tuned from a model pretrained on other metals, against the same
loop trained from scratch, on the EMT testbed.

    verdi run benchmarks/finetune.py [--iterations 3] [--seeds 2] [--pretrain-steps 1500] [--train-steps 400]
                                     [--fp-task-max 4] [--pretrained PK] [--new-fitting] [--output finetune.json]

EMT stands in for DFT (labels are cheap and exact). Pretraining: one DPA-3 model (the ``fast`` DPA-3
protocol's architecture, PyTorch backend) trained by ``TrainWorkChain`` on EMT labels of Al, Ni, Ag, Au, Pd
and Pt (8-atom fcc cells near their EMT lattice constants, compressed and stretched by up to 15 %, and hot), no
Cu frame; its type map holds Cu so that the Cu run can be mapped onto it. Its checkpoint is the pretrained
model. Then, once per seed, the Cu example's loop (its initial cells labeled by EMT, its schedule, EMT labels, 2 models,
``--train-steps`` per training) runs twice:
  - **finetuned**: ``train.pretrained_model`` = the checkpoint, ``finetune_policy`` ``always`` (every ensemble
    fine-tunes from it on all the data so far); with ``--new-fitting``, ``train.finetune_head`` ``RANDOM`` (each
    member keeps the pretrained descriptor with a fitting net of its own);
  - **scratch**: the same without it (the baseline, same run, same seeds).
Each iteration's ensemble (trained on the initial data and the labels of the iterations before it) is scored
on the same held-out frames (independent EMT molecular dynamics of the three Cu crystals): force RMSE
against EMT, mean over the ensemble. Printed per iteration: labels so far and both RMSEs; at the end the
labels the fine-tuned loop needs to reach the scratch loop's final RMSE, against the scratch loop's labels
(target: at most half).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import sys
import time

import numpy as np
from aiida import orm
from ase.build import bulk

import aiida_dpgen
from aiida_dpgen.data import ConfigurationsData, DeepPotentialData
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.dpgen import DpgenWorkChain
from aiida_dpgen.workflows.runner import run_get_node
from aiida_dpgen.workflows.train import TrainWorkChain

REPOSITORY = pathlib.Path(aiida_dpgen.__file__).parents[1]


def testbed():
    """benchmarks/active_learning.py, whose EMT testbed (initial cells, held-out frames, scoring) this shares."""
    spec = importlib.util.spec_from_file_location('active_learning', REPOSITORY / 'benchmarks' / 'active_learning.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OTHER_METALS = {'Al': 4.05, 'Ni': 3.52, 'Ag': 4.09, 'Au': 4.08, 'Pd': 3.89, 'Pt': 3.92}
"""EMT's other fcc metals and their lattice constants (Å)."""
PRETRAINED_TYPE_MAP = ['Al', 'Ni', 'Cu', 'Ag', 'Au', 'Pd', 'Pt']
SCREENS = {'min_distance': {'Cu-Cu': 1.8}, 'volume_per_atom': [8.0, 20.0]}
"""Geometry screens of both arms' candidates (Cu: 2.55 Å to the nearest neighbour, 11.8 Å^3 per atom). Without
them the first run's fine-tuned ensembles, whose members share the pretrained descriptor and so agree where
both are wrong, sent NPT into collapsed cells (139 neighbours within 4 Å instead of 18) with deviations below
f_trust_hi; their EMT labels overflowed the descriptor's neighbour list and training diverged."""


PRETRAINING_KINDS = {
    'near equilibrium': {'scale': (0.97, 1.03), 'rattle': 0.05},
    'compressed and stretched': {'scale': (0.85, 1.10), 'rattle': 0.08},
    'hot': {'scale': (0.97, 1.03), 'rattle': 0.20},
}
"""Per metal, a third of the frames of each kind (lattice-constant scale, rattle in Å). The compressed cells give
the pretrained model a repulsive wall: pretrained within 3 % of equilibrium only, the fine-tuned ensembles sent
NPT into collapsed cells (see SCREENS)."""


def pretraining_frames(per_metal: int) -> list:
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(7)
    frames = []
    for metal, a in OTHER_METALS.items():
        for index in range(per_metal):
            kind = list(PRETRAINING_KINDS.values())[index % len(PRETRAINING_KINDS)]
            atoms = bulk(metal, 'fcc', a=a * rng.uniform(*kind['scale']), cubic=True).repeat((2, 1, 1))
            atoms.rattle(kind['rattle'], seed=1000 * len(frames) + index)
            atoms.calc = EMT()
            atoms.get_forces()
            frames.append(atoms)
    return frames


def dpa3_overrides(steps: int, models: int) -> dict:
    return {'numb_models': models, 'base': {'dp': {'parameters': {'training': {'numb_steps': steps}}}}}


def pretrain(code, steps: int, per_metal: int) -> DeepPotentialData:
    """One DPA-3 model on the other metals; its checkpoint (an output of the training job) is the pretrained
    model, so the graph links every fine-tuned model back to the pretraining data."""
    from aiida_dpgen.data import LabeledDatasetData

    dataset = LabeledDatasetData.from_ase(pretraining_frames(per_metal), PRETRAINED_TYPE_MAP).store()
    overrides = dpa3_overrides(steps, 2)
    overrides['base']['dp']['keep_checkpoint'] = True
    builder = TrainWorkChain.get_builder_from_protocol(
        code, {'metals': dataset}, 'fast', overrides, model='dpa3', type_map=PRETRAINED_TYPE_MAP
    )
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'pretraining TrainWorkChain<{node.pk}> failed: {node.exit_message}')
    return results['checkpoints']['model_0']


def run_loop(codes, initial, configurations, bed, arguments, *, seed: int, pretrained=None):
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': initial},
        configurations=configurations,
        schedule=bed.EXAMPLE['schedule'](arguments.iterations),
        selection={**bed.EXAMPLE['TRUST_LEVELS'], 'fp_task_max': arguments.fp_task_max, 'seed': seed},
        labeler={'engine': 'ase'},
        protocol='fast',
        overrides={'train': {'model': 'dpa3', 'overrides': dpa3_overrides(arguments.train_steps, 2)}},
    )
    builder.train.seed = orm.Int(seed)
    builder.label.screens = orm.Dict(SCREENS)
    if pretrained is not None:
        builder.train.pretrained_model = pretrained
        builder.finetune_policy = orm.Str('always')
        if arguments.new_fitting:
            builder.train.finetune_head = orm.Str('RANDOM')
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'DpgenWorkChain<{node.pk}> failed: {node.exit_message}')
    return results['iterations']


def curve(iterations, initial_frames: int, bed, test_frames) -> list[tuple[int, float]]:
    """(labels the ensemble was trained with, its held-out force RMSE) per iteration."""
    points = []
    for name in sorted(iterations):
        report = iterations[name]['report'].get_dict()
        trained_on = report['dataset']['frames'] - report['dataset']['added'] - initial_frames
        models = [iterations[name]['models'][key] for key in sorted(iterations[name]['models'])]
        points.append((trained_on, bed.force_rmse(models, test_frames)))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--seeds', type=int, default=2, help='loop seeds per arm (training and selection)')
    parser.add_argument('--pretrain-steps', type=int, default=1500)
    parser.add_argument('--pretrain-frames', type=int, default=30, help='frames per other metal')
    parser.add_argument('--train-steps', type=int, default=400, help="steps of each of the loops' trainings")
    parser.add_argument('--fp-task-max', type=int, default=4)
    parser.add_argument('--output', default='finetune.json')
    parser.add_argument('--pretrained', type=int, default=None, help='pk of a pretrained checkpoint to reuse')
    parser.add_argument('--new-fitting', action='store_true', help='fine-tune with a new fitting net per member')
    arguments = parser.parse_args()
    for option in ('iterations', 'seeds', 'pretrain_steps', 'pretrain_frames', 'train_steps', 'fp_task_max'):
        if getattr(arguments, option) < 1:
            parser.error(f'--{option.replace("_", "-")}={getattr(arguments, option)}: expected at least 1')

    started = time.monotonic()
    bed = testbed()
    codes = {
        'train': get_or_create_code('dp', 'dp', plugin='dpgen.train'),
        'explore': get_or_create_code('lmp', 'lmp', plugin='dpgen.lammps'),
        'label': get_or_create_code('python-ase', sys.executable, plugin='dpgen.ase'),
    }
    if arguments.pretrained is not None:
        pretrained = orm.load_node(arguments.pretrained)
        if not isinstance(pretrained, DeepPotentialData) or not pretrained.is_checkpoint:
            parser.error(f'--pretrained={arguments.pretrained}: expected the pk of a checkpoint DeepPotentialData')
    else:
        pretrained = pretrain(codes['train'], arguments.pretrain_steps, arguments.pretrain_frames)
    print(f'pretrained on {", ".join(OTHER_METALS)}: {pretrained.filename} <{pretrained.pk}>', flush=True)

    cells = bed.initial_cells()
    initial = bed.emt_dataset([atoms for frames in cells.values() for atoms in frames])
    configurations = {
        name: ConfigurationsData.from_ase(frames, bed.EXAMPLE['TYPE_MAP']).store() for name, frames in cells.items()
    }
    test_frames = bed.held_out_frames((100.0, 300.0, 500.0), supercell=1)
    arms = {'finetuned': [], 'scratch': []}
    for number in range(arguments.seeds):
        seed = 2020 + number
        for arm, curves in arms.items():
            start = pretrained if arm == 'finetuned' else None
            loop = run_loop(codes, initial, configurations, bed, arguments, seed=seed, pretrained=start)
            curves.append(curve(loop, initial.nframes, bed, test_frames))
            print(f'seed {seed}, {arm}: ' + ', '.join(f'{n} labels {r:.4f}' for n, r in curves[-1]), flush=True)

    print(f'\nheld-out force RMSE (eV/Å) on {len(test_frames)} EMT MD frames, mean over {arguments.seeds} seeds')
    summary = {}
    for arm, curves in arms.items():
        labels = [float(np.mean([points[i][0] for points in curves])) for i in range(arguments.iterations)]
        errors = [float(np.mean([points[i][1] for points in curves])) for i in range(arguments.iterations)]
        summary[arm] = {'labels': labels, 'rmse': errors, 'per_seed': curves}
        print(f'{arm:>10}: ' + ', '.join(f'{n:.0f} labels {r:.4f}' for n, r in zip(labels, errors, strict=True)))
    target, scratch_labels = summary['scratch']['rmse'][-1], summary['scratch']['labels'][-1]
    needed = bed.labels_to_reach(target, summary['finetuned']['labels'], summary['finetuned']['rmse'])
    reached = f'{needed:.1f} labels' if needed is not None else f'not within {summary["finetuned"]["labels"][-1]:.0f}'
    print(
        f"the fine-tuned loop reaches the scratch loop's final RMSE {target:.4f} with {reached}; the scratch loop "
        f'used {scratch_labels:.0f} (target: at most half, {scratch_labels / 2:.0f})'
    )
    minutes = (time.monotonic() - started) / 60
    print(f'wall time {minutes:.0f} min')
    result = {'arguments': vars(arguments), 'summary': summary, 'labels_to_target': needed, 'minutes': minutes}
    pathlib.Path(arguments.output).write_text(json.dumps(result, indent=1) + '\n')


if __name__ == '__main__':
    main()
