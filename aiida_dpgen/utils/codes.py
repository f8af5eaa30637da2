"""Find or create the AiiDA codes of the engines on a computer, for examples and benchmarks."""

from __future__ import annotations

import shutil

from aiida.orm import InstalledCode, QueryBuilder, load_computer


def get_or_create_code(label: str, executable: str, computer: str = 'localhost', plugin: str | None = None):
    """The ``InstalledCode`` ``label@computer``, created for ``executable`` (looked up on PATH) if missing."""
    computer_node = load_computer(computer)
    query = QueryBuilder().append(InstalledCode, filters={'label': label, 'dbcomputer_id': computer_node.pk})
    existing = query.first(flat=True)
    if existing is not None:
        return existing
    path = shutil.which(executable)
    if path is None:
        raise ValueError(f'executable {executable!r} is not on PATH; run scripts/install.sh and activate .venv')
    code = InstalledCode(label=label, computer=computer_node, filepath_executable=path, default_calc_job_plugin=plugin)
    return code.store()
