"""What the daemon tests share: a hold that keeps a job running until the test releases it, so that the
daemon goes down at a known moment, and what they print when a loop does not finish in time (every process
under it that has not terminated, with its state, whether it is paused, its status, its scheduler state and
the last lines of its report, and the end of the daemon's log), so a hang in CI says where it hung."""

from __future__ import annotations

import pathlib
import textwrap

HOLD = 'for second in $(seq 900); do [ -e {release} ] && break; sleep 1; done'
"""A job's prepend text that holds it until the test creates the release file (at most 15 minutes). The tests
take the daemon down while such a job runs and every process waits for it. Taken down in the instant a
process launches a child, AiiDA's broker may never receive the child's task; that is AiiDA's limit, named by
`aiida-dpgen status` with its repair, and not what these tests are about."""

QUIET = textwrap.dedent(
    """
    unfinished = [process for process in [node, *node.called_descendants] if not process.is_terminated]
    busy = sorted(process.process_label for process in unfinished
                  if process.process_state is None or process.process_state.value in ('created', 'running'))
    jobs_running = sorted(process.process_label for process in unfinished if isinstance(process, orm.CalcJobNode)
                          and getattr(process.get_scheduler_state(), 'value', None) == 'running')
    """
)
"""Lines that a state script with ``node`` puts in place of its ``# QUIET`` line: the processes launching or
stepping (``busy``) and the CalcJobs whose jobs run (``jobs_running``)."""

UNFINISHED_PROCESSES = textwrap.dedent(
    """
    import json, sys
    from aiida import orm
    from aiida.cmdline.utils.common import get_calcjob_report, get_workchain_report

    root = orm.load_node(int(sys.argv[1]))
    lines = []
    for node in [root, *getattr(root, 'called_descendants', [])]:
        if not isinstance(node, orm.ProcessNode) or node.is_terminated:
            continue
        line = (f'{node.process_label}<{node.pk}> state={node.process_state} paused={node.paused} '
                f'status={node.process_status!r}')
        if isinstance(node, orm.CalcJobNode):
            line += f' job_id={node.get_job_id()} scheduler_state={node.get_scheduler_state()}'
            report = get_calcjob_report(node)
        else:
            report = get_workchain_report(node, 'REPORT', max_depth=1)
        lines.append(line)
        lines.extend('    ' + text for text in report.splitlines()[-8:])
    print(json.dumps('\\n'.join(lines) or f'no unfinished process under {root.pk}'))
    """
)


def daemon_log_tail(aiida_path: pathlib.Path, lines: int = 60) -> str:
    """The last ``lines`` of every daemon log file under ``aiida_path``."""
    parts = []
    for log in sorted(aiida_path.glob('**/daemon/log/*.log')):
        text = log.read_text(errors='replace').splitlines()[-lines:]
        parts.append(f'== {log.name}\n' + '\n'.join(text))
    return '\n'.join(parts) or f'no daemon log under {aiida_path}'
