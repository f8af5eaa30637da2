"""Unlabeled frames: initial configurations for exploration and candidates for labeling."""

from __future__ import annotations

from collections.abc import Sequence

import dpdata

from aiida_dpgen.data.systems import DpdataSystemsData


class ConfigurationsData(DpdataSystemsData):
    """Atomic configurations without labels, grouped by formula, several frames per system.

    Why not ``TrajectoryData``: a trajectory holds one fixed set of atoms, while initial configurations
    and candidates come from several systems (fcc, hcp, bcc cells with different atom counts, several
    compositions) that must keep their type map; storing them exactly as the labeled datasets are stored
    (deepmd/npy, one folder per formula) makes labeling a candidate a matter of adding labels, and
    dpdata converts them to any code's input format.
    """

    _require_labels = False

    @classmethod
    def from_ase(cls, frames: Sequence, type_map: Sequence[str]) -> ConfigurationsData:
        """Build from ASE ``Atoms`` objects (any calculators attached are ignored)."""
        systems = [dpdata.System(atoms, fmt='ase/structure') for atoms in frames]
        if not systems:
            raise ValueError('frames: got zero frames; expected at least one ASE Atoms object')
        return cls(systems, type_map=type_map)

    def to_ase(self) -> list:
        """All frames as ASE ``Atoms``, system by system, in stored order."""
        return [atoms for system in self.to_dpdata() for atoms in system.to('ase/structure')]
