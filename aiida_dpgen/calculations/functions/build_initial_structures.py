"""The structures of DP-GEN's init_bulk and init_surf, as calcfunctions so that each configuration set records
the crystal and the settings it was built from."""

from __future__ import annotations

import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict, List, StructureData

from aiida_dpgen.data.configurations import ConfigurationsData
from aiida_dpgen.data.dataset import LabeledDatasetData
from aiida_dpgen.initdata.equation_of_state import birch_murnaghan_fit
from aiida_dpgen.initdata.structures import (
    inclusive_range,
    perturbed,
    scale_factors,
    scaled,
    separated_slabs,
    supercell,
)


@calcfunction
def scaled_cells(structure: StructureData, scales: List, type_map: List) -> ConfigurationsData:
    """``structure`` with its lattice scaled by each of ``scales``: the cells whose energies locate the minimum."""
    atoms = structure.get_ase()
    return ConfigurationsData.from_ase([scaled(atoms, factor) for factor in scales.get_list()], type_map.get_list())


@calcfunction
def relax_volume(structure: StructureData, energies: LabeledDatasetData) -> dict:
    """``structure`` scaled to the volume where the Birch-Murnaghan fit of ``energies`` (labels of its scaled
    cells) has its minimum, and the fit (``equation_of_state``: volume per atom, energy per atom, bulk modulus)."""
    natoms = len(structure.sites)
    volumes, values = [], []
    for system in energies.to_dpdata():
        if system.get_natoms() != natoms:
            raise ValueError(f'energies: frames of {system.get_natoms()} atoms, the structure has {natoms}')
        volumes += [abs(np.linalg.det(cell)) for cell in system['cells']]
        values += list(system['energies'])
    fit = birch_murnaghan_fit(volumes, values)
    atoms = structure.get_ase()
    factor = (fit.volume / atoms.get_volume()) ** (1 / 3)
    relaxed = scaled(atoms, factor)
    return {
        'structure': StructureData(ase=relaxed),
        'equation_of_state': Dict(
            {
                'volume_per_atom': fit.volume / natoms,
                'energy_per_atom': fit.energy / natoms,
                'bulk_modulus_gpa': fit.bulk_modulus,
                'lattice_scale': factor,
                'points': len(volumes),
            }
        ),
    }


@calcfunction
def bulk_configurations(structure: StructureData, parameters: Dict, type_map: List) -> ConfigurationsData:
    """DP-GEN's init_bulk structures: the supercell of ``structure``, scaled by each factor of ``scale``, each
    scaled cell perturbed ``perturbations`` times (``cell_fraction``, ``atom_distance`` Å; seeded)."""
    settings = parameters.get_dict()
    cell = supercell(structure.get_ase(), settings['supercell'], settings.get('min_width'))
    frames = []
    for number, factor in enumerate(scale_factors(**settings['scale'])):
        frames += perturbed(
            scaled(cell, factor),
            settings['perturbations'],
            cell_fraction=settings['cell_fraction'],
            atom_distance=settings['atom_distance'],
            seed=settings['seed'] + number,
        )
    return ConfigurationsData.from_ase(frames, type_map.get_list())


def unscaled_indices(settings: dict) -> range:
    """Which of :func:`bulk_configurations`' frames are the perturbations of the scale nearest 1 (the paper's
    alpha = 1.00): the frames are ordered by scale, ``perturbations`` per scale."""
    factors = scale_factors(**settings['scale'])
    nearest = min(range(len(factors)), key=lambda index: abs(factors[index] - 1.0))
    count = settings['perturbations']
    return range(nearest * count, (nearest + 1) * count)


@calcfunction
def exploration_configurations(supercells: ConfigurationsData, parameters: Dict) -> ConfigurationsData:
    """The perturbed supercells that exploration starts from: those of the scale nearest 1, as the paper chose
    "the perturbed structures whose alpha are 1.00" (section 4); the compressed ones are initial data only."""
    frames = supercells.to_ase()
    return ConfigurationsData.from_ase(
        [frames[index] for index in unscaled_indices(parameters.get_dict())], supercells.type_map
    )


@calcfunction
def surface_configurations(structure: StructureData, parameters: Dict, type_map: List) -> ConfigurationsData:
    """DP-GEN's init_surf structures: for each Miller index, a slab of ``layers`` layers, repeated in plane by
    ``repeat``, with its halves separated by each distance of ``separations`` (``start``, ``stop``, ``step`` Å)."""
    settings = parameters.get_dict()
    distances = inclusive_range(**settings['separations'])
    frames = []
    for miller in settings['miller']:
        for slab in separated_slabs(structure.get_ase(), miller, settings['layers'], distances):
            frames.append(slab.repeat((*settings.get('repeat', [1, 1]), 1)))
    return ConfigurationsData.from_ase(frames, type_map.get_list())
