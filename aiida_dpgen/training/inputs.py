"""Build and check DeePMD-kit training input (``input.json``) from user parameters.

The user gives the model / learning_rate / loss / training sections; data paths, sampling
probabilities, seeds and the type map are filled in here, never by the user, so that the graph (the
dataset inputs and the ``seed`` input) is the only place they come from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

REQUIRED_SECTIONS = ('model', 'learning_rate', 'loss', 'training')

FILLED_BY_PLUGIN = {
    ('model', 'type_map'): "the type map comes from the `type_map` input (default: the datasets' type map)",
    ('training', 'training_data', 'systems'): 'training data paths come from the `datasets` input',
    (
        'training',
        'validation_data',
        'systems',
    ): 'validation data paths come from the `validation_dataset` input',
    (
        'training',
        'training_data',
        'sys_probs',
    ): 'sampling probabilities come from the `dataset_weights` input',
    (
        'training',
        'training_data',
        'auto_prob',
    ): 'sampling probabilities come from the `dataset_weights` input',
    ('training', 'seed'): 'seeds come from the `seed` input',
    ('model', 'descriptor', 'seed'): 'seeds come from the `seed` input',
    ('model', 'fitting_net', 'seed'): 'seeds come from the `seed` input',
    ('model', 'type_embedding', 'seed'): 'seeds come from the `seed` input',
}

BACKEND_FLAGS = {'tf': '--tf', 'pt': '--pt'}
"""DeePMD-kit backends the training job supports, as `dp` command-line flags."""

FROZEN_MODEL_SUFFIX = {'tf': '.pb', 'pt': '.pth'}
CHECKPOINT_PREFIX = {'tf': 'model.ckpt', 'pt': 'model.ckpt.pt'}

TENSORFLOW_DESCRIPTORS = frozenset(
    {
        'se_e2_a', 'se_a', 'se_e2_r', 'se_r', 'se_e3', 'se_at', 'se_a_3be', 'se_atten', 'dpa1', 'se_atten_v2',
        'se_a_mask', 'se_a_ef', 'se_a_tpe', 'se_a_ebd', 'se_a_tpe_v2', 'se_a_ebd_v2', 'loc_frame', 'hybrid',
    }
)  # fmt: skip
"""The descriptors DeePMD-kit 3.2's TensorFlow backend registers; DPA-2, DPA-3 and later exist only in the others."""


def _get(mapping: Mapping, path: Sequence[str]):
    for key in path:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return None
        mapping = mapping[key]
    return mapping


def _descriptors(model: Mapping) -> list[Mapping]:
    """The descriptor and, for ``hybrid``, each of its sub-descriptors."""
    descriptor = model.get('descriptor', {})
    return [descriptor, *descriptor.get('list', [])] if isinstance(descriptor, Mapping) else []


def validate_parameters(parameters: Mapping) -> str | None:
    """Return an error naming the key and the fix, or None if ``parameters`` can be used for training."""
    missing = [section for section in REQUIRED_SECTIONS if section not in parameters]
    if missing:
        return f'parameters: sections {missing} are missing; give all of {list(REQUIRED_SECTIONS)}'
    for path, reason in FILLED_BY_PLUGIN.items():
        if _get(parameters, path) is not None:
            return f'parameters: key {".".join(path)!r} is set; remove it, {reason}'
    for index, descriptor in enumerate(_descriptors(parameters['model'])[1:]):
        if 'seed' in descriptor:
            key = f'model.descriptor.list[{index}].seed'
            return f'parameters: key {key!r} is set; remove it, seeds come from the `seed` input'
    steps = _get(parameters, ('training', 'numb_steps'))
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        return f'parameters: key "training.numb_steps" is {steps!r}; expected a positive integer number of steps'
    return None


def backend_error(parameters: Mapping, backend: str) -> str | None:
    """An error naming the descriptor and the fix where the ``backend`` cannot train it, else None."""
    if backend != 'tf':
        return None
    for descriptor in _descriptors(parameters.get('model', {})):
        kind = descriptor.get('type')
        if kind is not None and kind not in TENSORFLOW_DESCRIPTORS:
            return (
                f"parameters: model.descriptor type {kind!r} is not in DeePMD-kit's TensorFlow backend; "
                "set backend='pt' (PyTorch; train.base.dp.backend) or use a TensorFlow descriptor such as se_e2_a"
            )
    return None


UNCOMPRESSIBLE_DESCRIPTORS = frozenset({'dpa3'})
"""Descriptors `dp compress` refuses in DeePMD-kit 3.2 ("Compression is unsupported for DPA3")."""


PER_TYPE_SEL_DESCRIPTORS = frozenset({'se_e2_a', 'se_a', 'se_e2_r', 'se_r', 'se_e3', 'se_at', 'se_a_mask'})
"""Descriptors with networks per element and no type embedding: their ``sel`` is a list with one entry per element
of the type map, and a fine-tuning cannot map another type map onto them ("does not support changing for type
related params")."""


def sel_error(parameters: Mapping, type_map: Sequence[str]) -> str | None:
    """Why ``sel`` does not fit the type map (DeePMD-kit stops with an IndexError far from the cause), or None."""
    for descriptor in _descriptors(parameters.get('model', {})):
        sel = descriptor.get('sel')
        if descriptor.get('type') in PER_TYPE_SEL_DESCRIPTORS and isinstance(sel, list) and len(sel) != len(type_map):
            return (
                f'parameters: model.descriptor.sel={sel} has {len(sel)} entries, the type map {list(type_map)} has '
                f'{len(type_map)}: give one per element (e.g. {[sel[0]] * len(type_map)}), or build the builder from '
                'a protocol with the data, which does that'
            )
    return None


def per_element_sel(parameters: Mapping, ntypes: int) -> dict:
    """``parameters`` with a one-entry ``sel`` of a per-element descriptor repeated for each of ``ntypes``
    elements: the protocols give the most neighbours of any kind, an upper bound for each element alone."""
    content = copy.deepcopy(dict(parameters))
    for descriptor in _descriptors(content.get('model', {})):
        sel = descriptor.get('sel')
        if descriptor.get('type') in PER_TYPE_SEL_DESCRIPTORS and isinstance(sel, list) and len(sel) == 1:
            descriptor['sel'] = sel * ntypes
    return content


def compression_error(parameters: Mapping) -> str | None:
    """Why ``dp compress`` cannot compress a model of these ``parameters``, or None."""
    for descriptor in _descriptors(parameters.get('model', {})):
        if descriptor.get('type') in UNCOMPRESSIBLE_DESCRIPTORS:
            return (
                f'compress: DeePMD-kit cannot compress a {descriptor["type"]!r} model; set compress=False '
                '(train.base.dp.compress)'
            )
    return None


def sampling_probabilities(frames_per_system: Mapping[str, Sequence[int]], weights: Mapping[str, float]) -> list[float]:
    """Per-system sampling probabilities for DeePMD-kit's ``sys_probs``, in dataset then system order.

    A system is drawn in proportion to its number of frames times its dataset's weight (default 1), so
    with no weights every frame is equally likely, as with DeePMD-kit's ``prob_sys_size``.
    """
    raw = [weights.get(dataset, 1.0) * nframes for dataset, counts in frames_per_system.items() for nframes in counts]
    total = sum(raw)
    if total <= 0:
        raise ValueError(f'dataset_weights={dict(weights)}: the weighted frame count is zero; use positive weights')
    return [value / total for value in raw]


def build_training_input(
    parameters: Mapping,
    *,
    type_map: Sequence[str],
    training_systems: Sequence[str],
    sys_probs: Sequence[float] | None,
    validation_systems: Sequence[str] | None,
    seed: int,
) -> dict:
    """The complete ``input.json``: ``parameters`` plus type map, data paths, probabilities and seeds."""
    content = copy.deepcopy(dict(parameters))
    model = content['model']
    model['type_map'] = list(type_map)
    for descriptor in _descriptors(model):
        descriptor['seed'] = seed
    model.setdefault('fitting_net', {})['seed'] = seed
    if 'type_embedding' in model:
        model['type_embedding']['seed'] = seed

    training = content['training']
    training['seed'] = seed
    training_data = training.setdefault('training_data', {})
    training_data['systems'] = list(training_systems)
    training_data.setdefault('batch_size', 'auto')
    if sys_probs is not None:
        training_data['sys_probs'] = list(sys_probs)
    if validation_systems:
        validation_data = training.setdefault('validation_data', {})
        validation_data['systems'] = list(validation_systems)
        validation_data.setdefault('batch_size', 'auto')
    else:
        training.pop('validation_data', None)
    return content


def descriptor_summary(training_input: Mapping) -> dict:
    """Descriptor type, cutoff (Å), sel and seed of a training input, for the model node's attributes.

    Give DeePMD-kit's ``out.json`` (the input with ``sel: auto`` resolved) where there is one; a ``sel``
    that is still ``auto`` is reported as None. A frozen model's definition (``{'model': ...}``, no
    ``training``) gives the descriptor's seed. For DPA-3 the cutoff and ``sel`` are its edges' (``repflow``),
    for DPA-2 its first block's (``repinit``): those bound which neighbours a model sees.
    """
    descriptor = training_input['model'].get('descriptor', {})
    if not isinstance(descriptor, Mapping):  # a multi-task branch naming a shared descriptor
        descriptor = {}
    rcut, sel = descriptor.get('rcut'), descriptor.get('sel')
    if descriptor.get('type') == 'hybrid' and rcut is None:
        rcut = max((sub.get('rcut', 0) for sub in descriptor.get('list', [])), default=None)
    elif descriptor.get('type') == 'dpa3':
        repflow = descriptor.get('repflow', {})
        rcut, sel = repflow.get('e_rcut'), repflow.get('e_sel')
        sel = [sel] if isinstance(sel, int) else sel
    elif descriptor.get('type') == 'dpa2':
        repinit = descriptor.get('repinit', {})
        rcut, sel = repinit.get('rcut'), repinit.get('nsel')
        sel = [sel] if isinstance(sel, int) else sel
    return {
        'descriptor': descriptor.get('type'),
        'rcut': rcut,
        'sel': sel if isinstance(sel, list) else None,
        'seed': training_input.get('training', {}).get('seed', descriptor.get('seed')),
    }
