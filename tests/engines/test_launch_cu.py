"""examples/launch_cu.py runs on a fresh profile and says plainly what it does not do yet."""

from __future__ import annotations

import pathlib
import runpy
import sys

from aiida.orm import CalcFunctionNode, QueryBuilder

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData

EXAMPLE = pathlib.Path(__file__).parents[2] / 'examples' / 'launch_cu.py'


def test_launch_cu_builds_initial_data_trains_an_ensemble_and_explores(aiida_localhost, capsys, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['launch_cu.py', '--computer', aiida_localhost.label])
    runpy.run_path(str(EXAMPLE), run_name='__main__')

    output = capsys.readouterr().out
    assert 'NOT YET IMPLEMENTED: labeling with Quantum ESPRESSO' in output
    merged = (
        QueryBuilder()
        .append(CalcFunctionNode, filters={'attributes.function_name': 'merge_datasets'}, tag='merge')
        .append(LabeledDatasetData, with_incoming='merge')
        .all(flat=True)[-1]
    )
    assert merged.nframes == 18
    assert {summary['name'] for summary in merged.systems} == {'Cu2', 'Cu4'}
    models = QueryBuilder().append(DeepPotentialData, filters={'attributes.training_steps': 400}).all(flat=True)
    assert len(models) >= 4
    assert 'ensemble force RMSE' in output

    from aiida.orm import Dict, WorkChainNode

    explore = (
        QueryBuilder().append(WorkChainNode, filters={'attributes.process_label': 'ExploreWorkChain'}).all(flat=True)
    )
    assert explore[-1].is_finished_ok
    statistics = explore[-1].outputs.statistics.get_dict()
    assert set(statistics['systems']) == {'fcc', 'hcp', 'bcc'}
    assert statistics['overall']['frames'] == 3 * 2 * 2 * 21, '3 crystals x 2 temperatures x 2 pressures, 21 frames'
    assert f'{statistics["overall"]["accurate_ratio"]:.1%}' in output
    assert isinstance(explore[-1].outputs.task_results, Dict)
