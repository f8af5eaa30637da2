"""Candidate frames as one ``StructureData`` each, screened for atoms too close to be worth a DFT run."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict, Float, StructureData

from aiida_dpgen.data.configurations import ConfigurationsData
from aiida_dpgen.labeling.frames import closest_distance

FRAME_LABEL = 'frame_{:06d}'


@calcfunction
def extract_structures(configurations: ConfigurationsData, min_distance: Float) -> dict:
    """One ``StructureData`` per frame of ``configurations`` (outputs ``frame_000000``, ... in frame order),
    except frames with two atoms closer than ``min_distance`` (Å): those are listed in the ``screening``
    output with their closest distance and are not labeled (DFT on them fails or wastes hours)."""
    outputs, excluded = {}, []
    index = 0
    for system in configurations.to_dpdata():
        for frame in range(system.get_nframes()):
            cell = system['cells'][frame]
            positions = system['coords'][frame]
            distance = closest_distance(cell, positions, pbc=not system.nopbc)
            if distance < min_distance.value:
                excluded.append({'frame': index, 'formula': system.formula, 'closest_distance': round(distance, 4)})
            else:
                atoms = system.to('ase/structure')[frame]
                outputs[FRAME_LABEL.format(index)] = StructureData(ase=atoms)
            index += 1
    outputs['screening'] = Dict(
        {'frames': index, 'kept': index - len(excluded), 'min_distance': min_distance.value, 'excluded': excluded}
    )
    return outputs
