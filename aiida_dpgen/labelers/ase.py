"""ASE calculator labeler: any ``module:Class`` ASE calculator (EMT by default) as a real CalcJob."""

from __future__ import annotations

import numpy as np
from aiida import orm

from aiida_dpgen.labelers.base import Labeler, structure_arrays
from aiida_dpgen.labeling.frames import Label, virial_from_stress
from aiida_dpgen.workflows.base.ase import AseSinglePointBaseWorkChain

EMT_ELEMENTS = {'Al', 'Cu', 'Ag', 'Au', 'Ni', 'Pd', 'Pt', 'H', 'C', 'N', 'O'}


class AseLabeler(Labeler):
    """Single points with an ASE calculator; the code is a Python interpreter with ASE."""

    _process_class = AseSinglePointBaseWorkChain
    _protocol_file = 'label_ase'
    engine_keys = {
        'calculator': 'the ASE calculator as "module:Class" (default "ase.calculators.emt:EMT")',
        'kwargs': 'keyword arguments of the calculator',
    }

    def calculator(self) -> dict:
        protocol = self.protocol()
        return {
            'calculator': self.specification.get('calculator', protocol['calculator']),
            'kwargs': self.specification.get('kwargs', protocol['kwargs']),
        }

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

    def label_nodes(self, node: orm.ProcessNode) -> dict[str, orm.Data]:
        return {'parameters': node.outputs.output_parameters, 'arrays': node.outputs.output_arrays}

    @classmethod
    def convert_outputs(cls, structure: orm.StructureData, parameters: orm.Dict, arrays: orm.ArrayData) -> Label:
        symbols, cell, positions = structure_arrays(structure)
        periodic = all(structure.pbc)
        virial = None
        if 'stress' in arrays.get_arraynames():
            virial = virial_from_stress(arrays.get_array('stress'), abs(np.linalg.det(cell)))
        return Label(
            symbols=symbols,
            cell=cell,
            positions=positions,
            energy=float(parameters['energy']),
            forces=arrays.get_array('forces'),
            virial=virial,
            pbc=periodic,
        )

    def wall_seconds(self, calculation: orm.CalcJobNode) -> float | None:
        if 'output_parameters' not in calculation.outputs:
            return None
        return calculation.outputs.output_parameters.get('wall_seconds')
