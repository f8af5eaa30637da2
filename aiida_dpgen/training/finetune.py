"""Fine-tuning a pretrained model: what DeePMD-kit starts from in each backend, and what it cannot fine-tune."""

from __future__ import annotations

from collections.abc import Sequence

from aiida_dpgen.training.inputs import PER_TYPE_SEL_DESCRIPTORS

CHECKPOINT_SUFFIX = '.pt'
"""A PyTorch training checkpoint (``model.ckpt-<step>.pt``)."""
FINETUNE_SUFFIX = {'tf': '.pb', 'pt': CHECKPOINT_SUFFIX}
"""What ``dp train --finetune`` reads per backend: a frozen TensorFlow model; a PyTorch checkpoint (DeePMD-kit
3.2 refuses a frozen ``.pth`` there: torch.load with weights_only cannot read TorchScript)."""
NEW_FITTING = 'RANDOM'
"""The head that keeps the pretrained descriptor and starts each member's fitting net anew from its own seed
(DeePMD-kit's ``--model-branch RANDOM``), so that the members of a fine-tuned ensemble differ beyond the order of
their data: with the pretrained fitting net they agree where all of them are wrong."""
FINETUNE_SOURCE = {
    'tf': 'a frozen TensorFlow model',
    'pt': 'a PyTorch training checkpoint, model.ckpt-<step>.pt; DeePMD-kit refuses a frozen .pth there',
}


def finetune_error(  # noqa: PLR0917 (the pretrained model's four facts, the run's three)
    filename: str,
    pretrained_type_map: Sequence[str],
    heads: Sequence[str] | None,
    backend: str,
    type_map: Sequence[str],
    head: str | None,
    key: str = 'init_model',
    head_key: str = 'finetune_head',
    descriptor: str | None = None,
) -> str | None:
    """Why DeePMD-kit cannot fine-tune the pretrained model ``filename`` for a run of ``type_map`` with
    ``backend`` (from its head ``head``), or None. ``key``/``head_key`` name the inputs in the message;
    ``descriptor`` is the pretrained model's, where known."""
    expected = FINETUNE_SUFFIX[backend]
    if not filename.endswith(expected):
        return (
            f'{key} {filename!r}: fine-tuning with backend={backend!r} starts from a {expected} file '
            f'({FINETUNE_SOURCE[backend]}); give that file as the pretrained model'
        )
    missing = [element for element in type_map if element not in pretrained_type_map]
    if missing:
        return (
            f'{key}: the pretrained type_map {list(pretrained_type_map)} lacks {missing} of this run; fine-tune a '
            'model pretrained on those elements, or train from scratch'
        )
    # DeePMD-kit 3.2 maps another type map only onto descriptors with a type embedding
    if descriptor in PER_TYPE_SEL_DESCRIPTORS and list(type_map) != list(pretrained_type_map):
        return (
            f'{key}: a {descriptor} model keeps its type map {list(pretrained_type_map)} when fine-tuned, and this run '
            f'has {list(type_map)}; fine-tune a model with a type embedding (DPA-1, DPA-2, DPA-3), or one pretrained '
            'with the same type map'
        )
    if head == NEW_FITTING:
        if backend != 'pt':
            return (
                f'{head_key}={head!r}: a new fitting net per member is a fine-tuning of the PyTorch backend; set '
                "backend 'pt', or leave it out"
            )
        return None
    if head is not None and heads is None:
        return (
            f'{head_key}={head!r}: the pretrained model has one head; leave {head_key} out, or give '
            f'{NEW_FITTING!r} for a new fitting net per member'
        )
    if head is not None and head not in heads:
        return f'{head_key}={head!r}: the pretrained model has the heads {list(heads)}; choose one of them'
    return None
