"""`TrainWorkChain`: an ensemble of Deep Potential models trained on the same data with different seeds."""

from __future__ import annotations

from collections.abc import Mapping

from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain
from aiida.orm import ArrayData, Bool, Dict, Int, List, Str, to_aiida_type

from aiida_dpgen.calculations.functions.summarize_training import summarize_training
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.training.ensemble import backend_mismatch, draw_seeds, ensemble_size_error
from aiida_dpgen.training.finetune import finetune_error
from aiida_dpgen.training.inputs import FROZEN_MODEL_SUFFIX, per_element_sel
from aiida_dpgen.workflows.base.train import DpTrainBaseWorkChain
from aiida_dpgen.workflows.launch import launched_children, submit_once
from aiida_dpgen.workflows.protocols.utils import ProtocolMixin, recursive_merge


def validate_numb_models(value: Int, _) -> str | None:
    return ensemble_size_error(value.value)


def validate_inputs(inputs: dict, _) -> str | None:
    init_models = inputs.get('init_models') or {}
    pretrained = inputs.get('pretrained_model')
    if init_models and pretrained is not None:
        return 'init_models and pretrained_model: give one; the members start either from earlier models or fine-tune'
    if inputs.get('finetune_head') is not None and pretrained is None:
        return 'finetune_head: set, but there is no pretrained_model to fine-tune; give one or leave it out'
    error = _pretrained_error(inputs, pretrained) if pretrained is not None else None
    if error:
        return error
    backend = inputs.get('base', {}).get('dp', {}).get('backend')
    if init_models and backend is not None and backend.value in FROZEN_MODEL_SUFFIX:
        files = {name: model.filename for name, model in init_models.items()}
        error = backend_mismatch(files, FROZEN_MODEL_SUFFIX[backend.value], 'init_models', 'base.dp.backend')
        if error:
            return error
    if inputs.get('reuse_parameters') is not None and not init_models:
        return 'reuse_parameters is set but init_models is empty; give the previous models in `init_models`'
    parameters = inputs.get('base', {}).get('dp', {}).get('parameters')
    sel = parameters.get_dict()['model'].get('descriptor', {}).get('sel') if parameters is not None else None
    if init_models and sel == 'auto':
        previous = next(iter(init_models.values())).sel
        return (
            'base.dp.parameters: model.descriptor.sel is "auto", which DeePMD-kit resolves from the current data, '
            f'so it may not match the init_models; set it explicitly (the init models have sel={previous})'
        )
    return None


def _pretrained_error(inputs: dict, pretrained: DeepPotentialData) -> str | None:
    dp = inputs.get('base', {}).get('dp', {})
    datasets, type_map = dp.get('datasets') or {}, dp.get('type_map')
    if type_map is not None:
        elements = list(type_map.get_list())
    else:
        elements = list(dict.fromkeys(element for node in datasets.values() for element in node.type_map))
    backend = dp['backend'].value if dp.get('backend') is not None else 'tf'
    head = inputs['finetune_head'].value if inputs.get('finetune_head') is not None else None
    return finetune_error(
        pretrained.filename,
        pretrained.type_map,
        pretrained.heads,
        backend,
        elements,
        head,
        key='pretrained_model',
        descriptor=pretrained.descriptor,
    )


class TrainWorkChain(ProtocolMixin, WorkChain):
    """Train ``numb_models`` models in parallel on the same data, seeds drawn from one seeded generator.

    With ``init_models`` (the previous iteration's ensemble), model *i* starts from ``init_models`` in
    key order, cycled, and ``reuse_parameters`` (e.g. fewer steps, a smaller start_lr) are merged into
    the training parameters, as DP-GEN's ``training_reuse_*`` / ``training_init_model`` do.
    """

    _protocol_file = 'train'
    _protocol_variants = {'se_e2_a': 'train', 'dpa2': 'train_dpa2', 'dpa3': 'train_dpa3'}
    """Protocols per model architecture: se_e2_a (TensorFlow, the paper's), DPA-2 and DPA-3 (PyTorch)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(
            DpTrainBaseWorkChain,
            namespace='base',
            exclude=('dp.seed', 'dp.parent_folder', 'dp.init_model', 'dp.init_mode', 'dp.finetune_head'),
        )
        spec.input(
            'numb_models',
            valid_type=Int,
            default=lambda: Int(4),
            serializer=to_aiida_type,
            validator=validate_numb_models,
            help='Number of models in the ensemble (the paper uses 4).',
        )
        spec.input(
            'seed',
            valid_type=Int,
            default=lambda: Int(cls.get_protocol_inputs()['seed']),
            serializer=to_aiida_type,
            help="Master seed; the models' seeds are drawn from a generator seeded with it, so reruns agree.",
        )
        spec.input_namespace(
            'init_models',
            valid_type=DeepPotentialData,
            dynamic=True,
            required=False,
            help="Models to start from (e.g. the previous iteration's); model i starts from the i-th, cycled.",
        )
        spec.input(
            'pretrained_model',
            valid_type=DeepPotentialData,
            required=False,
            help='A pretrained model every member fine-tunes from (`dp train --finetune`): a PyTorch checkpoint '
            '(.pt) for backend pt, a frozen .pb for tf. Its type map must hold every element of the data.',
        )
        spec.input(
            'finetune_head',
            valid_type=Str,
            required=False,
            serializer=to_aiida_type,
            help="The head of a multi-task pretrained_model to fine-tune from (DeePMD-kit's --model-branch); "
            "'RANDOM' (PyTorch): the pretrained descriptor with a new fitting net per member, so that the members "
            'differ beyond their data order.',
        )
        spec.input(
            'reuse_parameters',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help='Training parameters merged in when starting from init_models, e.g. '
            '{"training": {"numb_steps": 20000}, "learning_rate": {"start_lr": 1e-4}}.',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(cls.run_models, cls.inspect_models, cls.results)

        spec.output_namespace('models', valid_type=DeepPotentialData, dynamic=True, help='The frozen models.')
        spec.output_namespace(
            'checkpoints',
            valid_type=DeepPotentialData,
            dynamic=True,
            required=False,
            help='With base.dp.keep_checkpoint: the PyTorch checkpoints, to fine-tune from later.',
        )
        spec.output_namespace(
            'learning_curves', valid_type=ArrayData, dynamic=True, help="Each model's lcurve.out by column."
        )
        spec.output('summary', valid_type=Dict, help='Final errors per model and their spread over the ensemble.')
        spec.exit_code(
            410,
            'ERROR_TRAINING_FAILED',
            message='Training failed for {failed}; the models that finished are in the outputs.',
        )

    @classmethod
    def get_builder_from_protocol(
        cls,
        code,
        datasets: Mapping,
        protocol: str | None = None,
        overrides: Mapping | None = None,
        model: str | None = None,
        **kwargs,
    ):
        """A builder from the ``fast``, ``balanced`` or ``stringent`` protocol, updated by ``overrides``.

        :param code: the ``dp`` code.
        :param datasets: training datasets by key.
        :param model: the architecture whose protocols to use: ``se_e2_a`` (default; TensorFlow), ``dpa2`` or ``dpa3``
            (PyTorch).
        :param kwargs: further ``base.dp`` inputs, e.g. ``validation_dataset`` or ``type_map``.
        """
        inputs = cls.get_protocol_inputs(protocol, overrides, variant=model)
        builder = cls.get_builder()
        builder.numb_models = Int(inputs['numb_models'])
        builder.seed = Int(inputs['seed'])
        base = inputs['base']
        builder.base.max_iterations = Int(base['max_iterations'])
        dp = base['dp']
        builder.base.dp.code = code
        builder.base.dp.datasets = dict(datasets)
        type_map = kwargs.get('type_map') or (datasets[sorted(datasets)[0]].type_map if datasets else None)
        parameters = per_element_sel(dp['parameters'], len(type_map)) if type_map else dp['parameters']
        builder.base.dp.parameters = Dict(parameters)
        builder.base.dp.backend = Str(dp['backend'])
        builder.base.dp.compress = Bool(dp['compress'])
        if 'keep_checkpoint' in dp:
            builder.base.dp.keep_checkpoint = Bool(dp['keep_checkpoint'])
        builder.base.dp.metadata.options = dp['metadata']['options']
        for key, value in kwargs.items():
            builder.base.dp[key] = List(value) if key == 'type_map' else value
        return builder

    def run_models(self):
        seeds = draw_seeds(self.inputs.seed.value, self.inputs.numb_models.value)
        init_models = [self.inputs.init_models[key] for key in sorted(self.inputs.get('init_models', {}))]
        futures, launched = {}, launched_children(self.node)
        for index, seed in enumerate(seeds):
            inputs = AttributeDict(self.exposed_inputs(DpTrainBaseWorkChain, 'base'))
            inputs.dp = AttributeDict(inputs.dp)
            inputs.dp.seed = Int(seed)
            if init_models:
                inputs.dp.init_model = init_models[index % len(init_models)]
                inputs.dp.init_mode = Str('init_frz_model')
                if 'reuse_parameters' in self.inputs:
                    merged = recursive_merge(inputs.dp.parameters.get_dict(), self.inputs.reuse_parameters.get_dict())
                    inputs.dp.parameters = Dict(merged)
            elif 'pretrained_model' in self.inputs:
                inputs.dp.init_model = self.inputs.pretrained_model
                inputs.dp.init_mode = Str('finetune')
                if 'finetune_head' in self.inputs:
                    inputs.dp.finetune_head = self.inputs.finetune_head
            inputs.metadata = {'call_link_label': f'train_model_{index}'}
            future = submit_once(self, launched, DpTrainBaseWorkChain, **inputs)
            self.report(f'launched DpTrainBaseWorkChain<{future.pk}> for model {index} with seed {seed}')
            futures[f'trainings.model_{index}'] = future
        return ToContext(**futures)

    def inspect_models(self):
        failed = []
        finished_parameters = {}
        for name in sorted(self.ctx.trainings):
            child = self.ctx.trainings[name]
            if not child.is_finished_ok:
                failed.append(f'{name} ({child.process_label}<{child.pk}>, exit status {child.exit_status})')
                continue
            self.out(f'models.{name}', child.outputs.model)
            if 'checkpoint' in child.outputs:
                self.out(f'checkpoints.{name}', child.outputs.checkpoint)
            self.out(f'learning_curves.{name}', child.outputs.learning_curve)
            finished_parameters[name] = child.outputs.output_parameters
        if finished_parameters:
            self.ctx.summary = summarize_training(**finished_parameters)
        if failed:
            if finished_parameters:
                self.out('summary', self.ctx.summary)
            return self.exit_codes.ERROR_TRAINING_FAILED.format(failed=', '.join(failed))
        return None

    def results(self):
        self.out('summary', self.ctx.summary)
        spread = self.ctx.summary['spread']['rmse_f_trn']
        if spread['count']:
            self.report(
                f'trained {spread["count"]} models: final training force RMSE {spread["mean"]:.3g} '
                f'± {spread["std"]:.2g} eV/Å'
            )
