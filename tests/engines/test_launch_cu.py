"""examples/launch_cu.py, the README's main job, with its default Quantum ESPRESSO labels (one iteration)."""

from __future__ import annotations

import pathlib
import runpy
import sys

from aiida.orm import QueryBuilder, WorkChainNode

from aiida_dpgen.tools.provenance import frame_origin, model_sources

EXAMPLE = pathlib.Path(__file__).parents[2] / 'examples' / 'launch_cu.py'


def test_launch_cu_runs_the_loop_with_pw_labels(aiida_localhost, capsys, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['launch_cu.py', '--computer', aiida_localhost.label, '--iterations', '1'])
    runpy.run_path(str(EXAMPLE), run_name='__main__')

    output = capsys.readouterr().out
    loop = QueryBuilder().append(WorkChainNode, filters={'attributes.process_label': 'DpgenWorkChain'}).all(flat=True)
    node = loop[-1]
    assert node.is_finished_ok, node.exit_message
    report = node.outputs.iterations.iter_000.report.get_dict()
    exploration = report['exploration']
    assert exploration['tasks'] == 3 * 1 * 2 * 2, (
        '3 crystals x 1 perturbed cell of scale 1 x 2 temperatures x 2 pressures'
    )
    assert exploration['frames'] == 12 * 31, '300 steps, a frame every 10, step 0 included'
    row = next(line for line in output.splitlines() if line.split()[:2] == ['0', '0'])
    assert f'{exploration["candidate_ratio"]:.1%}' in row
    assert f'DpgenWorkChain<{node.pk}> finished' in output

    # the initial data (InitDataWorkChain: 2 pw.x MD steps from each of 6 perturbed cells) and every label the
    # loop added come from pw.x
    initial = node.inputs.datasets.init
    assert initial.nframes == 12
    init_data = initial.creator.caller.caller
    assert init_data.process_label == 'InitDataWorkChain' and init_data.is_finished_ok
    assert {name: cells.uuid for name, cells in node.inputs.configurations.items()} == {
        name: cells.uuid for name, cells in init_data.outputs.configurations.items()
    }
    sources = model_sources(node.outputs.models.model_0)
    assert {calculation.process_label for calculation in sources.calculations} == {'PwCalculation'}
    md_runs = [
        calculation
        for calculation in sources.calculations
        if calculation.inputs.parameters['CONTROL']['calculation'] == 'md'
    ]
    assert len(md_runs) == len(sources.calculations) == 6
    # `aiida-dpgen provenance model` lists each calculation under its own LabelWorkChain
    initial_labeling = initial.creator.caller
    assert initial_labeling in sources.label_workchains
    assert sources.calculations_of(initial_labeling) == sources.calculations
    assert initial_labeling.caller.uuid == init_data.uuid
    datasets = dict(node.outputs.datasets)
    assert sum(dataset.nframes for dataset in datasets.values()) == 12 + report['labeling']['labeled']
    for dataset in datasets.values():
        for name, summary in zip(dataset.system_names, dataset.systems, strict=True):
            for index in range(summary['nframes']):
                assert frame_origin(dataset, name, index).calculation.process_label == 'PwCalculation'
