"""`LabelWorkChain`: first-principles labels (energy, forces, virial) for the candidates of an exploration."""

from __future__ import annotations

from collections import Counter

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_
from aiida.orm import Dict, Float, Int, to_aiida_type

from aiida_dpgen.calculations.functions.collect_labels import collect_labels
from aiida_dpgen.calculations.functions.extract_structures import extract_structures
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.labelers.base import labeler_from_specification
from aiida_dpgen.utils.cost import core_count
from aiida_dpgen.utils.grouping import balanced_groups
from aiida_dpgen.workflows.launch import launched_children, submit_once

DEFAULT_MIN_DISTANCE = 0.5


def validate_screens(value, _):
    from aiida_dpgen.exploration.geometry import GeometryScreens

    try:
        GeometryScreens.from_dict(value.get_dict())
    except ValueError as exception:
        return f'label.{exception}'
    return None


def validate_labeler(value: Dict, _) -> str | None:
    try:
        labeler_from_specification(value.get_dict())
    except ValueError as exception:
        return str(exception)
    return None


def validate_inputs(inputs: dict, _) -> str | None:
    candidates, specification = inputs.get('candidates', {}), inputs.get('labeler')
    if not candidates:
        return 'candidates: no configurations to label; give at least one system'
    type_maps = {tuple(node.type_map) for node in candidates.values()}
    if len(type_maps) > 1:
        return f'candidates: the systems use different type maps {sorted(type_maps)}; use one type_map'
    group_size = inputs.get('group_size')
    if group_size is not None and group_size.value < 1:
        return f'group_size={group_size.value}: expected at least one single point per job'
    if specification is None:
        return None
    try:
        labeler = labeler_from_specification(specification.get_dict())
        labeler.check_elements(sorted({element for node in candidates.values() for element in node.elements}))
    except ValueError as exception:
        return str(exception)
    return None if group_size is None else labeler.validate_packing(group_size.value)


class LabelWorkChain(WorkChain):
    """Label candidate structures with one first-principles engine, one single point per structure in parallel.

    The engine is chosen by the ``labeler`` specification (``engine``: an entry point of the
    ``aiida_dpgen.labelers`` group, e.g. ``quantumespresso``, ``cp2k``, ``vasp``, ``gaussian``, ``ase``) and runs
    through its own AiiDA workchain with its protocols and error handlers. Frames whose atoms are closer than
    ``min_distance`` are not sent; calculations that still fail after the engine's handlers, including those
    whose SCF did not converge, are excluded and counted, never added to the data. With ``md`` in the
    specification each structure starts a short ab initio MD instead, and every step is a label (the initial
    data's AIMD).
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace('candidates', valid_type=ConfigurationsData, dynamic=True, help='Frames, by system.')
        spec.input(
            'labeler',
            valid_type=Dict,
            serializer=to_aiida_type,
            validator=validate_labeler,
            help='{"engine": ..., "protocol": "fast|balanced|stringent", "overrides": {...}, "options": {...}, ...}',
        )
        spec.input('code', valid_type=orm.AbstractCode, help='The engine code (pw.x, cp2k, vasp, g16, python).')
        spec.input(
            'min_distance',
            valid_type=Float,
            default=lambda: Float(DEFAULT_MIN_DISTANCE),
            serializer=to_aiida_type,
            help='Frames with two atoms closer than this (Å) are reported and not labeled.',
        )
        spec.input(
            'screens',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            validator=validate_screens,
            help='More geometry screens before labeling (aiida_dpgen.exploration.geometry): min_distance per pair '
            'of elements {"Cu-Cu": 1.8, "*": 0.5}, max_tilt_angle (degrees), max_length_ratio, volume_per_atom '
            '[lowest, highest] (Å^3). Each frame they exclude is counted by reason.',
        )
        spec.input(
            'max_excluded_ratio',
            valid_type=Float,
            required=False,
            serializer=to_aiida_type,
            help='Fail (after the labels that succeeded are output) when more than this fraction of the frames is '
            'excluded (DP-GEN ratio_failed): a sign of wrong engine settings rather than of hard structures.',
        )
        spec.input(
            'group_size',
            valid_type=Int,
            default=lambda: Int(1),
            serializer=to_aiida_type,
            help='Single points per job (dpdispatcher group_size for fp): several short labels in one scheduler job, '
            "one after another. A task that fails there is labeled again alone, with the engine's error handlers. "
            'Labelers with supports_packing only (quantumespresso).',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            if_(cls.should_pack)(cls.run_packed, cls.inspect_packed),
            cls.run_labels,
            cls.inspect_labels,
            cls.results,
        )

        spec.output('dataset', valid_type=LabeledDatasetData, required=False, help='The successful labels.')
        spec.output('summary', valid_type=Dict, help='Submitted, labeled, excluded with reasons, wall time, cost.')
        spec.exit_code(401, 'ERROR_NO_LABELS', message='None of the {count} labeling calculations succeeded.')
        spec.exit_code(
            402,
            'ERROR_TOO_MANY_EXCLUDED',
            message='{excluded} of {frames} frames were excluded ({reasons}), more than max_excluded_ratio={limit}; '
            'the labels that succeeded are in the outputs. Check the engine settings (verdi process report).',
        )

    def setup(self):
        self.ctx.labeler = labeler_from_specification(self.inputs.labeler.get_dict())
        self.ctx.type_map = next(iter(self.inputs.candidates.values())).type_map
        self.ctx.structures, self.ctx.screened = {}, []
        screens = {'screens': self.inputs.screens} if 'screens' in self.inputs else {}
        for system in sorted(self.inputs.candidates):
            outputs = extract_structures(self.inputs.candidates[system], self.inputs.min_distance, **screens)
            screening = outputs.pop('screening').get_dict()
            for item in screening['excluded']:
                self.ctx.screened.append({'system': system, **item})
            for label, structure in outputs.items():
                key = f'frame_{len(self.ctx.structures):06d}'
                self.ctx.structures[key] = {'system': system, 'frame': int(label.split('_')[1]), 'structure': structure}
        if self.ctx.screened:
            reasons = Counter(item['reason'] for item in self.ctx.screened)
            by_reason = ', '.join(f'{count} {reason}' for reason, count in sorted(reasons.items()))
            self.report(f'{len(self.ctx.screened)} frames not labeled by the geometry screens: {by_reason}')

    def should_pack(self):
        return self.inputs.group_size.value > 1 and len(self.ctx.structures) > 1

    def run_packed(self):
        labeler, keys = self.ctx.labeler, list(self.ctx.structures)
        running, launched, self.ctx.packed_groups = {}, launched_children(self.node), {}
        for number, group in enumerate(balanced_groups(len(keys), self.inputs.group_size.value)):
            name = f'packed_{number:03d}'
            tasks = [keys[index] for index in group]
            builder = labeler.packed_builder(
                {key: self.ctx.structures[key]['structure'] for key in tasks}, self.inputs.code, self.ctx.type_map
            )
            builder.metadata.call_link_label = name
            running[f'packed_jobs.{name}'] = submit_once(self, launched, builder)
            self.ctx.packed_groups[name] = tasks
        self.report(f'{len(keys)} single points packed in {len(running)} jobs of up to {self.inputs.group_size.value}')
        return ToContext(**running)

    def inspect_packed(self):
        """Tasks that converged in a packed job are labels; every other one is labeled again alone."""
        self.ctx.packed = {}
        reasons: dict[str, int] = {}
        for name, tasks in self.ctx.packed_groups.items():
            node = self.ctx.packed_jobs[name]
            statuses = node.outputs.task_status.get_dict() if 'task_status' in node.outputs else {}
            for task in tasks:
                status = statuses.get(task, f'job failed: exit status {node.exit_status}')
                if status == 'ok':
                    self.ctx.packed[task] = name
                else:
                    reasons[status] = reasons.get(status, 0) + 1
        alone = len(self.ctx.structures) - len(self.ctx.packed)
        again = f'; {alone} labeled again alone ({reasons})' if alone else ''
        self.report(f'{len(self.ctx.packed)} of {len(self.ctx.structures)} packed single points converged{again}')

    def run_labels(self):
        labeler = self.ctx.labeler
        running, launched = {}, launched_children(self.node)
        packed = self.ctx.get('packed', {})
        for key, item in self.ctx.structures.items():
            if key in packed:
                continue
            builder = labeler.get_builder(item['structure'], self.inputs.code)
            builder.metadata.call_link_label = f'label_{key}'
            running[f'singles.{key}'] = submit_once(self, launched, builder)
        if running:
            self.report(f'{len(running)} {self._runs()} submitted with {labeler.engine} ({labeler.protocol_name})')
        return ToContext(**running)

    def _runs(self) -> str:
        md = self.ctx.labeler.md
        return f'MD runs of {md["nsteps"]} steps' if md else 'single points'

    def inspect_labels(self):
        frames, excluded = self._packed_frames(), list(self.ctx.screened)
        single_frames, single_excluded = self._single_frames()
        frames.update(single_frames)
        excluded.extend(single_excluded)
        self.ctx.summary = self._summary(excluded)
        self.report(
            f'{self.ctx.summary["converged"]} of {len(self.ctx.structures)} {self._runs()} converged; '
            f'excluded: {self.ctx.summary["excluded_by_reason"] or "none"}'
        )
        self.ctx.frames = frames

    def _single_frames(self) -> tuple[dict, list[dict]]:
        """What the single labeling work chains give ``collect_labels`` (per converged frame its structure and
        label nodes), and the frames they excluded with the reason."""
        labeler, frames, excluded = self.ctx.labeler, {}, []
        for key, node in self.ctx.get('singles', {}).items():
            item = self.ctx.structures[key]
            reason = labeler.rejection_reason(node) if node.is_finished_ok else labeler.failure_reason(node)
            if reason is None:
                frames[f'{key}_structure'] = item['structure']
                for name, output in labeler.label_nodes(node).items():
                    frames[f'{key}_{name}'] = output
            else:
                excluded.append({'system': item['system'], 'frame': item['frame'], 'reason': reason, 'pk': node.pk})
        return frames, excluded

    def _summary(self, excluded: list[dict]) -> dict:
        labeler = self.ctx.labeler
        reasons = dict(Counter(item['reason'] for item in excluded))
        wall, core_seconds = self._cost()
        return {
            'engine': labeler.engine,
            'protocol': labeler.protocol_name,
            'frames': len(self.ctx.structures) + len(self.ctx.screened),
            'submitted': len(self.ctx.structures),
            'converged': len(self.ctx.structures) - (len(excluded) - len(self.ctx.screened)),
            'excluded': len(excluded),
            'excluded_by_reason': reasons,
            'exclusions': excluded,
            'packed_jobs': len(self.ctx.get('packed_groups', {})),
            'packed_labels': len(self.ctx.get('packed', {})),
            'wall_seconds': round(wall, 3),
            'core_hours': round(core_seconds / 3600, 6),
        }

    def _cost(self) -> tuple[float, float]:
        """Wall and core seconds of every labeling job, packed or single: the sum of the engine's own times of
        its tasks where the labeler reads them, else the job's lifetime."""
        labeler, jobs = self.ctx.labeler, []
        for name, tasks in self.ctx.get('packed_groups', {}).items():
            node = self.ctx.packed_jobs[name]
            jobs.append((node, labeler.packed_wall_seconds(node, tasks)))
        for node in self.ctx.get('singles', {}).values():
            for calculation in node.called_descendants:
                if isinstance(calculation, orm.CalcJobNode):
                    jobs.append((calculation, [labeler.wall_seconds(calculation)]))
        wall, core_seconds = 0.0, 0.0
        for node, task_seconds in jobs:
            known = [seconds for seconds in task_seconds if seconds is not None]
            seconds = sum(known) if known else (node.mtime - node.ctime).total_seconds()
            wall += seconds
            core_seconds += seconds * core_count(node.get_option('resources') or {})
        return wall, core_seconds

    def on_terminated(self):
        """Empty the packed jobs' remote folders when the engine's protocol cleans its own (wavefunctions and
        charge densities of every task); the labels are already parsed."""
        super().on_terminated()
        labeler = self.ctx.get('labeler')
        if labeler is None or not labeler.cleans_workdir:
            return
        cleaned = []
        for name in self.ctx.get('packed_groups', {}):
            node = self.ctx.get('packed_jobs', {}).get(name)
            if node is not None and 'remote_folder' in node.outputs:
                try:
                    node.outputs.remote_folder._clean()  # what BaseRestartWorkChain calls too
                except (OSError, ValueError):
                    continue
                cleaned.append(node.pk)
        if cleaned:
            self.report(f'remote folders of the packed jobs {cleaned} cleaned')

    def _packed_frames(self) -> dict:
        """What the packed jobs give ``collect_labels``: a job's dataset whole (``packed_NNN``) where its labeler
        makes one, else per converged task its structure and label nodes."""
        labeler, frames = self.ctx.labeler, {}
        datasets = {name: labeler.packed_dataset(node) for name, node in self.ctx.get('packed_jobs', {}).items()}
        frames.update({name: dataset for name, dataset in datasets.items() if dataset is not None})
        for key, job in self.ctx.get('packed', {}).items():
            if datasets.get(job) is None:
                frames[f'{key}_structure'] = self.ctx.structures[key]['structure']
                for name, output in labeler.packed_label_nodes(self.ctx.packed_jobs[job], key).items():
                    frames[f'{key}_{name}'] = output
        return frames

    def results(self):
        outputs = collect_labels(
            orm.Str(self.ctx.labeler.engine),
            orm.List(self.ctx.type_map),
            Dict(self.ctx.summary),
            md=orm.Bool(self.ctx.labeler.md is not None),
            **self.ctx.frames,
        )
        self.out('summary', outputs['summary'])
        duplicates = outputs['summary'].get('duplicates', 0)
        if duplicates:
            self.report(f'{duplicates} labeled frame(s) left out of the dataset as exact duplicates of others')
        if 'dataset' in outputs:
            self.out('dataset', outputs['dataset'])
        summary = self.ctx.summary
        limit = self.inputs.get('max_excluded_ratio')
        if limit is not None and summary['excluded'] > limit.value * summary['frames']:
            return self.exit_codes.ERROR_TOO_MANY_EXCLUDED.format(
                excluded=summary['excluded'],
                frames=summary['frames'],
                reasons=summary['excluded_by_reason'],
                limit=limit.value,
            )
        if 'dataset' not in outputs:
            return self.exit_codes.ERROR_NO_LABELS.format(count=len(self.ctx.structures))
        return None
