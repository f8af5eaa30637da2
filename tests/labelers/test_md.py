"""Short ab initio MD through the labelers (the initial data's AIMD): settings checked before any job, engine
inputs of an MD, and every step of a real run's output read as a label."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import ParserFactory
from ase import Atoms
from ase.calculators.emt import EMT

from aiida_dpgen.labelers.ase import AseLabeler
from aiida_dpgen.labelers.base import labeler_from_specification
from aiida_dpgen.labelers.cp2k import Cp2kLabeler, read_energy_and_forces
from aiida_dpgen.labelers.quantumespresso import QuantumEspressoLabeler
from aiida_dpgen.labeling.frames import EV_PER_ANGSTROM3_PER_GPA

from ..parsers.test_ase import structure as ase_structure
from .test_labelers import FIXTURES

MD = {'temperature': 50.0, 'nsteps': 2, 'timestep': 2.0}
CP2K_MD = FIXTURES / 'cp2k_md'


@pytest.mark.parametrize('engine', ['vasp', 'gaussian'])
def test_labelers_without_md_refuse_it_and_name_those_with_it(engine):
    with pytest.raises(
        ValueError,
        match=rf"labeler.md: the '{engine}' labeler runs no MD; labelers with MD: "
        r"\['ase', 'cp2k', 'quantumespresso'\]",
    ):
        labeler_from_specification({'engine': engine, 'md': MD})


@pytest.mark.parametrize(
    ('md', 'message'),
    [
        ({'temperature': 50.0, 'nsteps': 2}, r'labeler.md=.*: expected the keys temperature: K'),
        ({**MD, 'nsteps': 0}, r'labeler.md.nsteps=0: expected a positive integer'),
        ({**MD, 'temperature': -5}, r'labeler.md.temperature=-5: expected a temperature >= 0 K'),
        ({**MD, 'timestep': 20}, r'labeler.md.timestep=20: expected a time step in fs'),
    ],
)
def test_md_settings_name_the_key_and_the_fix(md, message):
    with pytest.raises(ValueError, match=message):
        labeler_from_specification({'engine': 'ase', 'md': md})


def test_pw_md_draws_velocities_at_the_temperature_and_keeps_it():
    namelists = QuantumEspressoLabeler.md_parameters(MD)
    assert namelists['CONTROL']['calculation'] == 'md'
    assert namelists['CONTROL']['nstep'] == 2
    assert namelists['CONTROL']['dt'] * 4.8377687e-17 == pytest.approx(2e-15)  # pw.x's unit of time
    assert namelists['IONS'] == {'ion_temperature': 'rescaling', 'tempw': 50.0}


def test_cp2k_md_has_one_force_evaluation_per_step():
    parameters = Cp2kLabeler({'engine': 'cp2k', 'protocol': 'fast', 'md': MD}).parameters(
        orm.StructureData(ase=Atoms('Cu', cell=np.eye(3) * 2.5, pbc=True))
    )
    assert parameters['GLOBAL']['RUN_TYPE'] == 'MD'
    md = parameters['MOTION']['MD']
    assert (md['STEPS'], md['TIMESTEP'], md['TEMPERATURE'], md['ENSEMBLE']) == (1, 2.0, 50.0, 'NVT')
    assert parameters['FORCE_EVAL']['STRESS_TENSOR'] == 'ANALYTICAL', 'the protocol stays: stress at every step'


def cp2k_md_outputs():
    description = json.loads((CP2K_MD / 'structure.json').read_text())
    atoms = Atoms(description['symbols'], positions=description['positions'], cell=description['cell'], pbc=True)
    retrieved = orm.FolderData()
    for name in ('aiida.out', 'aiida-pos-1.xyz'):
        retrieved.base.repository.put_object_from_file(str(CP2K_MD / name), name)
    return atoms, Cp2kLabeler.convert_md_outputs(orm.StructureData(ase=atoms), retrieved)


def test_every_step_of_a_real_cp2k_md_is_a_label():
    atoms, labels = cp2k_md_outputs()
    trajectory = (CP2K_MD / 'aiida-pos-1.xyz').read_text()
    hartree = [float(value) for value in re.findall(r'E =\s+(-?\d+\.\d+)', trajectory)]
    assert len(labels) == len(hartree) == 2
    energies = [label.energy for label in labels]
    assert np.array(energies) / np.array(hartree) == pytest.approx(27.211386, rel=1e-6)  # eV per Hartree
    np.testing.assert_allclose(labels[0].positions, atoms.positions, atol=1e-8)  # the MD starts at the structure
    assert np.abs(labels[1].positions - labels[0].positions).max() > 1e-4
    last_energy, last_forces = read_energy_and_forces((CP2K_MD / 'aiida.out').read_text(), len(atoms))
    assert labels[-1].energy == pytest.approx(last_energy * 27.211386, rel=1e-6)
    np.testing.assert_allclose(labels[-1].forces, last_forces * 27.211386 / 0.52917721, rtol=1e-6)
    for label in labels:
        assert label.virial is not None and np.allclose(label.virial, label.virial.T, atol=1e-3)
        np.testing.assert_allclose(label.cell, atoms.cell.array)  # NVT
    stress = re.findall(
        r'STRESS\| Analytical stress tensor \[GPa\]\s*\n.*\n\s*STRESS\|\s+x\s+(\S+)',
        (CP2K_MD / 'aiida.out').read_text(),
    )
    xx = [label.virial[0, 0] / (atoms.get_volume() * EV_PER_ANGSTROM3_PER_GPA) for label in labels]
    assert xx == pytest.approx([float(value) for value in stress])


def test_ase_md_trajectory_is_parsed_and_each_step_equals_emt(generate_calc_job_node):
    inputs = {
        'structure': orm.StructureData(ase=ase_structure()),
        'calculator': orm.Dict({'calculator': 'ase.calculators.emt:EMT', 'md': {**MD, 'nsteps': 3}}),
    }
    node = generate_calc_job_node('dpgen.ase', 'emt_cu4_md', inputs)
    results, calcfunction = ParserFactory('dpgen.ase').parse_from_node(node, store_provenance=False)
    assert calcfunction.is_finished_ok, calcfunction.exit_message

    labels = AseLabeler.convert_md_outputs(inputs['structure'], results['output_trajectory'])
    assert len(labels) == 3
    np.testing.assert_allclose(labels[0].positions, ase_structure().positions)
    for label in labels:
        atoms = Atoms(label.symbols, positions=label.positions, cell=label.cell, pbc=True)
        atoms.calc = EMT()
        assert label.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
        np.testing.assert_allclose(label.forces, atoms.get_forces(), atol=1e-10)
        np.testing.assert_allclose(label.virial, -atoms.get_volume() * atoms.get_stress(voigt=False), atol=1e-10)
    assert labels[0].energy != labels[2].energy
