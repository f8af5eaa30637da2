"""Gather the task outcomes of an exploration's jobs into one node."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict


@calcfunction
def collect_task_results(**jobs: Dict) -> Dict:
    """``tasks`` (task index -> outcome) of all jobs, and the ``summary`` counts summed."""
    tasks, summary = {}, {}
    for name in sorted(jobs):
        tasks.update(jobs[name]['tasks'])
        for key, value in jobs[name]['summary'].items():
            summary[key] = summary.get(key, 0) + value
    return Dict({'tasks': tasks, 'summary': summary})
