"""`DpLammpsBaseWorkChain`: one group of MD tasks, run again when the job fails for a reason a rerun can fix."""

from __future__ import annotations

from aiida_dpgen.calculations.lammps import DpLammpsCalculation
from aiida_dpgen.workflows.base.rerun import RerunOnFailureWorkChain


class DpLammpsBaseWorkChain(RerunOnFailureWorkChain):
    """Run `DpLammpsCalculation`; a failed job (killed, out of walltime, node failure) is run again, up to
    ``max_iterations`` (default 4: the first run and three resubmissions, as DP-GEN's dispatcher does).

    Lost atoms are not a failure of the job: the MD left the region the models know, which is what exploration
    is looking for; the frames are parsed and selected and the task outcome says so.
    """

    _process_class = DpLammpsCalculation
    _namespace = 'lammps'
    _default_max_iterations = 4
