"""Gaussian labeler for molecular systems: energy and forces through aiida-gaussian's ``GaussianBaseWorkChain``
(its SCF restarts), read back with dpdata's ``gaussian/log`` reader."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.plugins import WorkflowFactory
from ase.data import atomic_numbers

from aiida_dpgen.labelers.base import Labeler, read_labeled_system, structure_arrays
from aiida_dpgen.labeling.frames import Label
from aiida_dpgen.workflows.protocols.utils import recursive_merge

GaussianBaseWorkChain = WorkflowFactory('gaussian.base')
LOG_FILE = 'aiida.out'


class GaussianLabeler(Labeler):
    """Gaussian single points (``force``) of molecules; the structure's cell and periodicity are ignored by
    Gaussian and the labels carry no virial."""

    _process_class = GaussianBaseWorkChain
    _protocol_file = 'label_gaussian'
    scf_unconverged_exit_codes = ('ERROR_SCF_FAILURE',)
    engine_keys = {
        'charge': 'total charge of every structure (default 0)',
        'multiplicity': 'spin multiplicity (default 1 for an even electron count, 2 otherwise)',
    }

    def check_elements(self, elements: list[str]) -> None:
        charge = self.specification.get('charge', 0)
        if not isinstance(charge, int):
            raise ValueError(f'labeler.charge={charge!r}: expected an integer total charge')
        multiplicity = self.specification.get('multiplicity')
        if multiplicity is not None and (not isinstance(multiplicity, int) or multiplicity < 1):
            raise ValueError(f'labeler.multiplicity={multiplicity!r}: expected a positive integer')

    def parameters(self, structure: orm.StructureData) -> dict:
        symbols, _, _ = structure_arrays(structure)
        charge = self.specification.get('charge', 0)
        electrons = sum(atomic_numbers[symbol] for symbol in symbols) - charge
        multiplicity = self.specification.get('multiplicity', 1 if electrons % 2 == 0 else 2)
        if (electrons + multiplicity) % 2 == 0:
            raise ValueError(
                f'labeler.multiplicity={multiplicity} is impossible with {electrons} electrons '
                f'(charge {charge}); use an {"odd" if electrons % 2 == 0 else "even"} multiplicity'
            )
        parameters = recursive_merge(self.protocol()['parameters'], self.overrides)
        cores = self.options.get('resources', {}).get('num_mpiprocs_per_machine', 1)
        parameters['link0_parameters'].setdefault('%nprocshared', str(cores))
        return {**parameters, 'charge': charge, 'multiplicity': multiplicity}

    def get_builder(self, structure: orm.StructureData, code: orm.AbstractCode):
        return self.restart_builder('gaussian', structure, code, self.parameters(structure))

    @classmethod
    def convert_outputs(cls, structure: orm.StructureData, retrieved: orm.FolderData) -> Label:
        """Energy (eV) and forces (eV/Å) as dpdata reads the log; no virial for a molecule."""
        symbols, cell, positions = structure_arrays(structure)
        system = read_labeled_system(retrieved, LOG_FILE, 'gaussian/log')
        if system.get_nframes() == 0:
            raise ValueError('the Gaussian log has no energy and forces (dpdata read no frame); was "force" asked?')
        order = tuple(system['atom_names'][index] for index in system['atom_types'])
        if order != symbols:
            raise ValueError(f'the Gaussian log lists atoms {order}, the structure {symbols}')
        return Label(
            symbols=symbols,
            cell=cell,
            positions=positions,
            energy=float(system['energies'][-1]),
            forces=np.array(system['forces'][-1]),
            virial=None,
            pbc=False,
        )
