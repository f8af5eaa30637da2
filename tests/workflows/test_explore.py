"""ExploreWorkChain and DpLammpsBaseWorkChain without engines: grouping, input checks, retries."""

from __future__ import annotations

import re

import pytest
from aiida.engine import ProcessHandlerReport
from aiida.orm import InstalledCode
from aiida.plugins import CalculationFactory, WorkflowFactory
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData, DeepPotentialData

from ..conftest import FIXTURES

ExploreWorkChain = WorkflowFactory('dpgen.explore')
DpLammpsBaseWorkChain = WorkflowFactory('dpgen.lammps.base')
DpLammpsCalculation = CalculationFactory('dpgen.lammps')
STAGE = {
    'systems': ['fcc'],
    'temps': [100.0, 200.0, 300.0],
    'press': [1.0, 10.0],
    'ensemble': 'npt',
    'nsteps': 10,
    'trj_freq': 1,
}
SELECTION = {'f_trust_lo': 0.05, 'f_trust_hi': 0.2}


@pytest.fixture
def explore_inputs(aiida_localhost):
    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    frames = [bulk('Cu', 'fcc', a=3.61, cubic=True)] * 2
    code = InstalledCode(computer=aiida_localhost, filepath_executable='lmp', default_calc_job_plugin='dpgen.lammps')
    return {
        'models': {f'model_{index}': DeepPotentialData(str(model), type_map=['Cu']).store() for index in range(2)},
        'configurations': {'fcc': ConfigurationsData.from_ase(frames, type_map=['Cu']).store()},
        'stage': STAGE,
        'selection': SELECTION,
        'lammps': {'lammps': {'code': code.store()}},
    }


def test_tasks_are_split_into_jobs_of_group_size(generate_workchain, explore_inputs):
    process = generate_workchain('dpgen.explore', {**explore_inputs, 'group_size': 5})
    process.setup()
    assert process.ctx.groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]], '2 configurations x 3 T x 2 P'


@pytest.mark.parametrize(
    ('ntasks', 'group_size', 'sizes'),
    [(12, 10, [6, 6]), (20, 10, [10, 10]), (21, 10, [7, 7, 7]), (3, 10, [3]), (5, 1, [1] * 5), (0, 4, [])],
)
def test_jobs_are_the_fewest_of_at_most_group_size_tasks_and_even(ntasks, group_size, sizes):
    from aiida_dpgen.utils.grouping import balanced_groups

    groups = balanced_groups(ntasks, group_size)
    assert [len(group) for group in groups] == sizes
    assert [index for group in groups for index in group] == list(range(ntasks))


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'selection': {'f_trust_lo': 0.2, 'f_trust_hi': 0.2}}, 'selection: trust levels: f_lo=0.2 and f_hi=0.2'),
        ({'group_size': 0}, 'group_size=0: expected at least one task per job'),
        ({'stage': {**STAGE, 'ensemble': 'nvt-weird'}}, "stage.ensemble='nvt-weird': unknown"),
        (
            {'stage': {**STAGE, 'systems': ['bcc']}},
            "stage.systems: ['bcc'] are not among the configurations given (fcc)",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_runs(generate_workchain, explore_inputs, change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_workchain('dpgen.explore', {**explore_inputs, **change})


def test_missing_code_is_named(generate_workchain, explore_inputs):
    lammps = {key: value for key, value in explore_inputs['lammps']['lammps'].items() if key != 'code'}
    with pytest.raises(ValueError, match=re.escape('lammps.lammps.code: missing; give the LAMMPS code')):
        generate_workchain('dpgen.explore', {**explore_inputs, 'lammps': {'lammps': lammps}})


def test_missing_selection_is_named(generate_workchain, explore_inputs):
    del explore_inputs['selection']
    with pytest.raises(ValueError, match='selection'):
        generate_workchain('dpgen.explore', explore_inputs)


def test_a_failed_md_job_is_run_again_up_to_three_times(generate_workchain, explore_inputs, generate_failed_calc_job):
    inputs = {
        'lammps': {
            **explore_inputs['lammps']['lammps'],
            'models': explore_inputs['models'],
            'configurations': explore_inputs['configurations'],
            'stage': STAGE,
            'tasks': [0, 1],
        }
    }
    process = generate_workchain('dpgen.lammps.base', inputs)
    process.setup()
    assert process.inputs.max_iterations.value == 4
    node = generate_failed_calc_job('dpgen.lammps', DpLammpsCalculation.exit_codes.ERROR_NO_TASK_RAN.status)
    report = process.handle_any_failure(node)
    assert isinstance(report, ProcessHandlerReport) and report.do_break and report.exit_code.status == 0
