"""The last step of an exploration job (`DpLammpsCalculation` with a ``python`` code): select on the computer.

Reads ``select_tasks.json`` (the tasks as ``[index, system, description]``, the systems, the selection), runs
aiida-dpgen's own selection (``aiida_dpgen.exploration.job.select_job``, imported from the zip next to this
script, numpy its only requirement) over the task folders the MD left, and writes ``selection.npz`` and
``selection.json``: every frame's deviations, each task's outcome and counts, the statistics per system and the
capped candidate frames. Only those, and the logs and trajectories of the tasks that did not complete (copied to
``failed_logs/``, for the user to see what went wrong), go back to the AiiDA machine; the other trajectories stay
here.
"""

import json
import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / 'aiida_dpgen_exploration.zip'))

from aiida_dpgen.exploration import job  # noqa: E402 (from the zip just put on the path)
from aiida_dpgen.exploration.selection import SelectionSettings  # noqa: E402


def read_log(folder):
    path = HERE / folder / 'log.lammps'
    return path.read_text(errors='replace') if path.exists() else ''


def main():
    specification = json.loads((HERE / 'select_tasks.json').read_text())
    systems = specification['systems']
    settings = SelectionSettings.from_dict(specification['selection'], systems)
    tasks = [(index, system, description) for index, system, description in specification['tasks']]
    selection = job.select_job(HERE, tasks, systems, settings, read_log)
    job.save(selection, HERE)
    logs = HERE / specification['failed_logs']
    for index, result in selection.results.items():
        if result['status'] == 'completed':
            continue
        folder = HERE / job.task_folder(int(index))
        for name, suffix in (('log.lammps', '.log'), (job.DUMP_FILE, '.dump')):
            if (folder / name).exists():
                logs.mkdir(exist_ok=True)
                shutil.copy(folder / name, logs / f'{job.task_folder(int(index))}{suffix}')


if __name__ == '__main__':
    main()
