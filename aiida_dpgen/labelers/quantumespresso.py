"""Quantum ESPRESSO labeler: a ``pw.x`` SCF with forces and stress through aiida-quantumespresso's
``PwBaseWorkChain`` (its protocols and error handlers)."""

from __future__ import annotations

import math

from aiida import orm
from aiida_quantumespresso.workflows.pw.base import PwBaseWorkChain
from dpdata.unit import EnergyConversion, LengthConversion
from qe_tools import CONSTANTS

from aiida_dpgen.labelers.base import (
    Labeler,
    PropertyReference,
    one_thread_per_process,
    structure_arrays,
)
from aiida_dpgen.labeling.frames import Label, virial_from_pressure_gpa
from aiida_dpgen.labeling.pseudos import DEFAULT_FAMILY_LABEL
from aiida_dpgen.workflows.protocols.utils import recursive_merge

# aiida-quantumespresso converts Rydberg and Bohr with qe-tools' constants, dpdata (and so every dataset read
# from pw.x outputs by DP-GEN's tools) with CODATA 2018's; rescaled so that labels from both routes agree
# (1e-7 relative, i.e. about 1 meV on a 4-atom Cu cell's total energy).
_ENERGY_RESCALE = EnergyConversion('rydberg', 'eV').value() / CONSTANTS.ry_to_ev
_FORCE_RESCALE = _ENERGY_RESCALE * CONSTANTS.bohr_to_ang / LengthConversion('bohr', 'angstrom').value()

# pw.x's time unit for `dt` is the Rydberg atomic unit of time, 4.8378e-17 s
_FS_PER_RYDBERG_TIME = 4.8377687e-2

# exit codes of PwCalculation that mean: the SCF stopped before it converged


# PwCalculation inputs that PackedPwCalculation does not take
_NOT_PACKED = {'settings', 'parallelization', 'hubbard_file', 'vdw_table'}


class QuantumEspressoLabeler(Labeler):
    """``pw.x`` single points; pseudopotentials from an aiida-pseudo family (``pseudo_family``, by default the
    one ``aiida-dpgen pseudos install`` makes from Debian's PBE files)."""

    _process_class = PwBaseWorkChain
    _protocol_file = 'label_quantumespresso'
    supports_md = True
    scf_unconverged_exit_codes = (
        'ERROR_ELECTRONIC_CONVERGENCE_NOT_REACHED',
        'WARNING_ELECTRONIC_CONVERGENCE_NOT_REACHED',
    )
    supports_packing = True
    engine_keys = {'pseudo_family': f'label of an aiida-pseudo family (default {DEFAULT_FAMILY_LABEL!r})'}

    @property
    def pseudo_family_label(self) -> str:
        return self.specification.get('pseudo_family', DEFAULT_FAMILY_LABEL)

    def _family(self):
        from aiida.common.exceptions import NotExistent
        from aiida_pseudo.groups.family import PseudoPotentialFamily

        try:
            return PseudoPotentialFamily.collection.get(label=self.pseudo_family_label)
        except NotExistent:
            raise ValueError(
                f'labeler.pseudo_family={self.pseudo_family_label!r} is not installed; run '
                "`aiida-dpgen pseudos install` (offline, from Debian's PBE files) or `aiida-pseudo install`"
            ) from None

    def check_elements(self, elements: list[str]) -> None:
        family = self._family()
        available = {pseudo.element for pseudo in family.nodes}
        missing = sorted(set(elements) - available)
        if missing:
            raise ValueError(
                f'labeler.pseudo_family={self.pseudo_family_label!r} has no pseudopotential for {missing}; '
                f'install a family that has them: `aiida-dpgen pseudos install --label NEW '
                + ' '.join(f'--file {element}=PATH.UPF' for element in missing)
                + '` and set pseudo_family'
            )

    def engine_overrides(self) -> dict:
        protocol = self.protocol()
        fixed = {'pseudo_family': self.pseudo_family_label, 'max_iterations': self.max_iterations}
        if self.md:
            fixed['pw'] = {'parameters': self.md_parameters(self.md)}
        return recursive_merge(recursive_merge(protocol['engine_overrides'], self.overrides), fixed)

    @staticmethod
    def md_parameters(md: dict) -> dict:
        """pw.x namelists of a short MD: velocities drawn at ``temperature`` and rescaled to it (DP-GEN's AIMD of
        the initial data), energy, forces and stress at every step."""
        return {
            'CONTROL': {'calculation': 'md', 'nstep': md['nsteps'], 'dt': md['timestep'] / _FS_PER_RYDBERG_TIME},
            'IONS': {'ion_temperature': 'rescaling', 'tempw': float(md['temperature'])},
        }

    def get_builder(self, structure: orm.StructureData, code: orm.AbstractCode):
        protocol = self.protocol()
        builder = PwBaseWorkChain.get_builder_from_protocol(
            code,
            structure,
            protocol=protocol['engine_protocol'],
            overrides=self.engine_overrides(),
            options=self.options or None,
        )
        builder.pw.metadata.options = one_thread_per_process(dict(builder.pw.metadata.options))
        return builder

    def label_nodes(self, node: orm.ProcessNode) -> dict[str, orm.Data]:
        return {'parameters': node.outputs.output_parameters, 'trajectory': node.outputs.output_trajectory}

    def packed_builder(
        self, structures: dict[str, orm.StructureData], code: orm.AbstractCode, type_map: list[str] | None = None
    ):
        """A `PackedPwCalculation` with, per structure, the namelists ``PwBaseWorkChain`` would get from
        :meth:`get_builder` (the SCF threshold scales with the atoms) and the k-point mesh its
        ``create_kpoints_from_distance`` step would make (the same calcfunction, so the graph shows it). The
        walltime of :meth:`job_options` is per single point, so the job gets it once per structure."""
        from aiida_quantumespresso.calculations.functions.create_kpoints_from_distance import (
            create_kpoints_from_distance,
        )

        from aiida_dpgen.calculations.packed_pw import PackedPwCalculation

        builder = PackedPwCalculation.get_builder()
        builder.code = code
        distance = force_parity = options = None
        refusal = self.packing_refusal()
        if refusal:
            raise ValueError(refusal)
        for task, structure in structures.items():
            single = self.get_builder(structure, code)
            if distance is None:
                distance = orm.Float(single.kpoints_distance.value)
                force_parity = orm.Bool(single.kpoints_force_parity.value)
                options = dict(single.pw.metadata.options)
            builder.structures[task] = structure
            builder.parameters[task] = single.pw.parameters
            builder.kpoints[task] = create_kpoints_from_distance(
                structure, distance, force_parity, metadata={'call_link_label': f'kpoints_{task}'}
            )
            builder.pseudos = {**builder.pseudos, **single.pw.pseudos}
        if options.get('max_wallclock_seconds'):
            options['max_wallclock_seconds'] = int(options['max_wallclock_seconds']) * len(structures)
        builder.metadata.options = options
        return builder

    def packing_refusal(self) -> str | None:
        """``PackedPwCalculation`` writes namelists, structure, k points and pseudopotentials per task; pw.x
        inputs beyond those (command-line settings, extra files) are not passed on to its tasks."""
        unsupported = sorted(_NOT_PACKED & set(self.engine_overrides().get('pw', {})))
        if unsupported:
            keys = ', '.join(f'labeler.overrides.pw.{key}' for key in unsupported)
            return f'{keys}: not passed on to packed pw.x tasks; remove them, or label with group_size 1'
        return None

    def packed_label_nodes(self, node: orm.CalcJobNode, task: str) -> dict[str, orm.Data]:
        return {'parameters': node.outputs.output_parameters[task], 'trajectory': node.outputs.output_trajectory[task]}

    def packed_wall_seconds(self, node: orm.CalcJobNode, tasks: list[str]) -> list[float | None]:
        outputs = dict(node.outputs.output_parameters) if 'output_parameters' in node.outputs else {}
        return [outputs[task].get('wall_time_seconds') if task in outputs else None for task in tasks]

    @property
    def cleans_workdir(self) -> bool:
        return bool(self.engine_overrides().get('clean_workdir', False))

    def property_reference(self, element: str, code: orm.AbstractCode | None = None) -> PropertyReference:
        """pw.x through ASE's ``Espresso`` with the namelists, pseudopotential and k-point density this labeler
        gives PwBaseWorkChain. The SCF threshold is the protocol's per-atom one for a single atom, the
        tightest any of the suite's cells gets; ASE's ``kspacing`` is aiida-quantumespresso's
        ``kpoints_distance`` without its 2π."""
        from ase import Atoms

        if code is None:
            raise ValueError('reference.labeler_code: the quantumespresso labeler needs its pw.x code')
        self.check_elements([element])
        single_point = type(self)({key: value for key, value in self.specification.items() if key != 'md'})
        probe = orm.StructureData(ase=Atoms(element, cell=[3.0, 3.0, 3.0], pbc=True))
        builder = single_point.get_builder(probe, code)
        parameters = builder.pw.parameters.get_dict()
        if parameters.get('SYSTEM', {}).get('nspin', 1) != 1:
            raise ValueError(f'reference.labeler: spin-polarized settings (nspin) are not supported for {element}')
        pseudo = builder.pw.pseudos[element]
        calculator = {
            'calculator': 'ase.calculators.espresso:Espresso',
            'kwargs': {
                'input_data': parameters,
                'pseudopotentials': {element: pseudo.filename},
                'kspacing': builder.kpoints_distance.value / (2 * math.pi),
            },
            'profile': {'class': 'ase.calculators.espresso:EspressoProfile', 'kwargs': {'pseudo_dir': '.'}},
        }
        return PropertyReference(calculator=calculator, files={f'pseudo_{element}': pseudo}, needs_engine=True)

    @classmethod
    def convert_outputs(cls, structure: orm.StructureData, parameters: orm.Dict, trajectory: orm.TrajectoryData):
        """Energy in eV and forces in eV/Å as aiida-quantumespresso stores them (rescaled to dpdata's constants);
        its stress (GPa) has pw.x's sign (positive under compression), so the virial is ``volume * stress``."""
        forces = trajectory.get_array('forces')[-1] * _FORCE_RESCALE
        stress = trajectory.get_array('stress')[-1]
        symbols, cell, positions = structure_arrays(structure)
        return Label(
            symbols=symbols,
            cell=cell,
            positions=positions,
            energy=float(parameters['energy']) * _ENERGY_RESCALE,
            forces=forces,
            virial=virial_from_pressure_gpa(stress, cell),
        )

    @classmethod
    def convert_md_outputs(cls, structure: orm.StructureData, parameters: orm.Dict, trajectory: orm.TrajectoryData):
        """Every MD step of the trajectory (positions and cell as computed, energy, forces, stress), as above."""
        symbols, _, _ = structure_arrays(structure)
        arrays = {name: trajectory.get_array(name) for name in ('cells', 'positions', 'energy', 'forces', 'stress')}
        labels = []
        for cell, positions, energy, forces, stress in zip(*arrays.values(), strict=True):
            labels.append(
                Label(
                    symbols=symbols,
                    cell=cell,
                    positions=positions,
                    energy=float(energy) * _ENERGY_RESCALE,
                    forces=forces * _FORCE_RESCALE,
                    virial=virial_from_pressure_gpa(stress, cell),
                )
            )
        return labels

    def wall_seconds(self, calculation: orm.CalcJobNode) -> float | None:
        parameters = calculation.outputs.output_parameters if 'output_parameters' in calculation.outputs else None
        return None if parameters is None else parameters.get('wall_time_seconds')
