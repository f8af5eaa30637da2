"""Run finished jobs again outside AiiDA, to measure what the engine adds around them."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence


def rerun_bare(folders: Sequence[pathlib.Path]) -> float:
    """Wall time of the jobs' own ``_aiidasubmit.sh`` run in copies of their working folders, all started at
    once as the engine started them; a job that fails raises ``RuntimeError`` naming its copy."""
    with tempfile.TemporaryDirectory() as scratch:
        copies = []
        for index, folder in enumerate(folders):
            copy = pathlib.Path(scratch) / f'job_{index}'
            shutil.copytree(folder, copy, symlinks=True)
            copies.append(copy)
        start = time.perf_counter()
        processes = [
            subprocess.Popen(['bash', '_aiidasubmit.sh'], cwd=copy, stdout=subprocess.DEVNULL) for copy in copies
        ]
        failed = [str(copy) for copy, process in zip(copies, processes, strict=True) if process.wait() != 0]
        if failed:
            raise RuntimeError(f'a bare rerun failed in {failed}')
        return time.perf_counter() - start
