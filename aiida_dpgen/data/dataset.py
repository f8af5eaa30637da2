"""Labeled training data: frames with energies and forces (and optionally virials)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dpdata

from aiida_dpgen.data.systems import DpdataSystemsData


class LabeledDatasetData(DpdataSystemsData):
    """Labeled frames for DeePMD-kit training: energies (eV), forces (eV/Å) and optional virials (eV).

    Attributes: ``type_map``; ``systems`` (per system: name, formula, natoms, nframes, labels);
    ``nsystems``; ``nframes`` (all systems); ``labels`` (label fields present in every system).
    """

    _require_labels = True

    @classmethod
    def from_ase(cls, frames: Sequence, type_map: Sequence[str]) -> LabeledDatasetData:
        """Build a dataset from ASE ``Atoms`` whose calculators hold energy, forces and optionally stress.

        Stress is converted to the virial DeePMD-kit expects (``-stress * volume``, eV).
        """
        from ase.calculators.calculator import PropertyNotImplementedError

        systems = []
        for index, atoms in enumerate(frames):
            name = f'frame #{index} ({atoms.get_chemical_formula()})'
            if atoms.calc is None:
                raise ValueError(
                    f'{name}: field "energies" is missing; attach a calculator or SinglePointCalculator '
                    f'with energy and forces to every frame'
                )
            try:
                systems.append(dpdata.LabeledSystem(atoms, fmt='ase/structure'))
            except PropertyNotImplementedError as exception:
                raise ValueError(
                    f'{name}: the calculator gives no energy or forces ({exception}); '
                    f'a labeled dataset needs energies and forces for every frame'
                ) from exception
        if not systems:
            raise ValueError('frames: got zero frames; expected at least one labeled ASE Atoms object')
        return cls(systems, type_map=type_map)


def combined(datasets: Mapping[str, LabeledDatasetData]) -> LabeledDatasetData:
    """All frames of ``datasets`` in one unstored node, exact duplicates once (what a training on all of them
    sees), to export or inspect; the loop itself never stores such a copy."""
    return merged_with_duplicates(datasets)[0]


def merged_with_duplicates(datasets: Mapping[str, LabeledDatasetData]) -> tuple[LabeledDatasetData, int]:
    """All frames of ``datasets`` in one unstored node and how many exact duplicates were dropped; all must share
    one type map, because atom types are indices into it."""
    from aiida_dpgen.utils import systems as systems_utils

    if not datasets:
        raise ValueError('datasets: got none; pass at least one LabeledDatasetData to merge')
    names = sorted(datasets)
    type_map = datasets[names[0]].type_map
    for name in names[1:]:
        if datasets[name].type_map != type_map:
            raise ValueError(
                f'dataset {name!r} has type_map={datasets[name].type_map}, but {names[0]!r} has '
                f'type_map={type_map}; rebuild the datasets with one common type_map'
            )
    merged, dropped = systems_utils.merge([datasets[name].to_dpdata() for name in names], type_map)
    return LabeledDatasetData(merged, type_map=type_map), dropped
