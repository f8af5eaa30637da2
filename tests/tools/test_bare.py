"""Jobs rerun outside AiiDA in copies of their folders."""

from __future__ import annotations

import subprocess

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
