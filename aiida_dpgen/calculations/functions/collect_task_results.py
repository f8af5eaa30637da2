"""Gather the task outcomes of an exploration's jobs into one node.

ExploreWorkChain now has ``select_candidates`` do this in the same step; the calcfunction stays so that graphs
made before keep a loadable process class.
"""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict

from aiida_dpgen.calculations.functions.select_candidates import merge_task_results


@calcfunction
def collect_task_results(**jobs: Dict) -> Dict:
    """``tasks`` (task index -> outcome) of all jobs, and the ``summary`` counts summed."""
    return Dict(merge_task_results([jobs[name].get_dict() for name in sorted(jobs)]))
