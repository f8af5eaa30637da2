"""Active-learning efficiency on the EMT testbed: the loop's selection against random selection.

    verdi run benchmarks/active_learning.py [--iterations 3] [--fp-task-max 4] [--architecture wide]
                                            [--train-steps 10000] [--supercell 2] [--seeds 3]
                                            [--test-temperatures 100,300,500] [--plot active_learning.png]

EMT stands in for DFT, so labels are cheap and exact. The loop (``DpgenWorkChain``, EMT labeler, the Cu
example's initial data and schedule) explores ``--supercell`` repeats of the example's perturbed cells and
keeps every explored frame (its LAMMPS dumps are retrieved); its models have the benchmark's architecture
and training length, so that its model deviation is the one the evaluated models would give. After each
iteration *i*, two kinds of ensembles are trained with the same settings, once per seed:
  - **loop**: on the initial data plus the labels the loop selected up to iteration *i*;
  - **random** (the baseline, same run): on the initial data plus as many frames drawn at random from
    every frame the loop explored up to iteration *i* (a new draw per seed), labeled by EMT.
Both are scored on held-out frames from independent EMT molecular dynamics (ASE, Langevin in 2x2x2
supercells of the same crystals, at temperatures inside the schedule's range): force RMSE (eV/Å), mean over
the ensemble, then mean and spread over the seeds. Printed per iteration with the ratio random / loop, with
the labels each arm needs to reach the loop's final RMSE, and plotted against the number of labels.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import runpy
import sys

import numpy as np
from aiida import orm
from ase import Atoms, units
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

import aiida_dpgen
from aiida_dpgen.calculations.functions.merge_datasets import merge_datasets
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.exploration.tasks import DUMP_FILE
from aiida_dpgen.exploration.trajectory import read_dump_frames
from aiida_dpgen.initdata.structures import crystal, perturbed, scale_factors, scaled
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.dpgen import DpgenWorkChain
from aiida_dpgen.workflows.runner import run_get_node
from aiida_dpgen.workflows.train import TrainWorkChain

REPOSITORY = pathlib.Path(aiida_dpgen.__file__).parents[1]
EXAMPLE = runpy.run_path(str(REPOSITORY / 'examples' / 'launch_cu.py'), run_name='launch_cu')


def initial_cells() -> dict[str, list[Atoms]]:
    """The fast initial data of examples/launch_cu.py (its InitDataWorkChain's cells: two scales, one
    perturbation each), built here without the work chain so that EMT labels them in-process."""
    bulk = EXAMPLE['FAST_INITIAL_DATA']['bulk']
    factors = scale_factors(**bulk['scale'])
    return {
        name: [
            frame
            for factor in factors
            for frame in perturbed(
                scaled(crystal('Cu', name, a), factor), 1, cell_fraction=0.03, atom_distance=0.01, seed=2020
            )
        ]
        for name, a in EXAMPLE['LATTICE_CONSTANTS'].items()
    }


ARCHITECTURES = {
    'fast': {},
    'wide': {
        'descriptor': {'sel': [64], 'rcut_smth': 2.0, 'rcut': 5.0, 'neuron': [8, 16, 32], 'axis_neuron': 8},
        'fitting_net': {'neuron': [64, 64, 64]},
    },
}
"""Model overrides on the ``fast`` training protocol. ``fast`` (rcut 4 Å, embedding 4/8, fitting 16x16) stops
between Cu's second and third neighbour shells and underfits as data is added; ``wide`` reaches past the third
shell (5 Å) with embedding 8/16/32 and fitting 64x3, about 3 times slower per step here."""


def training_overrides(architecture: str, steps: int) -> dict:
    return {'dp': {'parameters': {'model': ARCHITECTURES[architecture], 'training': {'numb_steps': steps}}}}


def held_out_frames(temperatures, supercell: int, frames_per_run: int = 20, interval: int = 50) -> list[Atoms]:
    """Independent EMT MD (2 fs steps) in each crystal's supercell at each test temperature."""
    frames = []
    lattice = EXAMPLE['LATTICE_CONSTANTS']
    for seed, (name, temperature) in enumerate((n, t) for n in lattice for t in temperatures):
        atoms = crystal('Cu', name, lattice[name]).repeat(supercell)
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
        dynamics = Langevin(
            atoms, 2 * units.fs, temperature_K=temperature, friction=0.02, rng=np.random.default_rng(seed)
        )
        for _ in range(frames_per_run):
            dynamics.run(interval)
            frame = atoms.copy()
            frame.calc = EMT()
            frame.get_forces()
            frames.append(frame)
    return frames


def force_rmse(models: list[orm.Data], frames: list[Atoms]) -> float:
    """Force RMSE (eV/Å) of each model on the frames, averaged over the models."""
    from deepmd.infer import DeepPot

    errors = []
    for model in models:
        with model.base.repository.as_path(model.filename) as path:
            potential = DeepPot(str(path))
            squared = []
            for atoms in frames:
                _, forces, _ = potential.eval(
                    atoms.positions.reshape(1, -1), atoms.cell[:].reshape(1, -1), [0] * len(atoms)
                )
                squared.append((forces.reshape(-1, 3) - atoms.get_forces()) ** 2)
            errors.append(float(np.sqrt(np.mean(np.concatenate(squared)))))
    return float(np.mean(errors))


def explored_pool(node: orm.WorkChainNode, iteration: int) -> list[Atoms]:
    """Every frame the loop's MD wrote up to and including ``iteration``, from the retrieved dumps."""
    pool = []
    for step in node.called:
        label = step.base.links.get_incoming(node_class=orm.WorkflowNode).first().link_label
        if not label.endswith('_explore') or int(label.split('_')[1]) > iteration:
            continue
        for job in step.called_descendants:
            if not isinstance(job, orm.CalcJobNode) or 'retrieved' not in job.outputs:
                continue
            retrieved = job.outputs.retrieved
            with retrieved.base.repository.as_path() as folder:
                for dump in pathlib.Path(folder).glob(f'task.*/{DUMP_FILE}'):
                    frames = read_dump_frames(dump, dump_steps(dump)).values()
                    pool.extend(
                        Atoms(['Cu'] * len(f.types), positions=f.positions, cell=f.cell, pbc=True) for f in frames
                    )
    return pool


def dump_steps(path: pathlib.Path) -> list[int]:
    lines = path.read_text().splitlines()
    return [int(lines[number + 1]) for number, line in enumerate(lines) if line.startswith('ITEM: TIMESTEP')]


def train(dataset: LabeledDatasetData, code, training: dict, models: int, seed: int) -> list[orm.Data]:
    overrides = {'base': training, 'numb_models': models, 'seed': seed}
    builder = TrainWorkChain.get_builder_from_protocol(code, {'data': dataset}, protocol='fast', overrides=overrides)
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'TrainWorkChain<{node.pk}> failed: {node.exit_message}')
    return [results['models'][key] for key in sorted(results['models'])]


def labels_to_reach(target: float, labels: list[int], errors: list[float]) -> float | None:
    """The number of labels at which the curve ``errors(labels)`` first falls to ``target``, interpolated
    linearly between measured points; ``None`` when it never does."""
    for number, (count, error) in enumerate(zip(labels, errors, strict=True)):
        if error <= target:
            if number == 0:
                return float(count)
            before, previous = labels[number - 1], errors[number - 1]
            return before + (previous - target) / (previous - error) * (count - before)
    return None


def emt_dataset(frames: list[Atoms]) -> LabeledDatasetData:
    for atoms in frames:
        atoms.calc = EMT()
        atoms.get_forces()
    return LabeledDatasetData.from_ase(frames, EXAMPLE['TYPE_MAP']).store()


def run_loop(codes: dict, configurations: dict[str, list[Atoms]], initial: LabeledDatasetData, arguments, training):
    """The loop with EMT labels on the Cu example's schedule, every explored frame's dump kept."""
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': initial},
        configurations={
            name: ConfigurationsData.from_ase(frames, EXAMPLE['TYPE_MAP']).store()
            for name, frames in configurations.items()
        },
        schedule=EXAMPLE['schedule'](arguments.iterations),
        selection={**EXAMPLE['TRUST_LEVELS'], 'fp_task_max': arguments.fp_task_max},
        labeler={'engine': 'ase'},
        protocol='fast',
        overrides={'train': {'overrides': {'base': training, 'numb_models': arguments.loop_models}}},
    )
    builder.explore.lammps.lammps.settings = orm.Dict({'additional_retrieve_list': [[f'task.*/{DUMP_FILE}', '.', 2]]})
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'DpgenWorkChain<{node.pk}> failed: {node.exit_message}')
    return results, node


def plot(path: str, counts: list[int], base: list[float], rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for arm, marker, name in (('loop', 'o', 'loop selection'), ('random', 's', 'random from the same pool')):
        means = [float(np.mean(base)), *(row[arm] for row in rows)]
        spreads = [float(np.std(base)), *(row[f'{arm}_std'] for row in rows)]
        axes.errorbar(counts, means, yerr=spreads, marker=marker, capsize=3, label=name)
    axes.set(
        xlabel='labels added to the initial data',
        ylabel='held-out force RMSE (eV/Å)',
        title=f'EMT testbed, mean ± std over {len(base)} seeds',
    )
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def data_after(iterations, initial: LabeledDatasetData, iteration: int) -> LabeledDatasetData:
    """What the loop's ensemble after ``iteration`` trains on (the initial data and every iteration's labels so far),
    merged into one dataset for the comparison's trainings."""
    so_far = [f'iter_{number:03d}' for number in range(iteration + 1)]
    return merge_datasets(
        init=initial, **{name: iterations[name]['labels'] for name in so_far if 'labels' in iterations[name]}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--fp-task-max', type=int, default=4)
    parser.add_argument('--architecture', choices=sorted(ARCHITECTURES), default='wide')
    parser.add_argument('--train-steps', type=int, default=10000)
    parser.add_argument('--models', type=int, default=2, help='models per evaluated ensemble')
    parser.add_argument('--loop-models', type=int, default=4, help="the loop's ensemble size (model deviation)")
    parser.add_argument('--supercell', type=int, default=2, help='explore and test in NxNxN supercells')
    parser.add_argument('--seeds', type=int, default=3, help='training seeds per arm; random draws per iteration')
    parser.add_argument('--test-temperatures', default='100,300,500', help='held-out EMT MD temperatures (K)')
    parser.add_argument('--plot', default='active_learning.png')
    arguments = parser.parse_args()
    temperatures = tuple(float(value) for value in arguments.test_temperatures.split(','))

    cells = initial_cells()
    initial = emt_dataset([atoms for frames in cells.values() for atoms in frames])
    configurations = {name: [atoms.repeat(arguments.supercell) for atoms in frames] for name, frames in cells.items()}
    test_frames = held_out_frames(temperatures, arguments.supercell)
    training = training_overrides(arguments.architecture, arguments.train_steps)
    codes = {
        'train': get_or_create_code('dp', 'dp', plugin='dpgen.train'),
        'explore': get_or_create_code('lmp', 'lmp', plugin='dpgen.lammps'),
        'label': get_or_create_code('python-ase', sys.executable, plugin='dpgen.ase'),
    }
    results, node = run_loop(codes, configurations, initial, arguments, training)

    seeds = [2020 + number for number in range(arguments.seeds)]

    def scores(dataset: LabeledDatasetData, seed: int) -> float:
        return force_rmse(train(dataset, codes['train'], training, arguments.models, seed), test_frames)

    base = [scores(initial, seed) for seed in seeds]
    print(
        f'initial data only ({initial.nframes} frames): held-out force RMSE {np.mean(base):.4f} ± {np.std(base):.4f} '
        f'eV/Å over {len(seeds)} seeds',
        flush=True,
    )
    rows = []
    for iteration in range(arguments.iterations):
        loop_data = data_after(results['iterations'], initial, iteration)
        labels = loop_data.nframes - initial.nframes
        pool = explored_pool(node, iteration)
        loop, random = [], []
        for draw, seed in enumerate(seeds):
            generator = np.random.default_rng(1000 * iteration + draw)
            chosen = emt_dataset([pool[index] for index in generator.choice(len(pool), labels, replace=False)])
            random_data = merge_datasets(init=initial, random=chosen)
            loop.append(scores(loop_data, seed))
            random.append(scores(random_data, seed))
        row = {
            'iteration': iteration,
            'labels': labels,
            'pool': len(pool),
            'loop': float(np.mean(loop)),
            'loop_std': float(np.std(loop)),
            'random': float(np.mean(random)),
            'random_std': float(np.std(random)),
            'loop_per_seed': loop,
            'random_per_seed': random,
        }
        rows.append(row)
        print(
            f'iteration {iteration}: {labels} labels from a pool of {len(pool)} explored frames; held-out force RMSE '
            f'loop {row["loop"]:.4f} ± {row["loop_std"]:.4f}, random {row["random"]:.4f} ± {row["random_std"]:.4f} '
            f'eV/Å (random / loop {row["random"] / row["loop"]:.2f})',
            flush=True,
        )
        paired = [theirs / ours for ours, theirs in zip(loop, random, strict=True)]
        print(
            f'  seed by seed (same training seed in both arms): random / loop {", ".join(f"{r:.2f}" for r in paired)}; '
            f'the loop is better with {sum(r > 1 for r in paired)} of {len(paired)} seeds',
            flush=True,
        )

    counts = [0, *(row['labels'] for row in rows)]
    target = rows[-1]['loop']
    needed = {arm: labels_to_reach(target, counts[1:], [row[arm] for row in rows]) for arm in ('loop', 'random')}
    if float(np.mean(base)) <= target:
        print(
            f"the initial data alone ({np.mean(base):.4f} eV/Å) is already at or below the loop's final RMSE "
            f'({target:.4f}): the models got worse with more data, so no labels-to-target comparison',
            flush=True,
        )
    else:
        random_needed = f'{needed["random"]:.1f}' if needed['random'] is not None else f'more than {counts[-1]}'
        print(
            f"labels to reach the loop's final RMSE {target:.4f} eV/Å: loop {needed['loop']:.1f}, "
            f'random {random_needed}',
            flush=True,
        )

    plot(arguments.plot, counts, base, rows)
    print(
        json.dumps(
            {
                'pk': node.pk,
                'initial_rmse': base,
                'rows': rows,
                'target': target,
                'labels_to_target': needed,
                'plot': arguments.plot,
            }
        )
    )


if __name__ == '__main__':
    main()
