"""Training throughput of the same se_e2_a model with DeePMD-kit's TensorFlow and PyTorch backends.

    python benchmarks/backends.py [--steps 1000] [--repeats 3] [--frames 20]

The ``fast`` protocol's se_e2_a model (rcut 4 Å, embedding 4/8, fitting 16x2) on ``--frames`` EMT-labelled
8-atom Cu cells, the same input.json, trained by ``dp --tf train`` and ``dp --pt train`` in turn, A B A B, in
scratch folders; each run's throughput is DeePMD-kit's own ``average training time`` (seconds per batch,
start-up excluded) and its wall time with start-up. Printed: both backends' medians and the ratio PT/TF pair by
pair (measured in the same run, so the ratio holds when the machine's speed drifts). No AiiDA profile needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import dpdata

from aiida_dpgen.training.inputs import build_training_input
from aiida_dpgen.workflows.train import TrainWorkChain

SECONDS_PER_BATCH = re.compile(r'average training time: (?P<seconds>[\d.eE+-]+) s/batch')


def write_data(folder: Path, nframes: int) -> list[str]:
    """benchmarks/train_overhead.py's EMT frames, written as deepmd/npy systems."""
    spec = importlib.util.spec_from_file_location('train_overhead', Path(__file__).with_name('train_overhead.py'))
    train_overhead = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_overhead)
    systems = dpdata.MultiSystems()
    for atoms in train_overhead.emt_frames(nframes):
        systems.append(dpdata.LabeledSystem(atoms, fmt='ase/structure'))
    systems.to_deepmd_npy(str(folder))
    return [str(path) for path in sorted(folder.iterdir())]


def train(backend: str, folder: Path, content: dict) -> tuple[float, float]:
    """(seconds per batch, wall seconds with start-up) of one ``dp train`` in a fresh ``folder``."""
    folder.mkdir()
    (folder / 'input.json').write_text(json.dumps(content))
    start = time.perf_counter()
    completed = subprocess.run(
        [shutil.which('dp'), f'--{backend}', 'train', 'input.json'],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f'dp --{backend} train failed in {folder}:\n{completed.stderr[-2000:]}')
    match = SECONDS_PER_BATCH.search(completed.stderr + completed.stdout)
    return float(match['seconds']), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=1000, help='Training steps per run.')
    parser.add_argument('--repeats', type=int, default=3, help='Runs of each backend.')
    parser.add_argument('--frames', type=int, default=20, help='EMT-labelled frames to train on.')
    arguments = parser.parse_args()
    for option, value in (
        ('--steps', arguments.steps),
        ('--repeats', arguments.repeats),
        ('--frames', arguments.frames),
    ):
        if value < 1:
            parser.error(f'{option}={value}: expected at least 1')
    if shutil.which('dp') is None:
        parser.error('dp is not on PATH: run scripts/install.sh and activate .venv')

    parameters = TrainWorkChain.get_protocol_inputs('fast')['base']['dp']['parameters']
    parameters['training'].update(numb_steps=arguments.steps, disp_freq=arguments.steps, save_freq=arguments.steps)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        systems = write_data(root / 'data', arguments.frames)
        content = build_training_input(
            parameters, type_map=['Cu'], training_systems=systems, sys_probs=None, validation_systems=None, seed=1
        )
        runs = {'tf': [], 'pt': []}
        for repeat in range(arguments.repeats):
            for backend in ('tf', 'pt'):
                runs[backend].append(train(backend, root / f'{backend}_{repeat}', content))
                print(
                    f'{backend} run {repeat}: {runs[backend][-1][0] * 1000:.2f} ms/batch, {runs[backend][-1][1]:.1f} s'
                )

    print(f'\nse_e2_a (fast protocol), {arguments.steps} steps on {arguments.frames} frames of 8 Cu atoms')
    for backend, name in (('tf', 'TensorFlow'), ('pt', 'PyTorch')):
        per_batch = statistics.median(run[0] for run in runs[backend])
        wall = statistics.median(run[1] for run in runs[backend])
        print(f'{name:>10}: {per_batch * 1000:.2f} ms/batch ({1 / per_batch:.0f} steps/s), {wall:.1f} s with start-up')
    batch_ratios = [pt[0] / tf[0] for tf, pt in zip(runs['tf'], runs['pt'], strict=True)]
    wall_ratios = [pt[1] / tf[1] for tf, pt in zip(runs['tf'], runs['pt'], strict=True)]
    print(
        f'ratio PT/TF, time per batch: median {statistics.median(batch_ratios):.2f} '
        f'(min {min(batch_ratios):.2f}, max {max(batch_ratios):.2f}); '
        f'wall with start-up: median {statistics.median(wall_ratios):.2f}'
    )


if __name__ == '__main__':
    main()
