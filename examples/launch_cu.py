"""The paper's copper example (Zhang et al. 2020, section 4), shrunk to a laptop.

Run with ``verdi run examples/launch_cu.py`` on any profile (``scripts/run-example.sh`` creates an
embedded ``verdi presto`` profile and runs it).

What runs today (aiida-dpgen 0.1.0.dev0, the package foundation): the initial data of the Cu example,
i.e. perturbed fcc, hcp and bcc cells labelled by ASE's EMT calculator as stand-in initial data,
stored as datasets and configurations and merged by the ``merge_datasets`` calcfunction so that the
graph shows where the training data came from. The concurrent-learning loop itself (training with
DeePMD-kit, exploration with LAMMPS, labeling with Quantum ESPRESSO) is not implemented yet; this
script says so at the end and will run the whole loop once DpgenWorkChain exists.
"""

from __future__ import annotations

import numpy as np
from aiida.orm import CalcFunctionNode, QueryBuilder
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_dpgen.calculations.functions import merge_datasets
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData

TYPE_MAP = ['Cu']
STRUCTURES = {'fcc': {'a': 3.61, 'cubic': True}, 'hcp': {'a': 2.55}, 'bcc': {'a': 2.87, 'cubic': True}}
SCALES = (0.96, 0.98, 1.00)
"""Lattice scaling factors; the paper used 0.84-1.00 of the relaxed volume per atom."""
PERTURBATIONS_PER_SCALE = 2
ATOM_PERTURBATION_ANGSTROM = 0.01
CELL_PERTURBATION_FRACTION = 0.03


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


def main() -> None:
    rng = np.random.default_rng(2020)
    datasets, configurations = {}, {}
    for structure in STRUCTURES:
        frames = perturbed_cells(structure, rng)
        configurations[structure] = ConfigurationsData.from_ase(frames, type_map=TYPE_MAP).store()
        datasets[f'init_{structure}'] = LabeledDatasetData.from_ase(label_with_emt(frames), TYPE_MAP).store()

    initial, merge = merge_datasets.run_get_node(**datasets)

    print('Initial data for the Cu example (EMT labels stand in for DFT until the loop exists)')
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

    print()
    print(
        'NOT YET IMPLEMENTED: the concurrent-learning loop (DeePMD-kit training, LAMMPS exploration, '
        'Quantum ESPRESSO labeling; issues #4-#7). This run stopped after building the initial data.'
    )


main()
