"""Tasks packed into scheduler jobs (dpdispatcher's ``group_size``): MD tasks of an exploration, DFT labels."""

from __future__ import annotations


def balanced_groups(ntasks: int, group_size: int) -> list[list[int]]:
    """Task indices in the fewest jobs of at most ``group_size`` tasks, spread evenly so that jobs running side by
    side end together (12 tasks at most 10 per job: 6 and 6, not 10 and 2)."""
    njobs = -(-ntasks // group_size)
    bounds = [ntasks * number // njobs for number in range(njobs + 1)] if njobs else [0]
    return [list(range(bounds[number], bounds[number + 1])) for number in range(njobs)]
