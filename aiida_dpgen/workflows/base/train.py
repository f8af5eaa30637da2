"""`DpTrainBaseWorkChain`: one training job, restarted when it fails in a way that a restart can fix."""

from __future__ import annotations

from aiida.engine import ProcessHandlerReport, process_handler
from aiida.orm import Dict

from aiida_dpgen.calculations.train import DpTrainCalculation
from aiida_dpgen.workflows.base.rerun import RerunOnFailureWorkChain

MINIMUM_START_LR = 1e-6
"""Below this starting learning rate a diverging training is not retried: the data are the likely cause."""


def halve_batch_size(batch_size) -> int | str | None:
    """Half of a DeePMD-kit batch size (number, ``auto`` or ``auto:N``); None when it cannot get smaller."""
    if isinstance(batch_size, int):
        return batch_size // 2 if batch_size > 1 else None
    if isinstance(batch_size, str) and batch_size.startswith('auto'):
        _, _, atoms = batch_size.partition(':')
        atoms = int(atoms) if atoms else 32
        return f'auto:{atoms // 2}' if atoms > 1 else None
    return None


class DpTrainBaseWorkChain(RerunOnFailureWorkChain):
    """Run `DpTrainCalculation`, restarting it when a handler knows a fix.

    Strategies, in order of priority: out of walltime with a checkpoint -> resume from the checkpoint;
    diverged loss -> start again with half the starting learning rate; out of memory -> half the batch
    size; any other failure -> run the same job again (`RerunOnFailureWorkChain`'s handler).
    ``max_iterations`` (default 4: the first run and three retries, as DP-GEN's dispatcher resubmits up to
    three times) bounds all of them; then the workchain stops with ERROR_MAXIMUM_ITERATIONS_EXCEEDED (401)
    and keeps every finished child.

    aiida-core 2.8 made "abort on an unhandled failure" the default. Here every failure is handled on
    purpose, because a transient failure (a node crash, a killed job) is the common case on clusters and
    an ensemble member that gives up at once stalls the whole loop.
    """

    _process_class = DpTrainCalculation
    _namespace = 'dp'
    _default_max_iterations = 4

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.exit_code(
            310,
            'ERROR_OUT_OF_MEMORY_AT_SMALLEST_BATCH',
            message='Training ran out of memory with the smallest batch size; use a node with more memory.',
        )
        spec.exit_code(
            330,
            'ERROR_DIVERGED_AT_SMALLEST_LEARNING_RATE',
            message='Training diverged even with start_lr below 1e-6; check the training data for bad labels.',
        )

    def _parameters(self) -> dict:
        return self.ctx.inputs.parameters.get_dict()

    @process_handler(priority=600, exit_codes=[DpTrainCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_out_of_walltime(self, node):
        """Stopped early with a checkpoint: resume from it in a new job (``dp train --restart``)."""
        self.ctx.inputs.parent_folder = node.outputs.remote_folder
        # the checkpoint holds the fine-tuned or initialised model: what it started from is not given again
        for started_from in ('init_model', 'finetune_head'):
            self.ctx.inputs.pop(started_from, None)
        step = node.outputs.output_parameters['last_step'] if 'output_parameters' in node.outputs else '?'
        self.report(f'{node.process_label}<{node.pk}> stopped at step {step}: resuming from its checkpoint')
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=500, exit_codes=[DpTrainCalculation.exit_codes.ERROR_TRAINING_DIVERGED])
    def handle_diverged(self, node):
        """Diverged loss: start from scratch with half the starting learning rate, down to 1e-6."""
        parameters = self._parameters()
        start_lr = parameters['learning_rate'].get('start_lr', 1e-3) / 2
        if start_lr < MINIMUM_START_LR:
            return ProcessHandlerReport(True, self.exit_codes.ERROR_DIVERGED_AT_SMALLEST_LEARNING_RATE)
        parameters['learning_rate']['start_lr'] = start_lr
        self.ctx.inputs.parameters = Dict(parameters)
        self.ctx.inputs.pop('parent_folder', None)
        self.report(f'{node.process_label}<{node.pk}> diverged: restarting with start_lr={start_lr:g}')
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=400, exit_codes=[DpTrainCalculation.exit_codes.ERROR_OUT_OF_MEMORY])
    def handle_out_of_memory(self, node):
        """Out of memory: half the batch size; give up when it is already as small as it gets."""
        parameters = self._parameters()
        training_data = parameters['training'].setdefault('training_data', {})
        smaller = halve_batch_size(training_data.get('batch_size', 'auto'))
        if smaller is None:
            return ProcessHandlerReport(True, self.exit_codes.ERROR_OUT_OF_MEMORY_AT_SMALLEST_BATCH)
        training_data['batch_size'] = smaller
        self.ctx.inputs.parameters = Dict(parameters)
        self.report(f'{node.process_label}<{node.pk}> ran out of memory: restarting with batch_size={smaller!r}')
        return ProcessHandlerReport(do_break=True)
