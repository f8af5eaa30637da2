"""The whole loop with real DeePMD-kit training, real LAMMPS exploration and EMT labels (ASE), on tiny Cu cells."""

from __future__ import annotations

import sys

import pytest
from aiida import orm
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData
from aiida_dpgen.workflows.dpgen import DpgenWorkChain
from aiida_dpgen.workflows.runner import run_get_node
from aiida_dpgen.workflows.train import TrainWorkChain

from ..documented import documented_commands
from .conftest import require

STAGE = {'systems': ['fcc'], 'temps': [300.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
# Trust levels the tiny models' deviations straddle, so that each iteration has candidates to label.
SELECTION = {'f_trust_lo': 0.02, 'f_trust_hi': 2.0, 'fp_task_max': 3, 'seed': 1}


@pytest.fixture
def codes(aiida_localhost):
    def code(label, executable, plugin):
        return orm.InstalledCode(
            label=label, computer=aiida_localhost, filepath_executable=executable, default_calc_job_plugin=plugin
        ).store()

    return {
        'train': code('dp', require('dp'), 'dpgen.train'),
        'explore': code('lmp', require('lmp'), 'dpgen.lammps'),
        'label': code('python', sys.executable, 'dpgen.ase'),
    }


def loop_builder(codes, dataset, schedule, convergence=None):
    configurations = {
        'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))], ['Cu']).store()
    }
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': dataset},
        configurations=configurations,
        schedule=schedule,
        selection=SELECTION,
        labeler={'engine': 'ase'},
        protocol='fast',
        overrides={'convergence': convergence or {}},
    )
    builder.train.numb_models = 2
    return builder


@pytest.fixture(scope='module')
def finished_loops() -> dict:
    """Loops run once in this module and examined by several tests: each costs a minute of training."""
    return {}


@pytest.fixture
def one_iteration_loop(codes, emt_cu_dataset, finished_loops):
    """A loop over three stages that its convergence criterion stops after the first iteration: (initial data,
    results, node)."""
    if 'one_iteration' not in finished_loops:
        initial = emt_cu_dataset(nframes=10)
        stages = [STAGE, {**STAGE, 'temps': [600.0]}, {**STAGE, 'temps': [900.0]}]
        # a candidate ratio below 100 % is reached at once: the loop stops after one iteration
        results, node = run_get_node(loop_builder(codes, initial, stages, convergence={'candidate_ratio': 1.0}))
        finished_loops['one_iteration'] = (initial, results, node)
    return finished_loops['one_iteration']


def train_nodes(node) -> list:
    return [child for child in node.called if child.process_class is TrainWorkChain]


def test_two_iterations_train_explore_label_and_grow_the_data(codes, emt_cu_dataset):
    initial = emt_cu_dataset(nframes=10)
    builder = loop_builder(codes, initial, [STAGE, {**STAGE, 'temps': [600.0]}])

    results, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    reports = [results['iterations'][name]['report'].get_dict() for name in ('iter_000', 'iter_001')]
    dataset_sizes = [initial.nframes]
    for number, report in enumerate(reports):
        exploration = report['exploration']
        assert report['iteration'] == number and report['stage_index'] == number
        assert exploration['frames'] == 11  # one task, 100 steps, every 10, step 0 included
        assert exploration['accurate'] + exploration['candidate'] + exploration['failed'] == exploration['frames']
        assert report['labeling']['labeled'] == exploration['chosen'] - report['labeling']['excluded']
        assert report['dataset']['added'] == report['labeling']['labeled']
        dataset_sizes.append(report['dataset']['frames'])
        assert report['cost']['train']['core_hours'] > 0 and report['cost']['explore']['wall_seconds'] > 0
    datasets = results['datasets']
    assert sum(dataset.nframes for dataset in datasets.values()) == dataset_sizes[-1] > initial.nframes
    assert sorted(results['models']) == ['model_0', 'model_1']
    # the models of the second iteration were trained on the initial data and the labels of the first, each
    # the node that was stored once, not a merged copy
    trainings = train_nodes(node)
    assert len(trainings) == 2
    second_data = dict(trainings[1].called[0].inputs.dp.datasets)
    assert {name: dataset.uuid for name, dataset in second_data.items()} == {
        'init': initial.uuid,
        'iter_000': results['iterations']['iter_000']['labels'].uuid,
    }
    assert sum(dataset.nframes for dataset in second_data.values()) == dataset_sizes[1]
    assert results['iterations']['iter_000']['labels'].creator.process_label == 'collect_labels'


def test_the_convergence_criterion_stops_the_loop_and_restart_from_continues_without_recomputing(one_iteration_loop):
    _, first, first_node = one_iteration_loop
    assert first_node.is_finished_ok, first_node.exit_message
    assert sorted(first['iterations']) == ['iter_000']
    assert 'converged: candidate ratio' in ' '.join(log.message for log in orm.Log.collection.get_logs_for(first_node))

    builder = DpgenWorkChain.get_builder_restart_from(first_node)
    builder.convergence = {'max_iterations': 2}
    second, second_node = run_get_node(builder)

    assert second_node.is_finished_ok, second_node.exit_message
    assert sorted(second['iterations']) == ['iter_000', 'iter_001']
    reused = second['iterations']['iter_000']
    assert reused['report'].uuid == first['iterations']['iter_000']['report'].uuid
    assert reused['labels'].uuid == first['iterations']['iter_000']['labels'].uuid == first['datasets']['iter_000'].uuid
    assert second['iterations']['iter_001']['report']['stage_index'] == 1
    # only the new iteration ran: one training, one exploration
    assert len(train_nodes(second_node)) == 1
    assert [child.process_label for child in second_node.called if child.process_label.endswith('WorkChain')] == [
        'TrainWorkChain',
        'ExploreWorkChain',
        'LabelWorkChain',
    ]


def test_a_finished_loop_answers_provenance_queries_reports_and_travels_as_an_archive(one_iteration_loop, tmp_path):
    import json
    import os
    import subprocess

    from click.testing import CliRunner

    from aiida_dpgen.cli import cli
    from aiida_dpgen.tools.provenance import frame_origin, model_sources

    initial, results, node = one_iteration_loop
    assert node.is_finished_ok, node.exit_message
    report = results['iterations']['iter_000']['report'].get_dict()
    assert report['labeling']['labeled'] > 0

    # the first ensemble was trained on the initial data only, brought in by hand
    first_model = results['iterations']['iter_000']['models']['model_0']
    sources = model_sources(first_model)
    assert [dataset.uuid for dataset in sources.initial_datasets] == [initial.uuid]
    assert sources.calculations == []
    # every frame the loop added traces back to its iteration, selection and EMT calculation
    datasets = results['datasets']
    assert sorted(datasets) == ['init', 'iter_000']
    origins = [
        frame_origin(dataset, summary['name'], index)
        for dataset in datasets.values()
        for summary in dataset.systems
        for index in range(summary['nframes'])
    ]
    labeled = [origin for origin in origins if origin.label_workchain is not None]
    assert len(labeled) == report['labeling']['labeled']
    assert len(origins) - len(labeled) == initial.nframes
    for origin in labeled:
        assert origin.iteration == 0
        assert origin.calculation.process_label == 'AseSinglePointCalculation'
        assert origin.selection.base.attributes.get('function_name') == 'select_candidates'
        assert origin.exploration.process_label == 'ExploreWorkChain'

    runner = CliRunner()
    shown = runner.invoke(cli, ['report', str(node.pk), '--plots', str(tmp_path / 'plots')], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if line.split()[:2] == ['0', '0'])
    assert f'{report["exploration"]["candidate_ratio"]:.1%}' in row
    for name in ('ratios', 'deviations', 'learning_curves', 'dataset'):
        assert (tmp_path / 'plots' / f'{name}.png').stat().st_size > 10_000
    exported = runner.invoke(cli, ['export-data', str(node.pk), str(tmp_path / 'data')], catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    formulas = {name for dataset in datasets.values() for name in dataset.system_names}
    assert sum(1 for _ in (tmp_path / 'data').rglob('type.raw')) == len(formulas)

    # archive -> a fresh profile with the commands docs/provenance.md gives: the report reads the same, and the
    # run continues there with restart_from
    create, import_archive, report_command = documented_commands(
        'provenance.md',
        '## Sharing a run',
        {'<DpgenWorkChain pk>': str(node.pk), '<DpgenWorkChain uuid>': node.uuid},
    )
    environment = {**os.environ, 'AIIDA_PATH': str(tmp_path / 'fresh')}

    def shell(command, environment=os.environ):
        done = subprocess.run(command, env=environment, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, ' '.join(command) + '\n' + done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def fresh(*command):
        return shell(list(command), environment)

    shell(create)
    fresh('verdi', 'presto', '--use-zeromq', '--profile-name', 'fresh')
    fresh(*import_archive)
    assert row in fresh(*report_command)
    script = tmp_path / 'continue.py'
    script.write_text(
        'import json\n'
        'from aiida.engine import run_get_node\n'
        'from aiida.orm import load_node\n'
        'from aiida_dpgen.workflows.dpgen import DpgenWorkChain\n'
        f'previous = load_node({node.uuid!r})\n'
        '# the imported computer is renamed if the profile has one of that label; configure it for this user\n'
        'previous.inputs.train.base.dp.code.computer.configure(safe_interval=0)\n'
        'builder = DpgenWorkChain.get_builder_restart_from(previous)\n'
        f'builder.schedule = {[STAGE, {**STAGE, "temps": [600.0]}]!r}\n'
        "builder.convergence = {'max_iterations': 2}\n"
        'results, node = run_get_node(builder)\n'
        'from aiida.cmdline.utils.common import get_workchain_report\n'
        'print(json.dumps({"ok": node.is_finished_ok, "iterations": sorted(results["iterations"]),\n'
        '    "trainings": sum(child.process_label == "TrainWorkChain" for child in node.called),\n'
        '    "report": get_workchain_report(node, "REPORT")[-2000:]\n'
        '    + "".join(str(child.exception)[-1500:] for child in node.called_descendants if child.exception)}))\n'
    )
    continued = json.loads(fresh('verdi', 'run', str(script)).strip().splitlines()[-1])
    log = continued.pop('report')
    assert continued == {'ok': True, 'iterations': ['iter_000', 'iter_001'], 'trainings': 1}, log
