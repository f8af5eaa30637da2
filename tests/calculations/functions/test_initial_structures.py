"""The init_bulk structures: every perturbed supercell is initial data, exploration starts from those of the scale
nearest 1 (the paper's "perturbed structures whose alpha are 1.00")."""

from __future__ import annotations

import numpy as np
import pytest
from aiida.orm import Dict, List, StructureData

from aiida_dpgen.calculations.functions.build_initial_structures import (
    bulk_configurations,
    exploration_configurations,
    unscaled_indices,
)
from aiida_dpgen.initdata.structures import crystal

SETTINGS = {
    'supercell': [1, 1, 1],
    'scale': {'start': 0.96, 'stop': 1.0, 'step': 0.02},
    'perturbations': 2,
    'cell_fraction': 0.03,
    'atom_distance': 0.01,
    'seed': 7,
}


@pytest.mark.parametrize(
    ('scale', 'expected'),
    [
        ({'start': 0.96, 'stop': 1.0, 'step': 0.02}, range(4, 6)),
        ({'start': 0.84, 'stop': 1.04, 'step': 0.04}, range(8, 10)),  # 1.00 is the fifth of 0.84, 0.88, ... 1.04
        ({'start': 0.9, 'stop': 0.9, 'step': 0.02}, range(0, 2)),  # no 1.00: the nearest
    ],
)
def test_the_unscaled_frames_are_the_perturbations_of_the_scale_nearest_one(scale, expected):
    assert unscaled_indices({**SETTINGS, 'scale': scale}) == expected


def test_exploration_starts_from_the_perturbed_cells_at_scale_one():
    structure = StructureData(ase=crystal('Cu', 'fcc', 3.6))
    perturbed = bulk_configurations(structure, Dict(SETTINGS), List(['Cu']))
    chosen = exploration_configurations(perturbed, Dict(SETTINGS))

    assert (perturbed.nframes, chosen.nframes) == (6, 2)
    volumes = [atoms.get_volume() for atoms in chosen.to_ase()]
    assert volumes == pytest.approx([3.6**3] * 2, rel=0.1)
    assert min(volumes) > max(atoms.get_volume() for atoms in perturbed.to_ase()[:2])  # not the 0.96 cells
    for atoms, start in zip(chosen.to_ase(), perturbed.to_ase()[4:], strict=True):
        assert np.allclose(atoms.positions, start.positions)
    assert chosen.creator.process_label == 'exploration_configurations'
