"""InitDataWorkChain end to end with EMT (the ASE labeler): relaxed volume, perturbed supercells, labels, slabs."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from aiida.orm import InstalledCode, StructureData
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState

from aiida_dpgen.initdata.structures import crystal
from aiida_dpgen.workflows.initdata import InitDataWorkChain
from aiida_dpgen.workflows.runner import run_get_node


def emt_lattice_constant(structure: str, guess: float) -> float:
    """Computed here, independently: ASE's own equation of state of EMT copper."""
    volumes, energies = [], []
    for scale in np.linspace(0.96, 1.04, 9):
        atoms = bulk('Cu', structure, a=guess * scale, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    volume, _, _ = EquationOfState(volumes, energies).fit()
    return (volume / len(atoms) * {'fcc': 4, 'bcc': 2}[structure]) ** (1 / 3)


def test_bulk_and_surfaces_with_emt(aiida_localhost):
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    )
    structures = {
        'fcc': StructureData(ase=crystal('Cu', 'fcc', 3.61)),
        'bcc': StructureData(ase=crystal('Cu', 'bcc', 2.87)),
    }
    surfaces = {'miller': [[1, 1, 1]], 'layers': 4, 'separations': {'start': 0.5, 'stop': 1.5, 'step': 0.5}}
    builder = InitDataWorkChain.get_builder_from_protocol(
        code.store(), structures, ['Cu'], {'engine': 'ase'}, protocol='fast', overrides={'surfaces': surfaces}
    )
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    for name, guess in (('fcc', 3.61), ('bcc', 2.87)):
        relaxed = results['relaxed'][f'{name}_structure'].get_ase()
        assert relaxed.cell.lengths()[0] == pytest.approx(emt_lattice_constant(name, guess), abs=2e-3)
        fit = results['relaxed'][f'{name}_equation_of_state'].get_dict()
        assert fit['points'] == 5 and fit['bulk_modulus_gpa'] > 50

    every = results['perturbed']
    assert {name: node.nframes for name, node in every.items()} == {'fcc': 4, 'bcc': 4}  # 2 scales x 2
    assert every['fcc'].creator.process_label == 'bulk_configurations'
    configurations = results['configurations']  # exploration starts from the 2 perturbations of scale 1.00
    assert {name: node.nframes for name, node in configurations.items()} == {'fcc': 2, 'bcc': 2}
    assert configurations['fcc'].creator.process_label == 'exploration_configurations'
    for name in ('fcc', 'bcc'):
        for start, atoms in zip(every[name].to_ase()[2:], configurations[name].to_ase(), strict=True):
            assert atoms.positions == pytest.approx(start.positions)
    dataset = results['dataset']
    assert dataset.nframes == 8 * 3, 'fast: 3 MD steps from each of the 8 perturbed cells'
    perturbed = [atoms.positions for name in ('fcc', 'bcc') for atoms in every[name].to_ase()]
    labeled = []
    for system in dataset.to_dpdata():
        for frame, atoms in enumerate(system.to('ase/structure')):
            labeled.append(atoms.positions)
            atoms.calc = EMT()
            assert system['energies'][frame] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
            assert system['forces'][frame] == pytest.approx(atoms.get_forces(), abs=1e-8)

    def distance(positions, start):  # the largest displacement of an atom from a perturbed cell
        return np.abs(positions - start).max() if positions.shape == start.shape else np.inf

    nearest = [min(distance(positions, start) for start in perturbed) for positions in labeled]
    assert sum(value < 1e-8 for value in nearest) == 8, 'each MD starts at its perturbed cell'
    assert sum(1e-6 < value < 0.5 for value in nearest) == 16, 'and its atoms move a little at 50 K'

    slabs = results['surfaces']
    assert {name: node.nframes for name, node in slabs.items()} == {'fcc': 3, 'bcc': 3}
    heights = [frame.cell[2, 2] for frame in slabs['fcc'].to_ase()]
    assert np.diff(heights) == pytest.approx([0.5, 0.5]), 'the two halves 0.5, 1.0, 1.5 Å apart'


def test_bulk_with_pw_on_the_smallest_cell(aiida_localhost):
    """The same workchain with Quantum ESPRESSO: one scale of the fcc unit cell, perturbed once, two pw.x MD
    steps from it."""
    from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family
    from aiida_dpgen.utils.codes import get_or_create_mpi_code

    from .conftest import require

    require('pw.x')
    code = get_or_create_mpi_code('pw', 'pw.x', computer=aiida_localhost.label, plugin='quantumespresso.pw')
    family = install_pseudo_family('test/initdata-Cu', files={'Cu': DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'})
    labeler = {
        'engine': 'quantumespresso',
        'pseudo_family': family.label,
        'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'max_wallclock_seconds': 600},
    }
    overrides = {
        'bulk': {
            'scale': {'start': 1.0, 'stop': 1.0, 'step': 0.02},
            'perturbations': 1,
            'relax_scales': [],
            'md': {'temperature': 50.0, 'nsteps': 2, 'timestep': 2.0},
        }
    }
    builder = InitDataWorkChain.get_builder_from_protocol(
        code,
        {'fcc': StructureData(ase=crystal('Cu', 'fcc', 3.61))},
        ['Cu'],
        labeler,
        protocol='fast',
        overrides=overrides,
    )
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert 'relaxed' not in results, 'relax_scales [] skips the relaxation'
    (system,) = results['dataset'].to_dpdata()
    assert system.get_nframes() == 2 and system.get_natoms() == 4, 'two pw.x MD steps from the one perturbed cell'
    assert (system['energies'] < -1000).all(), 'pw.x total energies (eV), not EMT'
    assert np.abs(system['forces']).max() < 1.0
    assert system['energies'][0] != system['energies'][1]
    assert system['coords'][0] == pytest.approx(results['configurations']['fcc'].to_ase()[0].positions)
    assert not np.allclose(system['coords'][1], system['coords'][0], atol=1e-6), 'the atoms moved'
    (calculation,) = [job for job in node.called_descendants if job.process_label == 'PwCalculation']
    control = calculation.inputs.parameters['CONTROL']
    assert (control['calculation'], control['nstep']) == ('md', 2)
