"""Labels in deepmd units, k-point meshes and the closest-distance screen, checked against ASE and dpdata."""

from __future__ import annotations

import dpdata
import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.emt import EMT

from aiida_dpgen.labeling.frames import Label, closest_distance, kpoints_mesh, labels_to_systems, virial_from_stress


def emt_label(atoms) -> Label:
    atoms.calc = EMT()
    return Label(
        symbols=tuple(atoms.get_chemical_symbols()),
        cell=atoms.cell.array,
        positions=atoms.positions,
        energy=atoms.get_potential_energy(),
        forces=atoms.get_forces(),
        virial=virial_from_stress(atoms.get_stress(voigt=False), atoms.get_cell()),
    )


def test_virial_has_dpdata_sign_and_units(make_cu_frames):
    atoms = make_cu_frames('fcc', nframes=1, seed=3)[0]
    expected = dpdata.LabeledSystem(atoms, fmt='ase/structure')
    (system,) = labels_to_systems([emt_label(atoms)], ['Cu'])
    np.testing.assert_allclose(system['virials'], expected['virials'], atol=1e-10)
    np.testing.assert_allclose(system['energies'], expected['energies'])
    np.testing.assert_allclose(system['forces'], expected['forces'])


def test_labels_group_by_composition_and_keep_atom_order(make_cu_frames):
    cu = [emt_label(atoms) for atoms in make_cu_frames('fcc', nframes=2)]
    alloy = bulk('Cu', 'fcc', a=3.7, cubic=True)
    alloy[0].symbol = 'Ni'
    systems = labels_to_systems([cu[0], emt_label(alloy), cu[1]], ['Ni', 'Cu'])
    assert [system.get_nframes() for system in systems] == [2, 1]
    assert list(systems[1]['atom_types']) == [0, 1, 1, 1]
    assert systems[1]['atom_numbs'] == [1, 3]


def test_virial_dropped_when_a_frame_has_none(make_cu_frames):
    first, second = (emt_label(atoms) for atoms in make_cu_frames('fcc', nframes=2))
    second = Label(second.symbols, second.cell, second.positions, second.energy, second.forces, virial=None)
    (system,) = labels_to_systems([first, second], ['Cu'])
    assert 'virials' not in system.data
    assert system.get_nframes() == 2


def test_bad_labels_name_the_field():
    with pytest.raises(ValueError, match=r'forces: shape \(1, 3\), expected \(2, 3\)'):
        Label(('Cu', 'Cu'), np.eye(3) * 4, np.zeros((2, 3)), -1.0, np.zeros((1, 3)))
    with pytest.raises(ValueError, match='not finite'):
        Label(('Cu',), np.eye(3) * 4, np.zeros((1, 3)), float('nan'), np.zeros((1, 3)))
    label = Label(('Ag',), np.eye(3) * 4, np.zeros((1, 3)), -1.0, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"\['Ag'\] that are not in type_map=\['Cu'\]"):
        labels_to_systems([label], ['Cu'])


@pytest.mark.parametrize(('spacing', 'expected'), [(0.5, [4, 4, 4]), (0.1, [18, 18, 18]), (2.0, [1, 1, 1])])
def test_kpoints_mesh_follows_the_reciprocal_lengths(spacing, expected):
    cell = bulk('Cu', 'fcc', a=3.61, cubic=True).cell.array  # |b| = 2π / 3.61 = 1.74 / Å
    assert kpoints_mesh(cell, spacing) == expected


def test_kpoints_mesh_of_a_slab_is_coarse_along_the_long_axis():
    cell = np.diag([3.0, 3.0, 30.0])
    assert kpoints_mesh(cell, 0.2) == [11, 11, 2]
    with pytest.raises(ValueError, match='kpoints_spacing=0'):
        kpoints_mesh(cell, 0)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_closest_distance_equals_ase_minimum_image(seed):
    rng = np.random.default_rng(seed)
    atoms = bulk('Cu', 'hcp', a=2.55).repeat((2, 2, 1))
    atoms.positions += rng.normal(scale=0.3, size=atoms.positions.shape)
    atoms.positions[0] += 10.0  # outside the cell: wrapped first
    distances = atoms.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    assert closest_distance(atoms.cell.array, atoms.positions) == pytest.approx(distances.min())


def test_closest_distance_sees_periodic_images_and_molecules():
    single = bulk('Cu', 'fcc', a=3.61)  # one atom: its nearest neighbour is its own image
    assert closest_distance(single.cell.array, single.positions) == pytest.approx(3.61 / np.sqrt(2))
    water = molecule('H2O')
    assert closest_distance(np.eye(3) * 10, water.positions, pbc=False) == pytest.approx(0.9686, abs=1e-3)
    assert closest_distance(np.eye(3) * 10, water.positions[:1], pbc=False) == np.inf
