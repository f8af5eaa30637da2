"""examples/launch_cu.py runs on a fresh profile and says plainly what it does not do yet."""

from __future__ import annotations

import pathlib
import runpy
import sys

from aiida.orm import CalcFunctionNode, QueryBuilder

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData

EXAMPLE = pathlib.Path(__file__).parents[2] / 'examples' / 'launch_cu.py'


def test_launch_cu_builds_initial_data_and_trains_an_ensemble(aiida_localhost, capsys, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['launch_cu.py', '--computer', aiida_localhost.label])
    runpy.run_path(str(EXAMPLE), run_name='__main__')

    output = capsys.readouterr().out
    assert 'NOT YET IMPLEMENTED: exploration with LAMMPS' in output
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
