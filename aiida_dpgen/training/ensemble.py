"""Seeds for an ensemble of models, and how far the ensemble's members disagree."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

SEED_UPPER_BOUND = 2**31 - 1
"""DeePMD-kit passes seeds to TensorFlow as 32-bit signed integers."""


MINIMUM_ENSEMBLE = 2
"""The fewest models whose disagreement is a model deviation."""


def ensemble_size_error(numb_models: int) -> str | None:
    """Why ``numb_models`` models cannot make an ensemble, or ``None``."""
    if isinstance(numb_models, bool) or not isinstance(numb_models, int) or numb_models < MINIMUM_ENSEMBLE:
        return (
            f'numb_models={numb_models!r}: an ensemble needs at least {MINIMUM_ENSEMBLE} models to measure the model '
            'deviation; use 4 as in the DP-GEN paper'
        )
    return None


def backend_mismatch(model_files: Mapping[str, str], suffix: str, key: str, backend_key: str) -> str | None:
    """Why models with these file names (by key) cannot start training whose frozen models end in ``suffix``
    (``.pb`` TensorFlow, ``.pth`` PyTorch), or None: DeePMD-kit continues a model only in its own backend."""
    other = sorted(name for name, filename in model_files.items() if pathlib.PurePath(filename).suffix != suffix)
    if other:
        found = sorted({pathlib.PurePath(model_files[name]).suffix for name in other})
        return (
            f'{key}: models {other} are {"/".join(found)} files, but {backend_key} trains {suffix} models; '
            f'start from models of the same backend or set {backend_key} to theirs'
        )
    return None


def draw_seeds(master_seed: int, count: int) -> list[int]:
    """``count`` distinct seeds drawn from one generator seeded with ``master_seed`` (reproducible)."""
    if count < 1:
        raise ValueError(f'count={count}: expected at least one model')
    rng = np.random.default_rng(master_seed)
    seeds: list[int] = []
    while len(seeds) < count:
        candidate = int(rng.integers(1, SEED_UPPER_BOUND))
        if candidate not in seeds:
            seeds.append(candidate)
    return seeds


def spread(values: Sequence[float | None]) -> dict:
    """Mean, standard deviation, minimum and maximum over the models that report a value."""
    present = np.array([value for value in values if value is not None], dtype=float)
    if present.size == 0:
        return {'mean': None, 'std': None, 'min': None, 'max': None, 'count': 0}
    return {
        'mean': float(present.mean()),
        'std': float(present.std()),
        'min': float(present.min()),
        'max': float(present.max()),
        'count': int(present.size),
    }
