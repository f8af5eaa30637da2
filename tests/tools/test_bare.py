"""Jobs rerun outside AiiDA in copies of their folders."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from aiida_dpgen.tools.bare import rerun_bare


def job_folder(path, script):
    path.mkdir()
    (path / '_aiidasubmit.sh').write_text(script)
    return path


# Each job announces itself next to its copy, then waits (at most 10 s) until all three have: run one after
# another, the first would give up and fail.
BARRIER = """touch ../started_$(basename $PWD)
for attempt in $(seq 100); do [ $(ls ../started_* | wc -l) -eq 3 ] && echo done > out.txt && exit 0; sleep 0.1; done
exit 1
"""


def test_jobs_run_side_by_side_in_copies_and_leave_the_originals_alone(tmp_path):
    folders = [job_folder(tmp_path / f'job{index}', BARRIER) for index in range(3)]
    assert rerun_bare(folders) > 0
    assert not any((folder / 'out.txt').exists() for folder in folders)
    assert not list(tmp_path.glob('started_*')), 'the copies live in their own scratch folder'


def test_a_failing_job_is_named(tmp_path):
    with pytest.raises(RuntimeError, match='job_1'):
        rerun_bare([job_folder(tmp_path / 'ok', 'true\n'), job_folder(tmp_path / 'bad', 'exit 3\n')])


def test_md_task_folders_for_runners_outside_aiida(aiida_profile, tmp_path):
    from aiida_dpgen.tools.bare import rattled_cu_cells, write_md_tasks

    model = tmp_path / 'model.pb'
    model.write_bytes(b'graph')
    stage = {'systems': ['cu'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': 20, 'trj_freq': 10}
    cells = rattled_cu_cells(3)
    for in_place, working_directory in ((True, '.'), (False, 'task.000001')):
        root = tmp_path / f'in_place_{in_place}'
        root.mkdir()
        folders = write_md_tasks(root, stage, cells, model, in_place=in_place)
        assert folders == ['task.000000', 'task.000001', 'task.000002']
        assert sorted(path.name for path in root.glob('*.pb')) == ['graph.000.pb', 'graph.001.pb']
        assert all((root / folder / 'conf.lmp').exists() for folder in folders)
        script = (root / folders[1] / 'in.lammps').read_text()
        assert script.splitlines()[0] == f'shell cd {working_directory}'


def test_task_clock_splits_a_run_into_latency_and_the_tasks_span(tmp_path):
    import subprocess
    import time

    from aiida_dpgen.tools.bare import TaskClock

    clock = TaskClock('/bin/sleep', tmp_path / 'clock')
    clock.reset()
    start = time.time()
    time.sleep(0.2)
    subprocess.run([clock.executable, '0.3'], check=True)
    subprocess.run([clock.executable, '0.1'], check=True)
    time.sleep(0.2)
    timing = clock.timing(start, time.time(), ntasks=2)
    assert timing['before'] >= 0.2
    assert timing['after'] >= 0.2
    assert 0.4 <= timing['span'] < timing['wall']
    assert timing['before'] + timing['span'] + timing['after'] == pytest.approx(timing['wall'])
    with pytest.raises(RuntimeError, match='2 of 3 tasks'):
        clock.timing(start, time.time(), ntasks=3)


def test_task_clock_keeps_the_program_exit_status(tmp_path):
    import subprocess

    from aiida_dpgen.tools.bare import TaskClock

    clock = TaskClock('/bin/false', tmp_path)
    clock.reset()
    assert subprocess.run([clock.executable], check=False).returncode == 1
    assert len(clock.log.read_text().splitlines()) == 1


def test_latency_and_one_line_description_of_a_timing():
    from aiida_dpgen.tools.bare import describe_timing, latency

    timing = {'wall': 10.0, 'before': 1.5, 'span': 8.0, 'after': 0.5}
    assert latency(timing) == 2.0
    assert describe_timing(timing, digits=1) == 'wall 10.0 s, before 1.5 s, span 8.0 s, after 0.5 s'
    described = describe_timing({**timing, 'engine_cpu': 3.25}, cpu_label='engine CPU')
    assert described.endswith('after 0.50 s (engine CPU 3.2 s)')


FAKE_LMP = """#!/bin/bash
# writes what DPMD would, into the working directory, and records how often it ran
echo ran >> {runs}
printf 'deviations of $PWD\\n' > model_devi.out
printf 'frames\\n' > traj.dump
printf 'Total wall time: 0:00:01\\n' > log.lammps
"""


def test_replaying_lmp_runs_lmp_once_then_copies_its_outputs_where_each_task_writes(aiida_profile, tmp_path):
    from aiida_dpgen.tools.bare import rattled_cu_cells, replaying_lmp

    runs = tmp_path / 'runs'
    lmp = tmp_path / 'lmp'
    lmp.write_text(FAKE_LMP.format(runs=runs))
    lmp.chmod(0o755)
    model = tmp_path / 'graph.pb'
    model.write_text('not read by the fake lmp')
    stage = {'systems': ['cu'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': 20, 'trj_freq': 10}

    program = replaying_lmp(str(lmp), stage, rattled_cu_cells(2), model, tmp_path / 'clock')

    job = tmp_path / 'job'
    (job / 'task.000001').mkdir(parents=True)
    arguments = ['-in', 'task.000001/in.lammps', '-log', 'task.000001/log.lammps', '-screen', 'none']
    subprocess.run([str(program), *arguments], cwd=job, check=True)  # as DpLammpsCalculation's job runs it
    subprocess.run([str(program), '-in', 'in.lammps', '-log', 'log.lammps'], cwd=tmp_path, check=True)  # in place

    assert runs.read_text() == 'ran\n', 'lmp ran for the recording only'
    for folder in (job / 'task.000001', tmp_path):
        assert (folder / 'model_devi.out').read_text().startswith('deviations of ')
        assert (folder / 'traj.dump').read_text() == 'frames\n'
        assert (folder / 'log.lammps').read_text() == 'Total wall time: 0:00:01\n'


def write_recording(root, key, variant, steps=(0, 10)):
    from aiida_dpgen.exploration.tasks import DUMP_FILE, LOG_FILE, MODEL_DEVI_FILE

    folder = root / key / str(variant)
    folder.mkdir(parents=True)
    (folder / MODEL_DEVI_FILE).write_text(
        '#       step         max_devi_v         min_devi_v         avg_devi_v         max_devi_f         min_devi_f'
        '         avg_devi_f\n' + ''.join(f'{step} 0 0 0 {0.1 * (variant + 1)} 0 0\n' for step in steps)
    )
    frames = []
    for step in steps:
        frames.append(
            f'ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 4.0\n0 4.0\n0 4.0\n'
            'ITEM: ATOMS id type x y z\n1 1 0.0 0.0 0.0\n2 1 2.0 2.0 2.0\n'
        )
    (folder / DUMP_FILE).write_text(''.join(frames))
    (folder / LOG_FILE).write_text(f'recorded variant {variant}\nTotal wall time: 0:00:01\n')


def replay_task(program, job, task, *, natoms=2, ensemble='nvt', nsteps=10):
    folder = job / task
    folder.mkdir(parents=True)
    (folder / 'conf.lmp').write_text(f'# conf\n\n{natoms} atoms\n1 atom types\n')
    (folder / 'in.lammps').write_text(f'shell cd {task}\nfix dpgen_md all {ensemble} temp 1 1 0.1\nrun {nsteps}\n')
    return subprocess.run(
        [str(program), '-in', f'{task}/in.lammps', '-log', f'{task}/log.lammps', '-screen', 'none'],
        cwd=job,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_library_replay_gives_every_task_a_recording_of_its_kind_strained_its_own_way(tmp_path):
    from aiida_dpgen.exploration.trajectory import read_dump_frames
    from aiida_dpgen.tools.bare import library_replaying_lmp, recording_key

    recordings = tmp_path / 'recordings'
    for variant in range(2):
        write_recording(recordings, recording_key(2, 'nvt', 10), variant)
    program = library_replaying_lmp(recordings, 2, tmp_path / 'bin')
    cells, variants = set(), set()
    for job in ('job_a', 'job_b'):
        for task in ('task.000000', 'task.000001', 'task.000002'):
            done = replay_task(program, tmp_path / job, task)
            assert done.returncode == 0, done.stderr
            folder = tmp_path / job / task
            frames = read_dump_frames(folder / 'traj.dump', [0, 10])
            scale = frames[0].cell[0][0] / 4.0
            assert 0.99 <= scale <= 1.01
            np.testing.assert_allclose(frames[10].positions[1], [2 * scale] * 3, rtol=1e-7)
            cells.add(round(scale, 8))
            variants.add((folder / 'log.lammps').read_text().split()[2])
            assert (folder / 'model_devi.out').read_text().startswith('#       step')
    assert len(cells) == 6, 'every task of every job strained differently: no two replayed frames alike'
    assert variants == {'0', '1'}


def test_a_task_without_a_recording_of_its_kind_fails_and_says_which(tmp_path):
    from aiida_dpgen.tools.bare import library_replaying_lmp, recording_key

    write_recording(tmp_path / 'recordings', recording_key(2, 'nvt', 10), 0)
    program = library_replaying_lmp(tmp_path / 'recordings', 1, tmp_path / 'bin')
    done = replay_task(program, tmp_path / 'job', 'task.000000', nsteps=30)
    assert done.returncode == 3
    assert 'no recording' in done.stderr and '2_nvt_30' in done.stderr
    with pytest.raises(ValueError, match='does not exist; record them first'):
        library_replaying_lmp(tmp_path / 'missing', 1, tmp_path / 'bin')


def test_the_engine_clock_logs_each_run_with_its_cpu_seconds(tmp_path):
    import sys

    from aiida_dpgen.tools.bare import EngineClock

    clock = EngineClock(sys.executable, tmp_path, name='python')
    for code in ('sum(range(3_000_000))', 'raise SystemExit(4)'):
        done = subprocess.run([str(clock.executable), '-c', code], check=False)
    assert done.returncode == 4, 'the program exit status is passed on'
    runs = clock.runs()
    assert len(runs) == 2
    (start, end, cpu), _ = runs
    assert end > start and 0 < cpu <= (end - start) * 2 + 0.05


def test_reading_a_clock_leaves_its_wrapper_as_it_is(tmp_path):
    """Reading the clocks of a run that is going must not write its engine wrappers again."""
    import sys

    from aiida_dpgen.tools.bare import EngineClock

    clock = EngineClock(sys.executable, tmp_path, name='python')
    subprocess.run([str(clock.executable), '-c', 'pass'], check=True)
    wrapper = clock.executable.read_text()
    read = EngineClock.reading(tmp_path, 'python')
    assert read.runs() == clock.runs() and len(read.runs()) == 1
    assert clock.executable.read_text() == wrapper
    with pytest.raises(ValueError, match=r'lmp.clock: no such clock'):
        EngineClock.reading(tmp_path, 'lmp')
