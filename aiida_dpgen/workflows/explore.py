"""`ExploreWorkChain`: explore one stage with DPMD, compute the ensemble deviation, select candidates."""

from __future__ import annotations

from aiida.engine import ToContext, WorkChain
from aiida.orm import ArrayData, Dict, Int, List, to_aiida_type

from aiida_dpgen.calculations.functions.select_candidates import select_candidates
from aiida_dpgen.calculations.lammps import validate_inputs as validate_job_inputs
from aiida_dpgen.data import ConfigurationsData, DeepPotentialData
from aiida_dpgen.exploration.schedule import expand_tasks, validate_stage
from aiida_dpgen.exploration.selection import DIVERSE, UNIFORM, parse_candidate_choice
from aiida_dpgen.utils.grouping import balanced_groups
from aiida_dpgen.workflows.base.lammps import DpLammpsBaseWorkChain
from aiida_dpgen.workflows.launch import launched_children, submit_once

DEFAULT_GROUP_SIZE = 20


def validate_inputs(inputs: dict, ctx) -> str | None:
    if 'selection' not in inputs:
        return 'selection: missing; give trust levels, e.g. {"f_trust_lo": 0.05, "f_trust_hi": 0.20}'
    if 'code' not in inputs.get('lammps', {}).get('lammps', {}):
        return 'lammps.lammps.code: missing; give the LAMMPS code with the DeePMD plugin (e.g. lmp@localhost)'
    group_size = inputs.get('group_size')
    if group_size is not None and group_size.value < 1:
        return f'group_size={group_size.value}: expected at least one task per job'
    return validate_job_inputs({**inputs, 'tasks': List([0])}, ctx)


class ExploreWorkChain(WorkChain):
    """All MD tasks of a stage, at most ``group_size`` per job, then one selection over all of them.

    The stage (see :mod:`aiida_dpgen.exploration.schedule`) expands to tasks: system x configuration x
    temperature x pressure. Jobs run in parallel, each restarted by `DpLammpsBaseWorkChain` when it fails;
    the candidates each job kept are merged by the ``select_candidates`` calcfunction, which caps them per
    system exactly as one selection over all frames would, and adds up the jobs' task summaries.
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(
            DpLammpsBaseWorkChain,
            namespace='lammps',
            exclude=('lammps.models', 'lammps.configurations', 'lammps.stage', 'lammps.tasks', 'lammps.selection'),
        )
        spec.inputs['lammps'][
            'lammps'
        ].validator = None  # the jobs' inputs are completed here; checked in validate_inputs
        spec.input_namespace('models', valid_type=DeepPotentialData, dynamic=True, help='The ensemble.')
        spec.input_namespace('configurations', valid_type=ConfigurationsData, dynamic=True, help='By system name.')
        spec.input('stage', valid_type=Dict, serializer=to_aiida_type, help='The exploration stage.')
        spec.input('selection', valid_type=Dict, serializer=to_aiida_type, help='Trust levels, fp_task_max, seed.')
        spec.input(
            'group_size',
            valid_type=Int,
            default=lambda: Int(DEFAULT_GROUP_SIZE),
            serializer=to_aiida_type,
            help='MD tasks per job (like dpdispatcher group_size): fewer, longer scheduler jobs.',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(cls.setup, cls.run_md, cls.inspect_md, cls.select, cls.results)

        spec.output_namespace('candidates', valid_type=ConfigurationsData, dynamic=True, help='To label, by system.')
        spec.output('statistics', valid_type=Dict, help='Accurate / candidate / failed counts and ratios.')
        spec.output_namespace(
            'task_results', valid_type=Dict, dynamic=True, help="Per job: every task's outcome (the job's own node)."
        )
        spec.output('task_summary', valid_type=Dict, help='Tasks by outcome (completed, lost atoms, failed), frames.')
        spec.output_namespace('deviations', valid_type=ArrayData, dynamic=True, help='Per job: every frame.')
        spec.exit_code(401, 'ERROR_MD_JOBS_FAILED', message='MD jobs failed after their retries: {jobs}.')

    def setup(self):
        configurations = self.inputs.configurations
        stage = validate_stage(self.inputs.stage.get_dict(), list(configurations))
        ntasks = len(expand_tasks(stage, {name: node.nframes for name, node in configurations.items()}))
        size = self.inputs.group_size.value
        self.ctx.groups = balanced_groups(ntasks, size)
        self.report(f'{ntasks} MD tasks in {len(self.ctx.groups)} jobs of up to {size}')

    def run_md(self):
        jobs, launched = {}, launched_children(self.node)
        digits = max(3, len(str(len(self.ctx.groups) - 1)))
        for number, tasks in enumerate(self.ctx.groups):
            inputs = self.exposed_inputs(DpLammpsBaseWorkChain, 'lammps')
            inputs['lammps'] = {
                **inputs.get('lammps', {}),
                'models': dict(self.inputs.models),
                'configurations': dict(self.inputs.configurations),
                'stage': self.inputs.stage,
                'tasks': List(tasks),
                'selection': self.inputs.selection,
            }
            label = f'job_{number:0{digits}d}'
            inputs['metadata'] = {'call_link_label': label}
            jobs[f'jobs.{label}'] = submit_once(self, launched, DpLammpsBaseWorkChain, **inputs)
        return ToContext(**jobs)

    def _jobs(self) -> dict:
        return {label: self.ctx.jobs[label] for label in sorted(self.ctx.jobs)}

    def inspect_md(self):
        failed = [f'{label}<{node.pk}>' for label, node in self._jobs().items() if not node.is_finished_ok]
        if failed:
            return self.exit_codes.ERROR_MD_JOBS_FAILED.format(jobs=', '.join(failed))
        return None

    def select(self):
        jobs = self._jobs()
        choice = self.inputs.selection.get('candidate_choice', UNIFORM)
        extra = {}
        if parse_candidate_choice(choice)[0] == DIVERSE:  # the first model of the ensemble gives the descriptors
            extra['model'] = self.inputs.models[sorted(self.inputs.models)[0]]
        if self.inputs.selection.get('adaptive_lower') is not None:  # its level comes from every frame
            extra['deviations'] = {label: node.outputs.deviations for label, node in jobs.items()}
        outputs = select_candidates(
            self.inputs.selection,
            **extra,
            candidate_frames={label: node.outputs.candidate_frames for label, node in jobs.items()},
            statistics={label: node.outputs.statistics for label, node in jobs.items()},
            task_summary={label: node.outputs.task_summary for label, node in jobs.items()},
        )
        self.ctx.selection = outputs
        overall = outputs['statistics']['overall']
        self.report(
            f'{overall["frames"]} frames: accurate {overall["accurate_ratio"]:.2%}, candidate '
            f'{overall["candidate_ratio"]:.2%}, failed {overall["failed_ratio"]:.2%}; {overall["chosen"]} to label'
        )

    def results(self):
        jobs = self._jobs()
        self.out('statistics', self.ctx.selection['statistics'])
        if 'candidates' in self.ctx.selection:
            self.out('candidates', self.ctx.selection['candidates'])
        self.out('deviations', {label: node.outputs.deviations for label, node in jobs.items()})
        self.out('task_results', {label: node.outputs.task_results for label, node in jobs.items()})
        self.out('task_summary', self.ctx.selection['task_summary'])
