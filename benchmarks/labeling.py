"""Labels per core-hour for each engine, and what AiiDA adds per label, on the same rattled Cu cells.

Run on any profile with a ``localhost`` computer (``scripts/run-example.sh`` creates one), venv active:

    verdi run benchmarks/labeling.py [--engines ase,quantumespresso,cp2k] [--structures 4] [--mpiprocs 1]
                                     [--group-size N]

For each engine:
  A. aiida-dpgen: ``LabelWorkChain`` labels the structures (``fast`` protocol), all jobs at once, as the loop does;
  B. bare (the baseline, same run): the very same job folders, copied from the AiiDA run's working directories,
     run again with their own ``_aiidasubmit.sh``, all at once: the engine's work without AiiDA.
The orchestration overhead per label is (A - B) / labels; labels per core-hour come from the engines' own wall
times (``summary.core_hours``). With ``--group-size N`` (quantumespresso) the same frames are labeled a second
time with ``group_size`` N, N single points per job, and that run's jobs are rerun bare too: the two rows give
the overhead per label one job per frame and packed, on the same frames in the same run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np
from aiida.orm import CalcJobNode
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData
from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family
from aiida_dpgen.tools.bare import rerun_bare
from aiida_dpgen.utils.codes import get_or_create_code, get_or_create_mpi_code
from aiida_dpgen.workflows.label import LabelWorkChain
from aiida_dpgen.workflows.runner import run_get_node


def structures(count: int) -> list:
    rng = np.random.default_rng(2020)
    frames = []
    for _ in range(count):
        atoms = bulk('Cu', 'fcc', a=3.61, cubic=True)
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        frames.append(atoms)
    return frames


def labeler_and_code(engine: str, mpiprocs: int):
    options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': mpiprocs}}
    if engine == 'ase':
        code = get_or_create_code('python-ase', pathlib.Path(sys.executable).name, plugin='dpgen.ase')
        return {'engine': 'ase'}, code
    if engine == 'quantumespresso':
        family = install_pseudo_family('benchmark/Cu', files={'Cu': DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'})
        code = get_or_create_mpi_code('pw', 'pw.x', plugin='quantumespresso.pw')
        labeler = {'engine': engine, 'pseudo_family': family.label, 'overrides': {'clean_workdir': False}}
        return {**labeler, 'options': options}, code
    if engine == 'cp2k':
        return {'engine': engine, 'options': options}, get_or_create_mpi_code('cp2k', 'cp2k', plugin='cp2k')
    raise SystemExit(f'--engines: {engine!r} is not benchmarked here; choose from ase, quantumespresso, cp2k')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--engines', default='ase,quantumespresso,cp2k')
    parser.add_argument('--structures', type=int, default=4)
    parser.add_argument('--mpiprocs', type=int, default=1)
    parser.add_argument('--group-size', type=int, default=1, help='Also label packed, this many per job.')
    arguments = parser.parse_args()
    frames = structures(arguments.structures)

    runs = [(engine, 1) for engine in arguments.engines.split(',')]
    if arguments.group_size > 1:
        runs += [
            (engine, arguments.group_size) for engine in arguments.engines.split(',') if engine == 'quantumespresso'
        ]
    rows = []
    for engine, group_size in runs:
        labeler, code = labeler_and_code(engine, arguments.mpiprocs)
        candidates = {'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store()}
        start = time.perf_counter()
        results, node = run_get_node(
            LabelWorkChain, candidates=candidates, labeler=labeler, code=code, group_size=group_size
        )
        aiida_wall = time.perf_counter() - start
        if not node.is_finished_ok:
            raise SystemExit(f'LabelWorkChain<{node.pk}> failed: {node.exit_message}')
        summary = results['summary'].get_dict()
        jobs = [child for child in node.called_descendants if isinstance(child, CalcJobNode) and child.is_finished_ok]
        bare_wall = rerun_bare([pathlib.Path(job.outputs.remote_folder.get_remote_path()) for job in jobs])
        row = {
            'engine': engine,
            'group_size': group_size,
            'jobs': len(jobs),
            'labels': summary['labeled'],
            'aiida_wall_s': round(aiida_wall, 2),
            'bare_wall_s': round(bare_wall, 2),
            'overhead_per_label_s': round((aiida_wall - bare_wall) / summary['labeled'], 3),
            'engine_core_hours': summary['core_hours'],
            'labels_per_core_hour': round(summary['labeled'] / summary['core_hours'], 1),
        }
        rows.append(row)
        print(
            f'{engine:<16} group_size {group_size}, {row["labels"]} labels in {len(jobs)} jobs: '
            f'aiida-dpgen {aiida_wall:7.2f} s, bare {bare_wall:7.2f} s, '
            f'overhead {row["overhead_per_label_s"]:6.3f} s per label; {row["labels_per_core_hour"]:10.1f} labels '
            'per core-hour',
            flush=True,
        )
    print(json.dumps({'rows': rows, 'structures': arguments.structures, 'mpiprocs': arguments.mpiprocs}))


if __name__ == '__main__':
    main()
