"""What the daemon tests print when a loop does not finish in time: every process under it that has not
terminated (its state, whether it is paused, its status, its scheduler state and the last lines of its
report) and the end of the daemon's log, so a hang in CI says where it hung."""

from __future__ import annotations

import pathlib
import textwrap

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
