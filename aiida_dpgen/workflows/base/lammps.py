"""`DpLammpsBaseWorkChain`: one group of MD tasks, run again when the job fails for a reason a rerun can fix."""

from __future__ import annotations

from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.orm import Int

from aiida_dpgen.calculations.lammps import DpLammpsCalculation


class DpLammpsBaseWorkChain(BaseRestartWorkChain):
    """Run `DpLammpsCalculation`; a failed job (killed, out of walltime, node failure) is run again, up to
    ``max_iterations`` (default 4: the first run and three resubmissions, as DP-GEN's dispatcher does).

    Lost atoms are not a failure of the job: the MD left the region the models know, which is what exploration
    is looking for; the frames are parsed and selected and the task outcome says so.
    """

    _process_class = DpLammpsCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(DpLammpsCalculation, namespace='lammps')
        spec.expose_outputs(DpLammpsCalculation)
        spec.inputs['max_iterations'].default = lambda: Int(4)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(
                cls.run_process,
                cls.inspect_process,
            ),
            cls.results,
        )

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(DpLammpsCalculation, 'lammps'))

    @process_handler(priority=0)
    def handle_any_failure(self, node):
        """Any failure: run the same tasks again (they are deterministic: same seeds, same frames)."""
        if not node.is_failed:
            return None
        self.report(f'{node.process_label}<{node.pk}> failed with exit status {node.exit_status}: running it again')
        return ProcessHandlerReport(do_break=True)
