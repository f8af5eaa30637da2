"""`PropertiesBaseWorkChain`: a property suite, run again when the job fails."""

from __future__ import annotations

from aiida_dpgen.calculations.properties import PropertiesCalculation
from aiida_dpgen.workflows.base.rerun import RerunOnFailureWorkChain


class PropertiesBaseWorkChain(RerunOnFailureWorkChain):
    """Run `PropertiesCalculation`; a failed job (killed, out of walltime, node failure) is run again, up to
    ``max_iterations`` (default 2)."""

    _process_class = PropertiesCalculation
    _namespace = 'properties'
    _default_max_iterations = 2
