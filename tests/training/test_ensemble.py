"""Seeds are distinct and reproducible; spreads ignore missing values."""

from __future__ import annotations

import pytest

from aiida_dpgen.training.ensemble import draw_seeds, spread


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
