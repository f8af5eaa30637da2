"""Dump frames and task outcomes, on files written by LAMMPS (tests/parsers/fixtures/dpgen.lammps)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from aiida_dpgen.exploration.trajectory import COMPLETED, FAILED, LOST_ATOMS, read_dump_frames, task_outcome

from ..conftest import PARSER_FIXTURES

RUN = PARSER_FIXTURES / 'dpgen.lammps'


def test_selected_frames_match_ases_reading_of_the_same_dump():
    dump = RUN / 'lost_atoms.temporary' / 'task.000000' / 'traj.dump'
    frames = read_dump_frames(dump, [0, 70, 200, 999])
    assert sorted(frames) == [0, 70, 200], 'a step that was not dumped is simply absent'
    reference = read(dump, index=':', format='lammps-dump-text')
    for step, frame in frames.items():
        atoms = reference[step // 10]
        assert np.allclose(frame.cell, atoms.cell[:], atol=1e-8)
        assert np.allclose(frame.positions, atoms.positions, atol=1e-8)
        assert frame.types.tolist() == [0] * 32


def test_no_wanted_steps_reads_nothing(tmp_path):
    assert read_dump_frames(tmp_path / 'missing.dump', []) == {}


def test_truncated_last_frame_is_ignored(tmp_path):
    dump = (RUN / 'lost_atoms.temporary' / 'task.000000' / 'traj.dump').read_text().splitlines(keepends=True)
    truncated = tmp_path / 'traj.dump'
    truncated.write_text(''.join(dump[:-5]))
    assert sorted(read_dump_frames(truncated, [190, 200])) == [190]


def test_outcomes_from_real_logs():
    completed = (RUN / 'lost_atoms' / 'task.000000' / 'log.lammps').read_text()
    lost = (RUN / 'lost_atoms' / 'task.000001' / 'log.lammps').read_text()
    broken = (RUN / 'read_data_error' / 'task.000000' / 'log.lammps').read_text()
    assert task_outcome(completed) == (COMPLETED, '')
    status, message = task_outcome(lost)
    assert status == LOST_ATOMS and message.startswith('ERROR: Lost atoms: original 32 current')
    assert task_outcome(broken)[0] == FAILED and 'Did not assign all atoms' in task_outcome(broken)[1]
    assert task_outcome(completed.split('Loop time')[0])[0] == FAILED, 'a log cut short is a failure'


def test_rms_force_over_every_frame_and_the_dump_without_forces(tmp_path):
    from aiida_dpgen.exploration.trajectory import rms_force

    rng = np.random.default_rng(1)
    forces = rng.normal(size=(3, 2, 3))
    text = ''
    for step, frame in enumerate(forces):
        rows = '\n'.join(f'{atom + 1} 1 0 0 0 {fx} {fy} {fz}' for atom, (fx, fy, fz) in enumerate(frame))
        text += (
            f'ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 3\n0 3\n0 3\n'
            f'ITEM: ATOMS id type x y z fx fy fz\n{rows}\n'
        )
    dump = tmp_path / 'traj.dump'
    dump.write_text(text + 'ITEM: TIMESTEP\n30\nITEM: NUMBER OF ATOMS\n2\n')  # a frame cut off while written
    assert rms_force(dump) == pytest.approx(np.sqrt(np.mean(np.sum(forces**2, axis=-1))))
    with pytest.raises(ValueError, match=r'have no forces \(fx fy fz\)'):
        rms_force(RUN / 'lost_atoms.temporary' / 'task.000000' / 'traj.dump')
