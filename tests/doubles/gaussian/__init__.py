"""A TEST DOUBLE of Gaussian 16 (``g16``) for the real aiida-gaussian plugin.

Gaussian is licensed and cannot run in the tests. :func:`setup_gaussian_test_double` registers an ``InstalledCode``
(default plugin ``gaussian``) whose executable is a bash wrapper around ``gaussian_test_double.py``: it reads the
input aiida-gaussian writes (``aiida.inp`` on stdin), computes energy and forces with ASE's EMT potential, and writes
a Gaussian 16 format log (``aiida.out`` on stdout) that aiida-gaussian's parser and ``dpdata`` read. The log states
at its top that it comes from this test double. See the script's docstring for what it mimics (SCF failures
included).
"""

from __future__ import annotations

import pathlib
import shlex
import sys
import tempfile

SCRIPT = pathlib.Path(__file__).with_name('gaussian_test_double.py')

__all__ = ('SCRIPT', 'setup_gaussian_test_double')


def setup_gaussian_test_double(computer, label: str = 'g16-test-double', directory: str | pathlib.Path | None = None):
    """Store and return an ``InstalledCode`` on ``computer`` that runs the Gaussian test double as ``g16``.

    The wrapper script is written to ``directory`` (a fresh temporary folder by default) and execs the Python running
    this function, so the double finds ASE and dpdata. ``computer`` must see this machine's files (``localhost``).
    """
    from aiida.orm import InstalledCode

    folder = pathlib.Path(directory) if directory is not None else pathlib.Path(tempfile.mkdtemp(prefix='g16-double-'))
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / 'g16'
    wrapper.write_text(
        '#!/bin/bash\n'
        '# TEST DOUBLE of Gaussian 16 (aiida-dpgen tests): EMT energies and forces in a Gaussian-format log.\n'
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(SCRIPT))} "$@"\n'
    )
    wrapper.chmod(0o755)
    code = InstalledCode(
        computer=computer,
        filepath_executable=str(wrapper),
        default_calc_job_plugin='gaussian',
        label=label,
        description='TEST DOUBLE of Gaussian 16: ASE EMT energies and forces written as a Gaussian 16 log',
    )
    return code.store()
