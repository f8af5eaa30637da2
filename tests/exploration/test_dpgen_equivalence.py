"""Counts equal DP-GEN 0.14's own `_select_by_model_devi_standard` on the same files.

DP-GEN runs from its own venv (`.venv-dpgen`, made by scripts/install.sh) in a subprocess, so its
dependencies stay out of the package's environment. Marked `engines`: it needs that reference install.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from aiida_dpgen.exploration.deviation import write_model_devi
from aiida_dpgen.exploration.selection import TrustLevels, select_files

pytestmark = pytest.mark.engines

REPOSITORY = pathlib.Path(__file__).parents[2]
REFERENCE_PYTHON = pathlib.Path(
    os.environ.get('AIIDA_DPGEN_REFERENCE_PYTHON', REPOSITORY / '.venv-dpgen' / 'bin' / 'python')
)
LAMMPS_FILE = REPOSITORY / 'tests' / 'fixtures' / 'model_devi' / 'lammps_32_cu.out'

DPGEN_COUNTS = """
import json, sys
from dpgen.generator.run import _select_by_model_devi_standard
arguments = json.loads(sys.argv[1])
_, _, _, counter = _select_by_model_devi_standard(
    arguments['tasks'], arguments['f_lo'], arguments['f_hi'], arguments['v_lo'], arguments['v_hi'],
    None, 'lammps', arguments['skip'], model_devi_f_avg_relative=arguments['relative'],
)
print(json.dumps({key: counter[key] for key in ('accurate', 'candidate', 'failed')}))
"""


def dpgen_counts(tasks, f_lo, f_hi, *, v_lo=1e10, v_hi=1e10, skip=0, relative=False):
    if not REFERENCE_PYTHON.exists():
        pytest.fail(f'{REFERENCE_PYTHON} is missing: run scripts/install.sh (it installs dpgen 0.14.0 there)')
    arguments = {'tasks': [str(t) for t in tasks], 'f_lo': f_lo, 'f_hi': f_hi, 'v_lo': v_lo, 'v_hi': v_hi, 'skip': skip}
    arguments['relative'] = relative
    completed = subprocess.run(
        [str(REFERENCE_PYTHON), '-c', DPGEN_COUNTS, json.dumps(arguments)], capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def our_counts(tasks, trust, skip=0):
    selection = select_files(
        ((index, task / 'model_devi.out') for index, task in enumerate(tasks)), trust, cap=10**9, skip=skip
    )
    statistics = selection.statistics()
    return {key: statistics[key] for key in ('accurate', 'candidate', 'failed')}


@pytest.fixture
def tasks(tmp_path):
    """Five synthetic tasks around the paper's trust levels, values on the thresholds, repeated steps,
    plus the model_devi.out of a real LAMMPS run."""
    rng = np.random.default_rng(11)
    folders = []
    for index in range(5):
        steps = np.arange(400) * 10
        deviations = 10 ** rng.uniform(-2.5, 0, (400, 6))
        deviations[::37, 3] = 0.05
        deviations[::41, 3] = 0.2
        deviations[::43, 0] = 0.3
        table = np.column_stack([steps, deviations])
        table = np.concatenate([table, table[50:53]])  # a step evaluated again, as some fixes do
        folder = tmp_path / f'task.000.{index:06d}'
        folder.mkdir()
        write_model_devi(folder / 'model_devi.out', table)
        folders.append(folder)
    real = tmp_path / 'task.000.000005'
    real.mkdir()
    (real / 'model_devi.out').write_bytes(LAMMPS_FILE.read_bytes())
    return [*folders, real]


def test_force_trust_levels_of_the_paper(tasks):
    assert our_counts(tasks, TrustLevels(0.05, 0.20)) == dpgen_counts(tasks, 0.05, 0.20)


def test_with_virial_trust_levels_and_skipped_leading_steps(tasks):
    trust = TrustLevels(0.05, 0.20, v_lo=0.1, v_hi=0.4)
    assert our_counts(tasks, trust, skip=500) == dpgen_counts(tasks, 0.05, 0.20, v_lo=0.1, v_hi=0.4, skip=500)


def test_low_trust_levels_where_most_frames_fail(tasks):
    assert our_counts(tasks, TrustLevels(0.005, 0.01)) == dpgen_counts(tasks, 0.005, 0.01)


def write_dumps(folder, steps, natoms, rng):
    """The forces of every frame twice: one file per frame as DP-GEN's template dumps them (traj/STEP.lammpstrj),
    and all frames in one dump as aiida-dpgen's tasks write it."""
    (folder / 'traj').mkdir()
    frames = []
    for step in steps:
        rows = np.column_stack(
            [
                np.arange(1, natoms + 1),
                np.ones(natoms),
                rng.random((natoms, 3)) * 5,
                rng.normal(scale=0.7, size=(natoms, 3)),
            ]
        )
        text = (
            f'ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{natoms}\nITEM: BOX BOUNDS pp pp pp\n'
            '0 5\n0 5\n0 5\nITEM: ATOMS id type x y z fx fy fz\n'
            + '\n'.join(' '.join(f'{value:.8g}' for value in row) for row in rows)
            + '\n'
        )
        (folder / 'traj' / f'{step}.lammpstrj').write_text(text)
        frames.append(text)
    (folder / 'traj.dump').write_text(''.join(frames))


def test_relative_force_deviations(tmp_path):
    """DP-GEN's model_devi_f_avg_relative: deviations over the RMS force of the trajectory, as our parser does."""
    from aiida_dpgen.exploration.deviation import SELECTION_COLUMNS, read_model_devi
    from aiida_dpgen.exploration.selection import SystemSelection
    from aiida_dpgen.exploration.trajectory import rms_force

    rng = np.random.default_rng(5)
    tasks = []
    for index in range(3):
        steps = np.arange(30) * 10
        folder = tmp_path / f'task.000.{index:06d}'
        folder.mkdir()
        write_model_devi(folder / 'model_devi.out', np.column_stack([steps, 10 ** rng.uniform(-2.5, 0, (30, 6))]))
        write_dumps(folder, steps, 4, rng)
        tasks.append(folder)
    trust = TrustLevels(0.05, 0.2)
    selection = SystemSelection(cap=10**9)
    for index, folder in enumerate(tasks):
        table = read_model_devi(folder / 'model_devi.out', SELECTION_COLUMNS)
        selection.add(index, table / np.array([1.0, 1.0, rms_force(folder / 'traj.dump')]), trust)
    ours = {key: selection.statistics()[key] for key in ('accurate', 'candidate', 'failed')}
    absolute = dpgen_counts(tasks, 0.05, 0.2)  # first: DP-GEN's relative run leaves a model_devi_avgf.out behind
    assert ours == dpgen_counts(tasks, 0.05, 0.2, relative=True)
    assert ours != absolute, 'the relative deviations select other frames'
