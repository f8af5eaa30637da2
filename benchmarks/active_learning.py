"""Active-learning efficiency on the EMT testbed: the loop's selection strategies against random selection.

    verdi run benchmarks/active_learning.py [--strategies fixed,adaptive,diverse] [--iterations 3]
                                            [--fp-task-max 4] [--architecture wide] [--train-steps 6000]
                                            [--supercell 2] [--seeds 2] [--test-temperatures 100,300,500]
                                            [--plot active_learning.png] [--output active_learning.json]

EMT stands in for DFT, so labels are cheap and exact. For each selection strategy (``--strategies``, see
:data:`STRATEGIES`) the loop (``DpgenWorkChain``, EMT labeler, the Cu example's initial data, schedule and the
paper's trust levels) explores ``--supercell`` repeats of the example's perturbed cells; its models have the
benchmark's architecture and training length, so that its model deviation is the one the evaluated models would
give. The first strategy's loop keeps every explored frame (its LAMMPS dumps are retrieved). After each
iteration *i*, ensembles are trained with the same settings, once per seed:
  - **one per strategy**: on the initial data plus the labels that strategy's loop selected up to iteration *i*;
  - **random** (the baseline, same run): on the initial data plus as many frames as the first strategy labeled,
    drawn at random from every frame its loop explored up to iteration *i* (a new draw per seed), labeled by EMT.
All are scored on held-out frames from independent EMT molecular dynamics (ASE, Langevin in the same supercells
of the same crystals, at temperatures inside the schedule's range): force RMSE (eV/Å), mean over the ensemble,
then mean and spread over the seeds. Printed per iteration and arm, then the labels each arm needs to reach
random's final RMSE (target: the best strategy with at most half of random's labels) and whether the best
strategy beats the fixed levels at the first iteration's labels; plotted against the number of labels.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import runpy
import sys
import time

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


STRATEGIES = {
    'fixed': {},
    'max_devi_f': {'candidate_choice': 'max_devi_f'},
    'inv_pop_f': {'candidate_choice': 'inv_pop_f'},
    'adaptive': {'adaptive_lower': {'numb_candi_f': 4, 'rate_candi_f': 0.1}},
    'diverse': {'candidate_choice': 'diverse'},
    'adaptive_diverse': {'adaptive_lower': {'numb_candi_f': 4, 'rate_candi_f': 0.1}, 'candidate_choice': 'diverse'},
}
"""Selection settings on top of the paper's trust levels (0.05, 0.20 eV/Å) and the cap: ``fixed`` is DP-GEN's
(uniform random cap); ``adaptive`` makes the top 10 % (at least 4) of the frames below 0.20 eV/Å candidates;
``diverse`` picks the most different of a random pool of 10 x the cap by the first model's descriptor."""


def run_loop(
    codes: dict,
    configurations: dict[str, list[Atoms]],
    initial: LabeledDatasetData,
    arguments,
    training,
    *,
    strategy: dict,
    keep_dumps: bool,
):
    """The loop with EMT labels on the Cu example's schedule and ``strategy``; with ``keep_dumps``, every explored
    frame's dump kept."""
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': initial},
        configurations={
            name: ConfigurationsData.from_ase(frames, EXAMPLE['TYPE_MAP']).store()
            for name, frames in configurations.items()
        },
        schedule=EXAMPLE['schedule'](arguments.iterations),
        selection={**EXAMPLE['TRUST_LEVELS'], 'fp_task_max': arguments.fp_task_max, **strategy},
        labeler={'engine': 'ase'},
        protocol='fast',
        overrides={'train': {'overrides': {'base': training, 'numb_models': arguments.loop_models}}},
    )
    if keep_dumps:
        builder.explore.lammps.lammps.settings = orm.Dict(
            {'additional_retrieve_list': [[f'task.*/{DUMP_FILE}', '.', 2]]}
        )
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'DpgenWorkChain<{node.pk}> failed: {node.exit_message}')
    return results, node


def plot(path: str, base: list[float], rows: list[dict], arms: list[str]) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    markers = 'os^vDP<>'
    for number, arm in enumerate(arms):
        counts = [0, *(row['arms'][arm]['labels'] for row in rows)]
        means = [float(np.mean(base)), *(row['arms'][arm]['rmse'] for row in rows)]
        spreads = [float(np.std(base)), *(row['arms'][arm]['std'] for row in rows)]
        label = "random from the fixed loop's pool" if arm == 'random' else f'loop, {arm}'
        axes.errorbar(counts, means, yerr=spreads, marker=markers[number % len(markers)], capsize=3, label=label)
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


def main() -> None:  # noqa: PLR0915 (one benchmark, read top to bottom)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--strategies', default='fixed,adaptive,diverse', help=f'of {", ".join(STRATEGIES)}')
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--fp-task-max', type=int, default=4)
    parser.add_argument('--architecture', choices=sorted(ARCHITECTURES), default='wide')
    parser.add_argument('--train-steps', type=int, default=6000)
    parser.add_argument('--models', type=int, default=2, help='models per evaluated ensemble')
    parser.add_argument('--loop-models', type=int, default=4, help="the loop's ensemble size (model deviation)")
    parser.add_argument('--supercell', type=int, default=2, help='explore and test in NxNxN supercells')
    parser.add_argument('--seeds', type=int, default=2, help='training seeds per arm; random draws per iteration')
    parser.add_argument('--test-temperatures', default='100,300,500', help='held-out EMT MD temperatures (K)')
    parser.add_argument('--plot', default='active_learning.png')
    parser.add_argument('--output', default='active_learning.json')
    arguments = parser.parse_args()
    strategies = arguments.strategies.split(',')
    unknown = [name for name in strategies if name not in STRATEGIES]
    if unknown or not strategies:
        parser.error(f'--strategies={arguments.strategies}: {unknown} unknown; choose from {", ".join(STRATEGIES)}')
    temperatures = tuple(float(value) for value in arguments.test_temperatures.split(','))
    started = time.monotonic()

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
    loops = {}
    for number, name in enumerate(strategies):
        results, node = run_loop(
            codes, configurations, initial, arguments, training, strategy=STRATEGIES[name], keep_dumps=number == 0
        )
        loops[name] = (results, node)
        ratios = [results['iterations'][key]['report']['exploration'] for key in sorted(results['iterations'])]
        print(
            f'loop {name} <{node.pk}>: '
            + '; '.join(
                f'iteration {i} accurate {r["accurate_ratio"]:.1%} candidate {r["candidate_ratio"]:.1%} failed '
                f'{r["failed_ratio"]:.1%}, {r["chosen"]} chosen'
                for i, r in enumerate(ratios)
            ),
            flush=True,
        )
    first = strategies[0]

    seeds = [2020 + number for number in range(arguments.seeds)]

    def scores(dataset: LabeledDatasetData, seed: int) -> float:
        return force_rmse(train(dataset, codes['train'], training, arguments.models, seed), test_frames)

    base = [scores(initial, seed) for seed in seeds]
    print(
        f'initial data only ({initial.nframes} frames): held-out force RMSE {np.mean(base):.4f} ± {np.std(base):.4f} '
        f'eV/Å over {len(seeds)} seeds',
        flush=True,
    )
    arms = [*strategies, 'random']
    rows = []
    for iteration in range(arguments.iterations):
        row = {'iteration': iteration, 'arms': {}}
        for name in strategies:
            data = data_after(loops[name][0]['iterations'], initial, iteration)
            per_seed = [scores(data, seed) for seed in seeds]
            row['arms'][name] = {'labels': data.nframes - initial.nframes, 'per_seed': per_seed}
        labels = row['arms'][first]['labels']
        pool = explored_pool(loops[first][1], iteration)
        per_seed = []
        for draw, seed in enumerate(seeds):
            generator = np.random.default_rng(1000 * iteration + draw)
            chosen = emt_dataset([pool[index] for index in generator.choice(len(pool), labels, replace=False)])
            per_seed.append(scores(merge_datasets(init=initial, random=chosen), seed))
        row['arms']['random'] = {'labels': labels, 'per_seed': per_seed, 'pool': len(pool)}
        for entry in row['arms'].values():
            entry.update(rmse=float(np.mean(entry['per_seed'])), std=float(np.std(entry['per_seed'])))
        rows.append(row)
        print(
            f'iteration {iteration} (held-out force RMSE, eV/Å, mean ± std over seeds; random from a pool of '
            f'{len(pool)} frames): '
            + '; '.join(
                f'{arm} {e["labels"]} labels {e["rmse"]:.4f} ± {e["std"]:.4f}' for arm, e in row['arms'].items()
            ),
            flush=True,
        )

    target = rows[-1]['arms']['random']['rmse']
    random_labels = rows[-1]['arms']['random']['labels']
    needed = {}
    for arm in arms:
        curve_labels = [0, *(row['arms'][arm]['labels'] for row in rows)]
        curve_errors = [float(np.mean(base)), *(row['arms'][arm]['rmse'] for row in rows)]
        needed[arm] = labels_to_reach(target, curve_labels, curve_errors)
    print(f"labels to reach random's final RMSE {target:.4f} eV/Å (random used {random_labels}):", flush=True)
    for arm in arms:
        print(f'  {arm}: ' + (f'{needed[arm]:.1f}' if needed[arm] is not None else 'not reached'), flush=True)
    reached = {arm: value for arm, value in needed.items() if arm != 'random' and value is not None}
    best = min(reached, key=reached.get) if reached else None
    verdict = {
        'best': best,
        'best_labels': reached.get(best),
        'half_of_random': random_labels / 2,
        'met_half': best is not None and reached[best] <= random_labels / 2,
    }
    if 'fixed' in strategies:
        first_row = rows[0]['arms']
        others = {arm: first_row[arm]['rmse'] for arm in strategies if arm != 'fixed'}
        verdict['first_iteration'] = {arm: first_row[arm]['rmse'] for arm in arms}
        verdict['beats_fixed_at_first_iteration'] = sorted(
            arm for arm, value in others.items() if value < first_row['fixed']['rmse']
        )
    print(
        f'best strategy {best}: '
        + (f'{reached[best]:.1f} labels' if best else 'none reached it')
        + f" (target: at most half of random's {random_labels}, {random_labels / 2:.0f}): "
        + ('met' if verdict['met_half'] else 'not met'),
        flush=True,
    )
    if 'beats_fixed_at_first_iteration' in verdict:
        print(f'better than the fixed levels after the first iteration: {verdict["beats_fixed_at_first_iteration"]}')
    minutes = (time.monotonic() - started) / 60
    print(f'wall time {minutes:.0f} min', flush=True)
    plot(arguments.plot, base, rows, arms)
    result = {
        'arguments': vars(arguments),
        'loops': {name: node.pk for name, (_, node) in loops.items()},
        'initial_rmse': base,
        'rows': rows,
        'target': target,
        'labels_to_target': needed,
        'verdict': verdict,
        'minutes': minutes,
        'plot': arguments.plot,
    }
    pathlib.Path(arguments.output).write_text(json.dumps(result, indent=1) + '\n')


if __name__ == '__main__':
    main()
