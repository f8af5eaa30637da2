"""Validation, normalisation and merging of dpdata systems: plain functions, no AiiDA.

The data types in :mod:`aiida_dpgen.data` call these before anything is stored, so a bad frame is
rejected with a message that names the system, the field and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dpdata
import numpy as np

LABEL_FIELDS = ('energies', 'forces', 'virials')
"""Label fields a DeePMD-kit dataset can carry; energies and forces are mandatory for training."""

REQUIRED_LABEL_FIELDS = ('energies', 'forces')


def validate_type_map(type_map: Sequence[str]) -> list[str]:
    """Return ``type_map`` as a list, or raise if it is not a non-empty list of unique element symbols."""
    if isinstance(type_map, str) or not isinstance(type_map, Sequence) or not type_map:
        raise ValueError(f'type_map={type_map!r}: expected a non-empty list of element symbols, such as ["Cu", "Ni"]')
    type_map = [str(element) for element in type_map]
    duplicates = sorted({element for element in type_map if type_map.count(element) > 1})
    if duplicates:
        raise ValueError(f'type_map={type_map!r}: elements {duplicates} appear more than once; list each once')
    return type_map


def present_elements(system: dpdata.System) -> list[str]:
    """Elements with at least one atom in ``system`` (dpdata keeps zero-count names from a type map)."""
    return [name for name, count in zip(system['atom_names'], system['atom_numbs'], strict=True) if count > 0]


def label_fields(system: dpdata.System) -> list[str]:
    """Which of energies, forces and virials ``system`` carries, in the canonical order."""
    return [field for field in LABEL_FIELDS if field in system.data]


def validate_system(name: str, system: dpdata.System, type_map: Sequence[str], require_labels: bool) -> None:
    """Raise ``ValueError`` naming ``name``, the field and the expectation if ``system`` cannot be stored.

    Checks: at least one frame; coordinates and cells shaped by the atom count; with ``require_labels``,
    energies and forces present, shaped (nframes,) and (nframes, natoms, 3) and finite; virials, where
    present, shaped (nframes, 3, 3); every element with atoms is in ``type_map``.
    """
    missing = [element for element in present_elements(system) if element not in type_map]
    if missing:
        raise ValueError(
            f'system {name!r}: elements {missing} are not in type_map={list(type_map)}; add them to type_map'
        )

    natoms = len(system['atom_types'])
    coords = system.data.get('coords')
    nframes = 0 if coords is None else len(coords)
    if nframes == 0:
        raise ValueError(f'system {name!r}: field "coords" has zero frames; expected at least one frame')

    expected_shapes = {'coords': (nframes, natoms, 3), 'cells': (nframes, 3, 3)}
    if require_labels:
        for field in REQUIRED_LABEL_FIELDS:
            if field not in system.data:
                raise ValueError(
                    f'system {name!r}: field {field!r} is missing; a labeled dataset needs energies (eV) '
                    f'and forces (eV/Å) for every frame'
                )
        expected_shapes['energies'] = (nframes,)
        expected_shapes['forces'] = (nframes, natoms, 3)
    if 'virials' in system.data:
        expected_shapes['virials'] = (nframes, 3, 3)

    for field, expected in expected_shapes.items():
        actual = np.shape(system.data.get(field))
        if actual != expected:
            raise ValueError(
                f'system {name!r}: field {field!r} has shape {actual}; expected {expected} '
                f'for {nframes} frames of {natoms} atoms'
            )
        if field != 'cells' and not np.all(np.isfinite(system.data[field])):
            raise ValueError(f'system {name!r}: field {field!r} contains NaN or infinite values')


def normalise(
    systems: dpdata.System | dpdata.MultiSystems | Iterable[dpdata.System],
    type_map: Sequence[str],
    require_labels: bool,
) -> dpdata.MultiSystems:
    """Validate ``systems`` and group them into a :class:`dpdata.MultiSystems` ordered by ``type_map``.

    Systems are validated one by one before grouping, so that an error names the system as the caller
    gave it (its index and formula) rather than after dpdata has merged or re-sorted it.
    """
    type_map = validate_type_map(type_map)
    if isinstance(systems, dpdata.System):
        systems = [systems]
    elif isinstance(systems, dpdata.MultiSystems):
        systems = list(systems)
    else:
        systems = list(systems)
    if not systems:
        raise ValueError('systems: got zero systems; expected at least one dpdata System with one frame or more')

    grouped = dpdata.MultiSystems(type_map=type_map)
    for index, system in enumerate(systems):
        if not isinstance(system, dpdata.System):
            raise TypeError(f'systems[{index}]: expected a dpdata System, got {type(system).__name__}')
        name = f'#{index} ({system.formula})'
        if require_labels and not isinstance(system, dpdata.LabeledSystem):
            raise ValueError(
                f'system {name!r}: field "energies" is missing; a labeled dataset needs dpdata.LabeledSystem '
                f'objects with energies and forces, got an unlabeled {type(system).__name__}'
            )
        validate_system(name, system, type_map, require_labels)
        unlabeled_wanted = not require_labels and isinstance(system, dpdata.LabeledSystem)
        append_checked(grouped, strip_labels(system) if unlabeled_wanted else system)
    return grouped


def strip_labels(system: dpdata.System) -> dpdata.System:
    """An unlabeled copy of ``system``: same atoms, cells and coordinates, no energies/forces/virials."""
    data = {key: value for key, value in system.data.items() if key not in LABEL_FIELDS}
    return dpdata.System(data=data)


def append_checked(grouped: dpdata.MultiSystems, system: dpdata.System) -> None:
    """Append ``system`` to ``grouped``, refusing to mix label sets inside one formula.

    dpdata raises a bare RuntimeError when, say, one Cu4 system has virials and another does not; the
    error here says which system and which field, and how to resolve it.
    """
    formula = _formula_in(grouped, system)
    existing = grouped.systems.get(formula)
    if existing is not None and label_fields(existing) != label_fields(system):
        raise ValueError(
            f'system {formula!r}: frames with labels {label_fields(system)} cannot join frames with labels '
            f'{label_fields(existing)} in one system; drop the extra field (e.g. "virials") from one source'
        )
    grouped.append(system)


def _formula_in(grouped: dpdata.MultiSystems, system: dpdata.System) -> str:
    """The formula ``system`` gets once its atom names follow ``grouped``'s type map."""
    counts = dict(zip(system['atom_names'], system['atom_numbs'], strict=True))
    return ''.join(f'{element}{counts.get(element, 0)}' for element in grouped.atom_names)


def frame_keys(system: dpdata.System) -> np.ndarray:
    """One opaque, exactly comparable key per frame over atom types, cell, coordinates and labels.

    Frames are compared bitwise (a void view of their float64 bytes), vectorised over frames; two frames
    are duplicates only if every stored number is identical.
    """
    nframes = system.get_nframes()
    columns = [
        np.broadcast_to(np.asarray(system['atom_types'], dtype=np.float64), (nframes, system.get_natoms())),
        np.asarray(system['cells'], dtype=np.float64).reshape(nframes, -1),
        np.asarray(system['coords'], dtype=np.float64).reshape(nframes, -1),
    ]
    columns += [np.asarray(system[field], dtype=np.float64).reshape(nframes, -1) for field in label_fields(system)]
    table = np.ascontiguousarray(np.concatenate(columns, axis=1))
    return table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1]))).ravel()


def unique_frame_indices(system: dpdata.System) -> np.ndarray:
    """Indices of the first occurrence of every distinct frame, in their original order."""
    _, first = np.unique(frame_keys(system), return_index=True)
    return np.sort(first)


def merge(multisystems: Sequence[dpdata.MultiSystems], type_map: Sequence[str]) -> tuple[dpdata.MultiSystems, int]:
    """Merge several datasets into one, dropping exact duplicate frames.

    Returns the merged :class:`dpdata.MultiSystems` and the number of frames dropped as duplicates.
    """
    merged = dpdata.MultiSystems(type_map=list(type_map))
    for dataset in multisystems:
        for system in dataset:
            append_checked(merged, system)

    deduplicated = dpdata.MultiSystems(type_map=list(type_map))
    dropped = 0
    for system in merged:
        keep = unique_frame_indices(system)
        dropped += system.get_nframes() - len(keep)
        deduplicated.append(system.sub_system(keep) if len(keep) < system.get_nframes() else system)
    return deduplicated, dropped
