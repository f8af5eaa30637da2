"""Geometry screens of candidate frames, against ASE's geometry and dpgen2's box filters' definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from ase.cell import Cell

from aiida_dpgen.exploration.geometry import (
    ATOMS_TOO_CLOSE,
    BAD_BOX,
    BOX_LENGTH_RATIO,
    SKEWED_BOX,
    VOLUME_PER_ATOM,
    GeometryScreens,
    bad_box_ratios,
    closest_by_pair,
    max_tilt_angle,
    standard_form,
)
from aiida_dpgen.labeling.frames import closest_distance


def test_standard_form_is_ases():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cell = np.eye(3) * 4 + rng.normal(scale=0.8, size=(3, 3))
        if np.linalg.det(cell) <= 0:
            continue
        expected, _ = Cell(cell).standard_form()
        assert np.allclose(standard_form(cell), np.array(expected), atol=1e-10)


def test_closest_by_pair_agrees_with_the_closest_distance_and_names_pairs():
    atoms = bulk('NaCl', 'rocksalt', a=5.64).repeat((2, 1, 1))
    atoms.rattle(0.1, seed=1)
    closest = closest_by_pair(atoms.cell.array, atoms.positions, atoms.get_chemical_symbols())
    assert sorted(closest) == ['Cl-Cl', 'Cl-Na', 'Na-Na']
    assert min(closest.values()) == pytest.approx(closest_distance(atoms.cell.array, atoms.positions))
    distances = atoms.get_all_distances(mic=True)
    symbols = np.array(atoms.get_chemical_symbols())
    na, cl = symbols == 'Na', symbols == 'Cl'
    assert closest['Cl-Na'] == pytest.approx(distances[np.ix_(na, cl)].min())


def test_dpgen2_box_filters_definitions():
    theta = 60.0
    upright = bulk('Cu', 'fcc', a=3.61, cubic=True).cell.array
    assert max_tilt_angle(standard_form(upright)) == pytest.approx(0.0)
    tilted = np.array([[4.0, 0, 0], [3.0 * math.tan(math.radians(61)), 3.0, 0], [0, 0, 4.0]])
    assert max_tilt_angle(standard_form(tilted)) == pytest.approx(61.0)
    standard = standard_form(tilted)
    dpgen2_refuses = abs(standard[1][0]) > math.tan(math.radians(theta)) * standard[1][1]
    screens = GeometryScreens.from_dict({'max_tilt_angle': theta})
    positions = np.zeros((1, 3))
    assert dpgen2_refuses and screens.rejection(tilted, positions, ['Cu']).startswith(SKEWED_BOX)
    assert screens.rejection(upright, positions, ['Cu']) is None

    long_box = np.diag([3.0, 3.0, 16.0])
    ratio = GeometryScreens.from_dict({'max_length_ratio': 5})
    assert ratio.rejection(long_box, positions, ['Cu']).startswith(BOX_LENGTH_RATIO)
    assert ratio.rejection(np.diag([3.0, 3.0, 14.0]), positions, ['Cu']) is None


def test_bad_box_ratios_follow_dp_gens_check_bad_box():
    """DP-GEN 0.14's ``check_bad_box`` on a dumped (lower-triangular) cell, written out: length_ratio
    max|a_i| / min|a_i|, height_ratio max|a_i| / min face distance, wrap and tilt ratios of its components."""
    cell = np.array([[4.0, 0.0, 0.0], [1.5, 3.0, 0.0], [0.5, 2.0, 12.0]])
    lengths = np.linalg.norm(cell, axis=1)
    volume = abs(np.linalg.det(cell))
    faces = [volume / np.linalg.norm(np.cross(cell[i], cell[j])) for i, j in ((0, 1), (1, 2), (2, 0))]
    expected = {
        'length_ratio': lengths.max() / lengths.min(),
        'height_ratio': lengths.max() / min(faces),
        'wrap_ratio': max(abs(cell[1][0] / cell[0][0]), abs(cell[2][1] / cell[1][1]), abs(cell[2][0] / cell[0][0])),
        'tilt_ratio': max(abs(cell[1][0] / cell[1][1]), abs(cell[2][1] / cell[2][2]), abs(cell[2][0] / cell[2][2])),
    }
    ratios = bad_box_ratios(standard_form(cell))
    assert ratios == pytest.approx(expected)
    screens = GeometryScreens.from_dict({'bad_box': {'length_ratio': 5, 'height_ratio': 4}})
    assert (
        screens.rejection(cell, np.zeros((1, 3)), ['Cu'])
        == f'{BAD_BOX}: height_ratio {expected["height_ratio"]:.2f} > 4'
    )


def test_the_blown_up_cell_of_a_young_npt_run_is_screened_by_volume():
    """The frame a new user met: 2 Cu atoms at 62 Å^3/atom, which pw.x failed to converge three times."""
    atoms = bulk('Cu', 'hcp', a=2.55)
    atoms.set_cell(atoms.cell * (62.0 / atoms.get_volume() * 2) ** (1 / 3), scale_atoms=True)
    screens = GeometryScreens.from_dict({'volume_per_atom': [6, 30]})
    reason = screens.rejection(atoms.cell.array, atoms.positions, atoms.get_chemical_symbols())
    assert reason == f'{VOLUME_PER_ATOM}: 62.00 Å^3, outside [6, 30]'
    assert GeometryScreens().rejection(atoms.cell.array, atoms.positions, ['Cu', 'Cu']) is None, 'off by default'


def test_per_pair_distances_with_a_default():
    atoms = bulk('NaCl', 'rocksalt', a=5.64)
    cell, positions, symbols = atoms.cell.array, atoms.positions, atoms.get_chemical_symbols()
    assert GeometryScreens.from_dict({'min_distance': {'Na-Cl': 2.5}}).rejection(cell, positions, symbols) is None
    reason = GeometryScreens.from_dict({'min_distance': {'Cl-Na': 2.9, '*': 0.5}}).rejection(cell, positions, symbols)
    assert reason == f'{ATOMS_TOO_CLOSE}: Cl-Na 2.820 Å < 2.9 Å'
    assert (
        GeometryScreens.from_dict({'min_distance': 3.0}).rejection(cell, positions, symbols).startswith(ATOMS_TOO_CLOSE)
    )


@pytest.mark.parametrize(
    ('settings', 'message'),
    [
        ({'min_dist': 1}, r"unknown keys \['min_dist'\]"),
        ({'min_distance': {'CuCu': 1.0}}, 'not a pair of elements'),
        ({'min_distance': {'Cu-Cu': -1}}, r"min_distance\['Cu-Cu'\]=-1"),
        ({'max_tilt_angle': 95}, 'max_tilt_angle=95: expected degrees between 0 and 90'),
        ({'max_length_ratio': 0.5}, 'max_length_ratio=0.5'),
        ({'volume_per_atom': [30, 6]}, r'volume_per_atom=\[30, 6\].*lowest < highest'),
    ],
)
def test_bad_screens_are_refused_naming_the_key(settings, message):
    with pytest.raises(ValueError, match=message):
        GeometryScreens.from_dict(settings)
