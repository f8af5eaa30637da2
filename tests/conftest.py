"""Shared fixtures: AiiDA's own test profile and small, really labelled copper frames."""

from __future__ import annotations

import dpdata
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

pytest_plugins = ['aiida.tools.pytest_fixtures']

CU_LATTICE = {'fcc': 3.61, 'bcc': 2.87, 'hcp': 2.55}


def cu_frames(structure: str = 'fcc', nframes: int = 3, seed: int = 0, labeled: bool = True) -> list:
    """Rattled and strained Cu cells (fcc: 4 atoms, bcc: 2, hcp: 2) with EMT energies, forces, stress."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(nframes):
        atoms = bulk('Cu', structure, a=CU_LATTICE[structure], cubic=structure != 'hcp')
        atoms.set_cell(atoms.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        if labeled:
            atoms.calc = EMT()
            atoms.get_potential_energy()
        frames.append(atoms)
    return frames


def cu_system(structure: str = 'fcc', nframes: int = 3, seed: int = 0) -> dpdata.LabeledSystem:
    """The frames of :func:`cu_frames` as one dpdata LabeledSystem."""
    frames = cu_frames(structure, nframes, seed)
    system = dpdata.LabeledSystem(frames[0], fmt='ase/structure')
    for atoms in frames[1:]:
        system.append(dpdata.LabeledSystem(atoms, fmt='ase/structure'))
    return system


@pytest.fixture
def make_cu_system():
    return cu_system


@pytest.fixture
def make_cu_frames():
    return cu_frames
