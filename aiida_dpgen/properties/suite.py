"""The paper's Table 1 property tests for one ASE calculator: a Deep Potential model through DeePMD-kit's ASE
calculator, or a reference (EMT, any ASE calculator).

Standalone on purpose (numpy, ASE and phonopy only): `PropertiesCalculation` copies this file into the job's
folder and runs it there with the code's Python, which reads ``settings.json`` and ``calculator.json`` and
writes ``results.json``. Energies are in eV, lengths in Å, moduli in GPa, surface and stacking-fault
energies in J/m², phonon frequencies in THz. Every structure is relaxed with the calculator itself, so a
model and its reference are compared each at its own equilibrium, as in the paper (and dpgen's autotest).
"""

from __future__ import annotations

import importlib
import itertools
import json
import math
import pathlib
import sys
import time

import numpy as np
from ase import Atoms
from ase.build import bcc100, bcc110, bcc111, bulk, fcc100, fcc110, fcc111
from ase.constraints import FixCartesian
from ase.data import atomic_numbers, reference_states
from ase.eos import EquationOfState
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

# the suite runs alone in a job's folder with the code's Python, so it imports nothing of this package;
# the constant is aiida_dpgen.labeling.frames.EV_PER_ANGSTROM3_IN_GPA
EV_PER_ANGSTROM3_IN_GPA = 160.21766208
EV_PER_ANGSTROM2_IN_J_PER_M2 = 16.021766208
PROTOTYPES = ('fcc', 'hcp', 'bcc', 'sc', 'diamond', 'dhcp')
IDEAL_COVERA = math.sqrt(8 / 3)
PROPERTIES = ('eos', 'elastic', 'vacancy', 'interstitial', 'surface', 'stacking_fault', 'phonons')
# interstitial sites in the conventional cubic cell, fractional
INTERSTITIAL_SITES = {
    'fcc': {'octahedral': (0.5, 0.5, 0.5), 'tetrahedral': (0.25, 0.25, 0.25)},
    'bcc': {'octahedral': (0.5, 0.5, 0.0), 'tetrahedral': (0.5, 0.25, 0.0)},
}
SURFACES = {
    'fcc': {'100': fcc100, '110': fcc110, '111': fcc111},
    'bcc': {'100': bcc100, '110': bcc110, '111': bcc111},
}
# high-symmetry points in the reciprocal basis of phonopy's primitive cell (Setyawan and Curtarolo)
BAND_PATHS = {
    'fcc': [
        ('Γ', (0, 0, 0)),
        ('X', (0.5, 0, 0.5)),
        ('W', (0.5, 0.25, 0.75)),
        ('K', (0.375, 0.375, 0.75)),
        ('Γ', (0, 0, 0)),
        ('L', (0.5, 0.5, 0.5)),
    ],
    'bcc': [('Γ', (0, 0, 0)), ('H', (0.5, -0.5, 0.5)), ('N', (0, 0, 0.5)), ('Γ', (0, 0, 0)), ('P', (0.25, 0.25, 0.25))],
}


def reference_volume_per_atom(element: str) -> float:
    """ASE's reference volume per atom of ``element`` (from its tabulated ground state), the starting guess."""
    state = reference_states[atomic_numbers[element]] or {}
    symmetry, a = state.get('symmetry'), state.get('a')
    atoms_per_cell = {'fcc': 4, 'bcc': 2, 'sc': 1, 'diamond': 8}
    if symmetry in atoms_per_cell and a:
        return a**3 / atoms_per_cell[symmetry]
    if symmetry == 'hcp' and a:
        return math.sqrt(3) / 2 * a**2 * a * state.get('c/a', IDEAL_COVERA) / 2
    raise ValueError(f'element={element!r}: ASE has no reference lattice; set settings.volume_per_atom (Å³)')


def prototype(element: str, name: str, volume_per_atom: float) -> Atoms:
    """The conventional cell of prototype ``name`` with ``volume_per_atom`` (ideal c/a for hcp and dhcp)."""
    cubic = {'fcc': 4, 'bcc': 2, 'sc': 1, 'diamond': 8}
    if name in cubic:
        a = (volume_per_atom * cubic[name]) ** (1 / 3)
        return bulk(element, name, a=a, cubic=True)
    if name == 'hcp':
        a = (4 * volume_per_atom / (math.sqrt(3) * IDEAL_COVERA)) ** (1 / 3)
        return bulk(element, 'hcp', a=a, covera=IDEAL_COVERA)
    if name == 'dhcp':  # ABAC stacking: four close-packed layers per cell
        a = (8 * volume_per_atom / (math.sqrt(3) * 2 * IDEAL_COVERA)) ** (1 / 3)
        c = 2 * IDEAL_COVERA * a
        cell = [[a, 0, 0], [-a / 2, a * math.sqrt(3) / 2, 0], [0, 0, c]]
        fractional = [(0, 0, 0), (1 / 3, 2 / 3, 0.25), (0, 0, 0.5), (2 / 3, 1 / 3, 0.75)]
        return Atoms(element * 4, scaled_positions=fractional, cell=cell, pbc=True)
    raise ValueError(f'prototype={name!r}: expected one of {", ".join(PROTOTYPES)}')


def relax(atoms: Atoms, calculator, *, cell: bool, fmax: float, steps: int = 500) -> float:
    """Relax the positions (and with ``cell`` the cell) of ``atoms`` in place; its energy (eV). Whether the
    forces (and stresses) fell below ``fmax`` within ``steps`` is left in ``atoms.info['relaxed']``."""
    atoms.calc = calculator
    target = FrechetCellFilter(atoms) if cell else atoms
    atoms.info['relaxed'] = bool(BFGS(target, logfile=None).run(fmax=fmax, steps=steps))
    return float(atoms.get_potential_energy())


def equation_of_state(atoms: Atoms, calculator, start: float, stop: float, points: int) -> dict:
    """Energy per atom over volumes ``start``-``stop`` times the relaxed one (cell scaled isotropically, atoms
    following), and its Birch-Murnaghan fit: v0 (Å³/atom), e0 (eV/atom), bulk modulus (GPa). A fit that fails
    (no minimum) leaves them ``None`` with the reason in ``fit_error``; ``minimum_inside`` says whether v0 lies
    within the sampled volumes (if not, the relaxation's stress and the energy disagree, e.g. a first-principles
    cutoff too low for stresses, and the fit extrapolates)."""
    count = len(atoms)
    volumes, energies = [], []
    for factor in np.linspace(start, stop, points):
        strained = atoms.copy()
        strained.set_cell(atoms.cell.array * factor ** (1 / 3), scale_atoms=True)
        strained.calc = calculator
        volumes.append(strained.get_volume() / count)
        energies.append(float(strained.get_potential_energy()) / count)
    try:
        volume, energy, modulus = EquationOfState(volumes, energies, eos='birchmurnaghan').fit()
    except (RuntimeError, ValueError) as exception:
        fit = {'v0': None, 'e0': None, 'bulk_modulus': None, 'fit_error': str(exception)}
        return {'volumes': volumes, 'energies': energies, **fit}
    return {
        'volumes': volumes,
        'energies': energies,
        'v0': float(volume),
        'e0': float(energy),
        'bulk_modulus': float(modulus) * EV_PER_ANGSTROM3_IN_GPA,
        'minimum_inside': bool(min(volumes) <= volume <= max(volumes)),
    }


def _stress(atoms: Atoms, calculator, deformation: np.ndarray, fmax: float) -> np.ndarray:
    strained = atoms.copy()
    strained.set_cell(atoms.cell.array @ deformation.T, scale_atoms=True)
    relax(strained, calculator, cell=False, fmax=fmax)
    return strained.get_stress(voigt=False)


def cubic_elastic_constants(atoms: Atoms, calculator, strain: float, fmax: float) -> dict:
    """C11, C12, C44 (GPa) of a relaxed cubic cell from the stress under ± ``strain`` (central differences,
    internal positions relaxed at each strain), and the Voigt bulk and shear moduli."""

    def derivative(component: tuple[int, int], deformation: np.ndarray) -> float:
        plus = _stress(atoms, calculator, np.eye(3) + deformation * strain, fmax)[component]
        minus = _stress(atoms, calculator, np.eye(3) - deformation * strain, fmax)[component]
        return (plus - minus) / (2 * strain)

    normal = np.zeros((3, 3))
    normal[0, 0] = 1
    shear = np.zeros((3, 3))
    shear[1, 2] = shear[2, 1] = 0.5  # engineering shear strain gamma_yz = strain
    c11 = derivative((0, 0), normal) * EV_PER_ANGSTROM3_IN_GPA
    c12 = derivative((1, 1), normal) * EV_PER_ANGSTROM3_IN_GPA
    c44 = derivative((1, 2), shear) * EV_PER_ANGSTROM3_IN_GPA
    return {
        'c11': c11,
        'c12': c12,
        'c44': c44,
        'bulk_modulus_voigt': (c11 + 2 * c12) / 3,
        'shear_modulus_voigt': (c11 - c12 + 3 * c44) / 5,
    }


def vacancy_formation_energy(atoms: Atoms, calculator, repeat: int, fmax: float) -> dict:
    """E_f = E(N-1, relaxed) - (N-1)/N E(N) in a supercell of the relaxed cell repeated ``repeat`` times along
    each axis, at fixed cell."""
    perfect = atoms.repeat(repeat)
    perfect.calc = calculator
    energy = float(perfect.get_potential_energy())
    defect = perfect.copy()
    del defect[0]
    defect_energy = relax(defect, calculator, cell=False, fmax=fmax)
    count = len(perfect)
    return {'energy': defect_energy - (count - 1) / count * energy, 'atoms': count - 1}


def interstitial_formation_energies(atoms: Atoms, calculator, structure: str, repeat: int, fmax: float) -> dict:
    """E_f = E(N+1, relaxed) - (N+1)/N E(N) for each interstitial site of ``structure``, at fixed cell."""
    if structure not in INTERSTITIAL_SITES:
        raise ValueError(f'interstitial: sites are known for {sorted(INTERSTITIAL_SITES)}, not {structure!r}')
    perfect = atoms.repeat(repeat)
    perfect.calc = calculator
    energy = float(perfect.get_potential_energy())
    count = len(perfect)
    results = {}
    for site, fractional in INTERSTITIAL_SITES[structure].items():
        defect = perfect.copy()
        defect.append(atoms[0].symbol)
        defect.positions[-1] = np.array(fractional) @ atoms.cell.array
        defect_energy = relax(defect, calculator, cell=False, fmax=fmax)
        results[site] = defect_energy - (count + 1) / count * energy
    return results


def surface_energies(
    element: str,
    structure: str,
    calculator,
    *,
    lattice: float,
    bulk_energy: float,
    layers: int,
    vacuum: float,
    fmax: float,
) -> dict:
    """Relaxed surface energies (J/m²) of the low-index slabs: (E_slab - N e_bulk) / 2A, both faces alike."""
    if structure not in SURFACES:
        raise ValueError(f'surface: slabs are built for {sorted(SURFACES)}, not {structure!r}')
    results = {}
    for miller, build in SURFACES[structure].items():
        slab = build(element, size=(1, 1, layers), a=lattice, vacuum=vacuum, periodic=True)
        energy = relax(slab, calculator, cell=False, fmax=fmax)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        results[miller] = (energy - len(slab) * bulk_energy) / (2 * area) * EV_PER_ANGSTROM2_IN_J_PER_M2
    return results


def stacking_fault_energy(element: str, lattice: float, calculator, layers: int, fmax: float) -> float:
    """The intrinsic (111) stacking-fault energy (J/m²) of an fcc crystal: a periodic (111) cell whose third
    vector is tilted by the partial Burgers vector a/√6 <112> holds one fault; atoms relax normal to it."""
    perfect = fcc111(element, size=(1, 1, layers), a=lattice, periodic=True)
    faulted = perfect.copy()
    cell = faulted.cell.array.copy()
    cell[2] += (cell[0] + cell[1]) / 3
    faulted.set_cell(cell, scale_atoms=False)
    energies = []
    for atoms in (perfect, faulted):
        atoms.set_constraint(FixCartesian(range(len(atoms)), mask=(True, True, False)))
        energies.append(relax(atoms, calculator, cell=False, fmax=fmax))
    area = np.linalg.norm(np.cross(perfect.cell[0], perfect.cell[1]))
    return (energies[1] - energies[0]) / area * EV_PER_ANGSTROM2_IN_J_PER_M2


def phonon_bands(atoms: Atoms, calculator, structure: str, supercell: int, points: int) -> dict:
    """Phonon bands (THz) along the standard path of ``structure`` with phonopy's finite displacements
    (0.01 Å) in the relaxed conventional cell repeated ``supercell`` times along each axis."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    if structure not in BAND_PATHS:
        raise ValueError(f'phonons: band paths are known for {sorted(BAND_PATHS)}, not {structure!r}')
    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array, positions=atoms.positions)
    centering = {'fcc': 'F', 'bcc': 'I'}[structure]  # the conventional cell's primitive cell
    phonon = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * supercell, primitive_matrix=centering)
    phonon.generate_displacements(distance=0.01)
    forces = []
    for displaced in phonon.supercells_with_displacements:
        image = Atoms(displaced.symbols, positions=displaced.positions, cell=displaced.cell, pbc=True)
        image.calc = calculator
        forces.append(image.get_forces().copy())
    phonon.forces = forces
    phonon.produce_force_constants()
    path = BAND_PATHS[structure]
    segments = [
        list(np.linspace(np.array(start[1]), np.array(end[1]), points)) for start, end in itertools.pairwise(path)
    ]
    phonon.run_band_structure(segments, labels=[label for label, _ in path])
    bands = phonon.get_band_structure_dict()
    distances = np.concatenate(bands['distances'])
    frequencies = np.concatenate(bands['frequencies'])
    ticks = [float(segment[0]) for segment in bands['distances']] + [float(bands['distances'][-1][-1])]
    return {
        'distances': distances.tolist(),
        'frequencies': frequencies.tolist(),
        'labels': [label for label, _ in path],
        'ticks': ticks,
        'max_frequency': float(frequencies.max()),
        'min_frequency': float(frequencies.min()),
    }


def run_suite(element: str, calculator, settings: dict) -> dict:
    """Every property of ``settings['properties']`` for ``element``; see `PropertiesCalculation`."""
    fmax = settings.get('fmax', 1e-3)
    ground = settings.get('ground_state', 'fcc')
    volume = settings.get('volume_per_atom') or reference_volume_per_atom(element)
    wanted = settings.get('properties', list(PROPERTIES))
    results: dict = {'element': element, 'ground_state': ground, 'prototypes': {}, 'seconds': {}}

    relaxed = {}
    for name in settings.get('prototypes', PROTOTYPES):
        start = time.perf_counter()
        atoms = prototype(element, name, volume)
        energy = relax(atoms, calculator, cell=True, fmax=fmax)
        entry = {
            'energy': energy / len(atoms),
            'volume': atoms.get_volume() / len(atoms),
            'relaxed': atoms.info['relaxed'],
        }
        if name in ('hcp', 'dhcp'):
            lengths = atoms.cell.lengths()
            entry['covera'] = float(lengths[2] / lengths[0] / (2 if name == 'dhcp' else 1))
        if 'eos' in wanted:
            eos = settings.get('eos', {})
            entry['eos'] = equation_of_state(
                atoms, calculator, eos.get('start', 0.9), eos.get('stop', 1.1), eos.get('points', 11)
            )
        relaxed[name] = atoms
        results['prototypes'][name] = entry
        results['seconds'][f'prototype_{name}'] = time.perf_counter() - start
    if ground not in relaxed:
        raise ValueError(f'ground_state={ground!r} is not among the prototypes {sorted(relaxed)}')
    reference = results['prototypes'][ground]
    for entry in results['prototypes'].values():
        entry['energy_difference'] = entry['energy'] - reference['energy']
    base = relaxed[ground]
    lattice = float(base.cell.lengths()[0])
    results['lattice_constant'] = lattice

    def timed(name, compute):
        start = time.perf_counter()
        value = compute()
        results['seconds'][name] = time.perf_counter() - start
        return value

    if 'elastic' in wanted:
        strain = settings.get('elastic', {}).get('strain', 0.005)
        results['elastic'] = timed('elastic', lambda: cubic_elastic_constants(base, calculator, strain, fmax))
    if 'vacancy' in wanted:
        repeat = settings.get('vacancy', {}).get('repeat', 3)
        results['vacancy'] = timed('vacancy', lambda: vacancy_formation_energy(base, calculator, repeat, fmax))
    if 'interstitial' in wanted:
        repeat = settings.get('interstitial', {}).get('repeat', 3)
        results['interstitial'] = timed(
            'interstitial', lambda: interstitial_formation_energies(base, calculator, ground, repeat, fmax)
        )
    if 'surface' in wanted:
        surface = settings.get('surface', {})
        results['surface'] = timed(
            'surface',
            lambda: surface_energies(
                element,
                ground,
                calculator,
                lattice=lattice,
                bulk_energy=reference['energy'],
                layers=surface.get('layers', 9),
                vacuum=surface.get('vacuum', 10.0),
                fmax=fmax,
            ),
        )
    if 'stacking_fault' in wanted and ground == 'fcc':
        layers = settings.get('stacking_fault', {}).get('layers', 9)
        results['stacking_fault'] = timed(
            'stacking_fault', lambda: stacking_fault_energy(element, lattice, calculator, layers, fmax)
        )
    if 'phonons' in wanted:
        phonons = settings.get('phonons', {})
        supercell, points = phonons.get('supercell', 3), phonons.get('points', 51)
        results['phonons'] = timed('phonons', lambda: phonon_bands(base, calculator, ground, supercell, points))
    return results


def load_object(name: str, kwargs: dict):
    """``module:Class`` called with ``kwargs``."""
    module_name, _, class_name = name.partition(':')
    return getattr(importlib.import_module(module_name), class_name)(**kwargs)


def load_calculator(specification: dict):
    """The ASE calculator of ``{"calculator": "module:Class", "kwargs": {...}}``; with ``"profile": {"class":
    "module:Class", "kwargs": {...}}``, an engine's ASE profile (its command) for file-based calculators such
    as ``Espresso``."""
    kwargs = dict(specification.get('kwargs', {}))
    if 'profile' in specification:
        profile = specification['profile']
        kwargs['profile'] = load_object(profile['class'], profile.get('kwargs', {}))
    return load_object(specification['calculator'], kwargs)


def main() -> None:
    settings = json.loads(pathlib.Path('settings.json').read_text())
    calculator = load_calculator(json.loads(pathlib.Path('calculator.json').read_text()))
    start = time.perf_counter()
    results = run_suite(settings['element'], calculator, settings)
    results['wall_seconds'] = time.perf_counter() - start
    pathlib.Path('results.json').write_text(json.dumps(results))


if __name__ == '__main__':
    sys.exit(main())
