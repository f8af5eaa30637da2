"""The loop's plan: which stage comes next, and when and why the loop stops."""

from __future__ import annotations

import pytest

from aiida_dpgen.loop.schedule import ConvergenceCriteria, IterationRecord, LoopPlan

STAGE = {'systems': ['fcc'], 'temps': [100.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
STAGED = {key: value for key, value in STAGE.items() if key != 'nsteps'}
"""A stage of a staged schedule, whose nsteps sets the MD length."""


def record(stage=0, accurate=0.5, candidate=0.3):
    return IterationRecord(stage, accurate, candidate)


def test_a_list_schedule_runs_one_stage_per_iteration_then_stops():
    plan = LoopPlan([STAGE, {**STAGE, 'temps': [200.0]}])
    first = plan.next([])
    assert (first.stage_index, first.stage['temps']) == (0, [100.0])
    second = plan.next([record(0)])
    assert (second.stage_index, second.stage['temps']) == (1, [200.0])
    done = plan.next([record(0), record(1)])
    assert done.stop and done.reason == 'schedule done: all 2 stages explored'


def test_candidate_ratio_below_the_threshold_for_patience_iterations_stops_the_loop():
    plan = LoopPlan([STAGE] * 5, {'candidate_ratio': 0.1, 'patience': 2})
    assert not plan.next([record(candidate=0.05)]).stop
    assert not plan.next([record(candidate=0.05), record(candidate=0.2)]).stop
    decision = plan.next([record(candidate=0.2), record(candidate=0.05), record(candidate=0.1 - 1e-9)])
    assert decision.stop and decision.reason.startswith('converged: candidate ratio 5.00%, 10.00% below 10.00%')


def test_a_ratio_equal_to_the_threshold_is_not_below_it():
    assert not ConvergenceCriteria(candidate_ratio=0.1).converged([record(candidate=0.1)])


def test_max_iterations_caps_the_schedule():
    plan = LoopPlan([STAGE] * 5, {'max_iterations': 2})
    assert plan.next([record(), record()]).reason == 'reached max_iterations=2'


def test_a_staged_schedule_repeats_a_stage_until_its_accurate_ratio_passes():
    plan = LoopPlan({'stages': [STAGED, {**STAGED, 'temps': [300.0]}], 'nsteps': [100, 300], 'accurate_threshold': 0.9})
    assert plan.next([]).stage['nsteps'] == 100
    again = plan.next([record(0, accurate=0.5)])
    assert (again.stage_index, again.stage['nsteps']) == (0, 300)
    moved = plan.next([record(0, accurate=0.5), record(0, accurate=0.95)])
    assert (moved.stage_index, moved.stage['temps'], moved.stage['nsteps']) == (1, [300.0], 100)
    assert plan.next([record(0, 0.95), record(1, 0.99)]).stop


def test_a_staged_schedule_moves_on_when_the_adaptive_lower_levels_settle():
    """dpgen2's adaptive-lower convergence: the levels of the stage's last two iterations within 0.01."""
    plan = LoopPlan({'stages': [STAGED, {**STAGED, 'temps': [300.0]}], 'nsteps': [100], 'level_tolerance': 0.01})
    first = IterationRecord(0, 0.5, 0.4, (0.10,))
    assert plan.next([first, IterationRecord(0, 0.5, 0.4, (0.13,))]).stage_index == 0
    assert plan.next([first, IterationRecord(0, 0.5, 0.4, (0.105,))]).stage_index == 1


def test_a_stage_out_of_repeats_stops_the_loop_with_fatal_at_max():
    """dpgen2's fatal_at_max: a stage that used its repeats without passing stops the loop, as a failure;
    without it (the default) the loop moves on to the next stage."""
    staged = {'stages': [STAGED, {**STAGED, 'temps': [300.0]}], 'nsteps': [100], 'accurate_threshold': 0.9}
    history = [record(0, accurate=0.5), record(0, accurate=0.6)]
    moves_on = LoopPlan({**staged, 'max_repeats': 2}).next(history)
    assert (moves_on.stage_index, moves_on.failed) == (1, False)
    fatal = LoopPlan({**staged, 'max_repeats': 2, 'fatal_at_max': True}).next(history)
    assert fatal.stop and fatal.failed
    assert (
        fatal.reason
        == 'stage 0 did not converge: accurate ratio 60.00% below 90.00% after 2 iteration(s) (fatal_at_max)'
    )
    passed = LoopPlan({**staged, 'max_repeats': 2, 'fatal_at_max': True}).next([record(0, 0.5), record(0, 0.95)])
    assert (passed.stage_index, passed.failed) == (1, False), 'passing on the last repeat is not a failure'


@pytest.mark.parametrize(
    ('schedule', 'convergence', 'message'),
    [
        ([], None, 'schedule=[]: expected a non-empty list of stages'),
        ([{**STAGE, 'systems': ['bcc']}], None, "schedule[0].systems: ['bcc'] are not among the configurations"),
        ([STAGE], {'candidate_ratio': 2}, 'convergence.candidate_ratio=2: expected a ratio between 0 and 1'),
        ([STAGE], {'patience': 0}, 'convergence.patience=0: expected a positive number'),
        ([STAGE], {'candidate': 0.1}, "convergence: unknown keys ['candidate']"),
        ({'stages': [STAGED], 'nsteps': []}, None, 'schedule.nsteps=(): expected a non-empty list'),
        (
            {'stages': [STAGE], 'nsteps': [300]},
            None,
            'schedule.stages[0].nsteps=100: a staged schedule sets the MD length of each repeat with schedule.nsteps; '
            'remove it from the stage',
        ),
        ({'stage': [STAGE]}, None, "schedule: unknown keys ['stage']"),
        (
            {'stages': [STAGED], 'nsteps': [100], 'fatal_at_max': 'yes'},
            None,
            "schedule.fatal_at_max='yes': expected true",
        ),
        ({'stages': [STAGED], 'nsteps': [100], 'max_repeats': 0}, None, 'schedule.max_repeats=0: expected a positive'),
    ],
)
def test_bad_plans_are_refused_with_the_key_and_the_fix(schedule, convergence, message):
    with pytest.raises(ValueError) as error:
        LoopPlan(schedule, convergence, system_names=['fcc'])
    assert message in str(error.value)
