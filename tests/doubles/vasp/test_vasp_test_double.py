"""aiida-vasp 5.1's ``vasp.vasp`` workchain, calculation and parser, end to end against the VASP TEST DOUBLE.

The double (``vasp_test_double.py``) labels with ASE EMT, so every number is checked against EMT called directly;
dpdata must read the same labels back from the retrieved ``OUTCAR`` and ``vasprun.xml``.
"""

from __future__ import annotations

import numpy as np
import pytest
from aiida.engine import run_get_node
from aiida.orm import CalcJobNode
from ase.build import bulk

from tests.doubles.vasp import (
    TEST_DOUBLE_MARK,
    emt_reference,
    setup_vasp_test_double,
    single_point_builder,
    upload_potcar_family,
)

pytestmark = pytest.mark.engines


@pytest.fixture
def vasp_code(aiida_localhost, tmp_path):
    return setup_vasp_test_double(aiida_localhost, tmp_path / 'bin')


@pytest.fixture
def potcar_family():
    return upload_potcar_family()


def rattled_cu():
    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True)
    atoms.rattle(stdev=0.05, seed=7)
    return atoms


def dump_retrieved(calc: CalcJobNode, folder):
    folder.mkdir()
    for name in calc.outputs.retrieved.base.repository.list_object_names():
        (folder / name).write_bytes(calc.outputs.retrieved.base.repository.get_object_content(name, mode='rb'))
    return folder


def test_single_point_matches_emt(vasp_code, potcar_family, tmp_path):
    import dpdata

    atoms = rattled_cu()
    reference = emt_reference(atoms)
    builder = single_point_builder(vasp_code, atoms, parser_settings={'include_node': ['trajectory']})

    results, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    calcs = [child for child in node.called if isinstance(child, CalcJobNode)]
    assert len(calcs) == 1
    assert calcs[0].exit_status == 0

    misc = results['misc'].get_dict()
    assert misc['run_status']['finished'] is True
    assert misc['run_status']['electronic_converged'] is True
    assert misc['run_status']['nelm'] == 60
    assert misc['version'] == '6.4.2'
    assert misc['total_energies']['energy_extrapolated'] == pytest.approx(reference['energy'], abs=1e-7)
    np.testing.assert_allclose(misc['forces'], reference['forces'], atol=1e-7)
    np.testing.assert_allclose(misc['stress'], reference['stress_kbar'], atol=1e-6)

    trajectory = results['trajectory']
    assert {'cells', 'positions', 'forces', 'stress', 'energy_extrapolated'} <= set(trajectory.get_arraynames())
    np.testing.assert_allclose(trajectory.get_array('forces')[-1], reference['forces'], atol=1e-7)
    np.testing.assert_allclose(trajectory.get_array('stress')[-1], reference['stress_kbar'], atol=1e-6)
    assert trajectory.get_array('energy_extrapolated')[-1] == pytest.approx(reference['energy'], abs=1e-7)

    folder = dump_retrieved(calcs[0], tmp_path / 'retrieved')
    assert {'OUTCAR', 'vasprun.xml', 'CONTCAR', 'vasp_output'} <= {path.name for path in folder.iterdir()}
    for name in ('OUTCAR', 'vasprun.xml', 'CONTCAR', 'vasp_output'):
        assert TEST_DOUBLE_MARK in '\n'.join((folder / name).read_text().splitlines()[:2]), name

    for fmt, name, virial_atol in (('vasp/outcar', 'OUTCAR', 1e-6), ('vasp/xml', 'vasprun.xml', 1e-7)):
        system = dpdata.LabeledSystem(str(folder / name), fmt=fmt)
        assert len(system) == 1, fmt
        assert system['atom_names'] == ['Cu']
        assert system['energies'][0] == pytest.approx(reference['energy'], abs=1e-7), fmt
        np.testing.assert_allclose(system['forces'][0], reference['forces'], atol=1e-6, err_msg=fmt)
        np.testing.assert_allclose(system['virials'][0], reference['virial'], atol=virial_atol, err_msg=fmt)
        np.testing.assert_allclose(system['cells'][0], atoms.cell[:], atol=1e-8, err_msg=fmt)
        np.testing.assert_allclose(system['coords'][0], atoms.positions, atol=1e-5, err_msg=fmt)


def test_nelm_1_is_reported_as_electronically_unconverged(vasp_code, potcar_family, tmp_path):
    """With the restart handler off, NELM = 1 ends the workchain with 503; the calculation itself exits 701."""
    import dpdata

    atoms = rattled_cu()
    reference = emt_reference(atoms)
    builder = single_point_builder(
        vasp_code, atoms, incar={'nelm': 1}, handler_overrides={'handler_electronic_conv': {'enabled': False}}
    )

    _, node = run_get_node(builder)

    assert node.is_finished
    assert not node.is_finished_ok
    assert node.exit_status == 503
    assert node.exit_message == 'Cannot handle the error - the last calculation did not reach electronic convergence.'
    (calc,) = [child for child in node.called if isinstance(child, CalcJobNode)]
    assert calc.exit_status == 701
    assert calc.exit_message == 'The electronic structure is not converged.'
    run_status = calc.outputs.misc['run_status']
    assert run_status['finished'] is True
    assert run_status['electronic_converged'] is False
    assert run_status['nelm'] == 1
    assert run_status['last_iteration_index'] == [1, 1]
    assert run_status['contains_nelm_breach'] is True
    # The energy is the unconverged first iteration's, not EMT's
    energy = calc.outputs.misc['total_energies']['energy_extrapolated']
    assert energy != pytest.approx(reference['energy'], abs=1e-3)

    folder = dump_retrieved(calc, tmp_path / 'retrieved')
    with pytest.warns(UserWarning, match='unconverged'):
        assert len(dpdata.LabeledSystem(str(folder / 'OUTCAR'), fmt='vasp/outcar')) == 0
    assert len(dpdata.LabeledSystem(str(folder / 'vasprun.xml'), fmt='vasp/xml')) == 0
    assert len(dpdata.LabeledSystem(str(folder / 'vasprun.xml'), fmt='vasp/xml', convergence_check=False)) == 1


def test_nelm_1_is_restarted_by_the_workchain_with_nelm_150(vasp_code, potcar_family):
    """aiida-vasp's own recovery: handler_electronic_conv raises NELM to 150 and the second run converges."""
    atoms = rattled_cu()
    reference = emt_reference(atoms)
    builder = single_point_builder(vasp_code, atoms, incar={'nelm': 1})

    results, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    calcs = sorted((child for child in node.called if isinstance(child, CalcJobNode)), key=lambda calc: calc.ctime)
    assert [calc.exit_status for calc in calcs] == [701, 0]
    assert calcs[1].inputs.parameters['nelm'] == 150
    misc = results['misc'].get_dict()
    assert misc['run_status']['electronic_converged'] is True
    assert misc['total_energies']['energy_extrapolated'] == pytest.approx(reference['energy'], abs=1e-7)
