"""benchmarks/paper_scale.py refuses options out of range with one line naming the option and the fix."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

SCRIPT = pathlib.Path(__file__).parents[2] / 'benchmarks' / 'paper_scale.py'


@pytest.fixture(scope='module')
def paper_scale():
    spec = importlib.util.spec_from_file_location('paper_scale', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules['paper_scale'] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules['paper_scale']


@pytest.mark.parametrize(
    ('arguments', 'message'),
    [
        (['--iterations', '0'], '--iterations=0: expected at least 1'),
        (['--iterations', '49'], '--iterations=49: the paper has 48 stages; give 1 to 48'),
        (['--fp-task-max', '0'], '--fp-task-max=0: expected at least 1'),
        (['--group-size', '-3'], '--group-size=-3: expected at least 1'),
        (['--poll-interval', '0'], '--poll-interval=0.0: expected a positive number of seconds'),
        (['--recordings', '/nonexistent/recordings'], 'no such folder; leave the option out to record them now'),
        (['--report', '/nonexistent/paper_scale.json'], 'no such file; give the paper_scale.json of a finished run'),
        (
            ['--continue-from', '/nonexistent/paper_scale.json'],
            'no such file; give the paper_scale.json of the stopped run',
        ),
    ],
)
def test_an_option_out_of_range_is_one_line_naming_it_and_the_fix(paper_scale, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        paper_scale.parse_arguments(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error


def test_the_defaults_are_the_paper_run(paper_scale):
    arguments = paper_scale.parse_arguments([])
    assert (arguments.iterations, arguments.fp_task_max, arguments.select_here) == (48, 60, False)
    schedule = paper_scale.paper_cu_schedule()
    tasks = [paper_scale.count_tasks_and_frames(stage, paper_scale.CONFIGURATIONS)[0] for stage in schedule]
    frames = sum(paper_scale.count_tasks_and_frames(stage, paper_scale.CONFIGURATIONS)[1] for stage in schedule)
    assert (min(tasks), max(tasks), len(tasks)) == (600, 4800, 48)
    assert 24e6 < frames < 26e6, "about the paper's 25 million frames"
    systems = {stage_systems for stage in schedule for stage_systems in [tuple(stage['systems'])]}
    assert (
        sum(len(names) for names in systems) * 0 + 32 * 3 * arguments.fp_task_max + 16 * 2 * arguments.fp_task_max
        >= 7500
    )
