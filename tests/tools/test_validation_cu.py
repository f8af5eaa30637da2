"""benchmarks/validation_cu.py's schedule is one the loop accepts, and its verdict per stage reads the last
iteration of each stage."""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys

import pytest

from aiida_dpgen.loop.schedule import LoopPlan

SCRIPT = pathlib.Path(__file__).parents[2] / 'benchmarks' / 'validation_cu.py'
SYSTEMS = ['fcc', 'hcp', 'bcc', 'fcc_surface', 'hcp_surface', 'bcc_surface']


@pytest.fixture(scope='module')
def validation():
    spec = importlib.util.spec_from_file_location('validation_cu', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules['validation_cu'] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules['validation_cu']


def options(**changes) -> argparse.Namespace:
    defaults = {
        'intervals': 4,
        'surface_intervals': 1,
        'surfaces': True,
        'nsteps': '300,600',
        'accurate_threshold': 0.99,
        'max_repeats': 2,
    }
    return argparse.Namespace(**{**defaults, **changes})


def test_the_schedule_covers_table_a1s_four_intervals_up_to_twice_the_melting_point_then_surfaces(validation):
    schedule = validation.schedule(options())
    plan = LoopPlan(schedule, system_names=SYSTEMS)

    stages = plan.staged.stages
    assert [stage['ensemble'] for stage in stages] == ['npt'] * 4 + ['nvt']
    assert [stage['temps'] for stage in stages[:4]] == [
        [50.0, 543.0],
        [678.0, 1221.0],
        [1357.0, 1900.0],
        [2036.0, 2579.0],
    ]
    assert stages[4]['systems'] == ['fcc_surface', 'hcp_surface']
    assert plan.staged.nsteps == (300, 600) and plan.staged.max_repeats == 2


def test_fewer_intervals_and_no_surfaces(validation):
    stages = validation.schedule(options(intervals=2, surfaces=False))['stages']

    assert [stage['ensemble'] for stage in stages] == ['npt', 'npt']


def test_a_stage_meets_the_criterion_by_its_last_iteration(validation):
    def report(stage, accurate):
        return {
            'stage_index': stage,
            'stage': {'systems': ['fcc'], 'temps': [50.0]},
            'exploration': {'accurate_ratio': accurate},
        }

    criteria = validation.stage_criteria([report(0, 0.5), report(0, 0.995), report(1, 0.7)], 0.99)

    assert [(entry['stage'], entry['iterations'], entry['met']) for entry in criteria] == [(0, 2, True), (1, 1, False)]
