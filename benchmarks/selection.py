"""Selection at the paper's scale: frames per second and peak memory, against DP-GEN on the same files.

    python benchmarks/selection.py [--frames 25000000] [--files 2500] [--dpgen-frames 2000000] [--repeats 3]
                                   [--workdir DIR]

Writes synthetic model_devi.out files in the LAMMPS plugin's layout (deviations log-uniform around the
paper's trust levels), then measures, each in a fresh process so that its peak memory is its own:

* the raw read rate of the same bytes from the page cache (the physical bound; one untimed read warms it),
* aiida-dpgen's selection over all files, in one process and in one per core,
* aiida-dpgen's selection and DP-GEN 0.14's ``_select_by_model_devi_standard`` (from ``.venv-dpgen``)
  over the first ``--dpgen-frames`` frames' files, alternately ``--repeats`` times, with identical
  counts checked (DP-GEN runs at about 0.45 M frames/s, so all 25 M frames would take a minute).

Ratios are taken on the same files in the same run; the median pair is reported with the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

REPOSITORY = pathlib.Path(__file__).parents[1]
FRAMES_PER_FILE_VARIANTS = 16

MEASURE_READ = """
import json, pathlib, resource, sys, time
paths = json.loads(pathlib.Path(sys.argv[1]).read_text())
start = time.perf_counter()
size = sum(len(pathlib.Path(path).read_bytes()) for path in paths)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({'seconds': elapsed, 'bytes': size, 'peak_rss_mb': peak}))
"""

MEASURE_OURS = """
import json, pathlib, resource, sys, time
from aiida_dpgen.exploration.selection import TrustLevels, select_files
paths = json.loads(pathlib.Path(sys.argv[1]).read_text())
workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
start = time.perf_counter()
selection = select_files(enumerate(paths), TrustLevels(0.05, 0.20), cap=300, seed=1, workers=workers)
elapsed = time.perf_counter() - start
statistics = selection.statistics()
counts = {key: statistics[key] for key in ('accurate', 'candidate', 'failed')}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({'seconds': elapsed, 'counts': counts, 'peak_rss_mb': peak}))
"""

MEASURE_DPGEN = """
import json, os, pathlib, resource, sys, time
from dpgen.generator.run import _select_by_model_devi_standard
paths = json.loads(pathlib.Path(sys.argv[1]).read_text())
tasks = [os.path.dirname(path) for path in paths]
start = time.perf_counter()
_, _, _, counter = _select_by_model_devi_standard(tasks, 0.05, 0.20, 1e10, 1e10, None, 'lammps', 0)
elapsed = time.perf_counter() - start
counts = {key: counter[key] for key in ('accurate', 'candidate', 'failed')}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({'seconds': elapsed, 'counts': counts, 'peak_rss_mb': peak}))
"""


def write_files(workdir: pathlib.Path, frames: int, files: int) -> list[str]:
    from aiida_dpgen.exploration.deviation import write_model_devi

    per_file = frames // files
    rng = np.random.default_rng(2020)
    variants = []
    for variant in range(FRAMES_PER_FILE_VARIANTS):
        table = np.column_stack([np.arange(per_file) * 10, 10 ** rng.uniform(-3, 0.3, (per_file, 6))])
        path = workdir / f'variant_{variant}.out'
        write_model_devi(path, table)
        variants.append(path.read_bytes())
    paths = []
    for index in range(files):
        task = workdir / f'task.000.{index:06d}'
        task.mkdir(exist_ok=True)
        target = task / 'model_devi.out'
        if not target.exists():
            target.write_bytes(variants[index % FRAMES_PER_FILE_VARIANTS])
        paths.append(str(target))
    return paths


def measure(python: str, script: str, paths: list[str], workdir: pathlib.Path, *extra: str) -> dict:
    listing = workdir / f'paths_{len(paths)}.json'
    listing.write_text(json.dumps(paths))
    completed = subprocess.run(
        [python, '-c', script, str(listing), *extra], capture_output=True, text=True, check=True, env={**os.environ}
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=25_000_000)
    parser.add_argument('--files', type=int, default=2500)
    parser.add_argument('--dpgen-frames', type=int, default=2_000_000)
    parser.add_argument('--workdir', type=pathlib.Path, default=None)
    parser.add_argument('--repeats', type=int, default=3, help='pairs of subset runs (ours, DP-GEN) for the ratio')
    arguments = parser.parse_args()

    workdir = arguments.workdir or pathlib.Path(tempfile.mkdtemp(prefix='aiida-dpgen-selection-'))
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    paths = write_files(workdir, arguments.frames, arguments.files)
    per_file = arguments.frames // arguments.files
    frames = per_file * len(paths)
    subset = paths[: max(1, arguments.dpgen_frames // per_file)]
    subset_frames = per_file * len(subset)
    print(f'{frames:,} frames in {len(paths)} files under {workdir} (written in {time.perf_counter() - start:.0f} s)')

    reference = os.environ.get('AIIDA_DPGEN_REFERENCE_PYTHON', str(REPOSITORY / '.venv-dpgen' / 'bin' / 'python'))
    measure(sys.executable, MEASURE_READ, paths, workdir)  # warm the page cache: every reader sees cached bytes
    read_all = measure(sys.executable, MEASURE_READ, paths, workdir)
    ours_all = measure(sys.executable, MEASURE_OURS, paths, workdir)
    workers = os.cpu_count() or 1
    ours_all_parallel = measure(sys.executable, MEASURE_OURS, paths, workdir, str(workers))
    pairs = []
    for _ in range(arguments.repeats):  # alternate, so that drift of the machine's speed hits both alike
        pairs.append(
            (measure(sys.executable, MEASURE_OURS, subset, workdir), measure(reference, MEASURE_DPGEN, subset, workdir))
        )
    ratios = sorted(dpgen['seconds'] / ours['seconds'] for ours, dpgen in pairs)
    ours_subset, dpgen_subset = sorted(pairs, key=lambda pair: pair[1]['seconds'] / pair[0]['seconds'])[len(pairs) // 2]

    def rate(result, count):
        return count / result['seconds']

    print(f'\n{"measurement":<42} {"frames":>12} {"seconds":>9} {"frames/s":>12} {"peak MB":>8}')
    rows = [
        ('raw read of the bytes (bound)', read_all, frames),
        ('aiida-dpgen selection, all files', ours_all, frames),
        (f'aiida-dpgen selection, all, {workers} processes', ours_all_parallel, frames),
        ('aiida-dpgen selection, subset', ours_subset, subset_frames),
        ('DP-GEN 0.14 selection, subset', dpgen_subset, subset_frames),
    ]
    for name, result, count in rows:
        print(
            f'{name:<42} {count:>12,} {result["seconds"]:>9.2f} {rate(result, count):>12,.0f} '
            f'{result["peak_rss_mb"]:>8.0f}'
        )
    print(f'\nread rate {read_all["bytes"] / read_all["seconds"] / 1e9:.1f} GB/s')
    spread = f'min {ratios[0]:.1f}x, max {ratios[-1]:.1f}x over {len(ratios)} pairs'
    median = ratios[len(ratios) // 2]
    print(f'speed-up over DP-GEN on the same {subset_frames:,} frames, one process: median {median:.1f}x ({spread})')
    parallel = rate(ours_all_parallel, frames) / rate(dpgen_subset, subset_frames)
    print(f"frames/s with {workers} processes over DP-GEN's frames/s: {parallel:.1f}x")
    print(f'{workers} processes give the counts of one: {ours_all_parallel["counts"] == ours_all["counts"]}')
    identical = all(ours['counts'] == dpgen['counts'] for ours, dpgen in pairs)
    print(f'counts identical to DP-GEN on the subset: {identical} {ours_subset["counts"]}')
    print(f'peak memory, subset vs all files: {ours_subset["peak_rss_mb"]:.0f} MB vs {ours_all["peak_rss_mb"]:.0f} MB')


if __name__ == '__main__':
    main()
