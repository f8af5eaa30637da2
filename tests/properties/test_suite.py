"""The property suite against EMT copper computed independently here with plain ASE (other routes to the
same numbers: energies instead of stresses, slabs instead of tilted cells, ASE's phonons instead of
phonopy's)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.constraints import FixCartesian
from ase.eos import EquationOfState
from ase.optimize import BFGS
from ase.phonons import Phonons

from aiida_dpgen.properties import suite

EV_PER_ANGSTROM3_IN_GPA = 160.21766208


@pytest.fixture(scope='module')
def emt_copper():
    """EMT copper's lattice constant from a plain energy scan (ASE's EOS fit)."""
    volumes, energies = [], []
    for a in np.linspace(3.5, 3.7, 11):
        atoms = bulk('Cu', 'fcc', a=a, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    volume, _, modulus = EquationOfState(volumes, energies, eos='birchmurnaghan').fit()
    return {'a': volume ** (1 / 3), 'bulk_modulus': modulus * EV_PER_ANGSTROM3_IN_GPA}


@pytest.fixture(scope='module')
def relaxed_fcc():
    atoms = suite.prototype('Cu', 'fcc', suite.reference_volume_per_atom('Cu'))
    suite.relax(atoms, EMT(), cell=True, fmax=1e-4)
    return atoms


@pytest.mark.parametrize(
    ('name', 'atoms'), [('fcc', 4), ('hcp', 2), ('bcc', 2), ('sc', 1), ('diamond', 8), ('dhcp', 4)]
)
def test_prototypes_have_the_volume_asked_for(name, atoms):
    cell = suite.prototype('Cu', name, 12.0)
    assert len(cell) == atoms and cell.get_volume() / atoms == pytest.approx(12.0)


def test_a_relaxation_says_whether_it_reached_fmax():
    atoms = suite.prototype('Cu', 'fcc', 12.5)
    atoms.rattle(0.05, seed=1)
    suite.relax(atoms, EMT(), cell=False, fmax=1e-3, steps=1)
    assert atoms.info['relaxed'] is False
    suite.relax(atoms, EMT(), cell=False, fmax=1e-3)
    assert atoms.info['relaxed'] is True


def test_dhcp_lies_halfway_between_fcc_and_hcp():
    """ABAC stacking has half the hexagonal layers of hcp: to first order half its energy above fcc."""
    energies = {}
    for name in ('fcc', 'hcp', 'dhcp'):
        atoms = suite.prototype('Cu', name, 11.6)
        atoms.calc = EMT()
        energies[name] = atoms.get_potential_energy() / len(atoms)
    assert energies['dhcp'] - energies['fcc'] == pytest.approx((energies['hcp'] - energies['fcc']) / 2, rel=0.05)


def test_relaxed_lattice_and_equation_of_state_agree_with_a_plain_scan(relaxed_fcc, emt_copper):
    assert relaxed_fcc.cell.lengths()[0] == pytest.approx(emt_copper['a'], abs=1e-3)
    eos = suite.equation_of_state(relaxed_fcc, EMT(), 0.94, 1.06, 7)
    assert eos['v0'] == pytest.approx(emt_copper['a'] ** 3 / 4, rel=1e-3)
    assert eos['bulk_modulus'] == pytest.approx(emt_copper['bulk_modulus'], rel=0.02)


def test_an_equation_of_state_says_when_its_minimum_was_not_sampled(relaxed_fcc, monkeypatch):
    compressed = relaxed_fcc.copy()
    compressed.set_cell(relaxed_fcc.cell.array * 0.97, scale_atoms=True)  # as a stress that is off would leave it
    eos = suite.equation_of_state(compressed, EMT(), 0.98, 1.02, 5)
    assert not eos['minimum_inside'] and eos['v0'] > max(eos['volumes'])
    assert suite.equation_of_state(relaxed_fcc, EMT(), 0.98, 1.02, 5)['minimum_inside']

    def no_minimum(self):
        raise RuntimeError('Optimal parameters not found')

    monkeypatch.setattr(suite.EquationOfState, 'fit', no_minimum)
    eos = suite.equation_of_state(relaxed_fcc, EMT(), 0.98, 1.02, 5)
    assert eos['bulk_modulus'] is None and 'Optimal parameters not found' in eos['fit_error']
    assert len(eos['energies']) == 5, 'the energies are kept'


def test_elastic_constants_agree_with_energy_curvatures(relaxed_fcc, emt_copper):
    elastic = suite.cubic_elastic_constants(relaxed_fcc, EMT(), 0.005, 1e-4)
    volume = relaxed_fcc.get_volume()

    def curvature(deformation) -> float:  # d²(E/V)/dε² from energies alone, no stresses
        strains = np.linspace(-0.01, 0.01, 5)
        energies = []
        for strain in strains:
            atoms = relaxed_fcc.copy()
            atoms.set_cell(relaxed_fcc.cell.array @ (np.eye(3) + strain * deformation).T, scale_atoms=True)
            atoms.calc = EMT()
            energies.append(atoms.get_potential_energy() / volume)
        return 2 * np.polyfit(strains, energies, 2)[0] * EV_PER_ANGSTROM3_IN_GPA

    normal = np.diag([1.0, 0, 0])
    shear = np.array([[0, 0, 0], [0, 0, 0.5], [0, 0.5, 0]])
    assert elastic['c11'] == pytest.approx(curvature(normal), rel=0.02)
    assert elastic['c44'] == pytest.approx(curvature(shear), rel=0.02)
    assert elastic['bulk_modulus_voigt'] == pytest.approx(emt_copper['bulk_modulus'], rel=0.03)


def test_vacancy_formation_energy_equals_a_plain_ase_calculation(relaxed_fcc):
    result = suite.vacancy_formation_energy(relaxed_fcc, EMT(), 2, 1e-3)

    perfect = bulk('Cu', 'fcc', a=relaxed_fcc.cell.lengths()[0], cubic=True).repeat(2)
    perfect.calc = EMT()
    defect = perfect.copy()
    del defect[5]  # any site: all are equivalent
    defect.calc = EMT()
    BFGS(defect, logfile=None).run(fmax=1e-3)
    expected = defect.get_potential_energy() - 31 / 32 * perfect.get_potential_energy()
    assert result['energy'] == pytest.approx(expected, abs=2e-3)
    assert 0.8 < result['energy'] < 1.6  # EMT copper's, about 1.2 eV


def test_interstitials_cost_more_than_a_vacancy_octahedral_least(relaxed_fcc):
    energies = suite.interstitial_formation_energies(relaxed_fcc, EMT(), 'fcc', 2, 5e-3)
    assert set(energies) == {'octahedral', 'tetrahedral'}
    assert 2 < energies['octahedral'] < energies['tetrahedral']


def test_surface_energies_are_ordered_and_the_111_agrees_with_an_unrelaxed_slab(relaxed_fcc):
    lattice = relaxed_fcc.cell.lengths()[0]
    relaxed_fcc.calc = EMT()
    bulk_energy = relaxed_fcc.get_potential_energy() / len(relaxed_fcc)
    energies = suite.surface_energies(
        'Cu', 'fcc', EMT(), lattice=lattice, bulk_energy=bulk_energy, layers=7, vacuum=8.0, fmax=5e-3
    )
    assert energies['111'] < energies['100'] < energies['110']

    slab = fcc111('Cu', size=(1, 1, 7), a=lattice, vacuum=8.0, periodic=True)
    slab.calc = EMT()
    area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
    unrelaxed = (slab.get_potential_energy() - len(slab) * bulk_energy) / (2 * area) * 16.021766208
    assert energies['111'] == pytest.approx(unrelaxed, rel=0.02) and energies['111'] <= unrelaxed


def test_stacking_fault_energy_equals_a_slab_sheared_by_a_partial_dislocation(relaxed_fcc):
    lattice = relaxed_fcc.cell.lengths()[0]
    energy = suite.stacking_fault_energy('Cu', lattice, EMT(), 9, 1e-4)

    # a different route: a 12-layer slab in vacuum with its upper half moved by a/√6 <112>
    slab = fcc111('Cu', size=(1, 1, 12), a=lattice, vacuum=10.0, periodic=True)
    shifted = slab.copy()
    upper = shifted.positions[:, 2] > shifted.positions[:, 2].mean()
    shifted.positions[upper] += (slab.cell[0] + slab.cell[1]) / 3
    energies = []
    for atoms in (slab, shifted):
        atoms.set_constraint(FixCartesian(range(len(atoms)), mask=(True, True, False)))
        atoms.calc = EMT()
        BFGS(atoms, logfile=None).run(fmax=1e-4)
        energies.append(atoms.get_potential_energy())
    area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
    expected = (energies[1] - energies[0]) / area * 16.021766208
    assert energy == pytest.approx(expected, abs=2e-3)  # J/m²; EMT copper's is slightly negative (hcp < fcc)


def test_phonon_bands_agree_with_ases_own_phonons(relaxed_fcc, tmp_path, monkeypatch):
    bands = suite.phonon_bands(relaxed_fcc, EMT(), 'fcc', 2, 11)
    frequencies = np.array(bands['frequencies'])
    assert frequencies.shape == (5 * 11, 3)  # 5 segments of 11 q-points; the primitive cell's 3 branches
    assert abs(frequencies[0]).max() < 0.05, 'acoustic modes vanish at Γ'
    x_point = frequencies[10]  # the end of Γ-X

    monkeypatch.chdir(tmp_path)
    primitive = bulk('Cu', 'fcc', a=relaxed_fcc.cell.lengths()[0])
    phonons = Phonons(primitive, EMT(), supercell=(4, 4, 4), delta=0.01, name='ase-phonons')
    phonons.run()
    phonons.read(acoustic=True)
    (ase_x,) = phonons.band_structure([[0.5, 0, 0.5]])  # the same primitive cell and basis as phonopy's 'F'
    ase_thz = np.sort(ase_x) * 241.79893  # eV -> THz
    assert np.sort(x_point)[-1] == pytest.approx(ase_thz[-1], rel=0.03)
