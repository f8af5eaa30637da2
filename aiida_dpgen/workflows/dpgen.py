"""`DpgenWorkChain`: DP-GEN's concurrent-learning loop, train -> explore -> label -> merge, iteration by iteration."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_, while_
from aiida.orm import Dict, Int, to_aiida_type

from aiida_dpgen.calculations.functions.summarize_iteration import summarize_iteration
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.exploration.selection import SelectionSettings
from aiida_dpgen.labelers.base import PHYSICS_REASONS, labeler_from_specification
from aiida_dpgen.loop.iterations import (
    ITERATION_LABELS,
    ITERATION_OUTPUTS,
    ITERATION_PREFIX,
    models_trained_on,
    validate_initial_datasets,
    validate_restart_from,
)
from aiida_dpgen.loop.report import HEADER, format_row, no_candidates_warning
from aiida_dpgen.loop.schedule import IterationRecord, LoopPlan
from aiida_dpgen.properties.settings import validate_settings
from aiida_dpgen.training.ensemble import backend_mismatch
from aiida_dpgen.training.finetune import finetune_error
from aiida_dpgen.training.inputs import FROZEN_MODEL_SUFFIX, per_element_sel
from aiida_dpgen.utils.cost import step_cost
from aiida_dpgen.utils.resources import job_options
from aiida_dpgen.workflows.explore import ExploreWorkChain
from aiida_dpgen.workflows.label import LabelWorkChain
from aiida_dpgen.workflows.launch import launched_children, submit_once
from aiida_dpgen.workflows.properties import PropertiesWorkChain, validate_reference
from aiida_dpgen.workflows.protocols.utils import ProtocolMixin
from aiida_dpgen.workflows.train import TrainWorkChain


def _schedule_value(node) -> object:
    return node.get_list() if isinstance(node, orm.List) else node.get_dict()


def validate_inputs(inputs: dict, _) -> str | None:
    """Everything the loop will need is consistent before the first job: type maps, systems, trust levels."""
    datasets, configurations = inputs.get('datasets', {}), inputs.get('configurations', {})
    error = validate_initial_datasets(datasets)
    if error:
        return error
    if not configurations:
        return 'configurations: none given; pass the initial configurations of each system by name'
    for path, what in (('train.base.dp', 'dp'), ('explore.lammps.lammps', 'LAMMPS with the DeePMD plugin')):
        namespace = inputs
        for key in path.split('.'):
            namespace = namespace.get(key, {})
        if 'code' not in namespace:
            return f'{path}.code: missing; give the {what} code, e.g. with get_builder_from_protocol(codes=...)'
    type_map = list(next(iter(datasets.values())).type_map)
    for namespace, nodes in (('datasets', datasets), ('configurations', configurations)):
        for name, node in sorted(nodes.items()):
            if list(node.type_map) != type_map:
                return (
                    f"{namespace}.{name}: type_map={list(node.type_map)} differs from the initial data's "
                    f'type_map={type_map}; build every dataset and configuration set with the same type_map'
                )
    try:
        plan = LoopPlan(_schedule_value(inputs['schedule']), _dict(inputs.get('convergence')), list(configurations))
        systems = sorted({name for stage in (plan.stages or plan.staged.stages) for name in stage['systems']})
        settings = SelectionSettings.from_dict(inputs['selection'].get_dict(), systems)
        if plan.staged is not None and plan.staged.level_tolerance is not None and settings.adaptive_lower is None:
            raise ValueError(
                'schedule.level_tolerance: the stages converge by the adaptive lower level, which only '
                'selection.adaptive_lower sets; add it, or converge by accurate_threshold'
            )
        specification = inputs.get('label', {}).get('labeler')
        if specification is not None:
            labeler = labeler_from_specification(specification.get_dict())
            labeler.check_elements(sorted({el for node in configurations.values() for el in node.elements}))
            group_size = inputs['label'].get('group_size')
            packing = labeler.validate_packing(group_size.value, 'label.') if group_size is not None else None
            if packing:
                return packing
    except ValueError as exception:
        return str(exception)
    error = validate_properties(inputs['properties'], type_map) if inputs.get('properties') else None
    return (
        error
        or validate_restart_from(inputs.get('restart_from'), type_map)
        or validate_reuse_backend(inputs)
        or validate_finetuning(inputs, type_map)
    )


FINETUNE_POLICIES = ('first', 'always')


def validate_finetune_policy(value: orm.Str, _) -> str | None:
    if value.value not in FINETUNE_POLICIES:
        return f'finetune_policy={value.value!r}: choose one of {list(FINETUNE_POLICIES)}'
    return None


def validate_finetuning(inputs: dict, type_map: list[str]) -> str | None:
    """The pretrained model suits the run's elements and backend; the policy and train_reuse agree."""
    train = inputs['train']
    pretrained, head = train.get('pretrained_model'), train.get('finetune_head')
    if pretrained is None:
        return (
            'train.finetune_head: set, but there is no train.pretrained_model; give one or leave it out'
            if head
            else None
        )
    if (
        inputs.get('finetune_policy') is not None
        and inputs['finetune_policy'].value == 'always'
        and inputs.get('train_reuse')
    ):
        return (
            "finetune_policy='always' fine-tunes every ensemble from train.pretrained_model, but train_reuse starts "
            "each from the previous ensemble: give one of them (finetune_policy='first' uses train_reuse after the "
            'first iteration)'
        )
    backend = train['base']['dp'].get('backend')
    return finetune_error(
        pretrained.filename,
        pretrained.type_map,
        pretrained.heads,
        backend.value if backend is not None else 'tf',
        type_map,
        head.value if head is not None else None,
        key='train.pretrained_model',
        head_key='train.finetune_head',
        descriptor=pretrained.descriptor,
    )


def validate_reuse_backend(inputs: dict) -> str | None:
    """Where the first new ensemble starts from the last reused one (``train_reuse``, or after fine-tuning with
    the policy ``first``): both in one backend."""
    restart_from, backend = inputs.get('restart_from') or {}, inputs['train']['base']['dp'].get('backend')
    policy = inputs.get('finetune_policy')
    after_finetuning = inputs['train'].get('pretrained_model') is not None and (
        policy is None or policy.value == 'first'
    )
    if not (inputs.get('train_reuse') or after_finetuning) or not restart_from or backend is None:
        return None
    last = sorted(restart_from)[-1]
    files = {name: model.filename for name, model in restart_from[last]['models'].items()}
    suffix = FROZEN_MODEL_SUFFIX.get(backend.value)
    return backend_mismatch(files, suffix, f'restart_from.{last}.models', 'train.base.dp.backend') if suffix else None


def validate_properties(properties: dict, type_map: list[str]) -> str | None:
    """The property tests of the final models (``properties``): settings, element and codes, before any job."""
    element = properties.get('element')
    if element is None or element.value not in type_map:
        value = None if element is None else element.value
        return f'properties.element={value!r}: expected one of the type map {type_map}'
    if 'code' not in properties:
        return 'properties.code: missing; give a Python with deepmd-kit and ASE to run the models'
    if 'settings' not in properties:
        return 'properties.settings: missing; use PropertiesWorkChain.get_protocol_inputs(protocol)["settings"]'
    try:
        validate_settings({**properties['settings'].get_dict(), 'element': element.value})
    except ValueError as exception:
        return f'properties.{exception}'
    error = validate_reference(properties.get('reference', {}), element.value, has_code=True)
    return f'properties.{error}' if error else None


def _dict(node: Dict | None) -> dict | None:
    return node.get_dict() if node is not None else None


def inputs_from_init_data(node: orm.WorkflowNode) -> tuple[dict, dict]:
    """The loop's ``datasets`` and ``configurations`` from a finished ``InitDataWorkChain``: its ``dataset`` as
    ``init``, its ``configurations`` by crystal and its ``surfaces`` as ``<crystal>_surface`` (for NVT stages)."""
    if node.process_label != 'InitDataWorkChain':
        raise ValueError(f'init_data={node.process_label}<{node.pk}>: expected a finished InitDataWorkChain')
    if 'dataset' not in node.outputs or 'configurations' not in node.outputs:
        raise ValueError(
            f'init_data=InitDataWorkChain<{node.pk}> has no dataset or configurations (exit status '
            f'{node.exit_status}: {node.exit_message}); see `verdi process report {node.pk}` and run it again'
        )
    configurations = dict(node.outputs.configurations)
    if 'surfaces' in node.outputs:
        configurations.update({f'{name}_surface': slabs for name, slabs in node.outputs.surfaces.items()})
    return {'init': node.outputs.dataset}, configurations


class DpgenWorkChain(ProtocolMixin, WorkChain):
    """DP-GEN's loop (Zhang et al. 2020, Fig. 1): train an ensemble, explore with it, label the candidates,
    add the labels to the data, until the schedule is done or the candidate ratio stays below a threshold.

    Every iteration is reported as ``iterations.iter_NNN``: ``report`` (counts, ratios, errors, cost), the
    ``models`` that explored and, where it labeled any, its new ``labels``. The training data are never merged
    into copies: every ensemble trains on the initial ``datasets`` and the ``labels`` of every iteration before
    it, each stored once, so an iteration stores only what it adds. A new run whose ``restart_from`` holds the
    ``iterations`` of a finished, failed or killed run reuses them and continues with its own inputs
    (:meth:`get_builder_restart_from`).
    """

    _protocol_file = 'dpgen'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(
            TrainWorkChain, namespace='train', exclude=('base.dp.datasets', 'init_models', 'reuse_parameters')
        )
        spec.expose_inputs(
            ExploreWorkChain, namespace='explore', exclude=('models', 'configurations', 'stage', 'selection')
        )
        spec.expose_inputs(LabelWorkChain, namespace='label', exclude=('candidates',))
        spec.expose_inputs(
            PropertiesWorkChain,
            namespace='properties',
            exclude=('models',),
            namespace_options={
                'required': False,
                'populate_defaults': False,
                'help': "Property tests of the final models against a reference (the paper's Table 1), when given.",
            },
        )
        spec.inputs['properties'].validator = None  # checked with the loop's type map in validate_inputs
        for namespace in ('train', 'train.base', 'train.base.dp', 'explore', 'explore.lammps.lammps', 'label'):
            spec.inputs.get_port(namespace).validator = None  # completed per iteration; checked in validate_inputs
        spec.input_namespace('datasets', valid_type=LabeledDatasetData, dynamic=True, help='The initial data.')
        spec.input_namespace(
            'configurations', valid_type=ConfigurationsData, dynamic=True, help='Initial configurations by system.'
        )
        spec.input(
            'schedule',
            valid_type=(orm.List, Dict),
            serializer=to_aiida_type,
            help='A list of stages, one per iteration (DP-GEN model_devi_jobs), or a staged schedule '
            '{"stages": [...], "nsteps": [...], "accurate_threshold": 0.99, "max_repeats": 8, "fatal_at_max": false}.',
        )
        spec.input(
            'selection',
            valid_type=Dict,
            serializer=to_aiida_type,
            help='Trust levels (f_trust_lo, f_trust_hi, optional v_trust_*), fp_task_max, fp_task_min, seed.',
        )
        spec.input(
            'convergence',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help='{"candidate_ratio": 0.01, "patience": 2, "max_iterations": 10}: stop early.',
        )
        spec.input(
            'train_reuse',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help='From the second iteration on, start each model from the previous ensemble with these training '
            'parameters merged in (DP-GEN training_reuse_*), e.g. {"training": {"numb_steps": 2000}}.',
        )
        spec.input(
            'finetune_policy',
            valid_type=orm.Str,
            default=lambda: orm.Str('first'),
            serializer=to_aiida_type,
            validator=validate_finetune_policy,
            help='With train.pretrained_model: `first` fine-tunes the first ensemble from it and starts each later '
            'one from the previous ensemble (with train_reuse merged in, where given), as dpgen2 does; `always` '
            'fine-tunes every ensemble from the pretrained model on all the data so far.',
        )
        spec.input_namespace(
            'restart_from',
            valid_type=orm.Data,
            dynamic=True,
            required=False,
            help="A previous run's `iterations` outputs: those iterations are reused, not recomputed "
            '(see get_builder_restart_from).',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            while_(cls.should_iterate)(
                if_(cls.needs_training)(cls.run_train, cls.inspect_train),
                cls.run_explore,
                cls.inspect_explore,
                if_(cls.has_candidates)(cls.run_label, cls.inspect_label),
                cls.finish_iteration,
            ),
            cls.results,
            if_(cls.should_test_properties)(cls.run_properties, cls.inspect_properties),
        )

        spec.output_namespace('models', valid_type=orm.Data, dynamic=True, help='The last ensemble.')
        spec.output_namespace(
            'datasets',
            valid_type=LabeledDatasetData,
            dynamic=True,
            help="All labeled data: the initial datasets and each iteration's labels (iter_NNN), each stored once.",
        )
        spec.output_namespace('iterations', dynamic=True, help='iter_NNN: report, models and new labels of each.')
        spec.expose_outputs(PropertiesWorkChain, namespace='properties', namespace_options={'required': False})
        spec.exit_code(
            401, 'ERROR_TRAINING_FAILED', message='Iteration {iteration}: training failed ({process}). {advice}'
        )
        spec.exit_code(
            402, 'ERROR_EXPLORATION_FAILED', message='Iteration {iteration}: exploration failed ({process}). {advice}'
        )
        spec.exit_code(
            404,
            'ERROR_PROPERTIES_FAILED',
            message='The property tests of the final models failed ({process}: {message}); the models and data are in '
            'the outputs.',
        )
        spec.exit_code(
            403, 'ERROR_LABELING_FAILED', message='Iteration {iteration}: labeling failed ({process}). {advice}'
        )
        spec.exit_code(
            406,
            'ERROR_STAGE_NOT_CONVERGED',
            message='The loop stopped: {reason}. The models and data so far are in the outputs; raise max_repeats, '
            'lower accurate_threshold or set fatal_at_max false in the schedule to go on, and continue with '
            'restart_from.',
        )
        spec.exit_code(
            405,
            'ERROR_LABELING_ENGINE_FAILED',
            message='Iteration {iteration}: none of the {count} labels succeeded, and not because of the frames '
            '({reasons}): the labeling engine, its launcher or the computer is at fault ({process}). {advice}',
        )

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict,
        *,
        datasets: dict | None = None,
        configurations: dict | None = None,
        init_data: orm.WorkflowNode | None = None,
        schedule,
        selection: dict,
        labeler: dict,
        protocol: str | None = None,
        overrides: dict | None = None,
        resources: dict | None = None,
    ):
        """A builder with every step set up from the named protocol (``fast``, ``balanced``, ``stringent``).

        :param codes: ``{"train": dp, "explore": lmp, "label": pw.x / cp2k / python ...}``; each step runs on its
            code's computer, so training and exploration can go to GPU nodes and labeling to CPU nodes. With
            ``"select"``, a Python with numpy on the exploration's computer, each MD job selects its candidates
            there and brings back only the compact deviations and the candidate frames.
        :param labeler: the labeler specification, e.g. ``{"engine": "quantumespresso"}``; its protocol
            defaults to this one.
        :param resources: per step (``train``, ``explore``, ``label``) the job resources in
            :mod:`aiida_dpgen.utils.resources`' vocabulary (nodes, mpiprocs_per_node, gpus_per_node, queue,
            walltime, account, ...), translated for the scheduler of that step's computer.
        :param init_data: a finished ``InitDataWorkChain``: its ``dataset`` (as ``init``), ``configurations``
            and ``surfaces`` (as ``<name>_surface``) join ``datasets`` and ``configurations``.
        """
        if init_data is not None:
            initial_datasets, initial_configurations = inputs_from_init_data(init_data)
            datasets = {**initial_datasets, **(datasets or {})}
            configurations = {**initial_configurations, **(configurations or {})}
        if not datasets or not configurations:
            raise ValueError('datasets and configurations: give both, or a finished InitDataWorkChain as init_data')
        step_options = _step_options(codes, resources or {})
        inputs = cls.get_protocol_inputs(protocol, overrides)
        protocol = protocol or cls.get_default_protocol()
        train = TrainWorkChain.get_builder_from_protocol(
            codes['train'],
            {},
            protocol=inputs['train']['protocol'] or protocol,
            overrides=inputs['train']['overrides'],
            model=inputs['train'].get('model'),
        )
        if 'train' in step_options:
            train.base.dp.metadata.options = {**train.base.dp.metadata.options, **step_options['train']}
        type_map = next(iter(datasets.values())).type_map
        train.base.dp.parameters = Dict(per_element_sel(train.base.dp.parameters.get_dict(), len(type_map)))
        builder = cls.get_builder()
        builder.train = train._inputs(prune=True)
        builder.explore.lammps.lammps.code = codes['explore']
        if codes.get('select') is not None:
            builder.explore.lammps.lammps.python = codes['select']
        if 'explore' in step_options:
            builder.explore.lammps.lammps.metadata.options = step_options['explore']
        builder.explore.group_size = Int(inputs['explore']['group_size'])
        builder.label.code = codes['label']
        builder.label.group_size = Int(inputs['label']['group_size'])
        labeler = {'protocol': protocol, **labeler}
        if 'label' in step_options:
            labeler['options'] = {**labeler.get('options', {}), **step_options['label']}
        builder.label.labeler = Dict(labeler)
        builder.datasets = dict(datasets)
        builder.configurations = dict(configurations)
        builder.schedule = schedule
        builder.selection = Dict({**inputs['selection'], **selection})
        if inputs.get('convergence'):
            builder.convergence = Dict(inputs['convergence'])
        if inputs.get('train_reuse'):
            builder.train_reuse = Dict(inputs['train_reuse'])
        return builder

    @classmethod
    def get_builder_restart_from(cls, node: orm.WorkflowNode):
        """A builder with the inputs of the DpgenWorkChain ``node`` that continues after its completed iterations;
        change any input (schedule, convergence, step settings) before running it."""
        if node.process_label != cls.__name__:
            raise ValueError(f'{node.process_label}<{node.pk}> is not a {cls.__name__}; restart from one of those')
        builder = node.get_builder_restart()
        iterations = node.outputs.iterations if 'iterations' in node.outputs else {}
        builder.restart_from = {
            name: {
                key: _plain(iterations[name][key])
                for key in (*ITERATION_OUTPUTS, ITERATION_LABELS)
                if key in iterations[name]
            }
            for name in iterations
        }
        return builder

    def setup(self):
        self.ctx.iteration = 0
        self.ctx.history = []
        self.ctx.models = None
        self.ctx.trained_on = None
        self.ctx.datasets = dict(self.inputs.datasets)
        if self.inputs.get('restart_from'):
            self._reuse_iterations(self.inputs.restart_from)

    def _reuse_iterations(self, done: dict):
        """Take over completed iterations of a previous run: the same reports, data and models, not recomputed."""
        names = sorted(done)
        for name in names:
            iteration = done[name]
            self._out_iteration(name, iteration['report'], iteration['models'], iteration.get(ITERATION_LABELS))
            self.ctx.history.append(_record(iteration['report'].get_dict()))
            if ITERATION_LABELS in iteration:
                self.ctx.datasets[name] = iteration[ITERATION_LABELS]
        if names:
            self.ctx.models = dict(done[names[-1]]['models'])
            self.ctx.trained_on = models_trained_on(done, list(self.ctx.datasets))
            self.ctx.iteration = len(names)
        self.report(f'reusing {len(names)} completed iteration(s); {self._frames()} labeled frames')

    def _frames(self) -> int:
        return sum(dataset.nframes for dataset in self.ctx.datasets.values())

    def _plan(self) -> LoopPlan:
        return LoopPlan(_schedule_value(self.inputs.schedule), _dict(self.inputs.get('convergence')))

    def _history(self) -> list[IterationRecord]:
        return [
            IterationRecord(*record[:3], tuple(record[3]) if len(record) > 3 and record[3] else None)
            for record in self.ctx.history
        ]

    def should_iterate(self):
        decision = self._plan().next(self._history())
        if decision.stop:
            self.report(f'loop stops after {self.ctx.iteration} iteration(s): {decision.reason}')
            self.ctx.stop_reason = decision.reason
            self.ctx.stopped_failed = decision.failed
            return False
        self.ctx.stage_index, self.ctx.stage = decision.stage_index, decision.stage
        self.ctx.cost = {}
        self.ctx.trained = False
        return True

    @property
    def _label(self) -> str:
        return f'{ITERATION_PREFIX}{self.ctx.iteration:03d}'

    def needs_training(self):
        """A new ensemble when there is none or labels were added since it was trained."""
        return self.ctx.models is None or self.ctx.trained_on != sorted(self.ctx.datasets)

    def run_train(self):
        inputs = AttributeDict(self.exposed_inputs(TrainWorkChain, 'train'))
        inputs.base = AttributeDict(inputs.base)
        inputs.base.dp = AttributeDict(inputs.base.dp)
        inputs.base.dp.datasets = dict(self.ctx.datasets)
        inputs.seed = Int(inputs.seed.value + self.ctx.iteration)
        if self.ctx.models and self._continues_previous_ensemble():
            inputs.pop('pretrained_model', None)
            inputs.pop('finetune_head', None)
            inputs.init_models = self.ctx.models
            if 'train_reuse' in self.inputs:
                inputs.reuse_parameters = self.inputs.train_reuse
        node = self._submit_step('train', TrainWorkChain, inputs)
        self.report(
            f'{self._label}: training on {self._frames()} frames in {len(self.ctx.datasets)} datasets, '
            f'TrainWorkChain<{node.pk}>'
        )
        return ToContext(train=node)

    def _continues_previous_ensemble(self) -> bool:
        """Whether a new ensemble starts from the previous one: with train_reuse, or after a first fine-tuning."""
        if 'pretrained_model' in self.inputs.train:
            return self.inputs.finetune_policy.value == 'first'
        return 'train_reuse' in self.inputs

    def inspect_train(self):
        node = self._finished_step('train')
        if not node.is_finished_ok:
            return self._failed(self.exit_codes.ERROR_TRAINING_FAILED, node)
        self.ctx.models = dict(node.outputs.models)
        self.ctx.trained_on = sorted(self.ctx.datasets)
        self.ctx.training = node.outputs.summary
        self.ctx.trained = True
        return None

    def run_explore(self):
        inputs = AttributeDict(self.exposed_inputs(ExploreWorkChain, 'explore'))
        inputs.models = self.ctx.models
        inputs.configurations = {name: self.inputs.configurations[name] for name in self.ctx.stage['systems']}
        inputs.stage = Dict(self.ctx.stage)
        selection = self.inputs.selection.get_dict()
        inputs.selection = Dict({**selection, 'seed': selection.get('seed', 0) + self.ctx.iteration})
        node = self._submit_step('explore', ExploreWorkChain, inputs)
        self.report(f'{self._label}: exploring stage {self.ctx.stage_index}, ExploreWorkChain<{node.pk}>')
        return ToContext(explore=node)

    def inspect_explore(self):
        node = self._finished_step('explore')
        if not node.is_finished_ok:
            return self._failed(self.exit_codes.ERROR_EXPLORATION_FAILED, node)
        if 'training' not in self.ctx:
            self.ctx.training = self._previous_training()
        if 'candidates' not in node.outputs:  # here, not in has_candidates: the engine may ask a condition twice
            warning = no_candidates_warning(node.outputs.statistics['overall'])
            if warning:
                self.report(f'{self._label}: {warning}')
        return None

    def _previous_training(self) -> Dict:
        """The training summary of the models reused without retraining (their TrainWorkChain's)."""
        model = next(iter(self.ctx.models.values()))
        query = orm.QueryBuilder().append(orm.Node, filters={'uuid': model.uuid}, tag='model')
        query.append(orm.WorkChainNode, with_outgoing='model', filters={'attributes.process_label': 'TrainWorkChain'})
        train = query.first(flat=True)
        return train.outputs.summary if train is not None else Dict({})

    def has_candidates(self):
        return 'candidates' in self.ctx.explore.outputs

    def run_label(self):
        inputs = AttributeDict(self.exposed_inputs(LabelWorkChain, 'label'))
        inputs.candidates = dict(self.ctx.explore.outputs.candidates)
        node = self._submit_step('label', LabelWorkChain, inputs)
        chosen = self.ctx.explore.outputs.statistics['overall']['chosen']
        self.report(f'{self._label}: labeling {chosen} candidates, LabelWorkChain<{node.pk}>')
        return ToContext(label=node)

    def inspect_label(self):
        node = self._finished_step('label')
        if node.exit_status == LabelWorkChain.exit_codes.ERROR_NO_LABELS.status and 'summary' in node.outputs:
            summary = node.outputs.summary.get_dict()
            reasons = summary.get('excluded_by_reason', {})
            if reasons and not PHYSICS_REASONS.intersection(reasons):
                # nothing the frames did: going on would label nothing again, iteration after iteration
                exit_code = self.exit_codes.ERROR_LABELING_ENGINE_FAILED
                return self._failed(exit_code, node, count=summary['frames'], reasons=reasons)
            # every candidate was excluded by its physics (e.g. SCF not converged): no data to add, an outcome
            self.report(
                f'{self._label}: no labels, all {summary["frames"]} candidates excluded: '
                f'{summary["excluded_by_reason"]}'
            )
            return None
        if not node.is_finished_ok:
            return self._failed(self.exit_codes.ERROR_LABELING_FAILED, node)
        return None

    def _submit_step(self, step: str, process_class, inputs: AttributeDict) -> orm.ProcessNode:
        """Submit this iteration's ``step`` (train, explore, label) once: after a restart of the daemon the child
        that was already launched is taken up again instead of a second one."""
        inputs.metadata = {'call_link_label': f'{self._label}_{step}'}
        return submit_once(self, launched_children(self.node), process_class, **inputs)

    def _finished_step(self, step: str) -> orm.ProcessNode:
        """This iteration's finished ``step``, its cost recorded for the report."""
        node = self.ctx[step]
        self.ctx.cost[step] = step_cost(node)
        return node

    def _failed(self, exit_code, node, **details):
        advice = (
            f'The {self.ctx.iteration} completed iteration(s) are in the outputs; fix the cause '
            f'(`verdi process report {node.pk}`) and continue with DpgenWorkChain.get_builder_restart_from(this run).'
        )
        self._output_final()
        process = f'{node.process_label}<{node.pk}>'
        return exit_code.format(iteration=self.ctx.iteration, process=process, advice=advice, **details)

    def finish_iteration(self):
        previous_frames = self._frames()
        labeling = self.ctx.label.outputs.summary if self.has_candidates() else None
        labels = (
            self.ctx.label.outputs.dataset if labeling is not None and 'dataset' in self.ctx.label.outputs else None
        )
        if labels is not None:
            self.ctx.datasets[self._label] = labels
        context = {
            'iteration': self.ctx.iteration,
            'stage_index': self.ctx.stage_index,
            'stage': self.ctx.stage,
            'selection': self.inputs.selection.get_dict(),
            'trained': self.ctx.trained,
            'previous_dataset_frames': previous_frames,
            'dataset_frames': self._frames(),
            'cost': self.ctx.cost,
        }
        explore = self.ctx.explore.outputs
        report = summarize_iteration(
            Dict(context),
            self.ctx.training,
            explore.statistics,
            explore.task_summary,
            **({'labeling': labeling} if labeling is not None else {}),
        )
        self._out_iteration(self._label, report, self.ctx.models, labels)
        values = report.get_dict()
        if not self.ctx.history:
            self.report(HEADER)
        self.report(format_row(values))
        self.ctx.history.append(_record(values))
        self.ctx.iteration += 1
        self.ctx.pop('training', None)

    def _out_iteration(self, name: str, report: Dict, models: dict, labels: LabeledDatasetData | None) -> None:
        self.out(f'iterations.{name}.report', report)
        for key, model in models.items():
            self.out(f'iterations.{name}.models.{key}', model)
        if labels is not None:
            self.out(f'iterations.{name}.{ITERATION_LABELS}', labels)

    def _output_final(self):
        for name, dataset in self.ctx.datasets.items():
            self.out(f'datasets.{name}', dataset)
        for key, model in (self.ctx.models or {}).items():
            self.out(f'models.{key}', model)

    def results(self):
        self._output_final()
        if self.ctx.get('stopped_failed'):
            return self.exit_codes.ERROR_STAGE_NOT_CONVERGED.format(reason=self.ctx.stop_reason)
        return None

    def should_test_properties(self):
        return bool(self.inputs.get('properties')) and bool(self.ctx.models)

    def run_properties(self):
        inputs = AttributeDict(self.exposed_inputs(PropertiesWorkChain, 'properties'))
        inputs.models = dict(self.ctx.models)
        inputs.metadata = {'call_link_label': 'properties'}
        node = submit_once(self, launched_children(self.node), PropertiesWorkChain, **inputs)
        self.report(f'testing the properties of the final {len(inputs.models)} models, PropertiesWorkChain<{node.pk}>')
        return ToContext(properties=node)

    def inspect_properties(self):
        node = self.ctx.properties
        self.out_many(self.exposed_outputs(node, PropertiesWorkChain, namespace='properties'))
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_PROPERTIES_FAILED.format(
                process=f'{node.process_label}<{node.pk}>', message=node.exit_message
            )
        return None


def _plain(value):
    return {key: value[key] for key in value} if not isinstance(value, orm.Node) else value


def _record(report: dict) -> list:
    exploration = report['exploration']
    systems = exploration.get('systems', {})
    levels = [systems[name].get('f_trust_lo_adapted') for name in sorted(systems)]
    adapted = levels if levels and all(level is not None for level in levels) else None
    return [report['stage_index'], exploration['accurate_ratio'], exploration['candidate_ratio'], adapted]


STEPS = ('train', 'explore', 'label')


def _step_options(codes: dict, resources: dict) -> dict:
    """``metadata.options`` per step from ``resources``, for the scheduler of each step's code's computer."""
    unknown = sorted(set(resources) - set(STEPS))
    if unknown:
        raise ValueError(f'resources.{unknown[0]}: unknown step; the steps are {", ".join(STEPS)}')
    return {
        step: job_options(resources[step], codes[step].computer.scheduler_type, step=f'resources.{step}')
        for step in STEPS
        if step in resources
    }
