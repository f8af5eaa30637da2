"""A running loop's jobs, sorted into the states `aiida-dpgen status` shows."""

from __future__ import annotations

import pytest

from aiida_dpgen.tools.status import JOB_STATES, LoopStatus, job_state


@pytest.mark.parametrize(
    ('process_state', 'exit_status', 'scheduler_state', 'job_id', 'expected'),
    [
        ('waiting', None, None, None, 'to submit'),
        ('waiting', None, None, '812', 'queued'),
        ('waiting', None, 'queued', '812', 'queued'),
        ('waiting', None, 'queued held', '812', 'queued'),
        ('waiting', None, 'running', '812', 'running'),
        ('waiting', None, 'done', '812', 'retrieving'),
        ('finished', 0, 'done', '812', 'finished'),
        ('finished', 120, 'done', '812', 'failed'),
        ('excepted', None, None, None, 'failed'),
        ('killed', None, 'running', '812', 'failed'),
    ],
)
def test_job_states(process_state, exit_status, scheduler_state, job_id, expected):
    assert job_state(process_state, exit_status, scheduler_state, job_id) == expected


def test_the_summary_names_the_step_and_counts_jobs_by_state():
    status = LoopStatus(
        pk=7,
        state='waiting',
        iterations_done=1,
        current_step='iter_001_explore',
        jobs={**dict.fromkeys(JOB_STATES, 0), 'running': 1, 'finished': 9},
        computers={'localhost-slurm': 1},
        active=['DpLammpsCalculation<80> running on localhost-slurm (job 12)'],
    )
    assert status.format().splitlines() == [
        'DpgenWorkChain<7>: waiting; 1 iteration(s) completed',
        'current step: iter_001_explore',
        'jobs: 1 running, 9 finished',
        'active jobs per computer: localhost-slurm 1',
        '  DpLammpsCalculation<80> running on localhost-slurm (job 12)',
    ]
