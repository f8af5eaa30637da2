"""The init_bulk and init_surf structures: crystals, supercells, scaling, perturbation, separated slabs."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_dpgen.initdata.structures import (
    crystal,
    perpendicular_widths,
    perturbed,
    scale_factors,
    scaled,
    separated_slabs,
    supercell,
)


def test_crystals_from_ase_reference_or_given_lattice():
    fcc = crystal('Cu', 'fcc')
    assert len(fcc) == 4 and np.allclose(fcc.cell.lengths(), 3.61)
    assert len(crystal('Cu', 'bcc', 2.87)) == 2 and len(crystal('Cu', 'hcp', 2.55)) == 2
    with pytest.raises(ValueError, match='ASE has no bcc reference lattice constant for Cu; give one'):
        crystal('Cu', 'bcc')
    with pytest.raises(ValueError, match="structure='bct': expected one of fcc, hcp, bcc, sc, diamond"):
        crystal('Cu', 'bct', 3.0)
    with pytest.raises(ValueError, match=r'lattice_constant=-3\.0: expected a positive length'):
        crystal('Cu', 'fcc', -3.0)


def test_supercell_too_narrow_for_the_cutoff_names_a_repeat_that_fits():
    fcc = crystal('Cu', 'fcc')
    cell = supercell(fcc, [2, 2, 2])
    assert len(cell) == 32
    np.testing.assert_allclose(perpendicular_widths(cell.cell), 7.22)
    with pytest.raises(
        ValueError, match=r'7.22 Å across, less than 8.0 Å \(the cutoff radius\); use at least \[3, 3, 3\]'
    ):
        supercell(fcc, [2, 2, 2], min_width=8.0)
    with pytest.raises(ValueError, match=r'supercell=\[2, 0, 2\]: expected three positive integers'):
        supercell(fcc, [2, 0, 2])


def test_scale_range_as_the_paper():
    factors = scale_factors(0.84, 1.00, 0.02)
    assert factors[0] == 0.84 and factors[-1] == 1.0 and len(factors) == 9
    assert scale_factors(1.0, 1.0, 0.1) == [1.0]
    for args, message in (
        ((1.0, 0.9, 0.01), 'the range is empty'),
        ((-0.1, 1.0, 0.1), 'positive factors'),
        ((0.9, 1.0, 0), 'positive step'),
    ):
        with pytest.raises(ValueError, match=message):
            scale_factors(*args)
    fcc = crystal('Cu', 'fcc')
    assert scaled(fcc, 0.9).get_volume() == pytest.approx(fcc.get_volume() * 0.9**3)


def test_perturbation_is_dpdata_s_reproducible_and_bounded():
    cell = supercell(crystal('Cu', 'fcc'), [2, 2, 2])
    state = np.random.get_state()[1].copy()
    first = perturbed(cell, 5, cell_fraction=0.03, atom_distance=0.01, seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the caller's random state is untouched
    again = perturbed(cell, 5, cell_fraction=0.03, atom_distance=0.01, seed=7)
    other = perturbed(cell, 5, cell_fraction=0.03, atom_distance=0.01, seed=8)
    assert len(first) == 5
    np.testing.assert_array_equal(first[3].positions, again[3].positions)
    assert not np.allclose(first[3].positions, other[3].positions)
    for atoms in first:
        ratio = atoms.cell.lengths() / cell.cell.lengths()
        assert np.all(np.abs(ratio - 1) < 0.05) and not np.allclose(ratio, 1), 'a strain of a few per cent'
        fractional = atoms.get_scaled_positions(wrap=False) - cell.get_scaled_positions(wrap=False)
        displacement = (fractional - np.round(fractional)) @ atoms.cell[:]
        assert 0.001 < np.linalg.norm(displacement, axis=1).mean() < 0.03
    with pytest.raises(ValueError, match=r'cell_fraction=1\.5'):
        perturbed(cell, 1, cell_fraction=1.5, atom_distance=0.01, seed=0)


def test_separated_slabs_open_one_gap_of_the_given_width():
    fcc = crystal('Cu', 'fcc')
    slabs = separated_slabs(fcc, [1, 1, 1], layers=6, separations=[0.0, 0.5, 9.0])
    spacing = 3.61 / np.sqrt(3)
    for slab, distance in zip(slabs, (0.0, 0.5, 9.0), strict=True):
        assert len(slab) == 24, 'six (111) layers of four atoms from the cubic cell'
        heights = np.sort(slab.positions[:, 2] % slab.cell[2, 2])
        gaps = np.diff(np.concatenate([heights, [heights[0] + slab.cell[2, 2]]]))
        assert gaps.max() == pytest.approx(spacing + distance, abs=1e-6)
        assert np.sort(gaps)[-2] == pytest.approx(spacing, abs=1e-6), 'every other gap is the bulk spacing'
        assert slab.cell[2, 2] == pytest.approx(6 * spacing + distance)
    with pytest.raises(ValueError, match='layers=1: expected at least 2 layers'):
        separated_slabs(fcc, [1, 1, 1], layers=1, separations=[1.0])
    with pytest.raises(ValueError, match=r'separations=\[-1.0\]'):
        separated_slabs(fcc, [1, 1, 1], layers=4, separations=[-1.0])
