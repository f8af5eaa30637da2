"""Fixtures for the engines suite: real DeePMD-kit, LAMMPS, pw.x and cp2k on tiny copper cells.

Missing engines fail these tests rather than skip them: `scripts/install.sh` installs them all, and
a silent skip would hide a broken install in CI.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from aiida_dpgen.utils.engines import OPENMPI_RUN, ROOT_MPI_ENV

REPOSITORY = pathlib.Path(__file__).parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if pathlib.Path(item.fspath).is_relative_to(pathlib.Path(__file__).parent):
            item.add_marker(pytest.mark.engines)


def require(executable: str) -> str:
    path = shutil.which(executable)
    if path is None:
        pytest.fail(f'`{executable}` is not on PATH: run scripts/install.sh (it installs every engine)')
    return path


def run_mpi(command: list[str], cwd: pathlib.Path, nprocs: int = 2, stdout=None) -> None:
    env = {**os.environ, **ROOT_MPI_ENV}
    subprocess.run([OPENMPI_RUN, '-np', str(nprocs), *command], cwd=cwd, env=env, check=True, stdout=stdout)


@pytest.fixture(scope='session')
def trained_models(tmp_path_factory) -> list[pathlib.Path]:
    """Two tiny frozen models with different seeds, trained in parallel with the real `dp`."""
    require('dp')
    root = tmp_path_factory.mktemp('models')
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(REPOSITORY / 'tests' / 'fixtures' / 'make_model.py'),
                f'--output={root / f"model_{seed}.pb"}',
                f'--seed={seed}',
                '--steps=200',
                f'--workdir={root / f"train_{seed}"}',
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for seed in (1, 2)
    ]
    for process in processes:
        _, stderr = process.communicate()
        assert process.returncode == 0, stderr.decode()[-2000:]
    return [root / 'model_1.pb', root / 'model_2.pb']


@pytest.fixture
def dp_installed_code(aiida_localhost):
    """`dp` on the test computer (core.local + core.direct), as a user would set it up."""
    from aiida.orm import InstalledCode

    code = InstalledCode(
        label='dp', computer=aiida_localhost, filepath_executable=require('dp'), default_calc_job_plugin='dpgen.train'
    )
    return code.store()


@pytest.fixture
def emt_cu_dataset(aiida_profile):
    """20 rattled, strained 8-atom Cu cells labelled by EMT, as a stored dataset."""
    from aiida_dpgen.data import LabeledDatasetData

    def make(nframes: int = 20, seed: int = 0):
        import numpy as np
        from ase.build import bulk
        from ase.calculators.emt import EMT

        rng = np.random.default_rng(seed)
        frames = []
        for index in range(nframes):
            atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))
            atoms.rattle(0.05, seed=seed * 1000 + index)
            atoms.set_cell(atoms.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
            atoms.calc = EMT()
            atoms.get_potential_energy()
            frames.append(atoms)
        return LabeledDatasetData.from_ase(frames, type_map=['Cu']).store()

    return make
