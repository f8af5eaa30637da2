"""What choosing diverse candidates costs: descriptors of 10^4 candidates and farthest-point sampling over them.

    python benchmarks/diversity.py [--candidates 10000] [--atoms 32] [--pick 300]
                                   [--model tests/fixtures/models/cu_se_e2_a.pb]

Candidates are rattled and strained fcc Cu cells of ``--atoms`` atoms (the paper's 32-atom bulk cells by
default). Measured in this process: DeePMD-kit's ``eval_descriptor`` of the model for all candidates (one
warm-up call first), the fingerprints, and farthest-point sampling of ``--pick`` of them, each as seconds per
10^4 candidates; a random choice of the same size is the baseline the sampling's cost is compared with.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
from ase.build import bulk

from aiida_dpgen.exploration.diversity import descriptors, diverse_subset, fingerprints

REPOSITORY = pathlib.Path(__file__).parents[1]


def candidates(count: int, atoms: int, seed: int = 0):
    base = bulk('Cu', 'fcc', a=3.61, cubic=True)
    repeat = max(1, round((atoms / 4) ** (1 / 3)))
    base = base.repeat((repeat, repeat, max(1, atoms // (4 * repeat * repeat))))
    rng = np.random.default_rng(seed)
    cells, positions = [], []
    for _ in range(count):
        frame = base.copy()
        frame.set_cell(frame.cell * (1 + 0.05 * rng.standard_normal()), scale_atoms=True)
        frame.positions += rng.normal(scale=0.1, size=frame.positions.shape)
        cells.append(frame.cell.array)
        positions.append(frame.positions)
    return np.array(cells), positions, [np.zeros(len(base), dtype=int)] * count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--candidates', type=int, default=10_000)
    parser.add_argument('--atoms', type=int, default=32)
    parser.add_argument('--pick', type=int, default=300)
    parser.add_argument('--model', default=str(REPOSITORY / 'tests' / 'fixtures' / 'models' / 'cu_se_e2_a.pb'))
    arguments = parser.parse_args()

    cells, positions, types = candidates(arguments.candidates, arguments.atoms)
    descriptors(arguments.model, cells[:1], positions[:1], types[:1])
    start = time.perf_counter()
    values = descriptors(arguments.model, cells, positions, types)
    described = time.perf_counter() - start
    start = time.perf_counter()
    features = fingerprints(values, types, ntypes=1)
    fingerprinted = time.perf_counter() - start
    keys = np.random.default_rng(1).permutation(arguments.candidates).astype(np.uint64)
    start = time.perf_counter()
    picked = diverse_subset(features, keys, arguments.pick)
    sampled = time.perf_counter() - start
    start = time.perf_counter()
    np.sort(np.argsort(keys)[: arguments.pick])
    random_choice = time.perf_counter() - start

    per = 1e4 / arguments.candidates
    natoms = len(types[0])
    print(f'{arguments.candidates} candidates of {natoms} atoms, model {pathlib.Path(arguments.model).name}')
    print(f'descriptors:             {described * per:8.2f} s per 10^4 candidates ({values[0].shape[1]} per atom)')
    print(f'fingerprints:            {fingerprinted * per:8.3f} s per 10^4 candidates')
    print(f'farthest-point sampling: {sampled * per:8.3f} s per 10^4 candidates, {len(picked)} picked')
    print(f'random choice:           {random_choice * per:8.4f} s per 10^4 candidates (baseline)')


if __name__ == '__main__':
    main()
