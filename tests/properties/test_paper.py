"""The model's errors judged against the paper's Table 3 DP-versus-DFT errors."""

from __future__ import annotations

import pytest

from aiida_dpgen.properties.compare import Row
from aiida_dpgen.properties.paper import TABLE3, format_judged, judge, tally


def test_the_paper_errors_are_its_dp_minus_dft_differences():
    assert TABLE3['C11'].error == pytest.approx(1.26)
    assert TABLE3['vacancy formation energy'].error == pytest.approx(0.03)
    assert TABLE3['(111) intrinsic stacking fault energy'].error == pytest.approx(0.00208)


def test_a_row_meets_the_paper_when_its_error_is_at_or_below_the_papers():
    rows = [
        Row('vacancy formation energy', 'eV', 1.30, 1.28, 0.01, 4),  # 0.02 <= 0.03
        Row('C44', 'GPa', 90.0, 80.0, 1.0, 4),  # 10 > 5.89
        Row('(100) surface energy', 'J/m²', 1.2, 1.1, 0.01, 4),  # not in Table 3
        Row('C12', 'GPa', 120.0, None, None, 0),  # no model value
    ]
    verdicts = {entry.row.name: entry.meets for entry in judge(rows)}

    assert verdicts == {
        'vacancy formation energy': True,
        'C44': False,
        '(100) surface energy': None,
        'C12': None,
    }
    assert tally(judge(rows)) == "1 of 2 Table 3 properties at or below the paper's DP-versus-DFT error"
    assert judge(rows)[0].as_dict()['paper_error'] == pytest.approx(0.03)


def test_the_table_shows_errors_and_the_papers_with_their_relative_size():
    table = format_judged(judge([Row('C44', 'GPa', 90.0, 80.0, 1.0, 4)]), reference_name='EMT')

    header, _, line = table.splitlines()
    assert 'EMT' in header and 'paper DP-DFT error' in header
    assert line.split(' | ')[4:] == ['10 (11.11%)', '5.89 (7.22%)', 'no |']
