"""VASP labeler: a single point with forces and stress through aiida-vasp's ``VaspWorkChain`` (its error
handlers, e.g. more electronic steps after ``NELM`` was reached), labels read from the OUTCAR with dpdata."""

from __future__ import annotations

import math

import numpy as np
from aiida import orm
from aiida.plugins import WorkflowFactory

from aiida_dpgen.labelers.base import Labeler, read_labeled_system, structure_arrays
from aiida_dpgen.labeling.frames import Label
from aiida_dpgen.workflows.protocols.utils import recursive_merge

VaspWorkChain = WorkflowFactory('vasp.vasp')
OUTCAR = 'OUTCAR'


def match_atoms(reference: np.ndarray, positions: np.ndarray, cell: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """``order`` such that ``positions[order[i]]`` is the atom at ``reference[i]`` (periodic images allowed): VASP
    lists atoms grouped by species, which need not be the structure's order."""
    inverse = np.linalg.inv(cell)
    delta = (reference[:, None, :] - positions[None, :, :]) @ inverse
    delta -= np.round(delta)
    distances = np.linalg.norm(delta @ cell, axis=-1)
    order = distances.argmin(axis=1)
    if len(set(order.tolist())) != len(reference) or distances[np.arange(len(reference)), order].max() > tolerance:
        raise ValueError('the atoms in the OUTCAR do not match the structure that was sent (more than 1e-3 Å apart)')
    return order


class VaspLabeler(Labeler):
    """VASP single points (``NSW = 0``, ``ISIF = 2`` for the stress); POTCARs from an aiida-vasp family."""

    _process_class = VaspWorkChain
    _protocol_file = 'label_vasp'
    scf_unconverged_exit_codes = ('ERROR_ELECTRONIC_NOT_CONVERGED',)
    engine_keys = {
        'potential_family': 'an aiida-vasp POTCAR family (from `verdi data vasp-potcar uploadfamily`)',
        'potential_mapping': 'element -> POTCAR name in the family (default: the element itself, e.g. {"Cu": "Cu_pv"})',
        'kpoints_spacing': "k-point spacing in 1/Å with 2π included (VASP's KSPACING; default from the protocol)",
    }

    def _family(self) -> str:
        if 'potential_family' not in self.specification:
            raise ValueError(
                'labeler.potential_family: missing; upload your POTCARs with `verdi data vasp-potcar uploadfamily` '
                'and name the family here'
            )
        return self.specification['potential_family']

    def mapping(self, elements) -> dict[str, str]:
        return {element: self.specification.get('potential_mapping', {}).get(element, element) for element in elements}

    def check_elements(self, elements: list[str]) -> None:
        from aiida_vasp.data.potcar import PotcarData, PotcarGroup

        family = self._family()
        query = orm.QueryBuilder().append(PotcarGroup, filters={'label': family}, tag='family')
        query.append(PotcarData, with_group='family', project='attributes.full_name')
        names = set(query.all(flat=True))
        if not names:
            raise ValueError(
                f'labeler.potential_family={family!r} has no POTCARs: upload them with '
                '`verdi data vasp-potcar uploadfamily --path DIR --name NAME`'
            )
        missing = {element: name for element, name in self.mapping(elements).items() if name not in names}
        if missing:
            raise ValueError(
                f'labeler.potential_family={family!r} has no POTCAR {sorted(missing.values())} for elements '
                f'{sorted(missing)}; set labeler.potential_mapping (e.g. {{"Cu": "Cu_pv"}}) or upload them'
            )

    def get_builder(self, structure: orm.StructureData, code: orm.AbstractCode):
        protocol = self.protocol()
        incar = recursive_merge(protocol['incar'], self.overrides)
        builder = VaspWorkChain.get_builder()
        builder.code = code
        builder.structure = structure
        builder.parameters = orm.Dict({'incar': incar})
        # aiida-vasp multiplies its spacing by 2π; ours (the paper's h_k, VASP's KSPACING) includes it
        spacing = self.specification.get('kpoints_spacing', protocol['kpoints_spacing'])
        builder.kpoints_spacing = orm.Float(spacing / (2 * math.pi))
        builder.potential_family = orm.Str(self._family())
        symbols = {kind.name: kind.symbol for kind in structure.kinds}
        builder.potential_mapping = orm.Dict({kind: self.mapping([symbol])[symbol] for kind, symbol in symbols.items()})
        builder.max_iterations = orm.Int(self.max_iterations)
        builder.calc.metadata.options = self.job_options()
        return builder

    @classmethod
    def convert_outputs(cls, structure: orm.StructureData, retrieved: orm.FolderData) -> Label:
        """Energy (the OUTCAR's free energy TOTEN, as dpdata and DP-GEN take it), forces and virial, in the
        structure's atom order."""
        symbols, cell, positions = structure_arrays(structure)
        system = read_labeled_system(retrieved, OUTCAR, 'vasp/outcar')
        if system.get_nframes() == 0:
            raise ValueError('dpdata read no converged frame from the OUTCAR')
        order = match_atoms(positions, system['coords'][-1], cell)
        read_symbols = [system['atom_names'][system['atom_types'][index]] for index in order]
        if tuple(read_symbols) != symbols:
            raise ValueError(f'the OUTCAR has elements {read_symbols} where the structure has {list(symbols)}')
        return Label(
            symbols=symbols,
            cell=cell,
            positions=positions,
            energy=float(system['energies'][-1]),
            forces=np.array(system['forces'][-1])[order],
            virial=np.array(system['virials'][-1]) if 'virials' in system.data else None,
        )
