"""Seeds are distinct and reproducible; spreads ignore missing values."""

from __future__ import annotations

import pytest

from aiida_dpgen.training.ensemble import backend_mismatch, draw_seeds, spread


def test_seeds_are_distinct_reproducible_and_fit_in_32_bits():
    seeds = draw_seeds(2020, 8)
    assert len(set(seeds)) == 8
    assert seeds == draw_seeds(2020, 8)
    assert seeds != draw_seeds(2021, 8)
    assert all(0 < seed < 2**31 for seed in seeds)
    assert draw_seeds(2020, 4) == seeds[:4]


def test_zero_models_is_refused():
    with pytest.raises(ValueError, match='count=0'):
        draw_seeds(1, 0)


def test_spread_of_model_errors():
    assert spread([0.1, 0.3, None]) == pytest.approx({'mean': 0.2, 'std': 0.1, 'min': 0.1, 'max': 0.3, 'count': 2})
    assert spread([None])['count'] == 0


def test_models_of_another_backend_cannot_start_a_training():
    files = {'model_0': 'frozen_model.pb', 'model_1': 'frozen_model.pth'}
    assert backend_mismatch(files, '.pth', 'init_models', 'base.dp.backend') == (
        "init_models: models ['model_0'] are .pb files, but base.dp.backend trains .pth models; start from models "
        'of the same backend or set base.dp.backend to theirs'
    )
    assert backend_mismatch({'model_0': 'graph.pth'}, '.pth', 'init_models', 'base.dp.backend') is None
