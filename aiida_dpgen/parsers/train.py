"""Parser for `DpTrainCalculation`: learning curve, final errors, frozen model, and why a run failed."""

from __future__ import annotations

import json
import pathlib
import re

from aiida.engine import ExitCode
from aiida.orm import ArrayData, Dict
from aiida.parsers import Parser

from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.training.inputs import CHECKPOINT_PREFIX, descriptor_summary
from aiida_dpgen.training.lcurve import divergence, final_metrics, parse_lcurve

OUT_OF_MEMORY_MARKERS = (
    'std::bad_alloc',
    'MemoryError',
    'ResourceExhaustedError',
    'OOM when allocating',
    'CUDA out of memory',
    'out of memory',
    'Cannot allocate memory',
)
SCHEDULER_OUT_OF_MEMORY = 110
SCHEDULER_OUT_OF_WALLTIME = 120
"""aiida-core's CalcJob exit statuses set by the scheduler plugins before the parser runs."""

_WALL_TIME = re.compile(r'wall time: (?P<seconds>[\d.]+) s')
"""TensorFlow: the training's wall time, once at its end."""
_INTERVAL_WALL_TIME = re.compile(r'total wall time = (?P<seconds>[\d.]+) s')
"""PyTorch: the wall time since the previous display, at every display."""
FINISHED_MARKERS = ('finished training', 'Trained model has been saved to')
"""What ``dp train`` logs once it has trained every step: TensorFlow, PyTorch."""


def training_wall_seconds(logs: str) -> float | None:
    """The training's wall time from either backend's log, or None where it has not said."""
    wall = _WALL_TIME.search(logs)
    if wall:
        return float(wall['seconds'])
    intervals = [float(match['seconds']) for match in _INTERVAL_WALL_TIME.finditer(logs)]
    return sum(intervals) if intervals else None


_TIME_PER_BATCH = re.compile(r'average training time: (?P<seconds>[\d.eE+-]+) s/batch')


class DpTrainParser(Parser):
    """Turn a training job's files into a model node, an ArrayData learning curve and final metrics.

    Failures are told apart by evidence, most specific first: out of memory (scheduler or log), stopped
    early with a checkpoint (walltime, resumable), diverged loss, and a finished training without a
    frozen model.
    """

    def parse(self, **kwargs) -> ExitCode:
        files = set(self.retrieved.base.repository.list_object_names())
        logs = ''.join(self._read(name) for name in ('train.err', 'train.out') if name in files)
        training_input = json.loads(self._read('input.json'))
        numb_steps = training_input['training']['numb_steps']

        memory_marker = next((marker for marker in OUT_OF_MEMORY_MARKERS if marker in logs), None)
        if self.node.exit_status == SCHEDULER_OUT_OF_MEMORY:
            memory_marker = memory_marker or 'killed by the scheduler'

        if 'lcurve.out' not in files:
            if memory_marker:
                return self.exit_codes.ERROR_OUT_OF_MEMORY.format(marker=memory_marker)
            return self.exit_codes.ERROR_NO_LEARNING_CURVE

        try:
            curve = parse_lcurve(self._read('lcurve.out'))
        except ValueError as exception:
            return self.exit_codes.ERROR_INVALID_LEARNING_CURVE.format(error=str(exception))
        self.out('learning_curve', self._learning_curve_node(curve))

        last_step = int(curve['step'][-1]) if len(curve['step']) else 0
        metrics = final_metrics(curve)
        self.out('output_parameters', Dict(self._output_parameters(metrics, logs, numb_steps, last_step)))

        if memory_marker:
            return self.exit_codes.ERROR_OUT_OF_MEMORY.format(marker=memory_marker)
        reason = divergence(curve)
        if reason:
            return self.exit_codes.ERROR_TRAINING_DIVERGED.format(reason=reason)
        stopped_early = last_step < numb_steps and not any(marker in logs for marker in FINISHED_MARKERS)
        if stopped_early or self.node.exit_status == SCHEDULER_OUT_OF_WALLTIME:
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(step=last_step, numb_steps=numb_steps)

        backend = self.node.inputs.backend.value
        temporary = pathlib.Path(kwargs.get('retrieved_temporary_folder') or '.')
        model_path = temporary / self.node.process_class.model_filename(backend)
        if not model_path.is_file():
            return self.exit_codes.ERROR_NO_MODEL_PRODUCED
        resolved = json.loads(self._read('out.json')) if 'out.json' in files else training_input
        attributes = {**descriptor_summary(resolved), 'training_steps': last_step}
        type_map = training_input['model']['type_map']
        self.out('model', DeepPotentialData(str(model_path), type_map=type_map, **attributes))

        if 'keep_checkpoint' in self.node.inputs and self.node.inputs.keep_checkpoint.value:
            checkpoint = temporary / CHECKPOINT_PREFIX[backend]
            if checkpoint.is_file():
                self.out('checkpoint', DeepPotentialData(str(checkpoint), type_map=type_map, **attributes))
        if self.node.inputs.compress.value:
            compressed = temporary / self.node.process_class.compressed_model_filename(backend)
            if not compressed.is_file():
                return self.exit_codes.ERROR_COMPRESSION_FAILED
            self.out('compressed_model', DeepPotentialData(str(compressed), type_map=type_map, **attributes))
        return ExitCode(0)

    def _read(self, name: str) -> str:
        return self.retrieved.base.repository.get_object_content(name, mode='r')

    @staticmethod
    def _learning_curve_node(curve: dict) -> ArrayData:
        node = ArrayData()
        for name, values in curve.items():
            node.set_array(name, values)
        return node

    @staticmethod
    def _output_parameters(metrics: dict, logs: str, numb_steps: int, last_step: int) -> dict:
        per_batch = _TIME_PER_BATCH.search(logs)
        seconds_per_batch = float(per_batch['seconds']) if per_batch else None
        return {
            'final': metrics,
            'numb_steps': numb_steps,
            'last_step': last_step,
            'wall_time_seconds': training_wall_seconds(logs),
            'seconds_per_batch': seconds_per_batch,
            'steps_per_second': 1 / seconds_per_batch if seconds_per_batch else None,
        }
