"""AseSinglePointParser on outputs of the real script: energy, forces, stress; missing results named."""

from __future__ import annotations

import numpy as np
import pytest
from aiida.orm import Dict, StructureData
from aiida.plugins import ParserFactory
from ase.build import bulk
from ase.calculators.emt import EMT

from ..conftest import PARSER_FIXTURES


def structure():
    atoms = bulk('Cu', 'fcc', a=3.6, cubic=True)
    atoms.positions[1] += [0.05, -0.02, 0.03]
    return atoms


def parse(generate_calc_job_node, case):
    inputs = {
        'structure': StructureData(ase=structure()),
        'calculator': Dict({'calculator': 'ase.calculators.emt:EMT'}),
    }
    node = generate_calc_job_node('dpgen.ase', case, inputs)
    return ParserFactory('dpgen.ase').parse_from_node(node, store_provenance=False)


def test_energy_forces_and_stress_equal_emt(generate_calc_job_node):
    results, calcfunction = parse(generate_calc_job_node, 'emt_cu4')
    assert calcfunction.is_finished_ok
    atoms = structure()
    atoms.calc = EMT()
    assert results['output_parameters']['energy'] == pytest.approx(atoms.get_potential_energy())
    np.testing.assert_allclose(results['output_arrays'].get_array('forces'), atoms.get_forces(), atol=1e-12)
    np.testing.assert_allclose(results['output_arrays'].get_array('stress'), atoms.get_stress(voigt=False), atol=1e-12)


def test_missing_results_is_an_exit_code(generate_calc_job_node):
    _, calcfunction = parse(generate_calc_job_node, 'no_results')
    assert calcfunction.exit_status == 300
    assert 'results.json' in calcfunction.exit_message


def test_a_packed_job_gives_each_task_its_labels_and_names_the_task_that_failed(generate_calc_job_node):
    overlapping = bulk('Cu', 'fcc', a=3.6, cubic=True)
    overlapping.positions[1] = overlapping.positions[0]
    inputs = {
        # namespaced inputs are linked as AiiDA links them: structures__<task>
        'structures__frame_000000': StructureData(ase=structure()),
        'structures__frame_000001': StructureData(ase=overlapping),
        'calculator': Dict({'calculator': 'ase.calculators.emt:EMT'}),
    }
    node = generate_calc_job_node('dpgen.ase_packed', 'mixed', inputs)
    # a packed job brings results.json back in the temporary folder: its labels become the output dataset
    temporary = str(PARSER_FIXTURES / 'dpgen.ase_packed' / 'mixed')
    results, calcfunction = ParserFactory('dpgen.ase_packed').parse_from_node(
        node, store_provenance=False, retrieved_temporary_folder=temporary
    )

    assert calcfunction.exit_status == 320
    assert '1 of 2 tasks gave no label' in calcfunction.exit_message
    status = results['task_status'].get_dict()
    assert status['frame_000000'] == 'ok'
    assert (
        status['frame_000001']
        == 'calculator error: FloatingPointError: the calculator returned a non-finite energy or force'
    )
    assert list(results['output_parameters']['wall_seconds']) == ['frame_000000']
    assert results['output_parameters']['calculator'] == 'ase.calculators.emt:EMT'
    atoms = structure()
    atoms.calc = EMT()
    (system,) = results['output_dataset'].to_dpdata()
    assert results['output_dataset'].nframes == 1 and results['output_dataset'].type_map == ['Cu']
    assert system['energies'][0] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(system['forces'][0], atoms.get_forces(), atol=1e-10)
    np.testing.assert_allclose(system['coords'][0], atoms.positions, atol=1e-10)
    volume = atoms.get_volume()
    np.testing.assert_allclose(system['virials'][0], -atoms.get_stress(voigt=False) * volume, atol=1e-10)
