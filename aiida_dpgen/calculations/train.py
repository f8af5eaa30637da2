"""`DpTrainCalculation`: one DeePMD-kit model, trained (`dp train`) and frozen (`dp freeze`) in one job."""

from __future__ import annotations

import json
import pathlib

from aiida.common import CalcInfo, CodeInfo, CodeRunMode
from aiida.engine import CalcJob
from aiida.orm import ArrayData, Bool, Dict, Int, List, RemoteData, Str, to_aiida_type

from aiida_dpgen.calculations.options import set_job_defaults
from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData
from aiida_dpgen.training.finetune import finetune_error
from aiida_dpgen.training.inputs import (
    BACKEND_FLAGS,
    CHECKPOINT_PREFIX,
    FROZEN_MODEL_SUFFIX,
    backend_error,
    build_training_input,
    compression_error,
    sampling_probabilities,
    sel_error,
    validate_parameters,
)
from aiida_dpgen.utils.repository import write_tree

INIT_MODES = {'init_frz_model': '--init-frz-model', 'finetune': '--finetune'}


def validate_parameters_port(value: Dict, _) -> str | None:
    return validate_parameters(value.get_dict())


def validate_backend(value: Str, _) -> str | None:
    if value.value not in BACKEND_FLAGS:
        return (
            f'backend={value.value!r} is not supported; use "tf" (TensorFlow, the default) or "pt" '
            f'(PyTorch, where the installed torch matches the one deepmd-kit was built against)'
        )
    return None


def validate_init_mode(value: Str, _) -> str | None:
    if value.value not in INIT_MODES:
        return f'init_mode={value.value!r} is not supported; use one of {sorted(INIT_MODES)}'
    return None


def validate_inputs(inputs: dict, _) -> str | None:
    """Cross-port checks: every dataset fits the type map, weights name datasets, the model suits the backend,
    the init model matches."""
    datasets = inputs.get('datasets', {})
    if not datasets:
        return 'datasets: no training dataset given; pass at least one LabeledDatasetData in the `datasets` namespace'
    type_map = resolve_type_map(inputs)
    return (
        _data_error(inputs, type_map)
        or _model_error(inputs)
        or _init_model_error(inputs, type_map)
        or (sel_error(inputs['parameters'].get_dict(), type_map) if _own_architecture(inputs) else None)
    )


def _own_architecture(inputs: dict) -> bool:
    """Whether the job's model is the one ``parameters`` describe (a PyTorch fine-tuning takes the pretrained one's)."""
    mode, backend = inputs.get('init_mode'), inputs.get('backend')
    finetuning = inputs.get('init_model') is not None and mode is not None and mode.value == 'finetune'
    return 'parameters' in inputs and not (finetuning and backend is not None and backend.value == 'pt')


def _data_error(inputs: dict, type_map: list[str]) -> str | None:
    datasets = inputs['datasets']
    named = dict(datasets)
    if 'validation_dataset' in inputs:
        named['validation_dataset'] = inputs['validation_dataset']
    for name, dataset in named.items():
        outside = [element for element in dataset.elements if element not in type_map]
        if outside:
            return (
                f"dataset {name!r} contains elements {outside} that are not in the model's "
                f'type_map={type_map}; add them to the `type_map` input'
            )
    if 'dataset_weights' in inputs:
        weights = inputs['dataset_weights'].get_dict()
        unknown = sorted(set(weights) - set(datasets))
        if unknown:
            return f'dataset_weights names {unknown}, which are not in `datasets` ({sorted(datasets)}); fix the keys'
        negative = {key: value for key, value in weights.items() if not value >= 0}
        if negative:
            return f'dataset_weights={negative}: weights must be zero or positive numbers'
    return None


def _model_error(inputs: dict) -> str | None:
    """A descriptor the backend lacks, compression of a model DeePMD-kit cannot compress, a checkpoint kept
    where there is no single checkpoint file."""
    keep, backend = inputs.get('keep_checkpoint'), inputs.get('backend')
    if keep is not None and keep.value and (backend is None or backend.value != 'pt'):
        return 'keep_checkpoint: only with backend pt (a single .pt file); TensorFlow fine-tunes from the frozen model'
    if 'parameters' not in inputs:
        return None
    parameters, backend, compress = inputs['parameters'].get_dict(), inputs.get('backend'), inputs.get('compress')
    error = backend_error(parameters, backend.value) if backend is not None else None
    if error is None and compress is not None and compress.value:
        error = compression_error(parameters)
    return error


def _init_model_error(inputs: dict, type_map: list[str]) -> str | None:
    init_model, backend = inputs.get('init_model'), inputs.get('backend')
    head = inputs.get('finetune_head')
    if init_model is None:
        return 'finetune_head: set, but there is no init_model to fine-tune; give the pretrained one' if head else None
    backend = backend.value if backend is not None else 'tf'
    if inputs.get('init_mode') is not None and inputs['init_mode'].value == 'finetune':
        head = head.value if head is not None else None
        return finetune_error(
            init_model.filename,
            init_model.type_map,
            init_model.heads,
            backend,
            type_map,
            head,
            descriptor=init_model.descriptor,
        )
    if head is not None:
        return "finetune_head: only for init_mode='finetune'; leave it out or fine-tune"
    if init_model.type_map != type_map:
        return (
            f'init_model has type_map={init_model.type_map}, but this training uses type_map={type_map}; '
            f"give the `type_map` input the init model's type map"
        )
    expected = FROZEN_MODEL_SUFFIX.get(backend)
    if expected and not init_model.filename.endswith(expected):
        return f'init_model {init_model.filename!r} does not match backend={backend!r} ({expected} files)'
    return None


def resolve_type_map(inputs) -> list[str]:
    """The `type_map` input if given, else the type map of the first training dataset (by name)."""
    if inputs.get('type_map') is not None:
        return list(inputs['type_map'].get_list())
    datasets = inputs['datasets']
    return list(datasets[sorted(datasets)[0]].type_map)


class DpTrainCalculation(CalcJob):
    """Train one Deep Potential model with DeePMD-kit and freeze it: ``dp train`` then ``dp freeze``.

    The training data are the ``datasets`` (copied from the repository, one folder per system), the
    seeds of descriptor, fitting net and training all come from ``seed``; the user's ``parameters`` give
    the model, learning rate, loss and training sections and may not set data paths or seeds. With
    ``parent_folder`` the job continues from that folder's checkpoint (``dp train --restart``).
    """

    INPUT_FILENAME = 'input.json'
    RESOLVED_INPUT_FILENAME = 'out.json'
    """DeePMD-kit's copy of the input with defaults filled in and ``sel: auto`` resolved."""
    LCURVE_FILENAME = 'lcurve.out'
    CHECKPOINT_INDEX = 'checkpoint'
    TRAINING_DATA_FOLDER = 'train'
    VALIDATION_DATA_FOLDER = 'validation'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace(
            'datasets',
            valid_type=LabeledDatasetData,
            dynamic=True,
            help='Training datasets, any keys (e.g. `init`, `iter_000`); all their systems are trained on.',
        )
        spec.input(
            'dataset_weights',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help='Optional sampling weight per dataset key (default 1): a system is drawn in proportion to its '
            "number of frames times its dataset's weight.",
        )
        spec.input(
            'validation_dataset',
            valid_type=LabeledDatasetData,
            required=False,
            help='Optional validation data; its errors appear as the *_val columns of the learning curve.',
        )
        spec.input(
            'type_map',
            valid_type=List,
            required=False,
            serializer=to_aiida_type,
            help="Element symbols of the model, in type order; default: the first training dataset's type map.",
        )
        spec.input(
            'parameters',
            valid_type=Dict,
            serializer=to_aiida_type,
            validator=validate_parameters_port,
            help='DeePMD-kit input sections model, learning_rate, loss and training, without data paths or seeds.',
        )
        spec.input('seed', valid_type=Int, serializer=to_aiida_type, help='Seed of descriptor, fitting and training.')
        spec.input(
            'backend',
            valid_type=Str,
            default=lambda: Str('tf'),
            serializer=to_aiida_type,
            validator=validate_backend,
            help='DeePMD-kit backend: `tf` (TensorFlow, frozen .pb, default) or `pt` (PyTorch, .pth).',
        )
        spec.input(
            'init_model',
            valid_type=DeepPotentialData,
            required=False,
            help='Frozen model to start from (`dp train --init-frz-model`, or `--finetune`, see `init_mode`).',
        )
        spec.input(
            'finetune_head',
            valid_type=Str,
            required=False,
            serializer=to_aiida_type,
            help='The head (branch) of a multi-task pretrained model to fine-tune from (`--model-branch`); '
            'without it DeePMD-kit starts a new fitting net there. `RANDOM` (PyTorch, any pretrained model): the '
            "pretrained descriptor with a new fitting net from this training's seed.",
        )
        spec.input(
            'init_mode',
            valid_type=Str,
            default=lambda: Str('init_frz_model'),
            serializer=to_aiida_type,
            validator=validate_init_mode,
            help='How `init_model` is used: `init_frz_model` (continue its parameters) or `finetune`.',
        )
        spec.input(
            'parent_folder',
            valid_type=RemoteData,
            required=False,
            help='Remote folder of an interrupted training; the job resumes from its checkpoint.',
        )
        spec.input(
            'compress',
            valid_type=Bool,
            default=lambda: Bool(False),
            serializer=to_aiida_type,
            help='Also run `dp compress` on the frozen model (faster MD, TensorFlow se_e2_a-like descriptors).',
        )
        spec.input(
            'keep_checkpoint',
            valid_type=Bool,
            default=lambda: Bool(False),
            serializer=to_aiida_type,
            help='Also output the final PyTorch checkpoint (`checkpoint`, .pt): what a later training can fine-tune '
            'from (backend pt; TensorFlow fine-tunes from the frozen model).',
        )
        spec.inputs.validator = validate_inputs
        set_job_defaults(spec, parser='dpgen.train')

        spec.output('model', valid_type=DeepPotentialData, help='The frozen model.')
        spec.output('compressed_model', valid_type=DeepPotentialData, required=False, help='`dp compress` output.')
        spec.output(
            'checkpoint',
            valid_type=DeepPotentialData,
            required=False,
            help='The final PyTorch checkpoint (.pt), with keep_checkpoint: a model to fine-tune from.',
        )
        spec.output(
            'learning_curve',
            valid_type=ArrayData,
            help='lcurve.out by column: step, rmse_*_trn / rmse_*_val (eV, eV/atom, eV/Å) and lr.',
        )
        spec.output(
            'output_parameters',
            valid_type=Dict,
            help='Final errors, steps done, wall time, steps per second.',
        )

        spec.exit_code(
            303,
            'ERROR_NO_LEARNING_CURVE',
            message='lcurve.out was not written: dp train stopped before the first step; read train.err.',
        )
        spec.exit_code(304, 'ERROR_INVALID_LEARNING_CURVE', message='lcurve.out could not be read: {error}')
        spec.exit_code(
            310,
            'ERROR_OUT_OF_MEMORY',
            message='Training ran out of memory ({marker}); use a smaller batch_size or a node with more memory.',
        )
        spec.exit_code(
            320,
            'ERROR_OUT_OF_WALLTIME',
            message='Training stopped at step {step} of {numb_steps} with a checkpoint; restart from the '
            'remote folder (the restart workchain does this) or give the job more walltime.',
        )
        spec.exit_code(
            330,
            'ERROR_TRAINING_DIVERGED',
            message='Training diverged: {reason}; lower learning_rate.start_lr or check the data for bad labels.',
        )
        spec.exit_code(
            340,
            'ERROR_NO_MODEL_PRODUCED',
            message='dp freeze produced no model although training finished; read freeze.err.',
        )
        spec.exit_code(350, 'ERROR_COMPRESSION_FAILED', message='dp compress failed; read compress.err.')

    @classmethod
    def model_filename(cls, backend: str) -> str:
        return f'frozen_model{FROZEN_MODEL_SUFFIX[backend]}'

    @classmethod
    def compressed_model_filename(cls, backend: str) -> str:
        return f'compressed_model{FROZEN_MODEL_SUFFIX[backend]}'

    def prepare_for_submission(self, folder):
        backend = self.inputs.backend.value
        flag = BACKEND_FLAGS[backend]
        local_copy_list = []
        remote_copy_list = []

        # The data are written into the job's folder in one pass per dataset and not stored with the job again
        # (they are its input nodes): AiiDA's local_copy_list opens the object store once per file.
        training_systems, frames_per_system = [], {}
        for key in sorted(self.inputs.datasets):
            dataset = self.inputs.datasets[key]
            target = f'{self.TRAINING_DATA_FOLDER}/{key}'
            write_tree(dataset, 'systems', pathlib.Path(folder.get_subfolder(target, create=True).abspath))
            training_systems += [f'{target}/{name}' for name in dataset.system_names]
            frames_per_system[key] = [summary['nframes'] for summary in dataset.systems]

        weights = self.inputs.dataset_weights.get_dict() if 'dataset_weights' in self.inputs else {}
        sys_probs = sampling_probabilities(frames_per_system, weights) if weights else None

        validation_systems = None
        if 'validation_dataset' in self.inputs:
            validation = self.inputs.validation_dataset
            destination = folder.get_subfolder(self.VALIDATION_DATA_FOLDER, create=True).abspath
            write_tree(validation, 'systems', pathlib.Path(destination))
            validation_systems = [f'{self.VALIDATION_DATA_FOLDER}/{name}' for name in validation.system_names]

        content = build_training_input(
            self.inputs.parameters.get_dict(),
            type_map=resolve_type_map(self.inputs),
            training_systems=training_systems,
            sys_probs=sys_probs,
            validation_systems=validation_systems,
            seed=self.inputs.seed.value,
        )
        with folder.open(self.INPUT_FILENAME, 'w') as handle:
            json.dump(content, handle, indent=2)

        train_arguments = [
            flag,
            'train',
            self.INPUT_FILENAME,
            *self._start_from(backend, local_copy_list, remote_copy_list),
        ]

        model = self.model_filename(backend)
        codes_info = [
            self._code_info(train_arguments, 'train'),
            self._code_info([flag, 'freeze', '-o', model], 'freeze'),
        ]
        retrieve_temporary = [model]
        if self.inputs.keep_checkpoint.value:
            retrieve_temporary.append(CHECKPOINT_PREFIX[backend])  # DeePMD-kit's link to the last checkpoint
        if self.inputs.compress.value:
            compressed = self.compressed_model_filename(backend)
            codes_info.append(self._code_info([flag, 'compress', '-i', model, '-o', compressed], 'compress'))
            retrieve_temporary.append(compressed)

        calcinfo = CalcInfo()
        calcinfo.codes_info = codes_info
        calcinfo.codes_run_mode = CodeRunMode.SERIAL
        calcinfo.local_copy_list = local_copy_list
        calcinfo.remote_copy_list = remote_copy_list
        calcinfo.provenance_exclude_list = [self.TRAINING_DATA_FOLDER, self.VALIDATION_DATA_FOLDER]
        calcinfo.retrieve_list = [
            self.INPUT_FILENAME,
            self.RESOLVED_INPUT_FILENAME,
            self.LCURVE_FILENAME,
            self.CHECKPOINT_INDEX,
            'train.out',
            'train.err',
            'freeze.out',
            'freeze.err',
            'compress.out',
            'compress.err',
        ]
        calcinfo.retrieve_temporary_list = retrieve_temporary
        return calcinfo

    def _start_from(self, backend: str, local_copy_list: list, remote_copy_list: list) -> list[str]:
        """The `dp train` arguments that start from a checkpoint (resume) or a model (init, fine-tune); the files
        they need are added to the copy lists."""
        if 'parent_folder' in self.inputs:
            parent = self.inputs.parent_folder
            for pattern in (self.CHECKPOINT_INDEX, 'model.ckpt*'):
                remote_copy_list.append((parent.computer.uuid, f'{parent.get_remote_path()}/{pattern}', '.'))
            return ['--restart', CHECKPOINT_PREFIX[backend]]
        if 'init_model' not in self.inputs:
            return []
        init_model, mode = self.inputs.init_model, self.inputs.init_mode.value
        init_filename = f'init_model{pathlib.PurePath(init_model.filename).suffix}'
        local_copy_list.append((init_model.uuid, init_model.filename, init_filename))
        arguments = [INIT_MODES[mode], init_filename]
        if mode == 'finetune' and backend == 'pt':
            # the model's architecture is the pretrained one's, whatever the protocol's descriptor says
            arguments.append('--use-pretrain-script')
            if 'finetune_head' in self.inputs:
                arguments += ['--model-branch', self.inputs.finetune_head.value]
        return arguments

    def _code_info(self, arguments: list[str], name: str) -> CodeInfo:
        info = CodeInfo()
        info.code_uuid = self.inputs.code.uuid
        info.cmdline_params = arguments
        info.stdout_name = f'{name}.out'
        info.stderr_name = f'{name}.err'
        return info
