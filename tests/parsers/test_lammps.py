"""DpLammpsParser on files written by real LAMMPS runs (see fixtures/dpgen.lammps/README.md)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from aiida.orm import Dict, List
from aiida.plugins import CalculationFactory, ParserFactory
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData, DeepPotentialData
from aiida_dpgen.exploration.deviation import read_model_devi

from ..conftest import FIXTURES, PARSER_FIXTURES

DpLammpsParser = ParserFactory('dpgen.lammps')
DpLammpsCalculation = CalculationFactory('dpgen.lammps')
RUN = PARSER_FIXTURES / 'dpgen.lammps'
TEMPLATE_STAGE = {
    'systems': ['fcc'],
    'template': 'read_data conf.lmp\npair_style deepmd graph.pb\nboundary p p V_BOUNDARY\n'
    'velocity all create V_TEMP 7\nrun V_NSTEPS\n',
    'rev_mat': {'V_BOUNDARY': ['p', 'f'], 'V_TEMP': [3000], 'V_NSTEPS': [200]},
    'trj_freq': 10,
}


@pytest.fixture
def parse(aiida_profile, generate_calc_job_node, tmp_path):
    def run(case: str, tasks: list[int], selection: dict | None = None, temporary_case: str | None = None):
        model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
        configurations = ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True) * 2], type_map=['Cu'])
        inputs = {
            'models__model_0': DeepPotentialData(str(model), type_map=['Cu']),
            'models__model_1': DeepPotentialData(str(model), type_map=['Cu']),
            'configurations__fcc': configurations,
            'stage': Dict(TEMPLATE_STAGE),
            'tasks': List(tasks),
        }
        if selection is not None:
            inputs['selection'] = Dict(selection)
        node = generate_calc_job_node('dpgen.lammps', case, inputs)
        temporary = tmp_path / 'temporary'
        if temporary_case:
            shutil.copytree(RUN / temporary_case, temporary)
        else:
            temporary.mkdir()
        return DpLammpsParser.parse_from_node(node, store_provenance=False, retrieved_temporary_folder=str(temporary))

    return run


SELECTION = {'f_trust_lo': 0.15, 'f_trust_hi': 0.4, 'fp_task_max': 4, 'seed': 11}


def test_lost_atoms_task_keeps_its_frames_and_the_job_succeeds(parse):
    results, calcfunction = parse('lost_atoms', [0, 1], SELECTION, 'lost_atoms.temporary')
    assert calcfunction.is_finished_ok, calcfunction.exit_message

    tables = [read_model_devi(RUN / 'lost_atoms.temporary' / f'task.00000{i}' / 'model_devi.out') for i in (0, 1)]
    tasks = results['task_results']['tasks']
    assert tasks['0']['status'] == 'completed' and tasks['0']['frames'] == len(tables[0]) == 21
    assert tasks['1']['status'] == 'lost_atoms' and tasks['1']['frames'] == len(tables[1]) > 0
    assert results['task_results']['summary'] == {
        'tasks': 2,
        'completed': 1,
        'lost_atoms': 1,
        'failed': 0,
        'frames': 21 + len(tables[1]),
    }

    deviations = results['deviations']
    assert deviations.get_array('task').tolist() == [0, 1]
    assert deviations.get_array('offsets').tolist() == [0, 21, 21 + len(tables[1])]
    stacked = np.concatenate(tables)
    assert deviations.get_array('steps').tolist() == stacked[:, 0].astype(int).tolist()
    assert np.allclose(deviations.get_array('values'), stacked[:, 1:], rtol=1e-6)

    force = stacked[:, 4]
    expected = [int(np.sum(force < 0.15)), int(np.sum((force >= 0.15) & (force < 0.4))), int(np.sum(force >= 0.4))]
    statistics = results['statistics']['fcc']
    assert [statistics['accurate'], statistics['candidate'], statistics['failed']] == expected
    frames = results['candidate_frames']
    assert len(frames.get_array('step')) == min(4, expected[1])
    assert frames.get_array('natoms').tolist() == [32] * len(frames.get_array('step'))
    assert frames.base.attributes.get('systems') == ['fcc']


def test_without_selection_only_deviations_and_outcomes_are_output(parse):
    results, calcfunction = parse('lost_atoms', [0, 1], None, 'lost_atoms.temporary')
    assert calcfunction.is_finished_ok
    assert 'statistics' not in results and 'candidate_frames' not in results


def test_task_that_never_started_is_a_failure_with_its_message(parse):
    results, calcfunction = parse('read_data_error', [0])
    assert calcfunction.exit_status == DpLammpsCalculation.exit_codes.ERROR_NO_TASK_RAN.status
    task = results['task_results']['tasks']['0']
    assert task['status'] == 'failed' and 'Did not assign all atoms' in task['message']


def test_missing_temporary_folder_is_an_exit_code(aiida_profile, generate_calc_job_node):
    node = generate_calc_job_node('dpgen.lammps', 'read_data_error', {})
    _, calcfunction = DpLammpsParser.parse_from_node(node, store_provenance=False)
    assert calcfunction.exit_status == DpLammpsCalculation.exit_codes.ERROR_NO_RETRIEVED_TEMPORARY_FOLDER.status
