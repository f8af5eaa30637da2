"""ASE calculator labeler: any ``module:Class`` ASE calculator (EMT by default) as a real CalcJob."""

from __future__ import annotations

import numpy as np
from aiida import orm

from aiida_dpgen.labelers.base import Labeler, PropertyReference, structure_arrays
from aiida_dpgen.labeling.frames import Label, virial_from_stress
from aiida_dpgen.workflows.base.ase import AseSinglePointBaseWorkChain

EMT_ELEMENTS = {'Al', 'Cu', 'Ag', 'Au', 'Ni', 'Pd', 'Pt', 'H', 'C', 'N', 'O'}


class AseLabeler(Labeler):
    """Single points with an ASE calculator; the code is a Python interpreter with ASE."""

    _process_class = AseSinglePointBaseWorkChain
    _protocol_file = 'label_ase'
    supports_md = True
    supports_packing = True
    engine_keys = {
        'calculator': 'the ASE calculator as "module:Class" (default "ase.calculators.emt:EMT")',
        'kwargs': 'keyword arguments of the calculator',
    }

    def calculator(self) -> dict:
        protocol = self.protocol()
        calculator = {
            'calculator': self.specification.get('calculator', protocol['calculator']),
            'kwargs': self.specification.get('kwargs', protocol['kwargs']),
        }
        return {**calculator, 'md': self.md} if self.md else calculator

    def property_reference(self, element: str, code: orm.AbstractCode | None = None) -> PropertyReference:
        """The calculator itself (without ``md``)."""
        self.check_elements([element])
        calculator = self.calculator()
        calculator.pop('md', None)
        return PropertyReference(calculator=calculator)

    def check_elements(self, elements: list[str]) -> None:
        calculator = self.calculator()['calculator']
        if calculator.endswith(':EMT') and not set(elements) <= EMT_ELEMENTS:
            missing = sorted(set(elements) - EMT_ELEMENTS)
            raise ValueError(
                f'labeler.calculator={calculator!r} has no parameters for {missing}; EMT knows '
                f'{sorted(EMT_ELEMENTS)}: choose another calculator with labeler.calculator="module:Class"'
            )

    def get_builder(self, structure: orm.StructureData, code: orm.AbstractCode):
        builder = AseSinglePointBaseWorkChain.get_builder()
        builder.max_iterations = orm.Int(self.max_iterations)
        builder.ase.code = code
        builder.ase.structure = structure
        builder.ase.calculator = orm.Dict(self.calculator())
        builder.ase.metadata.options = self.job_options()
        return builder

    def packed_builder(
        self, structures: dict[str, orm.StructureData], code: orm.AbstractCode, type_map: list[str] | None = None
    ):
        """A `PackedAseCalculation` of ``structures`` with this calculator, its labels one dataset of
        ``type_map``; the walltime of :meth:`job_options` is per single point, so the job gets it once per
        structure."""
        from aiida_dpgen.calculations.ase import PackedAseCalculation

        builder = PackedAseCalculation.get_builder()
        builder.code = code
        builder.structures = dict(structures)
        builder.calculator = orm.Dict(self.calculator())
        if type_map is not None:
            builder.type_map = orm.List(list(type_map))
        options = self.job_options()
        if options.get('max_wallclock_seconds'):
            options['max_wallclock_seconds'] = int(options['max_wallclock_seconds']) * len(structures)
        builder.metadata.options = options
        return builder

    def packed_dataset(self, node: orm.CalcJobNode) -> orm.Data | None:
        return node.outputs.output_dataset if 'output_dataset' in node.outputs else None

    def packed_wall_seconds(self, node: orm.CalcJobNode, tasks: list[str]) -> list[float | None]:
        seconds = node.outputs.output_parameters['wall_seconds'] if 'output_parameters' in node.outputs else {}
        return [seconds.get(task) for task in tasks]

    def label_nodes(self, node: orm.ProcessNode) -> dict[str, orm.Data]:
        if self.md:
            return {'trajectory': node.outputs.output_trajectory}
        return {'parameters': node.outputs.output_parameters, 'arrays': node.outputs.output_arrays}

    @classmethod
    def convert_outputs(cls, structure: orm.StructureData, parameters: orm.Dict, arrays: orm.ArrayData) -> Label:
        stress = arrays.get_array('stress') if 'stress' in arrays.get_arraynames() else None
        return cls.label(structure, float(parameters['energy']), arrays.get_array('forces'), stress)

    @staticmethod
    def label(structure: orm.StructureData, energy: float, forces: np.ndarray, stress: np.ndarray | None) -> Label:
        """The label of ``structure`` from an ASE single point (stress in ASE's convention, eV/Å^3)."""
        symbols, cell, positions = structure_arrays(structure)
        virial = None if stress is None else virial_from_stress(stress, cell)
        return Label(
            symbols=symbols,
            cell=cell,
            positions=positions,
            energy=energy,
            forces=forces,
            virial=virial,
            pbc=all(structure.pbc),
        )

    @classmethod
    def convert_md_outputs(cls, structure: orm.StructureData, trajectory: orm.ArrayData) -> list[Label]:
        symbols, _, _ = structure_arrays(structure)
        names = trajectory.get_arraynames()
        stresses = trajectory.get_array('stresses') if 'stresses' in names else None
        labels = []
        for step, cell in enumerate(trajectory.get_array('cells')):
            virial = None if stresses is None else virial_from_stress(stresses[step], cell)
            labels.append(
                Label(
                    symbols=symbols,
                    cell=cell,
                    positions=trajectory.get_array('positions')[step],
                    energy=float(trajectory.get_array('energies')[step]),
                    forces=trajectory.get_array('forces')[step],
                    virial=virial,
                    pbc=all(structure.pbc),
                )
            )
        return labels

    def wall_seconds(self, calculation: orm.CalcJobNode) -> float | None:
        if 'output_parameters' not in calculation.outputs:
            return None
        return calculation.outputs.output_parameters.get('wall_seconds')
