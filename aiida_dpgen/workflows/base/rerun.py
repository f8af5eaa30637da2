"""A restart workchain that runs its CalcJob again after any failure, for jobs a rerun can fix."""

from __future__ import annotations

from typing import ClassVar

from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, ToContext, append_, process_handler, while_
from aiida.orm import Int

from aiida_dpgen.workflows.launch import adopt, launched_children


class RerunOnFailureWorkChain(BaseRestartWorkChain):
    """Expose ``_process_class``'s inputs in ``_namespace`` and run it again whenever it fails (killed, out of
    walltime, node failure), up to ``max_iterations`` (default ``_default_max_iterations``)."""

    _namespace: ClassVar[str]
    _default_max_iterations: ClassVar[int] = 4

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(cls._process_class, namespace=cls._namespace)
        spec.expose_outputs(cls._process_class)
        spec.inputs['max_iterations'].default = lambda: Int(cls._default_max_iterations)
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
        self.ctx.inputs = AttributeDict(self.exposed_inputs(self._process_class, self._namespace))

    def run_process(self):
        """Launch the next job, or adopt it when this step runs again after a worker died between launching it
        and the checkpoint (see `aiida_dpgen.workflows.launch`)."""
        # BaseRestartWorkChain labels its n-th job `iteration_{n:02d}`
        label = f'iteration_{self.ctx.iteration + 1:02d}'
        child = launched_children(self.node).get(label)
        if child is None:
            return super().run_process()
        self.ctx.iteration += 1
        considered = self.node.base.extras.get(self._considered_handlers_extra, [])
        if len(considered) < self.ctx.iteration:  # one entry per job, for `inspect_process`
            considered.append([])
            self.node.base.extras.set(self._considered_handlers_extra, considered)
        return ToContext(children=append_(adopt(self, child, label)))

    @process_handler(priority=0)
    def handle_any_failure(self, node):
        """Any failure: run the same inputs again."""
        if not node.is_failed:
            return None
        self.report(f'{node.process_label}<{node.pk}> failed with exit status {node.exit_status}: running it again')
        return ProcessHandlerReport(do_break=True)
