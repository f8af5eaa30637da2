"""Training throughput of the ``fast`` protocol, and what the AiiDA layer adds to one training job.

Run on any profile with a ``localhost`` computer (``scripts/run-example.sh`` creates one):

    verdi run benchmarks/train_overhead.py [--steps 400] [--repeats 3]

For each repeat it runs, in turn, the same training twice on the same data and input.json:
  A. ``dp --tf train input.json`` then ``dp --tf freeze`` in a scratch folder (the baseline), and
  B. ``DpTrainCalculation`` through the AiiDA engine (upload, submit, poll, retrieve, parse, store).
It prints the median wall time of each, the ratio B/A pair by pair (both measured in the same run, so
the ratio holds when the machine's speed drifts), and the training throughput in steps per second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_dpgen.calculations.train import DpTrainCalculation
from aiida_dpgen.data import LabeledDatasetData
from aiida_dpgen.training.inputs import build_training_input
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.runner import run_get_node
from aiida_dpgen.workflows.train import TrainWorkChain


def emt_frames(nframes: int = 20) -> list:
    """``nframes`` rattled, strained 8-atom Cu cells labelled by EMT (also benchmarks/backends.py's data)."""
    rng = np.random.default_rng(0)
    frames = []
    for index in range(nframes):
        atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))
        atoms.rattle(0.05, seed=index)
        atoms.set_cell(atoms.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    return frames


def emt_dataset(nframes: int = 20) -> LabeledDatasetData:
    return LabeledDatasetData.from_ase(emt_frames(nframes), type_map=['Cu']).store()


def run_direct(dataset: LabeledDatasetData, parameters: dict, seed: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        dataset.copy_to(folder / 'train' / 'init')
        content = build_training_input(
            parameters,
            type_map=dataset.type_map,
            training_systems=[f'train/init/{name}' for name in dataset.system_names],
            sys_probs=None,
            validation_systems=None,
            seed=seed,
        )
        (folder / 'input.json').write_text(json.dumps(content))
        start = time.perf_counter()
        for command in (['dp', '--tf', 'train', 'input.json'], ['dp', '--tf', 'freeze', '-o', 'frozen_model.pb']):
            subprocess.run(command, cwd=folder, check=True, capture_output=True)
        return time.perf_counter() - start


def run_aiida(code, dataset: LabeledDatasetData, parameters: dict, seed: int) -> tuple[float, dict]:
    start = time.perf_counter()
    results, node = run_get_node(
        DpTrainCalculation, code=code, datasets={'init': dataset}, parameters=parameters, seed=seed
    )
    elapsed = time.perf_counter() - start
    if not node.is_finished_ok:
        raise SystemExit(f'DpTrainCalculation<{node.pk}> failed: {node.exit_message}')
    return elapsed, results['output_parameters'].get_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description='Training throughput and AiiDA overhead for one training job.')
    parser.add_argument('--steps', type=int, default=400)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--computer', default='localhost')
    arguments = parser.parse_args()

    parameters = TrainWorkChain.get_protocol_inputs('fast')['base']['dp']['parameters']
    parameters['training']['numb_steps'] = arguments.steps
    dataset = emt_dataset()
    code = get_or_create_code('dp', 'dp', computer=arguments.computer, plugin='dpgen.train')

    direct, engine, ratios, throughput = [], [], [], []
    for repeat in range(arguments.repeats):
        seed = 100 + repeat
        direct.append(run_direct(dataset, parameters, seed))
        elapsed, output = run_aiida(code, dataset, parameters, seed)
        engine.append(elapsed)
        ratios.append(engine[-1] / direct[-1])
        throughput.append(output['steps_per_second'])
        print(f'repeat {repeat}: dp directly {direct[-1]:.2f} s, through AiiDA {engine[-1]:.2f} s')

    print(f'\nfast protocol, {arguments.steps} steps, 20 frames x 8 Cu atoms, {arguments.repeats} pairs')
    print(f'dp train + freeze directly   median {statistics.median(direct):6.2f} s')
    print(f'DpTrainCalculation (AiiDA)   median {statistics.median(engine):6.2f} s')
    spread = f'min {min(ratios):.2f}, max {max(ratios):.2f}'
    print(f'ratio AiiDA / direct         median {statistics.median(ratios):6.2f} ({spread})')
    print(f"training throughput          median {statistics.median(throughput):6.0f} steps/s (dp's own timing)")


if __name__ == '__main__':
    main()
