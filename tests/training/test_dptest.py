"""The dp test log of a real run, per system and averaged."""

from __future__ import annotations

import pathlib

import pytest

from aiida_dpgen.training.dptest import parse_dp_test_log

LOGS = pathlib.Path(__file__).parents[1] / 'fixtures' / 'dp_test'


def test_per_system_and_average_errors_are_read_with_units_in_the_names():
    result = parse_dp_test_log((LOGS / 'dp_test.log').read_text())
    system = result['systems']['data/Cu8']
    assert system['nframes'] == 20
    assert system['energy_rmse_per_atom'] == pytest.approx(1.303834e-01)
    assert system['force_rmse'] == pytest.approx(4.631004e-01)
    assert system['virial_rmse_per_atom'] == pytest.approx(6.526676e-01)
    assert result['average']['force_rmse'] == pytest.approx(4.631004e-01)


def test_a_log_without_systems_is_an_error():
    with pytest.raises(ValueError, match='no "# testing system :" section'):
        parse_dp_test_log('DEEPMD INFO nothing here')


def test_the_log_file_written_by_dash_l_reads_the_same_way():
    result = parse_dp_test_log((LOGS / 'dp_test_file.log').read_text())
    assert result['systems']['data/Cu8']['nframes'] == 6
    assert result['systems']['data/Cu8']['force_rmse'] == pytest.approx(4.404333e-01)
    assert result['average']['energy_rmse_per_atom'] == pytest.approx(1.637567e-01)
