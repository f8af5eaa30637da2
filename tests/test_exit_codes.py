"""Every exit code the source uses is declared on the process it is taken from."""

from __future__ import annotations

import ast
import importlib
import pathlib

from aiida.plugins import CalculationFactory, WorkflowFactory

PACKAGE = pathlib.Path(__file__).parents[1] / 'aiida_dpgen'

OWN_PROCESS = {
    'calculations/train.py': CalculationFactory('dpgen.train'),
    'calculations/test.py': CalculationFactory('dpgen.test'),
    'parsers/train.py': CalculationFactory('dpgen.train'),
    'parsers/test.py': CalculationFactory('dpgen.test'),
    'workflows/base/train.py': WorkflowFactory('dpgen.train.base'),
    'workflows/train.py': WorkflowFactory('dpgen.train'),
    'calculations/lammps.py': CalculationFactory('dpgen.lammps'),
    'parsers/lammps.py': CalculationFactory('dpgen.lammps'),
    'workflows/base/lammps.py': WorkflowFactory('dpgen.lammps.base'),
    'workflows/explore.py': WorkflowFactory('dpgen.explore'),
    'parsers/ase.py': CalculationFactory('dpgen.ase'),
    'parsers/ase_packed.py': CalculationFactory('dpgen.ase_packed'),
    'parsers/packed_pw.py': CalculationFactory('dpgen.pw_packed'),
    'workflows/label.py': WorkflowFactory('dpgen.label'),
    'workflows/dpgen.py': WorkflowFactory('dpgen.dpgen'),
    'workflows/initdata.py': WorkflowFactory('dpgen.init_data'),
    'parsers/properties.py': CalculationFactory('dpgen.properties'),
    'workflows/properties.py': WorkflowFactory('dpgen.properties'),
}
"""The process whose exit codes ``self.exit_codes`` means in each module (for parsers, their CalcJob)."""


def exit_code_uses(path: pathlib.Path) -> list[tuple[str, str]]:
    """``(owner, name)`` for every ``<owner>.exit_codes.<name>`` in the module; owner is a name or ``self``."""
    uses = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == 'exit_codes'
            and isinstance(node.value.value, ast.Name)
        ):
            uses.append((node.value.value.id, node.attr))
    return uses


def module_of(relative: str):
    return importlib.import_module('aiida_dpgen.' + relative.removesuffix('.py').replace('/', '.'))


def test_every_used_exit_code_is_declared():
    undeclared = []
    for relative, own in OWN_PROCESS.items():
        module = module_of(relative)
        for owner, name in exit_code_uses(PACKAGE / relative):
            process = own if owner == 'self' else getattr(module, owner)
            if name not in process.exit_codes:
                undeclared.append(f'{relative}: {owner}.exit_codes.{name}')
    assert not undeclared


def test_every_module_that_uses_exit_codes_is_checked():
    modules = {
        str(path.relative_to(PACKAGE))
        for folder in ('calculations', 'parsers', 'workflows')
        for path in (PACKAGE / folder).rglob('*.py')
        if exit_code_uses(path)
    }
    assert modules <= set(OWN_PROCESS)
