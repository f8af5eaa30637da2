"""`AseSinglePointBaseWorkChain`: an ASE single point, run again when the job fails."""

from __future__ import annotations

from aiida_dpgen.calculations.ase import AseSinglePointCalculation
from aiida_dpgen.workflows.base.rerun import RerunOnFailureWorkChain


class AseSinglePointBaseWorkChain(RerunOnFailureWorkChain):
    """Run `AseSinglePointCalculation`; a failed job (killed, node failure, a calculator error) is run again,
    up to ``max_iterations`` (default 3)."""

    _process_class = AseSinglePointCalculation
    _namespace = 'ase'
    _default_max_iterations = 3
