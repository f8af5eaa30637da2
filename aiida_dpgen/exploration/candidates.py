"""Candidate frames packed into flat arrays, so a job's selection is one compact node, not one per frame.

Arrays (one row per frame unless noted): ``system`` (index into the list of system names), ``task``,
``step``, ``key`` (the key of the seeded cap), ``bin`` (the deviation bin of the ``inv_pop_f`` choice, else 0),
``deviation`` (the force deviation, float32, which ranks the frame for the adaptive lower level), ``cell``
(n x 3 x 3), ``natoms``, and per atom, frames one after another, ``positions`` (sum natoms x 3) and ``types``
(index into the type map).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aiida_dpgen.exploration.ranking import at_or_above
from aiida_dpgen.exploration.selection import priority_keys, winners
from aiida_dpgen.exploration.trajectory import DumpFrame

ARRAYS = ('system', 'task', 'step', 'key', 'bin', 'deviation', 'cell', 'natoms', 'positions', 'types')
PER_FRAME = ('system', 'task', 'step', 'key', 'bin', 'deviation', 'cell', 'natoms')


def pack(
    records: Sequence[tuple[int, int, DumpFrame]],
    seed: int,
    keys: Sequence[int] | None = None,
    bins: Sequence[int] | None = None,
    deviations: Sequence[float] | None = None,
) -> dict[str, np.ndarray]:
    """Pack ``(system index, task, frame)`` records with the ``keys``, ``bins`` and force ``deviations`` their
    selection gave them; without keys, the seeded random ones from (seed, task, step), without bins the first,
    without deviations NaN."""
    system = np.array([record[0] for record in records], dtype=np.int64)
    task = np.array([record[1] for record in records], dtype=np.int64)
    frames = [record[2] for record in records]
    step = np.array([frame.step for frame in frames], dtype=np.int64)
    return {
        'system': system,
        'task': task,
        'step': step,
        'key': priority_keys(seed, task, step) if keys is None else np.asarray(keys, dtype=np.uint64),
        'bin': np.zeros(len(records), dtype=np.int64) if bins is None else np.asarray(bins, dtype=np.int64),
        'deviation': np.full(len(records), np.nan, np.float32)
        if deviations is None
        else np.asarray(deviations, dtype=np.float32),
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
    taken = {name: packed[name][rows] for name in PER_FRAME}
    return {**taken, 'positions': packed['positions'][atoms], 'types': packed['types'][atoms]}


def chosen_rows(
    packed: dict[str, np.ndarray],
    system: int,
    cap: int,
    minimum: int = 0,
    population: Sequence[int] | None = None,
    *,
    adaptive: bool = False,
    threshold: tuple | None = None,
) -> np.ndarray:
    """Rows of ``system``'s frames that win its cap, sorted by (task, step): the ``cap`` smallest keys, or with
    the ``population`` of its deviation bins, the inverse-population choice
    (:func:`~aiida_dpgen.exploration.selection.winners`); none when fewer than ``minimum`` win (DP-GEN's
    ``fp_task_min``). With the ``adaptive`` lower level, among the frames ranked at or above its ``threshold``
    (none when it is None)."""
    rows = np.flatnonzero(packed['system'] == system)
    if adaptive:
        rows = rows[at_or_above(packed['deviation'][rows], packed['task'][rows], packed['step'][rows], threshold)]
    key, bin_, task, step = (packed[name][rows] for name in ('key', 'bin', 'task', 'step'))
    return rows[winners(key, bin_, population, tasks=task, steps=step, cap=cap, minimum=minimum)]


def frames(packed: dict[str, np.ndarray]):
    """Yield ``(cell, positions, types)`` per frame."""
    starts = np.concatenate([[0], np.cumsum(packed['natoms'])])
    for index, cell in enumerate(packed['cell']):
        begin, end = starts[index], starts[index + 1]
        yield cell, packed['positions'][begin:end], packed['types'][begin:end]
