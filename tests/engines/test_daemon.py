"""The loop submitted to the daemon of an embedded profile (SQLite + ZeroMQ broker, no services) survives the
daemon being stopped mid-run: restarted, it resumes from its checkpoint and no job runs twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from ..daemon_helpers import HOLD, QUIET, UNFINISHED_PROCESSES, daemon_log_tail
from .conftest import require

SUBMIT = textwrap.dedent(
    """
    import json, sys
    from aiida import orm
    from aiida.engine import submit
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
    from aiida_dpgen.workflows.dpgen import DpgenWorkChain

    computer = orm.load_computer('localhost')
    def code(label, executable, plugin):
        return orm.InstalledCode(label=label, computer=computer, filepath_executable=executable,
                                 default_calc_job_plugin=plugin).store()
    frames = []
    for seed in range(8):
        atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))
        atoms.rattle(0.05, seed=seed)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    stage = {'systems': ['fcc'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    builder = DpgenWorkChain.get_builder_from_protocol(
        {'train': code('dp', sys.argv[1], 'dpgen.train'), 'explore': code('lmp', sys.argv[2], 'dpgen.lammps'),
         'label': code('python', sys.argv[3], 'dpgen.ase')},
        datasets={'init': LabeledDatasetData.from_ase(frames, ['Cu']).store()},
        configurations={'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))],
                                                           ['Cu']).store()},
        schedule=[stage, {**stage, 'temps': [600.0]}],
        selection={'f_trust_lo': 0.02, 'f_trust_hi': 2.0, 'fp_task_max': 2, 'seed': 1},
        labeler={'engine': 'ase'},
        protocol='fast',
    )
    builder.train.numb_models = 2
    builder.explore.lammps.lammps.metadata.options.prepend_text = sys.argv[4]  # HOLD
    print(json.dumps({'pk': submit(builder).pk}))
    """
)

STATE = textwrap.dedent(
    """
    import json, sys
    from aiida import orm
    node = orm.load_node(int(sys.argv[1]))
    jobs = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    # QUIET
    print(json.dumps({
        'terminated': node.is_terminated,
        'ok': node.is_finished_ok,
        'steps': [child.base.links.get_incoming(node_class=orm.WorkflowNode).first().link_label for child in node.called
                  if isinstance(child, orm.WorkflowNode)],
        'iterations': sorted(node.outputs.iterations) if 'iterations' in node.outputs else [],
        'jobs': sorted(job.process_label for job in jobs),
        'jobs_not_ok': [job.pk for job in jobs if job.is_terminated and not job.is_finished_ok],
        'busy': busy,
        'jobs_running': jobs_running,
        'submitted': sum(node.outputs.iterations[name].report['labeling']['submitted']
                         for name in (node.outputs.iterations if 'iterations' in node.outputs else {})),
    }))
    """
).replace('# QUIET\n', QUIET)


def test_stopping_the_daemon_mid_loop_and_starting_it_again_resumes_the_loop(tmp_path):
    environment = {**os.environ, 'AIIDA_PATH': str(tmp_path / 'embedded')}

    def verdi(*arguments, timeout=300):
        done = subprocess.run(
            ['verdi', *arguments], env=environment, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def script(name, text, *arguments):
        path = tmp_path / name
        path.write_text(text)
        return json.loads(verdi('run', str(path), *arguments).strip().splitlines()[-1])

    def state(pk):
        return script('state.py', STATE, str(pk))

    verdi('presto', '--use-zeromq', '--profile-name', 'embedded')
    assert 'core.zeromq' in verdi('profile', 'show', 'embedded'), 'the embedded profile needs no broker service'
    verdi('config', 'set', 'daemon.timeout', '30')  # as scripts/run-example.sh: 2 s is too short on a busy machine
    verdi('daemon', 'start', '1')
    release = tmp_path / 'release'
    try:
        hold = HOLD.format(release=release)
        pk = script('submit.py', SUBMIT, require('dp'), require('lmp'), sys.executable, hold)['pk']
        deadline = time.monotonic() + 600
        # stop with the MD job running and every process waiting for it
        while 'DpLammpsCalculation' not in (current := state(pk))['jobs_running'] or current['busy']:
            assert not current['terminated'] and time.monotonic() < deadline, current
            time.sleep(3)
        verdi('daemon', 'stop')
        stopped = state(pk)
        assert not stopped['terminated'], 'the loop must outlive its daemon'
        time.sleep(5)
        assert state(pk)['steps'] == stopped['steps'], 'nothing runs while the daemon is stopped'
        verdi('daemon', 'start', '1')
        release.touch()
        deadline = time.monotonic() + 900
        while not (final := state(pk))['terminated']:
            if time.monotonic() > deadline:
                unfinished = script('unfinished.py', UNFINISHED_PROCESSES, str(pk))
                pytest.fail(
                    f'the loop did not finish in 900 s after the restart; {json.dumps(final)}\n'
                    f'{unfinished}\n{daemon_log_tail(tmp_path / "embedded")}'
                )
            time.sleep(10)
    finally:
        release.touch()
        subprocess.run(['verdi', 'daemon', 'stop'], env=environment, capture_output=True, check=False)

    assert final['ok'], final
    assert final['iterations'] == ['iter_000', 'iter_001']
    # every step ran once and every job once: 2 models per training, one MD job per exploration, one label each
    steps = final['steps']
    assert all(steps.count(step) == 1 for step in steps), steps
    assert {'iter_000_train', 'iter_000_explore', 'iter_001_explore'} <= set(steps)
    trainings = sum(step.endswith('_train') for step in steps)
    assert final['jobs'].count('DpTrainCalculation') == 2 * trainings
    assert final['jobs'].count('DpLammpsCalculation') == 2
    assert final['jobs'].count('AseSinglePointCalculation') == final['submitted']
    assert final['jobs_not_ok'] == []
