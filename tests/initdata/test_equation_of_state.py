"""The Birch-Murnaghan fit finds EMT copper's lattice constant and bulk modulus, as ASE's own fit does."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState as AseEquationOfState

from aiida_dpgen.initdata.equation_of_state import birch_murnaghan_fit


def emt_energies(scales):
    volumes, energies = [], []
    for scale in scales:
        atoms = bulk('Cu', 'fcc', a=3.6 * scale, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    return volumes, energies


def test_emt_copper_agrees_with_ase():
    volumes, energies = emt_energies(np.linspace(0.96, 1.04, 9))
    fit = birch_murnaghan_fit(volumes, energies)
    reference = AseEquationOfState(volumes, energies, eos='birchmurnaghan')
    v0, e0, b0 = reference.fit()
    assert fit.volume == pytest.approx(v0, rel=1e-4)
    assert fit.energy == pytest.approx(e0, abs=1e-4)
    assert fit.bulk_modulus == pytest.approx(b0 * 160.21766208, rel=2e-2)
    assert fit.volume ** (1 / 3) == pytest.approx(3.59, abs=0.01), "EMT's copper lattice constant"


def test_a_minimum_outside_the_range_is_named():
    volumes, energies = emt_energies(np.linspace(1.05, 1.15, 6))
    with pytest.raises(ValueError, match=r'no energy minimum between .* widen the scale range'):
        birch_murnaghan_fit(volumes, energies)
    with pytest.raises(ValueError, match='need at least 5 finite energies'):
        birch_murnaghan_fit(volumes[:3], energies[:3])
