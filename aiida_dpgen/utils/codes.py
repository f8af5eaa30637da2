"""Find or create the AiiDA codes of the engines on a computer, for examples and benchmarks."""

from __future__ import annotations

import os
import pathlib
import shutil

from aiida.orm import InstalledCode, QueryBuilder, load_computer


def get_or_create_code(
    label: str, executable: str, computer: str = 'localhost', plugin: str | None = None, prepend_text: str = ''
):
    """The ``InstalledCode`` ``label@computer``, created for ``executable`` (looked up on PATH) if missing."""
    computer_node = load_computer(computer)
    query = QueryBuilder().append(InstalledCode, filters={'label': label, 'dbcomputer_id': computer_node.pk})
    existing = query.first(flat=True)
    if existing is not None:
        return existing
    path = shutil.which(executable)
    if path is None:
        raise ValueError(f'executable {executable!r} is not on PATH; run scripts/install.sh and activate .venv')
    code = InstalledCode(
        label=label,
        computer=computer_node,
        filepath_executable=path,
        default_calc_job_plugin=plugin,
        prepend_text=prepend_text,
    )
    return code.store()


def get_or_create_mpi_code(label: str, executable: str, computer: str = 'localhost', plugin: str | None = None):
    """Like :func:`get_or_create_code` for Debian's Open MPI programs (pw.x, cp2k): on a local computer,
    ``mpirun`` becomes Open MPI's own launcher (the venv's mpich ``mpirun`` would start independent serial
    copies) without core binding, and as root the code exports what Open MPI asks for before it runs as root."""
    from aiida_dpgen.utils.engines import OPENMPI_RUN, ROOT_MPI_ENV

    computer_node = load_computer(computer)
    if computer_node.transport_type == 'core.local' and pathlib.Path(OPENMPI_RUN).exists():
        # --bind-to none: Open MPI binds rank 0 of every separate mpirun to core 0, so jobs running side by side
        # (one single point per candidate) would all share one core
        computer_node.set_mpirun_command([OPENMPI_RUN, '--bind-to', 'none', '-np', '{tot_num_mpiprocs}'])
    prepend_text = ''
    if os.geteuid() == 0:
        prepend_text = '\n'.join(f'export {name}={value}' for name, value in ROOT_MPI_ENV.items())
    return get_or_create_code(label, executable, computer=computer, plugin=plugin, prepend_text=prepend_text)


ENGINE_CODES = (
    ('dp', 'dp', 'dpgen.train', False),
    ('lmp', 'lmp', 'dpgen.lammps', False),
    ('pw', 'pw.x', 'quantumespresso.pw', True),
    ('cp2k', 'cp2k', 'cp2k', True),
)
"""label, executable, plugin, whether it is Debian's Open MPI program."""


def setup_engine_codes(computer: str) -> list:
    """The engines' codes on ``computer`` (``python-ase`` runs this interpreter); existing ones are kept. For a
    computer that reaches this machine (localhost over SSH, a local scheduler), the executables found here."""
    import sys

    codes = [
        (get_or_create_mpi_code if mpi else get_or_create_code)(label, executable, computer=computer, plugin=plugin)
        for label, executable, plugin, mpi in ENGINE_CODES
    ]
    codes.append(get_or_create_code('python-ase', sys.executable, computer=computer, plugin='dpgen.ase'))
    return codes
