"""Candidate frames as one ``StructureData`` each, screened for frames not worth a DFT run."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict, Float, StructureData

from aiida_dpgen.data.configurations import ConfigurationsData
from aiida_dpgen.exploration.geometry import ATOMS_TOO_CLOSE, GeometryScreens
from aiida_dpgen.labeling.frames import closest_distance

FRAME_LABEL = 'frame_{:06d}'


@calcfunction
def extract_structures(configurations: ConfigurationsData, min_distance: Float, screens: Dict | None = None) -> dict:
    """One ``StructureData`` per frame of ``configurations`` (outputs ``frame_000000``, ... in frame order),
    except frames a DFT run would fail on or waste hours on: two atoms closer than ``min_distance`` (Å), and
    with ``screens`` (:class:`~aiida_dpgen.exploration.geometry.GeometryScreens`: per-pair distances, box
    skewness, box length ratio, volume per atom) whatever they exclude. Those are listed in the ``screening``
    output with their reason and numbers, and are not labeled."""
    extra = screens.get_dict() if screens else {}
    pairs = extra.get('min_distance', {})
    pairs = {'*': pairs} if isinstance(pairs, int | float) else pairs
    settings = GeometryScreens.from_dict({**extra, 'min_distance': {'*': min_distance.value, **pairs}})
    outputs, excluded = {}, []
    index = 0
    for system in configurations.to_dpdata():
        symbols = [system['atom_names'][kind] for kind in system['atom_types']]
        for frame in range(system.get_nframes()):
            cell, positions = system['cells'][frame], system['coords'][frame]
            rejection = settings.rejection(cell, positions, symbols, pbc=not system.nopbc)
            if rejection is not None:
                reason, _, detail = rejection.partition(': ')
                item = {'frame': index, 'formula': system.formula, 'reason': reason, 'detail': detail}
                if reason == ATOMS_TOO_CLOSE:
                    item['closest_distance'] = round(closest_distance(cell, positions, pbc=not system.nopbc), 4)
                excluded.append(item)
            else:
                atoms = system.to('ase/structure')[frame]
                outputs[FRAME_LABEL.format(index)] = StructureData(ase=atoms)
            index += 1
    outputs['screening'] = Dict(
        {'frames': index, 'kept': index - len(excluded), 'min_distance': min_distance.value, 'excluded': excluded}
    )
    return outputs
