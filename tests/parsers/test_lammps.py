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
    def run(
        case: str,
        tasks: list[int],
        selection: dict | None = None,
        temporary_case: str | None = None,
        python=None,
    ):
        inputs = {
            f'{namespace}__{key}': node
            for namespace, nodes in job_inputs().items()
            if namespace in ('models', 'configurations')
            for key, node in nodes.items()
        }
        inputs.update(stage=Dict(TEMPLATE_STAGE), tasks=List(tasks))
        if selection is not None:
            inputs['selection'] = Dict(selection)
        if python is not None:
            inputs['python'] = python
        node = generate_calc_job_node('dpgen.lammps', case, inputs)
        temporary = tmp_path / 'temporary'
        shutil.rmtree(temporary, ignore_errors=True)
        if temporary_case:
            shutil.copytree(RUN / temporary_case, temporary)
        else:
            temporary.mkdir()
        return DpLammpsParser.parse_from_node(node, store_provenance=False, retrieved_temporary_folder=str(temporary))

    return run


SELECTION = {'f_trust_lo': 0.15, 'f_trust_hi': 0.4, 'fp_task_max': 4, 'seed': 11}


def job_inputs() -> dict:
    """The inputs of the job that wrote the fixtures (two copies of one model, one 32-atom fcc cell)."""
    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    configurations = ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True) * 2], type_map=['Cu'])
    return {
        'models': {name: DeepPotentialData(str(model), type_map=['Cu']) for name in ('model_0', 'model_1')},
        'configurations': {'fcc': configurations},
        'stage': Dict(TEMPLATE_STAGE),
    }


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


def test_selecting_on_the_computer_gives_exactly_what_selecting_here_gives(
    parse, generate_calc_job, aiida_localhost, tmp_path
):
    """The job's own last step (select_on_computer.py with the zipped selection code, numpy only) on the files of
    a real run: the same deviations, outcomes, counts and candidate frames as the parser's selection of the
    same files, while only two compact files and the failed task's log come back."""
    import json
    import subprocess
    import sys

    from aiida.orm import InstalledCode

    from aiida_dpgen.exploration.job import ARRAYS_FILE, RESULTS_FILE

    # every frame a candidate, capped at 4 by the seeded keys
    selection = {**SELECTION, 'f_trust_lo': 0.0, 'f_trust_hi': 100.0}
    here, here_node = parse('lost_atoms', [0, 1], selection, 'lost_atoms.temporary')
    python = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.lammps'
    ).store()
    # any code of the computer as LAMMPS: only the folder is prepared here
    inputs = {**job_inputs(), 'tasks': List([0, 1]), 'selection': Dict(selection), 'code': python, 'python': python}
    folder, calc_info = generate_calc_job('dpgen.lammps', inputs)
    assert calc_info.retrieve_temporary_list == [ARRAYS_FILE, RESULTS_FILE, ('failed_logs/*.dump', '.', 2)]
    assert [info.cmdline_params for info in calc_info.codes_info][-1] == ['select_on_computer.py']
    for case in ('lost_atoms', 'lost_atoms.temporary'):
        shutil.copytree(RUN / case, folder, dirs_exist_ok=True)

    imports = subprocess.run(
        [
            sys.executable,
            '-c',
            "import sys; sys.path.insert(0, 'aiida_dpgen_exploration.zip'); "
            'import aiida_dpgen.exploration.job as job; '
            "print(job.__file__, sorted(name for name in sys.modules if name.split('.')[0] == 'aiida'))",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'aiida_dpgen_exploration.zip' in imports.stdout and imports.stdout.rstrip().endswith('[]'), imports.stdout
    done = subprocess.run(
        [sys.executable, 'select_on_computer.py'], cwd=folder, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in (folder / 'failed_logs').iterdir()) == ['task.000001.dump', 'task.000001.log']

    retrieved = tmp_path / 'retrieved_remote'
    (retrieved / 'failed_logs').mkdir(parents=True)
    shutil.copy(folder / 'failed_logs' / 'task.000001.log', retrieved / 'failed_logs')
    temporary = tmp_path / 'remote_temporary'
    (temporary / 'failed_logs').mkdir(parents=True)
    for name in (ARRAYS_FILE, RESULTS_FILE, 'failed_logs/task.000001.dump'):
        shutil.copy(folder / name, temporary / name)
    remote, remote_node = parse(str(retrieved), [0, 1], selection, str(temporary), python=python)

    assert remote_node.exit_status == here_node.exit_status == 0
    assert remote['task_results'].get_dict() == json.loads(json.dumps(here['task_results'].get_dict()))
    assert remote['statistics'].get_dict() == here['statistics'].get_dict()
    for name in ('deviations', 'candidate_frames'):
        assert remote[name].get_arraynames() == here[name].get_arraynames()
        for array in here[name].get_arraynames():
            np.testing.assert_array_equal(remote[name].get_array(array), here[name].get_array(array))
    assert len(here['candidate_frames'].get_array('step')) == selection['fp_task_max']
    assert list(remote['failed_trajectories']) == list(here['failed_trajectories']) == ['task_000001']
    steps = [outputs['failed_trajectories']['task_000001'].time_steps for outputs in (remote, here)]
    assert steps[0] == steps[1]


def test_a_job_that_selects_on_the_computer_but_left_no_selection_names_it(parse, aiida_localhost):
    import sys

    from aiida.orm import InstalledCode

    from aiida_dpgen.calculations.lammps import DpLammpsCalculation

    python = InstalledCode(computer=aiida_localhost, filepath_executable=sys.executable).store()
    _, calcfunction = parse('lost_atoms', [0, 1], SELECTION, None, python=python)
    expected = DpLammpsCalculation.exit_codes.ERROR_NO_SELECTION_FILE
    assert calcfunction.exit_status == expected.status
    assert 'select.err' in calcfunction.exit_message


def test_a_task_that_lost_atoms_is_read_with_aiida_lammps_log_parser_and_keeps_its_trajectory(parse):
    """aiida-lammps reads the log of a task that did not complete (its errors and warnings go into the task's
    result) and its trajectory becomes a LammpsTrajectory, which the aiida-lammps tools open; the completed
    task keeps neither, as its trajectory never leaves the computer when selecting there."""
    from aiida_lammps.data.trajectory import LammpsTrajectory

    results, _ = parse('lost_atoms', [0, 1], SELECTION, 'lost_atoms.temporary')
    tasks = results['task_results']['tasks']
    assert tasks['1']['errors'] == [{'message': 'ERROR: Lost atoms: original 32 current 26'}]
    assert tasks['1']['errors'][0]['message'] == tasks['1']['message'], 'the same error as the selection reads'
    assert tasks['1']['warnings'] == []
    assert 'errors' not in tasks['0']
    (name,) = results['failed_trajectories']
    trajectory = results['failed_trajectories'][name]
    assert name == 'task_000001' and isinstance(trajectory, LammpsTrajectory)
    assert trajectory.number_atoms == 32 and trajectory.time_steps[0] == 0
    assert trajectory.field_names == ['id', 'type', 'x', 'y', 'z']
