"""lcurve.out from real DeePMD-kit runs: columns by name, divergence, final metrics."""

from __future__ import annotations

import pathlib

import numpy as np

from aiida_dpgen.training.lcurve import divergence, final_metrics, parse_lcurve

FIXTURES = pathlib.Path(__file__).parents[1] / 'parsers' / 'fixtures' / 'dpgen.train'


def read(case: str) -> dict:
    return parse_lcurve((FIXTURES / case / 'lcurve.out').read_text())


def test_columns_are_named_by_the_header_including_validation_and_virials():
    curve = read('default')
    assert list(curve) == [
        'step', 'rmse_val', 'rmse_trn', 'rmse_e_val', 'rmse_e_trn',
        'rmse_f_val', 'rmse_f_trn', 'rmse_v_val', 'rmse_v_trn', 'lr',
    ]  # fmt: skip
    np.testing.assert_array_equal(curve['step'], [0, 20, 40, 60])
    assert curve['rmse_f_trn'][-1] == 5.52e-01


def test_a_healthy_run_is_not_diverged_and_reports_its_last_row():
    curve = read('default')
    assert divergence(curve) is None
    metrics = final_metrics(curve)
    assert metrics['step'] == 60
    assert metrics['rmse_f_val'] == 3.96e-01
    assert metrics['lr'] == 2.2e-05


def test_a_real_run_with_an_exploding_learning_rate_is_diverged():
    reason = divergence(read('diverged'))
    assert reason is not None and 'rmse_trn grew from' in reason


def test_nan_after_numbers_is_divergence_but_an_all_nan_column_is_missing_data():
    curve = read('default')
    curve['rmse_v_trn'] = np.full(4, np.nan)
    assert divergence(curve) is None
    assert final_metrics(curve)['rmse_v_trn'] is None
    curve['rmse_f_trn'] = np.array([0.3, 0.2, np.nan, np.nan])
    assert divergence(curve) == 'rmse_f_trn became nan at step 40'


def test_header_only_gives_empty_columns():
    curve = parse_lcurve('#  step  rmse_trn  lr\n')
    assert curve['step'].size == 0 and final_metrics(curve) == {}
