"""A TEST DOUBLE for VASP, driven through the real aiida-vasp plugin (``vasp.vasp`` calculation, parser, workchain).

VASP is licensed and cannot run here. :mod:`vasp_test_double.py <tests.doubles.vasp.vasp_test_double>` stands in for
``vasp_std``: it reads INCAR/POSCAR/KPOINTS/POTCAR, labels the structure with ASE's EMT and writes VASP-format
``vasprun.xml``, ``OUTCAR``, ``OSZICAR``, ``CONTCAR`` and standard output, each marked as written by the test double.
``potcars/`` holds a fake POTCAR family (headers only, not pseudopotentials).

Helpers:

* :func:`setup_vasp_test_double` -- an ``InstalledCode`` (default plugin ``vasp.vasp``) running the double;
* :func:`upload_potcar_family` -- the fake POTCARs as an aiida-vasp POTCAR family;
* :func:`single_point_builder` -- a ``vasp.vasp`` workchain builder for one single point;
* :func:`emt_reference` -- what the double should report, computed by calling ASE EMT directly.
"""

from __future__ import annotations

import pathlib
import shlex
import sys
import tempfile
import uuid

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
VASP_TEST_DOUBLE = HERE / 'vasp_test_double.py'
FAKE_POTCARS = HERE / 'potcars'
POTCAR_FAMILY = 'TEST-DOUBLE-fake-PBE'
POTCAR_FAMILY_DESCRIPTION = (
    'TEST DOUBLE: fake POTCAR headers for tests/doubles/vasp/vasp_test_double.py (ASE EMT). '
    'Not real pseudopotentials; VASP cannot use them.'
)
WRAPPER_NAME = 'vasp_std_test_double'
#: Every file the double writes says this in its first two lines.
TEST_DOUBLE_MARK = 'TEST DOUBLE'

#: INCAR tags of a static single point with stress (``ISIF = 2``), in aiida-vasp's ``parameters['incar']`` layout.
SINGLE_POINT_INCAR = {
    'system': 'aiida-dpgen test double single point',
    'prec': 'Accurate',
    'encut': 400,
    'ediff': 1e-6,
    'ismear': 0,
    'sigma': 0.05,
    'istart': 0,
    'icharg': 2,
    'nsw': 0,
    'ibrion': -1,
    'isif': 2,
    'nelm': 60,
    'lwave': False,
    'lcharg': False,
}


def write_wrapper(directory: pathlib.Path | str | None = None) -> pathlib.Path:
    """Write the ``vasp_std_test_double`` bash wrapper: it execs this interpreter on ``vasp_test_double.py``."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix='aiida-dpgen-vasp-double-') if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / WRAPPER_NAME
    wrapper.write_text(
        '#!/bin/bash\n'
        '# TEST DOUBLE for vasp_std (aiida-dpgen tests/doubles/vasp): ASE EMT labels in VASP-format files. NOT VASP.\n'
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(VASP_TEST_DOUBLE))} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def setup_vasp_test_double(computer, directory: pathlib.Path | str | None = None, label: str | None = None):
    """A stored ``InstalledCode`` on ``computer`` (default plugin ``vasp.vasp``) that runs the VASP test double.

    The wrapper script is written to ``directory`` (a new temporary folder if omitted), so the code uses the
    Python interpreter running this process, whatever environment that is.
    """
    from aiida.orm import InstalledCode

    wrapper = write_wrapper(directory)
    code = InstalledCode(
        computer=computer,
        filepath_executable=str(wrapper),
        default_calc_job_plugin='vasp.vasp',
        label=label or f'vasp-test-double-{uuid.uuid4().hex[:8]}',
        description='TEST DOUBLE for vasp_std: ASE EMT energies/forces/stress written as VASP output. NOT VASP.',
    )
    return code.store()


def upload_potcar_family(name: str = POTCAR_FAMILY, source: pathlib.Path | str = FAKE_POTCARS) -> str:
    """Upload the fake POTCARs under ``source`` as the aiida-vasp POTCAR family ``name`` (idempotent); return ``name``.

    Uses aiida-vasp 5.1's ``PotcarData.upload_potcar_family``; each ``<symbol>/POTCAR`` becomes a ``PotcarData``
    whose ``full_name`` is the folder name (``Cu``), which is what ``potential_mapping`` refers to.
    """
    from aiida_vasp.data.potcar import PotcarData

    PotcarData.upload_potcar_family(
        str(source), name, group_description=POTCAR_FAMILY_DESCRIPTION, stop_if_existing=False
    )
    return name


def single_point_builder(
    code,
    structure,
    *,
    potential_family: str = POTCAR_FAMILY,
    kpoints_mesh: tuple[int, int, int] = (2, 2, 2),
    incar: dict | None = None,
    parser_settings: dict | None = None,
    options: dict | None = None,
    max_iterations: int = 5,
    handler_overrides: dict | None = None,
):
    """A builder for aiida-vasp 5.1's ``vasp.vasp`` workchain (``VaspWorkChain``) running one VASP single point.

    ``structure`` is a ``StructureData`` or an ASE ``Atoms``; ``incar`` updates :data:`SINGLE_POINT_INCAR`
    (lower-case tags). Energies, forces and stress come back in the ``misc`` output:
    ``misc['total_energies']['energy_extrapolated']`` (eV), ``misc['forces']`` (eV/Angstrom, natoms x 3) and
    ``misc['stress']`` (3 x 3, kBar, VASP's sign: minus the ASE stress).
    """
    from aiida import orm
    from aiida.plugins import WorkflowFactory

    if not isinstance(structure, orm.StructureData):
        structure = orm.StructureData(ase=structure)
    kpoints = orm.KpointsData()
    kpoints.set_cell_from_structure(structure)
    kpoints.set_kpoints_mesh(list(kpoints_mesh))

    builder = WorkflowFactory('vasp.vasp').get_builder()
    builder.code = code
    builder.structure = structure
    builder.kpoints = kpoints
    builder.parameters = orm.Dict({'incar': {**SINGLE_POINT_INCAR, **(incar or {})}})
    builder.potential_family = orm.Str(potential_family)
    builder.potential_mapping = orm.Dict({kind: kind for kind in structure.get_kind_names()})
    builder.settings = orm.Dict({'parser_settings': parser_settings or {}})
    builder.calc.metadata.options = {
        'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
        'max_wallclock_seconds': 600,
        'withmpi': False,
        **(options or {}),
    }
    builder.max_iterations = orm.Int(max_iterations)
    builder.clean_workdir = orm.Bool(False)
    if handler_overrides:
        builder.handler_overrides = orm.Dict(handler_overrides)
    return builder


def emt_reference(atoms) -> dict:
    """Energy (eV), forces (eV/Angstrom), VASP-sign stress (kBar) and dpdata virial (eV) from ASE EMT directly."""
    from ase.calculators.emt import EMT
    from ase.units import GPa

    atoms = atoms.copy()
    atoms.calc = EMT()
    stress = atoms.get_stress(voigt=False)
    return {
        'energy': float(atoms.get_potential_energy()),
        'forces': np.array(atoms.get_forces()),
        'stress_kbar': -np.array(stress) / (0.1 * GPa),
        'virial': -np.array(stress) * atoms.get_volume(),
    }
