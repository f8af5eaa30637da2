"""Diverse candidates: fingerprints and farthest-point sampling, and the descriptor of a real model."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from aiida_dpgen.exploration.diversity import (
    descriptors,
    diverse_subset,
    farthest_point_sampling,
    fingerprints,
)

MODELS = pathlib.Path(__file__).parents[1] / 'fixtures' / 'models'


def test_fingerprints_average_each_elements_atoms():
    descriptor = np.arange(12, dtype=float).reshape(4, 3)
    rows = fingerprints([descriptor, descriptor[:2]], [np.array([0, 1, 0, 1]), np.array([0, 0])], ntypes=2)
    assert rows.shape == (2, 6)
    assert rows[0].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert rows[1].tolist() == [1.5, 2.5, 3.5, 0.0, 0.0, 0.0], 'an element a frame lacks: zeros'


def test_farthest_point_sampling_takes_one_point_per_cluster_first():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    points = np.concatenate([centre + rng.normal(scale=0.1, size=(50, 2)) for centre in centres])
    picked = farthest_point_sampling(points, 4, first=0)
    assert sorted(index // 50 for index in picked) == [0, 1, 2, 3], 'one per cluster'
    random_draws = [len({index // 50 for index in rng.choice(200, 4, replace=False)}) for _ in range(200)]
    assert np.mean(random_draws) < 4, 'random picks often repeat a cluster'


def test_farthest_point_sampling_is_greedy_max_min():
    points = np.array([[0.0], [1.0], [5.0], [2.5], [4.0]])
    assert farthest_point_sampling(points, 3, first=0).tolist() == [0, 2, 3]
    assert farthest_point_sampling(points, 10).tolist() == [0, 1, 2, 3, 4]
    assert farthest_point_sampling(points, 0).tolist() == []


def test_diverse_subset_does_not_depend_on_the_order_of_the_candidates():
    rng = np.random.default_rng(1)
    features, keys = rng.normal(size=(300, 5)), rng.permutation(300).astype(np.uint64)
    subset = diverse_subset(features, keys, 12)
    shuffled = rng.permutation(300)
    again = diverse_subset(features[shuffled], keys[shuffled], 12)
    assert sorted(shuffled[again].tolist()) == subset.tolist()
    assert int(np.argmin(keys)) in subset.tolist(), 'the first pick is the smallest key'


@pytest.mark.engines
def test_descriptors_of_a_real_model_tell_rattled_from_strained_frames():
    """The fixture Cu model's descriptor: 20 frames of one rattled cell and 4 strained ones; farthest-point
    sampling of 4 takes the strained frames, which a random choice of 4 from 24 mostly misses."""
    from ase.build import bulk

    base = bulk('Cu', 'fcc', a=3.61, cubic=True)
    rng = np.random.default_rng(2)
    cells, positions = [], []
    for index in range(24):
        atoms = base.copy()
        if index >= 20:
            atoms.set_cell(atoms.cell * (0.92, 0.96, 1.04, 1.08)[index - 20], scale_atoms=True)
        atoms.positions += rng.normal(scale=0.02, size=atoms.positions.shape)
        cells.append(atoms.cell.array)
        positions.append(atoms.positions)
    types = [np.zeros(4, dtype=int)] * 24
    values = descriptors(str(MODELS / 'cu_se_e2_a.pb'), np.array(cells), positions, types)
    assert values[0].shape[0] == 4
    features = fingerprints(values, types, ntypes=1)
    keys = np.arange(24, dtype=np.uint64)
    picked = diverse_subset(features, keys, 5)
    assert set(range(20, 24)) <= set(picked.tolist()), 'all four strained frames'
