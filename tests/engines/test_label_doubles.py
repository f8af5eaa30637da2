"""LabelWorkChain through the real aiida-gaussian (and aiida-vasp) plugins against their TEST DOUBLES.

Gaussian and VASP are licensed and cannot run here; their doubles (``tests/doubles``) compute EMT energies and
forces and write them in the engines' real output formats, so every label is checked against EMT called directly.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT

from aiida_dpgen.data import ConfigurationsData
from aiida_dpgen.workflows.label import LabelWorkChain
from aiida_dpgen.workflows.runner import run_get_node

from ..doubles.gaussian import setup_gaussian_test_double
from ..doubles.vasp import emt_reference, setup_vasp_test_double, upload_potcar_family


def waters(count: int) -> list[Atoms]:
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(count):
        atoms = Atoms('OH2', positions=[[5.0, 5.0, 5.1], [5.0, 5.76, 4.5], [5.05, 4.23, 4.52]], cell=[10.0] * 3)
        atoms.positions += rng.normal(scale=0.03, size=atoms.positions.shape).round(4)
        frames.append(atoms)
    return frames


@pytest.fixture
def gaussian_code(aiida_localhost, tmp_path):
    return setup_gaussian_test_double(aiida_localhost, directory=tmp_path / 'bin')


def test_gaussian_labels_of_molecules_equal_emt(gaussian_code):
    frames = waters(2)
    candidates = {'water': ConfigurationsData.from_ase(frames, ['H', 'O']).store()}

    results, node = run_get_node(
        LabelWorkChain, candidates=candidates, labeler={'engine': 'gaussian', 'protocol': 'fast'}, code=gaussian_code
    )

    assert node.is_finished_ok, node.exit_message
    (system,) = results['dataset'].to_dpdata()
    assert system.nopbc and 'virials' not in system.data
    order = np.argsort(system['energies'])
    expected = []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = EMT()
        expected.append((atoms.get_potential_energy(), atoms.get_forces()))
    expected.sort(key=lambda item: item[0])
    for index, (energy, forces) in zip(order, expected, strict=True):
        assert system['energies'][index] == pytest.approx(energy, abs=1e-5)
        # dpdata keeps the atoms in the order of the type map (H, O): compare per element
        types = system['atom_types']
        np.testing.assert_allclose(system['forces'][index][types == 1], forces[:1], atol=1e-5)
        np.testing.assert_allclose(system['forces'][index][types == 0], forces[1:], atol=1e-5)


def test_gaussian_scf_failure_is_excluded(gaussian_code):
    candidates = {'water': ConfigurationsData.from_ase(waters(1), ['H', 'O']).store()}
    labeler = {
        'engine': 'gaussian',
        'protocol': 'fast',
        'max_iterations': 1,
        'overrides': {'route_parameters': {'scf': {'maxcycle': 1}}},
    }
    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=gaussian_code)
    assert node.exit_status == LabelWorkChain.exit_codes.ERROR_NO_LABELS.status
    assert results['summary']['excluded_by_reason'] == {'scf_unconverged': 1}


@pytest.fixture
def vasp_code(aiida_localhost, tmp_path):
    return setup_vasp_test_double(aiida_localhost, tmp_path / 'bin')


def test_vasp_labels_equal_emt_in_deepmd_units(vasp_code, make_cu_frames):
    family = upload_potcar_family()
    frames = make_cu_frames('fcc', 2, seed=21, labeled=False)
    candidates = {'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store()}
    labeler = {'engine': 'vasp', 'protocol': 'fast', 'potential_family': family}

    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=vasp_code)

    assert node.is_finished_ok, node.exit_message
    (system,) = results['dataset'].to_dpdata()
    labels = sorted(zip(system['energies'], system['forces'], system['virials'], strict=True), key=lambda x: x[0])
    expected = sorted((emt_reference(atoms) for atoms in frames), key=lambda reference: reference['energy'])
    for (energy, forces, virial), reference in zip(labels, expected, strict=True):
        assert energy == pytest.approx(reference['energy'], abs=1e-6)
        np.testing.assert_allclose(forces, reference['forces'], atol=1e-5)
        np.testing.assert_allclose(virial, reference['virial'], atol=1e-4)
    job = next(child for child in node.called_descendants if child.process_label == 'VaspCalculation')
    kpoints = job.inputs.kpoints
    assert kpoints.get_kpoints_mesh()[0] == [4, 4, 4], 'spacing 0.5/Å with 2π: |b| = 1.7/Å for a = 3.6 Å'


def test_vasp_unconverged_scf_is_excluded(vasp_code, make_cu_frames):
    candidates = {'fcc': ConfigurationsData.from_ase(make_cu_frames('fcc', 1, seed=22, labeled=False), ['Cu']).store()}
    labeler = {
        'engine': 'vasp',
        'protocol': 'fast',
        'potential_family': upload_potcar_family(),
        'max_iterations': 1,
        'overrides': {'nelm': 1},
    }
    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=vasp_code)
    assert node.exit_status == LabelWorkChain.exit_codes.ERROR_NO_LABELS.status
    assert results['summary']['excluded_by_reason'] == {'scf_unconverged': 1}


def test_vasp_missing_potcar_is_refused_before_submission(vasp_code, generate_workchain, make_cu_frames):
    frames = make_cu_frames('fcc', 1, labeled=False)
    frames[0][0].symbol = 'Ni'
    candidates = {'alloy': ConfigurationsData.from_ase(frames, ['Cu', 'Ni']).store()}
    labeler = {'engine': 'vasp', 'potential_family': upload_potcar_family()}
    with pytest.raises(ValueError, match=r"has no POTCAR \['Ni'\] for elements \['Ni'\]"):
        generate_workchain('dpgen.label', {'candidates': candidates, 'labeler': labeler, 'code': vasp_code})
