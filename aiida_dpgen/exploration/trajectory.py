"""Frames from LAMMPS text dumps, and the outcome of a task from its log.

Only the frames that were selected are parsed; the others are skipped line by line, so extracting a few
candidates from a long trajectory costs a scan of the file, not a parse of it.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
from collections.abc import Iterable

import numpy as np

COMPLETED, LOST_ATOMS, FAILED = 'completed', 'lost_atoms', 'failed'


@dataclasses.dataclass
class DumpFrame:
    step: int
    cell: np.ndarray
    positions: np.ndarray
    types: np.ndarray
    """0-based atom types (LAMMPS' type minus one), in atom id order."""


def read_dump_frames(path: str | os.PathLike, steps: Iterable[int]) -> dict[int, DumpFrame]:
    """The frames of a ``dump custom ... id type x y z`` text file whose timestep is in ``steps``.

    A truncated last frame (the run died while writing) is ignored.
    """
    wanted = {int(step) for step in steps}
    frames: dict[int, DumpFrame] = {}
    if not wanted:
        return frames
    with pathlib.Path(path).open() as handle:
        for line in handle:
            if not line.startswith('ITEM: TIMESTEP'):
                continue
            step = int(next(handle))
            next(handle)  # ITEM: NUMBER OF ATOMS
            natoms = int(next(handle))
            bounds_header = next(handle)
            bounds = [next(handle).split() for _ in range(3)]
            columns = next(handle).split()[2:]
            if step not in wanted:
                for _ in itertools.islice(handle, natoms):
                    pass
                continue
            rows = list(itertools.islice(handle, natoms))
            if len(rows) < natoms:
                break
            table = np.loadtxt(rows, ndmin=2)
            frames[step] = _frame(step, bounds_header, bounds, columns, table)
            if len(frames) == len(wanted):
                break
    return frames


def rms_force(path: str | os.PathLike) -> float:
    """The root mean square of the atomic force magnitudes over every frame of a dump with ``fx fy fz``
    columns: DP-GEN's scale of relative force deviations (``model_devi_f_avg_relative``). One frame in memory
    at a time; a truncated last frame is ignored."""
    total, count = 0.0, 0
    with pathlib.Path(path).open() as handle:
        for line in handle:
            if not line.startswith('ITEM: NUMBER OF ATOMS'):
                continue
            header = list(itertools.islice(handle, 6))
            if len(header) < 6:
                break
            natoms, columns = int(header[0]), header[5].split()[2:]
            if not {'fx', 'fy', 'fz'} <= set(columns):
                raise ValueError(f'{path}: dump columns {columns} have no forces (fx fy fz)')
            rows = list(itertools.islice(handle, natoms))
            if len(rows) < natoms:
                break
            table = np.loadtxt(rows, ndmin=2)
            forces = table[:, [columns.index(name) for name in ('fx', 'fy', 'fz')]]
            total += float(np.sum(forces**2))
            count += natoms
    if count == 0:
        raise ValueError(f'{path}: no complete frame to average the forces over')
    return float(np.sqrt(total / count))


def _frame(step, bounds_header, bounds, columns, table) -> DumpFrame:
    values = np.array(bounds, dtype=float)
    if 'xy' in bounds_header:
        xy, xz, yz = values[:, 2]
        xlo = values[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = values[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo = values[1, 0] - min(0.0, yz)
        yhi = values[1, 1] - max(0.0, yz)
    else:
        xy = xz = yz = 0.0
        (xlo, xhi), (ylo, yhi) = values[0, :2], values[1, :2]
    zlo, zhi = values[2, :2]
    cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    try:
        index = {name: columns.index(name) for name in ('id', 'type', 'x', 'y', 'z')}
    except ValueError as exception:
        raise ValueError(f'dump columns {columns}: expected id, type, x, y, z') from exception
    table = table[np.argsort(table[:, index['id']])]
    positions = table[:, [index['x'], index['y'], index['z']]] - np.array([xlo, ylo, zlo])
    return DumpFrame(step, cell, positions, table[:, index['type']].astype(np.int64) - 1)


def task_outcome(log_text: str) -> tuple[str, str]:
    """``(status, message)`` of a task from its ``log.lammps``: completed, lost_atoms, or failed."""
    errors = [line.strip() for line in log_text.splitlines() if line.startswith('ERROR')]
    if any('Lost atoms' in error for error in errors):
        return LOST_ATOMS, errors[0]
    if errors:
        return FAILED, errors[0]
    if 'Total wall time' in log_text:
        return COMPLETED, ''
    return FAILED, 'log.lammps ends before the run finished (killed, or out of time)'
