"""Candidate frames packed into flat arrays, so a job's selection is one compact node, not one per frame.

Arrays (one row per frame unless noted): ``system`` (index into the list of system names), ``task``,
``step``, ``key`` (the priority key of the seeded cap), ``cell`` (n x 3 x 3), ``natoms``, and per atom,
frames one after another, ``positions`` (sum natoms x 3) and ``types`` (index into the type map).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aiida_dpgen.exploration.selection import priority_keys
from aiida_dpgen.exploration.trajectory import DumpFrame

ARRAYS = ('system', 'task', 'step', 'key', 'cell', 'natoms', 'positions', 'types')


def pack(records: Sequence[tuple[int, int, DumpFrame]], seed: int) -> dict[str, np.ndarray]:
    """Pack ``(system index, task, frame)`` records; keys are recomputed from (seed, task, step)."""
    system = np.array([record[0] for record in records], dtype=np.int64)
    task = np.array([record[1] for record in records], dtype=np.int64)
    frames = [record[2] for record in records]
    step = np.array([frame.step for frame in frames], dtype=np.int64)
    return {
        'system': system,
        'task': task,
        'step': step,
        'key': priority_keys(seed, task, step),
        'cell': np.array([frame.cell for frame in frames], dtype=float).reshape(-1, 3, 3),
        'natoms': np.array([len(frame.positions) for frame in frames], dtype=np.int64),
        'positions': np.concatenate([frame.positions for frame in frames]) if frames else np.empty((0, 3)),
        'types': np.concatenate([frame.types for frame in frames]) if frames else np.empty(0, dtype=np.int64),
    }


def concatenate(packs: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not packs:
        return pack([], 0)
    return {name: np.concatenate([part[name] for part in packs]) for name in ARRAYS}


def take(packed: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The frames ``rows`` of a pack, in that order."""
    starts = np.concatenate([[0], np.cumsum(packed['natoms'])])
    atoms = np.concatenate([np.arange(starts[row], starts[row + 1]) for row in rows]) if len(rows) else []
    atoms = np.asarray(atoms, dtype=np.int64)
    taken = {name: packed[name][rows] for name in ('system', 'task', 'step', 'key', 'cell', 'natoms')}
    return {**taken, 'positions': packed['positions'][atoms], 'types': packed['types'][atoms]}


def smallest_keys(packed: dict[str, np.ndarray], system: int, cap: int, minimum: int = 0) -> np.ndarray:
    """Rows of ``system``'s frames with the ``cap`` smallest keys, sorted by (task, step); none below ``minimum``."""
    rows = np.flatnonzero(packed['system'] == system)
    if len(rows) < max(minimum, 1):
        return np.empty(0, dtype=np.int64)
    if len(rows) > cap:
        rows = rows[np.argsort(packed['key'][rows], kind='stable')[:cap]]
    return rows[np.lexsort((packed['step'][rows], packed['task'][rows]))]


def frames(packed: dict[str, np.ndarray]):
    """Yield ``(cell, positions, types)`` per frame."""
    starts = np.concatenate([[0], np.cumsum(packed['natoms'])])
    for index, cell in enumerate(packed['cell']):
        begin, end = starts[index], starts[index + 1]
        yield cell, packed['positions'][begin:end], packed['types'][begin:end]
