"""Wall time and core-hours of a step, read from its calculations in the provenance graph."""

from __future__ import annotations

from aiida import orm


def core_count(resources: dict) -> int:
    """Cores a job held, from its scheduler resources (``tot_num_mpiprocs`` or machines x processes)."""
    if resources.get('tot_num_mpiprocs'):
        return int(resources['tot_num_mpiprocs'])
    return int(resources.get('num_machines', 1)) * int(resources.get('num_mpiprocs_per_machine', 1))


def job_seconds(calculation: orm.CalcJobNode) -> float:
    """From creation to the last change of the node: queueing, upload, run, retrieval and parsing."""
    return max((calculation.mtime - calculation.ctime).total_seconds(), 0.0)


def step_cost(process: orm.ProcessNode) -> dict:
    """``wall_seconds`` of the step as a whole and ``core_hours`` summed over its calculation jobs."""
    core_seconds = sum(
        job_seconds(node) * core_count(node.get_option('resources') or {})
        for node in process.called_descendants
        if isinstance(node, orm.CalcJobNode)
    )
    return {
        'wall_seconds': round(max((process.mtime - process.ctime).total_seconds(), 0.0), 3),
        'core_hours': round(core_seconds / 3600, 6),
        'jobs': sum(isinstance(node, orm.CalcJobNode) for node in process.called_descendants),
    }
