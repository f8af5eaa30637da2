"""The structures of DP-GEN's init_bulk and init_surf as plain functions (ASE and dpdata, no AiiDA).

Bulk (the paper's section 4, "Initial data"): a standard crystal, a supercell of it, the lattice scaled over
a range, and each scaled cell perturbed (atoms by about 0.01 Å, the cell by up to 3 %) with dpdata's
``System.perturb``, which is what DP-GEN uses, so that the same settings give the same kind of structures.
Surfaces: a slab cut for a Miller index whose two halves are rigidly separated by a series of distances
(the paper: 0.5 to 9 Å), the configurations from which NVT exploration learns cleavage and surfaces.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import dpdata
import numpy as np
from ase import Atoms
from ase.build import bulk, surface
from ase.data import atomic_numbers, reference_states

CRYSTALS = ('fcc', 'hcp', 'bcc', 'sc', 'diamond')


def crystal(element: str, structure: str, lattice_constant: float | None = None, covera: float | None = None) -> Atoms:
    """The conventional cell of ``structure`` (``fcc``, ``bcc``, ``sc``, ``diamond``: cubic; ``hcp``: hexagonal)
    of ``element``, with ASE's reference lattice constant where none is given and one is known."""
    if element not in atomic_numbers:
        raise ValueError(f'element={element!r}: not a chemical symbol')
    if structure not in CRYSTALS:
        raise ValueError(f'structure={structure!r}: expected one of {", ".join(CRYSTALS)}')
    if lattice_constant is None:
        reference = reference_states[atomic_numbers[element]] or {}
        if reference.get('symmetry') != structure or 'a' not in reference:
            raise ValueError(
                f'lattice_constant: ASE has no {structure} reference lattice constant for {element}; give one (Å)'
            )
        lattice_constant = reference['a']
    if not lattice_constant > 0:
        raise ValueError(f'lattice_constant={lattice_constant!r}: expected a positive length in Å')
    kwargs = {'covera': covera} if structure == 'hcp' and covera is not None else {}
    return bulk(element, structure, a=lattice_constant, cubic=structure != 'hcp', **kwargs)


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """The distances between opposite faces of a cell (Å): volume over the area of each face."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    return np.array([volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)])


def supercell(atoms: Atoms, repeat: Sequence[int], min_width: float | None = None) -> Atoms:
    """``atoms`` repeated ``repeat`` times; with ``min_width`` (Å, e.g. the model's cutoff radius), a supercell
    narrower than that in any direction is refused, naming the repeat that would be wide enough."""
    repeat = tuple(repeat)
    if len(repeat) != 3 or not all(isinstance(n, int) and n >= 1 for n in repeat):
        raise ValueError(f'supercell={list(repeat)!r}: expected three positive integers, e.g. [2, 2, 2]')
    result = atoms.repeat(repeat)
    if min_width is not None:
        widths = perpendicular_widths(result.cell)
        if widths.min() < min_width:
            unit = perpendicular_widths(atoms.cell)
            needed = [max(n, int(np.ceil(min_width / width))) for n, width in zip(repeat, unit, strict=True)]
            raise ValueError(
                f'supercell={list(repeat)}: {min(widths):.2f} Å across, less than {min_width} Å (the cutoff radius); '
                f'use at least {needed}'
            )
    return result


def scale_factors(start: float, stop: float, step: float) -> list[float]:
    """Lattice scale factors from ``start`` to ``stop`` included, ``step`` apart (DP-GEN's ``scale`` list)."""
    if not (start > 0 and stop > 0):
        raise ValueError(f'scale: start={start}, stop={stop}; expected positive factors, e.g. 0.84 to 1.00')
    if start > stop:
        raise ValueError(f'scale: start={start} > stop={stop}; the range is empty, swap them')
    if not step > 0:
        raise ValueError(f'scale: step={step}; expected a positive step, e.g. 0.02')
    return inclusive_range(start, stop, step)


def inclusive_range(start: float, stop: float, step: float) -> list[float]:
    """``start``, ``start + step``, ... up to ``stop`` included (within rounding), as DP-GEN's ranges are given."""
    count = int(np.floor((stop - start) / step + 1e-9)) + 1
    return [round(start + index * step, 10) for index in range(max(count, 0))]


def scaled(atoms: Atoms, factor: float) -> Atoms:
    """``atoms`` with every lattice vector times ``factor`` (the volume times ``factor**3``), atoms following."""
    if not factor > 0:
        raise ValueError(f'scale factor={factor!r}: expected a positive number')
    result = atoms.copy()
    result.set_cell(atoms.cell[:] * factor, scale_atoms=True)
    return result


@contextlib.contextmanager
def _seeded(seed: int):
    """dpdata draws from NumPy's global generator: seed it for the call, then give the caller's state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def perturbed(
    atoms: Atoms, count: int, *, cell_fraction: float, atom_distance: float, seed: int, style: str = 'normal'
) -> list[Atoms]:
    """``count`` copies of ``atoms`` with the cell strained by up to ``cell_fraction`` and every atom moved by
    about ``atom_distance`` Å, as dpdata (and so DP-GEN) perturbs; reproducible for a ``seed``."""
    if not (isinstance(count, int) and count >= 1):
        raise ValueError(f'perturbations={count!r}: expected a positive number of copies')
    if not (0 <= cell_fraction < 1):
        raise ValueError(f'cell_fraction={cell_fraction!r}: expected a fraction in [0, 1), e.g. 0.03')
    if not atom_distance >= 0:
        raise ValueError(f'atom_distance={atom_distance!r}: expected a distance in Å, e.g. 0.01')
    system = dpdata.System(atoms, fmt='ase/structure')
    with _seeded(seed):
        copies = system.perturb(count, cell_fraction, atom_distance, atom_pert_style=style)
    return copies.to('ase/structure')


def separated_slabs(
    atoms: Atoms, miller: Sequence[int], layers: int, separations: Sequence[float], min_width: float | None = None
) -> list[Atoms]:
    """A slab of ``layers`` layers of ``atoms`` cut at ``miller``, periodic in all directions, with its upper half
    moved up rigidly by each of ``separations`` (Å): one gap of that width opens between the two halves."""
    miller = tuple(miller)
    if len(miller) != 3 or not all(isinstance(index, int) for index in miller) or not any(miller):
        raise ValueError(f'miller={list(miller)!r}: expected three integers, not all zero, e.g. [1, 1, 1]')
    if not (isinstance(layers, int) and layers >= 2):
        raise ValueError(f'layers={layers!r}: expected at least 2 layers, so that there are two halves')
    if not separations or any(not distance >= 0 for distance in separations):
        raise ValueError(f'separations={list(separations)!r}: expected non-negative distances in Å, e.g. 0.5 to 9')
    slab = surface(atoms, miller, layers, vacuum=None, periodic=True)
    if min_width is not None and perpendicular_widths(slab.cell)[:2].min() < min_width:
        raise ValueError(
            f'miller={list(miller)}: the slab is {perpendicular_widths(slab.cell)[:2].min():.2f} Å wide in plane, less '
            f'than {min_width} Å; repeat it in plane (slab.repeat) before separating'
        )
    normal = np.cross(slab.cell[0], slab.cell[1])
    normal /= np.linalg.norm(normal)
    heights = slab.positions @ normal
    planes = np.unique(np.round(heights, 3))
    middle = planes[len(planes) // 2 - 1 : len(planes) // 2 + 1].mean()
    upper = heights > middle
    results = []
    for distance in separations:
        separated = slab.copy()
        separated.positions[upper] += distance * normal
        cell = separated.cell[:].copy()
        cell[2] += distance * normal
        separated.set_cell(cell, scale_atoms=False)
        results.append(separated)
    return results
