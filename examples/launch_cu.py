"""The paper's copper example (Zhang et al. 2020, section 4), shrunk to a laptop.

Run with ``verdi run examples/launch_cu.py`` on any profile (``scripts/run-example.sh`` creates an
embedded ``verdi presto`` profile and runs it).

What runs today (aiida-dpgen 0.1.0.dev0):
1. the initial data of the Cu example: perturbed fcc, hcp and bcc cells labelled by ASE's EMT
   calculator as stand-in initial data, merged by the ``merge_datasets`` calcfunction;
2. the training step of the first iteration: an ensemble of 4 DeePMD-kit models trained on that data
   with ``TrainWorkChain`` (``--protocol fast`` by default: seconds per model on 2 cores);
3. the exploration step of the first iteration: LAMMPS DPMD with the ensemble's model deviation from
   2x2x2 fcc, hcp and bcc supercells, NPT at the first two temperatures and two pressures of the
   paper's Table A.1, grouped into two jobs by ``ExploreWorkChain``, then selection with the paper's
   trust levels (0.05 and 0.20 eV/Å) and a per-iteration table of accurate / candidate / failed ratios.
Labeling with Quantum ESPRESSO and the loop around these steps (DpgenWorkChain) are not implemented
yet; the script says so at the end.

Options: ``verdi run examples/launch_cu.py [--protocol fast|balanced|stringent] [--computer localhost]``
"""

from __future__ import annotations

import argparse

import numpy as np
from aiida.engine import run_get_node
from aiida.orm import CalcFunctionNode, QueryBuilder
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_dpgen.calculations.functions import merge_datasets
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.exploration.schedule import paper_cu_schedule
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.explore import ExploreWorkChain
from aiida_dpgen.workflows.train import TrainWorkChain

TYPE_MAP = ['Cu']
STRUCTURES = {'fcc': {'a': 3.61, 'cubic': True}, 'hcp': {'a': 2.55}, 'bcc': {'a': 2.87, 'cubic': True}}
SCALES = (0.96, 0.98, 1.00)
"""Lattice scaling factors; the paper used 0.84-1.00 of the relaxed volume per atom."""
PERTURBATIONS_PER_SCALE = 2
ATOM_PERTURBATION_ANGSTROM = 0.01
CELL_PERTURBATION_FRACTION = 0.03
TRUST_LEVELS = {'f_trust_lo': 0.05, 'f_trust_hi': 0.20, 'fp_task_max': 300, 'seed': 2020}


def perturbed_cells(structure: str, rng: np.random.Generator) -> list:
    """Scaled copies of a standard crystal with random atom (0.01 Å) and cell (3 %) perturbations."""
    frames = []
    for scale in SCALES:
        for _ in range(PERTURBATIONS_PER_SCALE):
            atoms = bulk('Cu', structure, **STRUCTURES[structure])
            strain = np.eye(3) + CELL_PERTURBATION_FRACTION * rng.uniform(-1, 1, (3, 3)) / 2
            atoms.set_cell(scale * atoms.cell[:] @ strain, scale_atoms=True)
            atoms.positions += rng.normal(scale=ATOM_PERTURBATION_ANGSTROM, size=atoms.positions.shape)
            frames.append(atoms)
    return frames


def label_with_emt(frames: list) -> list:
    for atoms in frames:
        atoms.calc = EMT()
        atoms.get_potential_energy()
    return frames


def build_initial_data():
    rng = np.random.default_rng(2020)
    datasets, configurations = {}, {}
    for structure in STRUCTURES:
        frames = perturbed_cells(structure, rng)
        configurations[structure] = ConfigurationsData.from_ase(frames, type_map=TYPE_MAP).store()
        datasets[f'init_{structure}'] = LabeledDatasetData.from_ase(label_with_emt(frames), TYPE_MAP).store()

    initial, merge = merge_datasets.run_get_node(**datasets)

    print('Initial data for the Cu example (EMT labels stand in for DFT until labeling exists)')
    print(f'{"structure":<10} {"configurations":>15} {"labeled frames":>15}  node')
    for structure in STRUCTURES:
        dataset = datasets[f'init_{structure}']
        print(f'{structure:<10} {configurations[structure].nframes:>15} {dataset.nframes:>15}  {dataset.pk}')
    print(f'{"merged":<10} {"":>15} {initial.nframes:>15}  {initial.pk} (created by merge_datasets<{merge.pk}>)')
    system_names = ', '.join(summary['name'] for summary in initial.systems)
    print(f'systems in the merged dataset: {system_names}; labels: {initial.labels}')

    created_by_merge = QueryBuilder().append(LabeledDatasetData, filters={'id': initial.pk}, tag='data')
    created_by_merge.append(CalcFunctionNode, with_outgoing='data', project='id')
    assert created_by_merge.all(flat=True) == [merge.pk], 'the merged dataset must trace back to its calcfunction'
    return initial


def train_ensemble(initial: LabeledDatasetData, protocol: str, computer: str):
    code = get_or_create_code('dp', 'dp', computer=computer, plugin='dpgen.train')
    builder = TrainWorkChain.get_builder_from_protocol(code, {'init': initial}, protocol=protocol)
    print(
        f'\nIteration 000, training: {builder.numb_models.value} models, protocol {protocol!r}, code {code.full_label}'
    )
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'TrainWorkChain<{node.pk}> failed: {node.exit_message}; see `verdi process report {node.pk}`')

    summary = results['summary'].get_dict()
    print(f'{"model":<9} {"seed":>11} {"steps":>6} {"rmse_e_trn (eV/atom)":>21} {"rmse_f_trn (eV/Å)":>18}  node')
    for name in sorted(results['models']):
        model, metrics = results['models'][name], summary['models'][name]
        print(
            f'{name:<9} {model.seed:>11} {metrics["steps"]:>6} {metrics["rmse_e_trn"]:>21.4f} '
            f'{metrics["rmse_f_trn"]:>18.4f}  {model.pk}'
        )
    spread = summary['spread']['rmse_f_trn']
    print(f'ensemble force RMSE {spread["mean"]:.4f} ± {spread["std"]:.4f} eV/Å (TrainWorkChain<{node.pk}>)')
    return results


def exploration_configurations() -> dict:
    """One perturbed 2x2x2 supercell per crystal, as the paper starts its DPMD runs."""
    rng = np.random.default_rng(7)
    configurations = {}
    for structure, lattice in STRUCTURES.items():
        atoms = bulk('Cu', structure, **lattice).repeat(2)
        atoms.positions += rng.normal(scale=ATOM_PERTURBATION_ANGSTROM, size=atoms.positions.shape)
        configurations[structure] = ConfigurationsData.from_ase([atoms], type_map=TYPE_MAP).store()
    return configurations


def explore(models: dict, computer: str):
    code = get_or_create_code('lmp', 'lmp', computer=computer, plugin='dpgen.lammps')
    first = paper_cu_schedule()[0]
    stage = {**first, 'temps': first['temps'][:2], 'press': first['press'][:4:3], 'nsteps': 200}
    stage.pop('configurations_per_system')
    print(
        f'\nIteration 000, exploration: NPT at {stage["temps"]} K and {stage["press"]} bar, {stage["nsteps"]} steps, '
        f'frames every {stage["trj_freq"]}, code {code.full_label}'
    )
    results, node = run_get_node(
        ExploreWorkChain,
        models=models,
        configurations=exploration_configurations(),
        stage=stage,
        selection=TRUST_LEVELS,
        group_size=6,
        lammps={'lammps': {'code': code}},
    )
    if not node.is_finished_ok:
        raise SystemExit(
            f'ExploreWorkChain<{node.pk}> failed: {node.exit_message}; see `verdi process report {node.pk}`'
        )
    statistics = results['statistics'].get_dict()
    summary = results['task_results'].get_dict()['summary']
    print(f'{"system":<8} {"frames":>7} {"accurate":>9} {"candidate":>10} {"failed":>7} {"to label":>9}')
    for name, row in [*statistics['systems'].items(), ('all', statistics['overall'])]:
        print(
            f'{name:<8} {row["frames"]:>7} {row["accurate_ratio"]:>9.1%} {row["candidate_ratio"]:>10.1%} '
            f'{row["failed_ratio"]:>7.1%} {row["chosen"]:>9}'
        )
    print(
        f'{summary["tasks"]} MD tasks: {summary["completed"]} completed, {summary["lost_atoms"]} lost atoms '
        f'(ExploreWorkChain<{node.pk}>; trust levels 0.05 / 0.20 eV/Å as in the paper)'
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description='The DP-GEN Cu example on a laptop.')
    parser.add_argument('--protocol', choices=['fast', 'balanced', 'stringent'], default='fast')
    parser.add_argument('--computer', default='localhost')
    arguments = parser.parse_args()

    initial = build_initial_data()
    trained = train_ensemble(initial, arguments.protocol, arguments.computer)
    explore(dict(trained['models']), arguments.computer)

    print()
    print(
        'NOT YET IMPLEMENTED: labeling with Quantum ESPRESSO and the loop around these steps (DpgenWorkChain; '
        'issues #6-#7). This run stopped after the first exploration.'
    )


main()
