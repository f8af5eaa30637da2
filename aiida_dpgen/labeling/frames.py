"""Plain helpers for labeling: labels in deepmd's units, k-point meshes, atoms too close to be computed.

Units follow DeePMD-kit (and dpdata): energy in eV, forces in eV/Å, the virial in eV, i.e.
``virial = -volume * stress`` with ASE's stress convention (positive when the cell pulls inwards).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import dpdata
import numpy as np

from aiida_dpgen.exploration.geometry import image_distances

EV_PER_ANGSTROM3_IN_GPA = 160.21766208
"""1 eV/Å^3 in GPa (CODATA 2014, as dpdata)."""
EV_PER_ANGSTROM3_PER_GPA = 1 / EV_PER_ANGSTROM3_IN_GPA
EV_PER_ANGSTROM3_PER_KBAR = EV_PER_ANGSTROM3_PER_GPA / 10
MD_KEYS = {'temperature': 'K, e.g. 50', 'nsteps': 'MD steps, e.g. 20', 'timestep': 'fs, e.g. 2.0'}
"""The settings of a short ab initio MD whose every step is a label (a labeler's ``md``)."""


@dataclasses.dataclass(frozen=True)
class Label:
    """One labelled frame: the structure that was computed and its energy (eV), forces (eV/Å), virial (eV)."""

    symbols: tuple[str, ...]
    cell: np.ndarray
    positions: np.ndarray
    energy: float
    forces: np.ndarray
    virial: np.ndarray | None = None
    pbc: bool = True

    def __post_init__(self):
        natoms = len(self.symbols)
        checks = {
            'cell': (np.shape(self.cell), (3, 3)),
            'positions': (np.shape(self.positions), (natoms, 3)),
            'forces': (np.shape(self.forces), (natoms, 3)),
        }
        if self.virial is not None:
            checks['virial'] = (np.shape(self.virial), (3, 3))
        for field, (shape, expected) in checks.items():
            if tuple(shape) != expected:
                raise ValueError(f'label {field}: shape {tuple(shape)}, expected {expected} for {natoms} atoms')
        values = [self.energy, self.forces] + ([self.virial] if self.virial is not None else [])
        if not all(np.all(np.isfinite(value)) for value in values):
            raise ValueError('label: energy, forces or virial is not finite')


def virial_from_stress(stress: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """The virial (eV) of ``cell`` under a stress in eV/Å^3 with ASE's sign (negative under compression)."""
    return -_volume(cell) * np.asarray(stress, dtype=float).reshape(3, 3)


def virial_from_pressure_gpa(stress: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """The virial (eV) of ``cell`` under a stress in GPa with the sign pw.x and CP2K print (positive under
    compression)."""
    return _volume(cell) * np.asarray(stress, dtype=float).reshape(3, 3) * EV_PER_ANGSTROM3_PER_GPA


def _volume(cell: np.ndarray) -> float:
    return abs(float(np.linalg.det(np.asarray(cell, dtype=float))))


def labels_to_systems(labels: Sequence[Label], type_map: Sequence[str]) -> list[dpdata.LabeledSystem]:
    """The labels as dpdata systems, one per composition and atom order, in the order first seen.

    A virial is kept only when every label of a system has one: deepmd trains on a field only if all
    frames of a system carry it.
    """
    unknown = sorted({symbol for label in labels for symbol in label.symbols} - set(type_map))
    if unknown:
        raise ValueError(f'labels contain elements {unknown} that are not in type_map={list(type_map)}')
    groups: dict[tuple[str, ...], list[Label]] = {}
    for label in labels:
        groups.setdefault(label.symbols, []).append(label)
    systems = []
    for symbols, group in groups.items():
        types = np.array([type_map.index(symbol) for symbol in symbols])
        data = {
            'atom_names': list(type_map),
            'atom_numbs': [int(np.sum(types == index)) for index in range(len(type_map))],
            'atom_types': types,
            'orig': np.zeros(3),
            'nopbc': not group[0].pbc,
            'cells': np.array([label.cell for label in group], dtype=float),
            'coords': np.array([label.positions for label in group], dtype=float),
            'energies': np.array([label.energy for label in group], dtype=float),
            'forces': np.array([label.forces for label in group], dtype=float),
        }
        if all(label.virial is not None for label in group):
            data['virials'] = np.array([label.virial for label in group], dtype=float)
        systems.append(dpdata.LabeledSystem(data=data))
    return systems


def kpoints_mesh(cell: np.ndarray, spacing: float) -> list[int]:
    """Monkhorst-Pack divisions for a k-point ``spacing`` in Å^-1 (2π included, as VASP's KSPACING and the
    paper's h_k): ``max(1, ceil(|b_i| / spacing))`` with ``b`` the reciprocal vectors including 2π."""
    if spacing <= 0:
        raise ValueError(f'kpoints_spacing={spacing}: expected a positive spacing in 1/Å, e.g. 0.1 as in the paper')
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(cell, dtype=float)).T
    return [max(1, int(np.ceil(np.linalg.norm(vector) / spacing - 1e-8))) for vector in reciprocal]


def closest_distance(cell: np.ndarray, positions: np.ndarray, pbc: bool = True) -> float:
    """The smallest distance between two atoms (Å), periodic images included (``inf`` for one atom without
    periodic images)."""
    return float(image_distances(cell, positions, pbc).min())
