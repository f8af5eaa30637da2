"""`AseSinglePointBaseWorkChain`: an ASE single point, run again when the job fails."""

from __future__ import annotations

from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_
from aiida.orm import Int

from aiida_dpgen.calculations.ase import AseSinglePointCalculation


class AseSinglePointBaseWorkChain(BaseRestartWorkChain):
    """Run `AseSinglePointCalculation`; a failed job (killed, node failure, a calculator error) is run again,
    up to ``max_iterations`` (default 3)."""

    _process_class = AseSinglePointCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(AseSinglePointCalculation, namespace='ase')
        spec.expose_outputs(AseSinglePointCalculation)
        spec.inputs['max_iterations'].default = lambda: Int(3)
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
        self.ctx.inputs = AttributeDict(self.exposed_inputs(AseSinglePointCalculation, 'ase'))

    @process_handler(priority=0)
    def handle_any_failure(self, node):
        """Any failure: run the same single point again."""
        if not node.is_failed:
            return None
        self.report(f'{node.process_label}<{node.pk}> failed with exit status {node.exit_status}: running it again')
        return ProcessHandlerReport(do_break=True)
