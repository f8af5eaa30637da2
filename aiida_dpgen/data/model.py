"""A frozen Deep Potential model file with the metadata the loop and the user query."""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Sequence

from aiida.orm import SinglefileData

from aiida_dpgen.training.finetune import CHECKPOINT_SUFFIX
from aiida_dpgen.utils.systems import validate_type_map

BACKEND_BY_SUFFIX = {'.pb': 'tensorflow', '.pth': 'pytorch', '.savedmodel': 'jax', '.dp': 'numpy', '.pt': 'pytorch'}
"""DeePMD-kit decides the backend of a model by its file suffix; so do we. ``.pt`` is a PyTorch training
checkpoint: what its fine-tuning starts from, not a model LAMMPS can run."""


def sha256_of(handle) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b''):
        digest.update(chunk)
    return digest.hexdigest()


class DeepPotentialData(SinglefileData):
    """A frozen DeePMD-kit model (``dp freeze`` output), or a PyTorch checkpoint to fine-tune from, in the node
    repository.

    Attributes: ``backend`` (from the suffix: tensorflow for ``.pb``, pytorch for ``.pth``), ``type_map``,
    ``rcut`` (Å), ``descriptor`` (e.g. ``se_e2_a``), ``sel`` (neighbours per type inside rcut, as
    resolved by DeePMD-kit), ``seed``, ``training_steps``, ``sha256`` of the file.
    The checksum lets a user confirm that a file on a cluster is the model the graph says it is.
    """

    def __init__(
        self,
        file,
        filename: str | None = None,
        *,
        type_map: Sequence[str],
        rcut: float | None = None,
        descriptor: str | None = None,
        seed: int | None = None,
        training_steps: int | None = None,
        sel: Sequence[int] | None = None,
        heads: Sequence[str] | None = None,
        **kwargs,
    ):
        super().__init__(file, filename=filename, **kwargs)
        suffix = pathlib.PurePath(self.filename).suffix
        if suffix not in BACKEND_BY_SUFFIX:
            raise ValueError(
                f'filename={self.filename!r}: suffix {suffix!r} is not a frozen DeePMD-kit model; '
                f'expected one of {sorted(BACKEND_BY_SUFFIX)} (the output of `dp freeze`)'
            )
        if rcut is not None and not rcut > 0:
            raise ValueError(f'rcut={rcut!r}: expected a positive cutoff radius in Å')
        self.base.attributes.set('backend', BACKEND_BY_SUFFIX[suffix])
        self.base.attributes.set('type_map', validate_type_map(type_map))
        self.base.attributes.set('rcut', None if rcut is None else float(rcut))
        self.base.attributes.set('descriptor', descriptor)
        self.base.attributes.set('seed', None if seed is None else int(seed))
        self.base.attributes.set('training_steps', None if training_steps is None else int(training_steps))
        self.base.attributes.set('sel', None if sel is None else [int(value) for value in sel])
        self.base.attributes.set('heads', None if heads is None else [str(head) for head in heads])
        with self.open(mode='rb') as handle:
            self.base.attributes.set('sha256', sha256_of(handle))

    @classmethod
    def from_frozen_model(cls, path: str | pathlib.Path, training_steps: int | None = None) -> DeepPotentialData:
        """Read type map, cutoff, descriptor and seed from the model itself (loads DeePMD-kit, seconds)."""
        from deepmd.infer import DeepPot

        from aiida_dpgen.training.inputs import descriptor_summary

        model = DeepPot(str(path))
        summary = descriptor_summary({'model': model.get_model_def_script() or {}})
        return cls(
            str(path),
            type_map=model.get_type_map(),
            rcut=model.get_rcut(),
            descriptor=summary['descriptor'],
            seed=summary['seed'],
            training_steps=training_steps,
            sel=summary['sel'],
        )

    @classmethod
    def from_checkpoint(cls, path: str | pathlib.Path) -> DeepPotentialData:
        """A PyTorch checkpoint (``.pt``) with the type map, descriptor and, for a multi-task model, the heads
        read from it (loads torch, seconds). A multi-task model's type map is its heads' together."""
        import torch

        from aiida_dpgen.training.inputs import descriptor_summary

        state = torch.load(str(path), map_location='cpu', weights_only=True)
        parameters = state['model']['_extra_state']['model_params']
        heads = sorted(parameters['model_dict']) if 'model_dict' in parameters else None
        branches = [parameters['model_dict'][head] for head in heads] if heads else [parameters]
        type_map = list(dict.fromkeys(element for branch in branches for element in branch['type_map']))
        summary = descriptor_summary({'model': branches[0]})
        return cls(
            str(path),
            type_map=type_map,
            rcut=summary['rcut'],
            descriptor=summary['descriptor'],
            sel=summary['sel'],
            heads=heads,
        )

    @property
    def is_checkpoint(self) -> bool:
        """A PyTorch training checkpoint (fine-tune from it), not a frozen model."""
        return pathlib.PurePath(self.filename).suffix == CHECKPOINT_SUFFIX

    @property
    def heads(self) -> list[str] | None:
        """The heads (``model_dict`` branches) of a multi-task checkpoint; None for a single-task model."""
        return self.base.attributes.get('heads')

    @property
    def deepmd_backend(self) -> str:
        """tensorflow, pytorch, jax or numpy (``Node.backend`` is AiiDA's storage backend, hence the name)."""
        return self.base.attributes.get('backend')

    @property
    def type_map(self) -> list[str]:
        return self.base.attributes.get('type_map')

    @property
    def rcut(self) -> float | None:
        """Cutoff radius in Å."""
        return self.base.attributes.get('rcut')

    @property
    def descriptor(self) -> str | None:
        return self.base.attributes.get('descriptor')

    @property
    def seed(self) -> int | None:
        return self.base.attributes.get('seed')

    @property
    def sel(self) -> list[int] | None:
        return self.base.attributes.get('sel')

    @property
    def training_steps(self) -> int | None:
        return self.base.attributes.get('training_steps')

    @property
    def sha256(self) -> str:
        return self.base.attributes.get('sha256')

    def verify_checksum(self) -> bool:
        """Whether the stored file still has the checksum recorded when the node was created."""
        with self.open(mode='rb') as handle:
            return sha256_of(handle) == self.sha256
