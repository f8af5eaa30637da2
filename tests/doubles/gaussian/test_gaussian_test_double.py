"""The real aiida-gaussian plugin (calculation, cclib parser, restart work chain) run against the Gaussian TEST DOUBLE.

The double computes energies and forces with ASE's EMT potential, so every number is checked against EMT called
directly here: the parser's ``energy_ev``, its ``output_parameters['grads']`` (Gaussian's printed forces, in
Hartree/Bohr) and what ``dpdata`` reads from the retrieved log (eV, eV/Angstrom).
"""

from __future__ import annotations

import dpdata
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from dpdata.unit import ForceConversion

from . import setup_gaussian_test_double

pytestmark = pytest.mark.engines

HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM = ForceConversion('hartree/bohr', 'eV/angstrom').value()

# A slightly distorted water molecule in a 10 Angstrom box; coordinates carry no more than the six decimals
# that aiida-gaussian (pymatgen) writes into the Gaussian input.
WATER = Atoms(
    'OH2',
    positions=[[5.0, 5.0, 5.1], [5.0, 5.76, 4.5], [5.05, 4.23, 4.52]],
    cell=[10.0, 10.0, 10.0],
    pbc=False,
)


def emt(atoms: Atoms) -> tuple[float, np.ndarray]:
    atoms = atoms.copy()
    atoms.calc = EMT()
    return atoms.get_potential_energy(), atoms.get_forces()


@pytest.fixture
def gaussian_code(aiida_localhost, tmp_path):
    return setup_gaussian_test_double(aiida_localhost, directory=tmp_path / 'bin')


def single_point_inputs(code, scf: dict | None = None) -> dict:
    """The inputs of aiida-gaussian's ``GaussianCalculation`` for a single point with forces."""
    from aiida.orm import Dict, StructureData

    route = {'force': None, 'nosymm': None}
    if scf is not None:
        route['scf'] = scf
    return {
        'code': code,
        'structure': StructureData(ase=WATER),
        'parameters': Dict(
            {
                'link0_parameters': {'%chk': 'aiida.chk', '%mem': '1024MB', '%nprocshared': '1'},
                'functional': 'B3LYP',
                'basis_set': '6-31G',
                'charge': 0,
                'multiplicity': 1,
                'route_parameters': route,
            }
        ),
        'metadata': {
            'options': {
                'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
                'max_wallclock_seconds': 600,
            }
        },
    }


def read_log(node) -> str:
    return node.outputs.retrieved.base.repository.get_object_content('aiida.out')


def test_single_point_energy_and_forces(gaussian_code, tmp_path):
    from aiida.engine import run_get_node
    from aiida.plugins import CalculationFactory

    results, node = run_get_node(CalculationFactory('gaussian'), **single_point_inputs(gaussian_code))

    assert node.is_finished_ok, node.exit_message
    assert {'output_parameters', 'energy_ev', 'retrieved', 'remote_folder'} <= set(results)
    assert 'aiida.out' in node.outputs.retrieved.base.repository.list_object_names()
    log = read_log(node)
    assert 'TEST DOUBLE' in ''.join(log.splitlines(keepends=True)[:3])
    assert ' #N B3LYP/6-31G force nosymm\n' in log
    assert log.rstrip().splitlines()[-1].startswith(' Normal termination of Gaussian 16')

    energy, forces = emt(WATER)
    # aiida-gaussian: energy in eV (cclib's Hartree-to-eV constant differs from dpdata's by ~4e-8 relative).
    assert results['energy_ev'].value == pytest.approx(energy, abs=1e-6)
    parameters = results['output_parameters'].get_dict()
    assert parameters['metadata']['success'] is True
    assert parameters['metadata']['functional'] == 'B3LYP'
    assert parameters['num_electrons'] == [5, 5]
    assert (parameters['charge'], parameters['mult'], parameters['natom']) == (0, 1, 3)
    # cclib's ``grads`` are Gaussian's printed "Forces (Hartrees/Bohr)": forces (not gradients), one list per step.
    grads = np.array(parameters['grads'][-1]) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    np.testing.assert_allclose(grads, forces, atol=1e-6)

    # dpdata reads the retrieved log: energy in eV, forces in eV/Angstrom, coordinates of the input orientation.
    path = tmp_path / 'aiida.out'
    path.write_text(log)
    system = dpdata.LabeledSystem(str(path), fmt='gaussian/log')
    assert len(system) == 1
    assert [system['atom_names'][index] for index in system['atom_types']] == ['O', 'H', 'H']
    np.testing.assert_allclose(system['coords'][0], WATER.positions, atol=1e-6)
    assert system['energies'][0] == pytest.approx(energy, abs=1e-6)
    np.testing.assert_allclose(system['forces'][0], forces, atol=1e-6)
    assert system.nopbc


def test_scf_failure_gives_error_scf_failure(gaussian_code, tmp_path):
    from aiida.engine import run_get_node
    from aiida.plugins import CalculationFactory

    calculation = CalculationFactory('gaussian')
    results, node = run_get_node(calculation, **single_point_inputs(gaussian_code, scf={'maxcycle': 2}))

    assert node.is_finished and not node.is_finished_ok
    assert node.exit_status == calculation.exit_codes.ERROR_SCF_FAILURE.status == 301
    assert node.exit_message == 'The SCF did not converge and the calculation was terminated.'
    log = read_log(node)
    assert ' Convergence failure -- run terminated.\n' in log
    assert ' Error termination via Lnk1e in ' in log
    assert 'Normal termination' not in log
    # The parser still attaches the unconverged SCF energy: a labeler must look at the exit status, not at outputs.
    assert 'energy_ev' in results
    assert abs(results['energy_ev'].value - emt(WATER)[0]) > 1e-5
    # dpdata finds no forces in the log and returns an empty system.
    path = tmp_path / 'aiida.out'
    path.write_text(log)
    assert len(dpdata.LabeledSystem(str(path), fmt='gaussian/log')) == 0


def test_base_work_chain_restarts_after_scf_failure(gaussian_code):
    """``gaussian.base`` handles ERROR_SCF_FAILURE by retrying with ``scf=(yqc)``, which drops ``maxcycle``."""
    from aiida.engine import run_get_node
    from aiida.plugins import WorkflowFactory

    inputs = {'gaussian': single_point_inputs(gaussian_code, scf={'maxcycle': 1})}
    results, node = run_get_node(WorkflowFactory('gaussian.base'), **inputs)

    assert node.is_finished_ok, node.exit_message
    calculations = sorted(node.called, key=lambda called: called.ctime)
    assert [calculation.exit_status for calculation in calculations] == [301, 0]
    assert calculations[1].inputs.parameters['route_parameters']['scf'] == {'yqc': None}
    assert results['energy_ev'].value == pytest.approx(emt(WATER)[0], abs=1e-6)
