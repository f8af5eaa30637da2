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
