"""Exploration schedules: stage checks, task expansion, DP-GEN's model_devi_jobs, the paper's Cu schedule."""

from __future__ import annotations

import re

import pytest

from aiida_dpgen.exploration.schedule import (
    PAPER_PRESSURES,
    StagedSchedule,
    count_tasks_and_frames,
    expand_tasks,
    from_model_devi_jobs,
    paper_cu_schedule,
    validate_stage,
)

NPT = {
    'systems': ['fcc', 'hcp'],
    'temps': [50, 100],
    'press': [1, 10, 100],
    'ensemble': 'npt',
    'nsteps': 100,
    'trj_freq': 10,
}


def test_tasks_are_system_configuration_temperature_pressure_in_dpgen_order():
    tasks = expand_tasks(NPT, {'fcc': 2, 'hcp': 1, 'bcc': 5})
    assert len(tasks) == (2 + 1) * 2 * 3
    first = [(task.system, task.configuration, task.md.temperature, task.md.pressure) for task in tasks[:7]]
    assert first == [
        ('fcc', 0, 50.0, 1.0),
        ('fcc', 0, 50.0, 10.0),
        ('fcc', 0, 50.0, 100.0),
        ('fcc', 0, 100.0, 1.0),
        ('fcc', 0, 100.0, 10.0),
        ('fcc', 0, 100.0, 100.0),
        ('fcc', 1, 50.0, 1.0),
    ]
    assert {task.system for task in tasks} == {'fcc', 'hcp'}, 'bcc is not in the stage'


def test_nvt_ignores_pressures_and_configurations_per_system_caps_the_starting_points():
    stage = {**NPT, 'ensemble': 'nvt', 'configurations_per_system': 1}
    tasks = expand_tasks(stage, {'fcc': 4, 'hcp': 4})
    assert len(tasks) == 2 * 1 * 2
    assert all(task.md.pressure is None for task in tasks)


def test_template_stage_expands_every_combination_and_takes_length_from_v_nsteps():
    stage = {
        'systems': ['fcc'],
        'template': 'read_data c\npair_style deepmd g\nrun V_NSTEPS\nvelocity all create V_TEMP 1\n',
        'rev_mat': {'V_NSTEPS': [100, 200], 'V_TEMP': [300, 600, 900]},
        'trj_freq': 10,
    }
    tasks = expand_tasks(stage, {'fcc': 1})
    assert len(tasks) == 6
    assert tasks[-1].describe()['V_NSTEPS'] == 200 and tasks[-1].md.nsteps == 200
    assert tasks[-1].md.temperature == 900.0


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'ensemble': 'npt-weird'}, "stage.ensemble='npt-weird': unknown"),
        ({'press': []}, "stage.press=[]: ensemble 'npt' needs a non-empty list"),
        ({'temps': 300}, 'stage.temps=300: expected a non-empty list'),
        ({'systems': ['fcc', 'diamond']}, "stage.systems: ['diamond'] are not among the configurations"),
        ({'nsteps': -5}, 'stage.nsteps=-5'),
        ({'tau_t': 0}, 'stage.tau_t=0'),
        ({'temperature': 300}, "stage: unknown keys ['temperature']"),
        ({'configurations_per_system': 0}, 'stage.configurations_per_system=0'),
        ({'shuffle_atoms': 'yes'}, "stage.shuffle_atoms='yes': expected true or false"),
    ],
)
def test_bad_stage_names_the_key(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_stage({**NPT, **change}, ['fcc', 'hcp'])


def test_missing_nsteps_is_named():
    stage = dict(NPT)
    del stage['nsteps']
    with pytest.raises(ValueError, match=re.escape('stage.nsteps: missing')):
        validate_stage(stage, ['fcc', 'hcp'])


def test_model_devi_jobs_map_sys_idx_to_names_and_dpgen_keys():
    jobs = [
        {
            'sys_idx': [0, 2],
            'temps': [50],
            'press': [1],
            'trj_freq': 10,
            'nsteps': 1000,
            'ensemble': 'npt',
            '_idx': '00',
            'dt': 0.001,
            'taut': 0.2,
            'taup': 1.0,
        }
    ]
    (stage,) = from_model_devi_jobs(jobs, ['fcc', 'hcp', 'bcc'])
    assert stage['systems'] == ['fcc', 'bcc']
    assert (stage['timestep'], stage['tau_t'], stage['tau_p']) == (0.001, 0.2, 1.0)


def test_sys_idx_out_of_range_is_named_with_the_job():
    jobs = [
        {'sys_idx': [0], 'temps': [50], 'ensemble': 'nvt', 'nsteps': 10, 'trj_freq': 1},
        {'sys_idx': [3], 'temps': [50], 'ensemble': 'nvt', 'nsteps': 10, 'trj_freq': 1},
    ]
    with pytest.raises(ValueError, match=re.escape('model_devi_jobs[1].sys_idx: index 3 is out of range')):
        from_model_devi_jobs(jobs, ['fcc', 'hcp', 'bcc'])


def test_paper_cu_schedule_reproduces_table_a1_and_the_25_million_frames():
    schedule = paper_cu_schedule()
    assert len(schedule) == 4 * 8 + 4 * 4
    bulk_counts = {'fcc': 20, 'hcp': 20, 'bcc': 20}
    surface_counts = {'fcc_surface': 480, 'hcp_surface': 480}
    tasks = [
        count_tasks_and_frames(stage, bulk_counts if stage['ensemble'] == 'npt' else surface_counts)[0]
        for stage in schedule
    ]
    assert tasks[:8] == [600, 600, 1200, 1200, 1200, 1200, 2400, 2400], 'Table A.1, iterations 0-7'
    assert tasks[32:36] == [2400, 2400, 4800, 4800], 'Table A.1, iterations 32-35'
    assert schedule[0]['temps'] == [50.0, 135.0, 271.0, 407.0, 543.0]
    assert schedule[8]['temps'] == [678.0, 814.0, 950.0, 1086.0, 1221.0]
    assert schedule[16]['temps'] == [1357.0, 1493.0, 1629.0, 1765.0, 1900.0]
    assert schedule[24]['temps'] == [2036.0, 2172.0, 2308.0, 2443.0, 2579.0]
    assert schedule[0]['press'] == list(PAPER_PRESSURES)
    assert [stage['nsteps'] for stage in schedule[:3]] == [1000, 1000, 3000], '2 ps, 2 ps, 6 ps at 2 fs'
    frames = sum(
        count_tasks_and_frames(stage, bulk_counts if stage['ensemble'] == 'npt' else surface_counts)[1]
        for stage in schedule
    )
    assert 25_000_000 < frames < 26_000_000, 'the paper explored about 25 million configurations'


def test_staged_schedule_repeats_a_stage_with_longer_md_until_accurate():
    schedule = StagedSchedule(stages=({**NPT, 'nsteps': 1},), nsteps=(100, 300), accurate_threshold=0.95, max_repeats=3)
    assert schedule.next_stage([]) == (0, {**NPT, 'nsteps': 100})
    assert schedule.next_stage([(0, 0.5)]) == (0, {**NPT, 'nsteps': 300})
    assert schedule.next_stage([(0, 0.5), (0, 0.9)])[1]['nsteps'] == 300, 'the last length repeats'
    assert schedule.next_stage([(0, 0.5), (0, 0.96)]) is None
    assert schedule.next_stage([(0, 0.1)] * 3) is None, 'out of repeats'
    with pytest.raises(ValueError, match='iteration at stage 1 while stage 0 was due'):
        schedule.next_stage([(1, 0.5)])


def test_a_stage_with_a_level_tolerance_passes_when_every_systems_adaptive_level_settles():
    schedule = StagedSchedule(
        (NPT, {**NPT, 'temps': [300]}), (100,), max_repeats=5, level_tolerance=0.01, level_checked=2
    )
    moving = [(0, 0.5, (0.10, 0.20)), (0, 0.5, (0.14, 0.205))]
    assert schedule.next_stage(moving)[0] == 0, 'fcc moved by 0.04'
    settled = [*moving, (0, 0.5, (0.145, 0.207))]
    assert schedule.next_stage(settled)[0] == 1, 'both changed by less than 0.01 over the last 2'
    assert schedule.next_stage([(0, 0.5, None), (0, 0.5, None)])[0] == 0, 'no adaptive level: the ratio decides'
    assert StagedSchedule((NPT,), (100,)).next_stage([(0, 0.5, (0.1,)), (0, 0.5, (0.1,))])[0] == 0, 'no tolerance'
    with pytest.raises(ValueError, match=r'level_tolerance=0: expected a force deviation > 0'):
        StagedSchedule((NPT,), (100,), level_tolerance=0)
    with pytest.raises(ValueError, match=r'level_checked=1: expected at least 2'):
        StagedSchedule((NPT,), (100,), level_tolerance=0.05, level_checked=1)
