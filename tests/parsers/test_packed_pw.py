"""PackedPwParser on real pw.x outputs: a converged task as PwParser reads it; the others named, not labeled."""

from __future__ import annotations

import pathlib

import ase.io
import numpy as np
import pytest
from aiida import orm
from aiida.plugins import ParserFactory
from aiida_quantumespresso.parsers.parse_raw.pw import parse_stdout

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'dpgen.pw_packed'
TASKS = ('converged', 'unconverged', 'truncated', 'missing')


def parse(generate_calc_job_node):
    atoms = ase.io.read(FIXTURES / 'converged.aiida.in', format='espresso-in')
    parameters = {'CONTROL': {'calculation': 'scf', 'tprnfor': True, 'tstress': True}}
    inputs = {}
    for task in TASKS:
        inputs[f'structures__{task}'] = orm.StructureData(ase=atoms)
        inputs[f'parameters__{task}'] = orm.Dict(parameters)
    node = generate_calc_job_node('dpgen.pw_packed', 'mixed', inputs)
    return ParserFactory('dpgen.pw_packed').parse_from_node(node, store_provenance=False)


def test_each_task_is_parsed_on_its_own(generate_calc_job_node):
    results, calcfunction = parse(generate_calc_job_node)

    statuses = results['task_status'].get_dict()
    assert statuses['converged'] == 'ok'
    assert statuses['unconverged'] == 'scf_unconverged'
    assert statuses['truncated'].startswith('stdout incomplete')
    assert statuses['missing'].startswith('stdout missing')
    assert set(results['output_parameters']) == {'converged'} == set(results['output_trajectory'])
    assert calcfunction.exit_status == 320
    assert '3 of 4 tasks gave no label' in calcfunction.exit_message


def test_a_converged_task_has_what_pw_parser_gives(generate_calc_job_node):
    results, _ = parse(generate_calc_job_node)
    parameters = results['output_parameters']['converged'].get_dict()
    trajectory = results['output_trajectory']['converged']

    stdout = (FIXTURES / 'mixed' / 'converged' / 'aiida.out').read_text()
    printed, _ = parse_stdout(stdout, {'CONTROL': {'calculation': 'scf'}})
    # the stdout's own numbers, in aiida-quantumespresso's units (eV, eV/Å, GPa)
    assert parameters['energy'] == pytest.approx(printed['trajectory']['energy'][-1], abs=1e-6)
    forces = trajectory.get_array('forces')[-1]
    assert forces.shape == (4, 3) and np.abs(forces).max() > 0.01
    np.testing.assert_allclose(forces.sum(axis=0), 0, atol=1e-3)
    stress = trajectory.get_array('stress')[-1]
    np.testing.assert_allclose(stress, stress.T, atol=1e-6)
    assert parameters['wall_time_seconds'] > 0
    assert parameters['energy_units'] == 'eV'


def test_a_pw_error_that_ends_a_task_is_named_as_pw_parser_names_it(aiida_profile):
    from aiida_dpgen.parsers.packed_pw import parse_task

    stdout = (FIXTURES / 'mixed' / 'converged' / 'aiida.out').read_text()
    stdout = stdout.replace(
        '     End of self-consistent calculation', '     charge is wrong\n     End of self-consistent calculation'
    )
    atoms = ase.io.read(FIXTURES / 'converged.aiida.in', format='espresso-in')
    status, parameters, _ = parse_task(stdout, None, {'CONTROL': {'calculation': 'scf'}}, orm.StructureData(ase=atoms))
    assert (status, parameters) == ('pw.x error ERROR_CHARGE_IS_WRONG', None)
