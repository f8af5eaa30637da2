"""Where a running DpgenWorkChain is: iteration, step, and its jobs by state (``aiida-dpgen status``)."""

from __future__ import annotations

import collections
import dataclasses
import datetime

from aiida import orm

JOB_STATES = ('to submit', 'queued', 'running', 'retrieving', 'finished', 'failed')
"""A job's place in its life, in order: the engine has not submitted it yet; the scheduler holds it; it runs;
the engine is fetching and parsing its files; it finished ok; it failed (handlers may run it again)."""


def job_state(process_state: str | None, exit_status: int | None, scheduler_state: str | None, job_id) -> str:
    """One of :data:`JOB_STATES` for a CalcJob from its process state, exit status and scheduler state."""
    if process_state in ('finished', 'excepted', 'killed'):
        return 'finished' if process_state == 'finished' and exit_status == 0 else 'failed'
    if job_id is None:
        return 'to submit'
    if scheduler_state in ('queued', 'queued held', 'suspended'):
        return 'queued'
    if scheduler_state == 'running':
        return 'running'
    if scheduler_state in ('done', 'undetermined'):
        return 'retrieving'
    return 'queued'  # submitted, not yet seen by a scheduler poll


NOT_STARTED_AFTER = 300.0
"""Seconds after which a process still in the ``created`` state is reported as never started."""


def needs_attention(
    label: str, pk: int, *, process_state: str | None, paused: bool, status: str | None, age: float
) -> str | None:
    """Why the process ``label<pk>`` will not move on by itself, with what to do, or ``None``.

    Two states of AiiDA's engine wait for the user: a process paused after its transport task failed five
    times (a computer that could not be reached, a scheduler command that failed), and a process stored but
    never started, whose task the broker never received (its daemon worker was killed while launching it).
    """
    name = f'{label}<{pk}>'
    if paused:
        return f'{name} is paused ({status or "no status"}): fix the cause, then `verdi process play {pk}`'
    if process_state in (None, 'created') and age > NOT_STARTED_AFTER:
        return (
            f'{name} was created {age:.0f} s ago and has not started: its task never reached the broker (a daemon '
            'worker killed while launching it); `verdi daemon stop`, `verdi process repair`, `verdi daemon start`'
        )
    return None


@dataclasses.dataclass
class LoopStatus:
    pk: int
    state: str
    iterations_done: int
    current_step: str | None
    jobs: dict[str, int]
    computers: dict[str, int]
    active: list[str]
    attention: list[str] = dataclasses.field(default_factory=list)

    def format(self) -> str:
        lines = [
            f'DpgenWorkChain<{self.pk}>: {self.state}; {self.iterations_done} iteration(s) completed',
            f'current step: {self.current_step or "none"}',
            'jobs: ' + ', '.join(f'{count} {state}' for state, count in self.jobs.items() if count)
            if any(self.jobs.values())
            else 'jobs: none yet',
        ]
        if self.computers:
            lines.append(
                'active jobs per computer: ' + ', '.join(f'{name} {count}' for name, count in self.computers.items())
            )
        lines.extend(f'  {line}' for line in self.active)
        if self.attention:
            lines.append('needs attention:')
            lines.extend(f'  {line}' for line in self.attention)
        return '\n'.join(lines)


PROJECTED = {
    'id': 'pk',
    'node_type': 'node_type',
    'attributes.process_label': 'label',
    'attributes.process_state': 'process_state',
    'attributes.exit_status': 'exit_status',
    'attributes.scheduler_state': 'scheduler_state',
    'attributes.job_id': 'job_id',
    'attributes.paused': 'paused',
    'attributes.process_status': 'status',
    'ctime': 'ctime',
}


def descendant_processes(node: orm.ProcessNode) -> list[dict]:
    """Every process ``node`` called, directly or not, as the few attributes the status needs (and the job's
    computer label): a few queries, one per level of calls (in batches), not one node loaded per process, so that
    the status of a run of 48 iterations and thousands of jobs is as quick as that of its first."""
    from aiida.common.links import LinkType

    calls = {'type': {'in': [LinkType.CALL_CALC.value, LinkType.CALL_WORK.value]}}
    processes, parents = [], [node.pk]
    while parents:
        children = []
        for start in range(0, len(parents), BATCH):
            query = orm.QueryBuilder().append(
                orm.ProcessNode, filters={'id': {'in': parents[start : start + BATCH]}}, tag='caller'
            )
            query.append(orm.ProcessNode, with_incoming='caller', edge_filters=calls, project=list(PROJECTED), tag='p')
            query.append(orm.Computer, with_node='p', project='label', outerjoin=True)
            for row in query.all():
                process = dict(zip(PROJECTED.values(), row[:-1], strict=True))
                process['computer'] = row[-1]
                children.append(process)
        processes.extend(children)
        parents = [process['pk'] for process in children if process['node_type'].startswith(WORKFLOW_TYPE)]
    return sorted(processes, key=lambda process: process['pk'])


BATCH = 500
WORKFLOW_TYPE = 'process.workflow.'


def loop_status(node: orm.WorkChainNode) -> LoopStatus:
    """Gather a DpgenWorkChain's status from the provenance graph (read only; safe while the daemon runs it)."""
    query = orm.QueryBuilder().append(orm.ProcessNode, filters={'id': node.pk}, tag='loop')
    query.append(
        orm.WorkflowNode, with_incoming='loop', edge_project='label', project=['ctime', 'attributes.process_state']
    )
    steps = sorted((ctime, label, state) for ctime, state, label in query.all())  # node projections, then the edge's
    running = [label for _, label, state in steps if state not in TERMINATED]
    current = running[-1] if running else (steps[-1][1] if steps and not node.is_terminated else None)
    counts = collections.Counter()
    computers = collections.Counter()
    active = []
    descendants = descendant_processes(node)
    for job in (process for process in descendants if process['node_type'].startswith(CALCJOB_TYPE)):
        state = job_state(job['process_state'], job['exit_status'], job['scheduler_state'], job['job_id'])
        counts[state] += 1
        if state not in ('finished', 'failed'):
            computer = job['computer'] or '?'
            computers[computer] += 1
            active.append(
                f'{job["label"]}<{job["pk"]}> {state} on {computer}'
                + (f' (job {job["job_id"]})' if job['job_id'] else '')
            )
    now = datetime.datetime.now(datetime.timezone.utc)
    loop = {
        'pk': node.pk,
        'label': node.process_label,
        'process_state': node.process_state.value if node.process_state else None,
        'paused': node.paused,
        'status': node.process_status,
        'ctime': node.ctime,
    }
    attention = [
        message
        for process in (loop, *descendants)
        if process['process_state'] not in TERMINATED
        and (
            message := needs_attention(
                process['label'],
                process['pk'],
                process_state=process['process_state'],
                paused=bool(process['paused']),
                status=process['status'],
                age=(now - process['ctime']).total_seconds(),
            )
        )
    ]
    iterations = len(node.outputs.iterations) if 'iterations' in node.outputs else 0
    state = node.process_state.value if node.process_state else 'created'
    if node.is_terminated and node.exit_status:
        state += f' (exit status {node.exit_status}: {node.exit_message})'
    return LoopStatus(
        pk=node.pk,
        state=state,
        iterations_done=iterations,
        current_step=current,
        jobs={name: counts[name] for name in JOB_STATES},
        computers=dict(computers),
        active=active,
        attention=attention,
    )


TERMINATED = ('finished', 'excepted', 'killed')
CALCJOB_TYPE = 'process.calculation.calcjob.'
