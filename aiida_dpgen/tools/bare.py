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


def rattled_cu_cells(ntasks: int):
    """``ntasks`` rattled 32-atom fcc Cu cells as one stored ConfigurationsData: the benchmarks' MD starting points."""
    from ase.build import bulk

    from aiida_dpgen.data import ConfigurationsData

    frames = []
    for seed in range(ntasks):
        atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat(2)
        atoms.rattle(0.02, seed=seed)
        frames.append(atoms)
    return ConfigurationsData.from_ase(frames, type_map=['Cu']).store()


def write_md_tasks(root: pathlib.Path, stage: dict, configurations, model: pathlib.Path, in_place: bool) -> list[str]:
    """The LAMMPS task folders of ``stage`` over the frames of ``configurations`` (system ``cu``), with two copies
    of ``model`` in ``root``, as ExploreWorkChain writes them, for runners outside AiiDA; ``in_place``: input
    scripts for a run whose working directory is the task folder. Returns the folder names."""
    import numpy as np

    from aiida_dpgen.exploration.schedule import expand_tasks
    from aiida_dpgen.exploration.tasks import CONF_FILE, INPUT_FILE, md_input, model_filename, task_folder, write_conf

    frames = configurations.to_ase()
    for index in range(2):
        shutil.copy(model, root / model_filename(index))
    folders = []
    for index, task in enumerate(expand_tasks(stage, {'cu': len(frames)})):
        folder = root / task_folder(index)
        folder.mkdir()
        atoms = frames[task.configuration]
        write_conf(folder / CONF_FILE, atoms.cell[:], atoms.positions, np.zeros(len(atoms), dtype=int), 1)
        script = md_input(task.md, 2, [63.546], '.' if in_place else task_folder(index))
        (folder / INPUT_FILE).write_text(script)
        folders.append(task_folder(index))
    return folders
