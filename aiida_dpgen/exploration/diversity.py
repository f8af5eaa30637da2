"""Candidates that differ from each other: a structural fingerprint from a Deep Potential's own descriptor, and
farthest-point sampling over it.

The capped random choice labels ``fp_task_max`` candidates of a system wherever they come from; when one
trajectory wanders into a new region for hundreds of steps, most labels land on neighbouring frames of it.
Here a candidate's fingerprint is the mean, per element, of the atomic descriptors that one model of the
ensemble computes for it (DeePMD-kit's ``DeepPot.eval_descriptor``: the environment the model itself sees),
and farthest-point sampling picks, one at a time, the candidate farthest from all those picked so far. The
first pick is the candidate with the smallest seeded key, so the choice is reproducible and does not depend
on the order the candidates arrive in. Plain numpy but for :func:`descriptors`, which needs DeePMD-kit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fingerprints(descriptors: Sequence[np.ndarray], atom_types: Sequence[np.ndarray], ntypes: int) -> np.ndarray:
    """One row per frame: for each element of the type map, the mean descriptor of its atoms (zeros where the
    frame has none), concatenated. ``descriptors[i]`` is ``(natoms, ndesc)``, ``atom_types[i]`` ``(natoms,)``."""
    rows = []
    for frame_descriptor, frame_types in zip(descriptors, atom_types, strict=True):
        kinds = np.asarray(frame_types)
        atoms = np.asarray(frame_descriptor, dtype=float).reshape(len(kinds), -1)
        per_type = [
            atoms[kinds == kind].mean(axis=0) if np.any(kinds == kind) else np.zeros(atoms.shape[1])
            for kind in range(ntypes)
        ]
        rows.append(np.concatenate(per_type))
    return np.array(rows).reshape(len(rows), -1)


def farthest_point_sampling(features: np.ndarray, count: int, first: int = 0) -> np.ndarray:
    """Indices of ``count`` rows of ``features``: ``first``, then each time the row whose distance to the
    nearest row already picked is largest (ties: the lowest index). All rows when there are no more than
    ``count``. Cost: ``count`` passes over the rows."""
    features = np.asarray(features, dtype=float)
    total = len(features)
    if count >= total:
        return np.arange(total)
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    picked = [first]
    nearest = np.linalg.norm(features - features[first], axis=1)
    for _ in range(count - 1):
        nearest[picked[-1]] = -1.0
        chosen = int(np.argmax(nearest))
        picked.append(chosen)
        nearest = np.minimum(nearest, np.linalg.norm(features - features[chosen], axis=1))
    return np.array(picked, dtype=np.int64)


def diverse_subset(features: np.ndarray, keys: np.ndarray, count: int) -> np.ndarray:
    """Farthest-point sampling from the candidate with the smallest key, in the order of ``keys`` where distances
    tie, so that the subset does not depend on the order of the rows."""
    order = np.argsort(np.asarray(keys), kind='stable')
    picked = farthest_point_sampling(np.asarray(features)[order], count, first=0)
    return np.sort(order[picked])


def descriptors(model: str, cells: np.ndarray, positions: Sequence[np.ndarray], atom_types: Sequence[np.ndarray]):
    """The per-atom descriptors of each frame by the frozen model at path ``model`` (``.pb`` or ``.pth``), frames
    of the same atoms evaluated together; ``atom_types`` index the model's type map."""
    from deepmd.infer import DeepPot

    potential = DeepPot(model)
    result: list[np.ndarray | None] = [None] * len(positions)
    groups: dict[tuple, list[int]] = {}
    for index, types in enumerate(atom_types):
        groups.setdefault(tuple(np.asarray(types).tolist()), []).append(index)
    for types, indices in groups.items():
        coords = np.array([np.asarray(positions[index]).reshape(-1) for index in indices])
        boxes = np.array([np.asarray(cells[index]).reshape(-1) for index in indices])
        values = potential.eval_descriptor(coords, boxes, list(types))
        for row, index in enumerate(indices):
            result[index] = values[row]
    return result
