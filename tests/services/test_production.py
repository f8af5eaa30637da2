"""The production set-up end to end: PostgreSQL + RabbitMQ profile, `verdi daemon` with 2 workers, every job
submitted over SSH to this host's Slurm. A loop survives its daemon being killed (SIGKILL, no clean stop);
a job the scheduler cancels is run again by its handler; bad computers, codes and queues are named before
any job and, when they slip through, the process pauses with the scheduler's message."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import textwrap

import pytest

from ..daemon_helpers import HOLD, QUIET, UNFINISHED_PROCESSES, daemon_log_tail
from .conftest import KEY, REPOSITORY

SUBMIT_LOOP = """
    import json, sys
    from aiida.engine import submit
    from aiida.orm import load_code
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
    from aiida_dpgen.workflows.dpgen import DpgenWorkChain

    frames = []
    for seed in range(8):
        atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))
        atoms.rattle(0.05, seed=seed)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    stage = {'systems': ['fcc'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    builder = DpgenWorkChain.get_builder_from_protocol(
        {'train': load_code('dp@localhost-slurm'), 'explore': load_code('lmp@localhost-slurm'),
         'label': load_code('python-ase@localhost-slurm')},
        datasets={'init': LabeledDatasetData.from_ase(frames, ['Cu']).store()},
        configurations={'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))],
                                                           ['Cu']).store()},
        schedule=[stage, {**stage, 'temps': [600.0]}],
        selection={'f_trust_lo': 0.02, 'f_trust_hi': 2.0, 'fp_task_max': 2, 'seed': 1},
        labeler={'engine': 'ase'},
        protocol='fast',
        resources={'train': {'walltime': '00:20:00'}, 'explore': {'walltime': '00:20:00'},
                   'label': {'walltime': 600, 'queue': 'debug'}},
    )
    builder.train.numb_models = 2
    builder.train.base.dp.metadata.options.prepend_text = sys.argv[1]  # HOLD
    print(json.dumps({'pk': submit(builder).pk}))
"""

LOOP_STATE = """
    import json, sys
    from aiida import orm
    node = orm.load_node(int(sys.argv[1]))
    jobs = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    iterations = node.outputs.iterations if 'iterations' in node.outputs else {}
    # QUIET
    print(json.dumps({
        'terminated': node.is_terminated,
        'ok': node.is_finished_ok,
        'busy': busy,
        'jobs_running': jobs_running,
        'steps': [child.base.links.get_incoming(node_class=orm.WorkflowNode).first().link_label
                  for child in node.called if isinstance(child, orm.WorkflowNode)],
        'iterations': sorted(iterations),
        'jobs': sorted(job.process_label for job in jobs),
        'job_ids': [job.get_job_id() for job in jobs],
        'computers': sorted({job.computer.label for job in jobs}),
        'schedulers': sorted({job.computer.scheduler_type + '+' + job.computer.transport_type for job in jobs}),
        'jobs_not_ok': [job.pk for job in jobs if job.is_terminated and not job.is_finished_ok],
        'job_details': sorted((job.caller.process_label, job.caller.pk,
                               job.base.links.get_incoming(node_class=orm.WorkflowNode).first().link_label,
                               job.process_label, job.pk, job.exit_status) for job in jobs),
        'submitted': sum(iterations[name].report['labeling']['submitted'] for name in iterations),
        'frames': sum(dataset.nframes for dataset in node.outputs.datasets.values())
                  if 'datasets' in node.outputs else None,
    }))
""".replace('# QUIET\n', textwrap.indent(QUIET, '    '))


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # a worker may go down with its circus parent
            os.kill(pid, signal.SIGKILL)


def test_a_loop_on_slurm_survives_its_daemon_being_killed(production_profile, request):
    profile = production_profile
    profile.verdi('daemon', 'start', '2')
    release = profile.root / 'release-training'
    request.addfinalizer(release.touch)  # a held job must not keep Slurm's cores from the next tests
    pk = profile.run(SUBMIT_LOOP, HOLD.format(release=release))['pk']

    def state():
        return profile.run(LOOP_STATE, str(pk))

    def training_under_way():  # kill the daemon while its jobs run in Slurm and every process waits for them
        current = state()
        assert not current['terminated'], current
        return current['jobs_running'] == ['DpTrainCalculation'] * 2 and not current['busy'] and current

    profile.wait(training_under_way, timeout=300, interval=3, what='the training jobs to run')
    killed = profile.daemon_processes()
    assert len(killed) >= 3, f'expected circus and 2 workers, found {killed}'
    _kill(killed)
    profile.wait(lambda: not profile.daemon_processes(), timeout=30, interval=1, what='the daemon to die')
    before = state()
    assert not before['terminated'], 'a killed daemon must not take the loop with it'

    profile.verdi('daemon', 'start', '2')
    release.touch()
    try:
        final = profile.wait(
            lambda: (current := state())['terminated'] and current, timeout=1500, interval=10, what='the loop'
        )
    except AssertionError as timeout:
        unfinished = profile.run(UNFINISHED_PROCESSES, str(pk))
        pytest.fail(f'{timeout}; {json.dumps(state())}\n{unfinished}\n{daemon_log_tail(profile.root)}')
    status = subprocess.run(
        ['aiida-dpgen', 'status', str(pk), '-p', profile.name],
        env=profile.environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    profile.verdi('daemon', 'stop')

    assert final['ok'], final
    assert final['iterations'] == ['iter_000', 'iter_001']
    assert final['computers'] == ['localhost-slurm']
    assert final['schedulers'] == ['core.slurm+core.ssh']
    steps = final['steps']
    assert all(steps.count(step) == 1 for step in steps), steps
    trainings = sum(step.endswith('_train') for step in steps)
    # a worker killed between launching a job and its checkpoint must not launch that job again
    assert final['jobs'].count('DpTrainCalculation') == 2 * trainings, final['job_details']
    assert final['jobs'].count('DpLammpsCalculation') == 2, final['job_details']
    assert final['jobs'].count('AseSinglePointCalculation') == final['submitted']
    assert final['jobs_not_ok'] == []
    # no job was submitted twice: one Slurm job per CalcJob, all different
    assert None not in final['job_ids'] and len(set(final['job_ids'])) == len(final['job_ids'])
    assert final['frames'] == 8 + final['submitted']
    assert f'DpgenWorkChain<{pk}>: finished; 2 iteration(s) completed' in status
    assert f'{len(final["jobs"])} finished' in status


LABEL_SLOWLY = """
    import json, sys
    from aiida.engine import submit
    from aiida.orm import load_code
    from ase.build import bulk
    from aiida_dpgen.data import ConfigurationsData
    from aiida_dpgen.workflows.label import LabelWorkChain

    options = {'prepend_text': 'sleep ' + sys.argv[1], 'max_wallclock_seconds': 600}
    if len(sys.argv) > 2:
        options['queue_name'] = sys.argv[2]
    node = submit(
        LabelWorkChain,
        candidates={'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu']).store()},
        labeler={'engine': 'ase', 'options': options},
        code=load_code('python-ase@localhost-slurm'),
    )
    print(json.dumps({'pk': node.pk}))
"""

LABEL_STATE = """
    import json, sys
    from aiida import orm
    node = orm.load_node(int(sys.argv[1]))
    jobs = sorted((child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)),
                  key=lambda job: job.pk)
    print(json.dumps({
        'terminated': node.is_terminated,
        'ok': node.is_finished_ok,
        'paused': [child.pk for child in node.called_descendants if child.paused],
        'labeled': node.outputs.summary['labeled'] if 'summary' in node.outputs else None,
        'jobs': [[job.get_job_id(), job.get_scheduler_state().value if job.get_scheduler_state() else None,
                  job.exit_status] for job in jobs],
    }))
"""


def test_a_job_the_scheduler_cancels_is_resubmitted_and_the_labels_complete(production_profile):
    profile = production_profile
    profile.verdi('daemon', 'start', '1')
    pk = profile.run(LABEL_SLOWLY, '20')['pk']

    def running_job():
        jobs = profile.run(LABEL_STATE, str(pk))['jobs']
        return jobs and jobs[0][1] == 'running' and jobs[0][0]

    job_id = profile.wait(running_job, timeout=300, interval=2, what='the job to run in Slurm')
    subprocess.run(['scancel', job_id], check=True)  # as a preemption or a node failure would
    final = profile.wait(
        lambda: (current := profile.run(LABEL_STATE, str(pk)))['terminated'] and current, timeout=600, what='labels'
    )
    profile.verdi('daemon', 'stop')
    assert final['ok'], final
    assert final['labeled'] == 1
    (cancelled, _, first_exit), (rerun, _, second_exit) = final['jobs']
    assert cancelled == job_id and rerun != job_id
    assert first_exit != 0 and second_exit == 0


def test_bad_computers_codes_and_queues_are_named_before_any_job(production_profile):
    profile = production_profile
    profile.verdi(
        'computer',
        'setup',
        '--non-interactive',
        '--label',
        'unreachable',
        '--hostname',
        'localhost',
        '--transport',
        'core.ssh',
        '--scheduler',
        'core.slurm',
        '--work-dir',
        '/tmp/unreachable',
    )
    profile.verdi(
        'computer',
        'configure',
        'core.ssh',
        'unreachable',
        '--non-interactive',
        '--username',
        'root',
        '--port',
        '2',
        '--key-filename',
        str(KEY),
        '--safe-interval',
        '0',
    )
    profile.verdi(
        'code',
        'create',
        'core.code.installed',
        '--non-interactive',
        '--label',
        'dp',
        '--computer',
        'unreachable',
        '--filepath-executable',
        '/usr/bin/true',
        '--default-calc-job-plugin',
        'dpgen.train',
    )
    profile.verdi(
        'code',
        'create',
        'core.code.installed',
        '--non-interactive',
        '--label',
        'dp-missing',
        '--computer',
        'localhost-slurm',
        '--filepath-executable',
        '/opt/deepmd-kit/bin/dp',
        '--default-calc-job-plugin',
        'dpgen.train',
    )

    def check(*codes, queue=None):
        command = ['aiida-dpgen', 'check-codes', *codes, '-p', profile.name] + (['--queue', queue] if queue else [])
        return subprocess.run(command, env=profile.environment, capture_output=True, text=True, check=False)

    good = check('dp@localhost-slurm', 'lmp@localhost-slurm', queue='debug')
    assert good.returncode == 0, good.stderr
    bad = check('dp@unreachable', 'dp-missing@localhost-slurm', 'lmp@localhost-slurm', queue='gpu')
    assert bad.returncode == 1
    assert 'cannot reach computer unreachable (localhost) over core.ssh' in bad.stderr
    assert '/opt/deepmd-kit/bin/dp does not exist on localhost-slurm (localhost)' in bad.stderr
    assert "'gpu' is not a queue of localhost-slurm's scheduler (core.slurm); it has: debug" in bad.stderr


def test_a_queue_the_scheduler_rejects_pauses_the_job_with_its_message(production_profile):
    profile = production_profile
    profile.verdi('config', 'set', 'transport.task_retry_initial_interval', '1')
    profile.verdi('config', 'set', 'transport.task_maximum_attempts', '2')
    profile.verdi('daemon', 'start', '1')
    try:
        pk = profile.run(LABEL_SLOWLY, '0', 'gpu')['pk']
        paused = profile.wait(
            lambda: profile.run(LABEL_STATE, str(pk))['paused'], timeout=180, interval=3, what='the pause'
        )
        report = profile.verdi('process', 'report', str(paused[0]))
        assert 'submit_calculation failed 2 times consecutively' in profile.verdi('process', 'list', '-a')
        assert 'sbatch: error: invalid partition specified: gpu' in report, report
        # the fix for a bad resource request: kill it and run again with a valid one (restart_from for a loop)
        profile.verdi('process', 'kill', '--timeout', '60', '-F', str(pk))
    finally:
        profile.verdi('daemon', 'stop')
        profile.verdi('config', 'unset', 'transport.task_retry_initial_interval')
        profile.verdi('config', 'unset', 'transport.task_maximum_attempts')


LABEL_NOW = """
    import json
    from aiida.engine import run_get_node
    from aiida.orm import load_code
    from ase.build import bulk
    from aiida_dpgen.data import ConfigurationsData
    from aiida_dpgen.workflows.label import LabelWorkChain

    results, node = run_get_node(
        LabelWorkChain,
        candidates={'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu']).store()},
        labeler={'engine': 'ase'},
        code=load_code('python-ase@localhost-slurm-async'),
    )
    job = next(child for child in node.called_descendants if child.process_label == 'AseSinglePointCalculation')
    print(json.dumps({'ok': node.is_finished_ok, 'labeled': results['summary']['labeled'], 'job_id': job.get_job_id(),
                      'transport': job.computer.transport_type}))
"""


def test_the_same_slurm_over_core_ssh_async_labels_a_frame(production_profile):
    """aiida-core 2.9 recommends core.ssh_async over core.ssh; the templates set it up from ~/.ssh/config."""
    profile = production_profile
    examples = REPOSITORY / 'examples' / 'cluster'
    if 'localhost-slurm-async' not in profile.verdi('computer', 'list', '-a'):
        profile.verdi(
            'computer', 'setup', '--non-interactive', '--config', str(examples / 'localhost-slurm-async.yaml')
        )
        profile.verdi(
            'computer',
            'configure',
            'core.ssh_async',
            'localhost-slurm-async',
            '--non-interactive',
            '--config',
            str(examples / 'localhost-slurm-async-ssh.yaml'),
        )
    profile.verdi('computer', 'test', 'localhost-slurm-async')
    subprocess.run(
        ['aiida-dpgen', 'setup-codes', 'localhost-slurm-async', '-p', profile.name],
        env=profile.environment,
        capture_output=True,
        check=True,
    )
    result = profile.run(LABEL_NOW)
    assert result['ok'] and result['labeled'] == 1, result
    assert result['transport'] == 'core.ssh_async' and result['job_id'], result
