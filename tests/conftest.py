"""Shared fixtures: AiiDA's own test profile and small, really labelled copper frames."""

from __future__ import annotations

import pathlib

import dpdata
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

pytest_plugins = ['aiida.tools.pytest_fixtures']

CU_LATTICE = {'fcc': 3.61, 'bcc': 2.87, 'hcp': 2.55}


@pytest.fixture(scope='session', autouse=True)
def cli_logging():
    """Logging configured once, as the first in-process ``aiida-dpgen``/``verdi`` command would configure it.

    That command's verbosity option reconfigures logging (``logging.config.dictConfig``), which closes every
    handler; absl's handler (TensorFlow's, bound to pytest's capture stream when TensorFlow was imported) then
    closes that stream unless it is ``sys.stderr`` at that moment, and inside ``CliRunner`` it is not: pytest
    lost its capture whenever a test's first command ran after TensorFlow had been imported. Done here, while
    ``sys.stderr`` is pytest's own, the commands do not reconfigure logging again, whatever the test order."""
    from aiida.common import log

    log.CLI_ACTIVE = True
    log.configure_logging()


def cu_frames(structure: str = 'fcc', nframes: int = 3, seed: int = 0, labeled: bool = True) -> list:
    """Rattled and strained Cu cells (fcc: 4 atoms, bcc: 2, hcp: 2) with EMT energies, forces, stress."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(nframes):
        atoms = bulk('Cu', structure, a=CU_LATTICE[structure], cubic=structure != 'hcp')
        atoms.set_cell(atoms.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        if labeled:
            atoms.calc = EMT()
            atoms.get_potential_energy()
        frames.append(atoms)
    return frames


def cu_system(structure: str = 'fcc', nframes: int = 3, seed: int = 0) -> dpdata.LabeledSystem:
    """The frames of :func:`cu_frames` as one dpdata LabeledSystem."""
    frames = cu_frames(structure, nframes, seed)
    system = dpdata.LabeledSystem(frames[0], fmt='ase/structure')
    for atoms in frames[1:]:
        system.append(dpdata.LabeledSystem(atoms, fmt='ase/structure'))
    return system


@pytest.fixture
def make_cu_system():
    return cu_system


@pytest.fixture
def make_cu_frames():
    return cu_frames


@pytest.fixture
def aiida_localhost(aiida_computer_local):
    """``localhost`` as scripts/run-example.sh configures it: commands run in a plain shell, not a login shell,
    whose profile scripts would otherwise run again on every submission and scheduler poll."""
    computer = aiida_computer_local(label='localhost', configure=False)
    computer.configure(use_login_shell=False, safe_interval=0.0)
    return computer


FIXTURES = pathlib.Path(__file__).parent / 'fixtures'
PARSER_FIXTURES = pathlib.Path(__file__).parent / 'parsers' / 'fixtures'


@pytest.fixture
def dp_code(aiida_localhost):
    """An InstalledCode for `dp` on localhost (the executable need not exist for prepare/parse tests)."""
    from aiida.orm import InstalledCode

    return InstalledCode(computer=aiida_localhost, filepath_executable='dp', default_calc_job_plugin='dpgen.train')


@pytest.fixture
def generate_calc_job(tmp_path):
    """Run a CalcJob's ``prepare_for_submission`` in a folder; return ``(folder_path, calc_info)``."""

    def factory(entry_point: str, inputs: dict):
        from aiida.common.folders import Folder
        from aiida.engine.utils import instantiate_process
        from aiida.manage import get_manager
        from aiida.plugins import CalculationFactory

        process = instantiate_process(get_manager().get_runner(), CalculationFactory(entry_point), **inputs)
        (tmp_path / 'submit').mkdir(exist_ok=True)
        folder = Folder(str(tmp_path / 'submit'))
        return pathlib.Path(folder.abspath), process.prepare_for_submission(folder)

    return factory


@pytest.fixture
def generate_calc_job_node(aiida_localhost):
    """A stored CalcJobNode of ``entry_point`` with ``inputs`` and a ``retrieved`` folder from parser fixtures."""

    def factory(entry_point: str, case: str, inputs: dict | None = None, exit_status: int | None = None):
        from aiida.common.links import LinkType
        from aiida.orm import CalcJobNode, FolderData
        from aiida.plugins.entry_point import format_entry_point_string

        node = CalcJobNode(
            computer=aiida_localhost,
            process_type=format_entry_point_string('aiida.calculations', entry_point),
        )
        node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
        for label, value in (inputs or {}).items():
            value.store()
            node.base.links.add_incoming(value, link_type=LinkType.INPUT_CALC, link_label=label)
        if exit_status is not None:
            node.set_exit_status(exit_status)
        node.store()

        retrieved = FolderData()
        retrieved.base.repository.put_object_from_tree(str(PARSER_FIXTURES / entry_point / case))
        retrieved.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label='retrieved')
        retrieved.store()
        return node

    return factory


@pytest.fixture
def generate_workchain():
    """An instantiated (not running) workchain, to call its steps and handlers one by one."""

    def factory(entry_point: str, inputs: dict):
        from aiida.engine.utils import instantiate_process
        from aiida.manage import get_manager
        from aiida.plugins import WorkflowFactory

        return instantiate_process(get_manager().get_runner(), WorkflowFactory(entry_point), **inputs)

    return factory


@pytest.fixture
def generate_failed_calc_job(aiida_localhost):
    """A finished CalcJobNode of ``entry_point`` with ``exit_status`` and the given output nodes."""

    def factory(entry_point: str, exit_status: int, outputs: dict | None = None):
        from aiida.common.links import LinkType
        from aiida.engine import ProcessState
        from aiida.orm import CalcJobNode, RemoteData
        from aiida.plugins.entry_point import format_entry_point_string

        node = CalcJobNode(
            computer=aiida_localhost, process_type=format_entry_point_string('aiida.calculations', entry_point)
        )
        node.set_process_state(ProcessState.FINISHED)
        node.set_exit_status(exit_status)
        node.store()
        outputs = {'remote_folder': RemoteData(computer=aiida_localhost, remote_path='/scratch/job'), **(outputs or {})}
        for label, output in outputs.items():
            output.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label=label)
            output.store()
        return node

    return factory
