"""A running loop's jobs, sorted into the states `aiida-dpgen status` shows."""

from __future__ import annotations

import pytest

from aiida_dpgen.tools.status import JOB_STATES, NOT_STARTED_AFTER, LoopStatus, job_state, needs_attention


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


def test_a_paused_process_is_named_with_its_status_and_the_command_that_resumes_it():
    message = needs_attention(
        'DpLammpsCalculation',
        80,
        process_state='waiting',
        paused=True,
        status='Pausing after failed transport task',
        age=5.0,
    )
    assert message.startswith('DpLammpsCalculation<80> is paused (Pausing after failed transport task)')
    assert message.endswith('`verdi process play 80`')


def test_a_process_that_never_started_is_named_with_the_repair_commands():
    message = needs_attention(
        'LabelWorkChain', 132, process_state='created', paused=False, status=None, age=NOT_STARTED_AFTER + 60
    )
    assert message.startswith(f'LabelWorkChain<132> was created {NOT_STARTED_AFTER + 60:.0f} s ago and has not started')
    assert '`verdi process repair`' in message


@pytest.mark.parametrize(
    ('process_state', 'paused', 'age'),
    [
        ('created', False, NOT_STARTED_AFTER - 1),  # a worker picks new processes up within seconds
        ('waiting', False, 10 * NOT_STARTED_AFTER),  # a job queued for hours is waiting, not stuck
        ('running', False, 10 * NOT_STARTED_AFTER),
    ],
)
def test_processes_that_move_on_by_themselves_need_no_attention(process_state, paused, age):
    assert (
        needs_attention('DpTrainCalculation', 9, process_state=process_state, paused=paused, status=None, age=age)
        is None
    )


def test_the_summary_ends_with_what_needs_attention():
    status = LoopStatus(
        pk=7,
        state='waiting',
        iterations_done=0,
        current_step='iter_000_label',
        jobs=dict.fromkeys(JOB_STATES, 0),
        computers={},
        active=[],
        attention=['LabelWorkChain<132> was created ...'],
    )
    assert status.format().splitlines()[-2:] == ['needs attention:', '  LabelWorkChain<132> was created ...']


def test_the_loops_status_names_its_paused_and_never_started_processes(aiida_localhost, monkeypatch):
    from aiida import orm
    from aiida.common.links import LinkType

    from aiida_dpgen.tools import status as status_module

    def process(node, label, state, caller=None, link='CALL'):
        node.set_process_label(label)
        node.set_process_state(state)
        if caller is not None:
            link_type = LinkType.CALL_CALC if isinstance(node, orm.CalcJobNode) else LinkType.CALL_WORK
            node.base.links.add_incoming(caller, link_type, link)
        return node.store()

    loop = process(orm.WorkflowNode(), 'DpgenWorkChain', 'waiting')
    label = process(orm.WorkflowNode(), 'LabelWorkChain', 'waiting', loop, 'iter_000_label')
    never_started = process(orm.WorkflowNode(), 'AseSinglePointBaseWorkChain', 'created', label, 'label_frame_000000')
    job = orm.CalcJobNode(computer=aiida_localhost)
    job.set_option('resources', {'num_machines': 1})
    paused = process(job, 'AseSinglePointCalculation', 'waiting', label, 'label_frame_000001')
    paused.pause()
    paused.set_process_status('Pausing after failed transport task: submit_calculation raised')
    monkeypatch.setattr(status_module, 'NOT_STARTED_AFTER', 0.0)

    summary = status_module.loop_status(loop)

    assert summary.current_step == 'iter_000_label'
    assert [line.split(' ')[0] for line in summary.attention] == [
        f'AseSinglePointBaseWorkChain<{never_started.pk}>',
        f'AseSinglePointCalculation<{paused.pk}>',
    ]
    assert summary.attention[1].endswith(f'`verdi process play {paused.pk}`')
    assert summary.format().splitlines()[-3] == 'needs attention:'
