"""examples/launch_cu.py runs on a fresh profile and says plainly what it does not do yet."""

from __future__ import annotations

import pathlib
import runpy

from aiida.orm import CalcFunctionNode, QueryBuilder

from aiida_dpgen.data import LabeledDatasetData

EXAMPLE = pathlib.Path(__file__).parents[2] / 'examples' / 'launch_cu.py'


def test_launch_cu_builds_the_initial_data_through_merge_datasets(aiida_profile_clean, capsys):
    runpy.run_path(str(EXAMPLE), run_name='__main__')

    output = capsys.readouterr().out
    assert 'NOT YET IMPLEMENTED: the concurrent-learning loop' in output
    merged = (
        QueryBuilder()
        .append(CalcFunctionNode, filters={'attributes.function_name': 'merge_datasets'}, tag='merge')
        .append(LabeledDatasetData, with_incoming='merge')
        .one()[0]
    )
    assert merged.nframes == 18
    assert {summary['name'] for summary in merged.systems} == {'Cu2', 'Cu4'}
