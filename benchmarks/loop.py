"""The Cu example end to end: time per step of every iteration and the share spent in orchestration.

    verdi run benchmarks/loop.py [--labeler emt] [--iterations 2]   # runs examples/launch_cu.py first
    verdi run benchmarks/loop.py --pk PK                             # or measures a finished DpgenWorkChain

Baseline in the same run: every step's jobs are run again bare, their own ``_aiidasubmit.sh`` in copies of
their working folders, all jobs of a step started at once as the engine started them. A step's
orchestration is its wall time in the loop minus that bare wall time (upload, polling, retrieval, parsing,
the step's calcfunctions); the loop's gaps between steps (merging, reports) count as orchestration too.
Labelers that clean their working folders (Quantum ESPRESSO's protocols do) leave no folder to rerun: their
steps are reported without a baseline.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import runpy
import sys

from aiida import orm

import aiida_dpgen
from aiida_dpgen.tools.bare import rerun_bare

REPOSITORY = pathlib.Path(aiida_dpgen.__file__).parents[1]
STEPS = ('train', 'explore', 'label')


def run_example(labeler: str, iterations: int) -> orm.WorkChainNode:
    sys.argv = ['launch_cu.py', '--labeler', labeler, '--iterations', str(iterations)]
    runpy.run_path(str(REPOSITORY / 'examples' / 'launch_cu.py'), run_name='__main__')
    query = orm.QueryBuilder().append(orm.WorkChainNode, filters={'attributes.process_label': 'DpgenWorkChain'})
    return query.order_by({orm.WorkChainNode: {'ctime': 'desc'}}).first(flat=True)


def bare_wall(jobs: list[orm.CalcJobNode]) -> float | None:
    """Wall time of the jobs' own scripts rerun side by side; None when a working folder is gone."""
    folders = [pathlib.Path(job.outputs.remote_folder.get_remote_path()) for job in jobs]
    if not folders or not all((folder / '_aiidasubmit.sh').exists() for folder in folders):
        return None
    return rerun_bare(folders)


def seconds(node: orm.ProcessNode) -> float:
    return (node.mtime - node.ctime).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pk', type=int, default=None, help='A finished DpgenWorkChain instead of a new run.')
    parser.add_argument('--labeler', default='emt')
    parser.add_argument('--iterations', type=int, default=2)
    arguments = parser.parse_args()
    node = orm.load_node(arguments.pk) if arguments.pk else run_example(arguments.labeler, arguments.iterations)
    if not node.is_finished_ok:
        raise SystemExit(f'DpgenWorkChain<{node.pk}> did not finish ok')

    rows = []
    for step_node in sorted(node.called, key=lambda child: child.ctime):
        label = step_node.base.links.get_incoming(node_class=orm.WorkflowNode).first().link_label
        iteration, _, step = label.partition('_')[2].partition('_')
        if step not in STEPS:
            continue
        jobs = [
            child
            for child in step_node.called_descendants
            if isinstance(child, orm.CalcJobNode) and child.is_finished_ok
        ]
        bare = bare_wall(jobs)
        wall = seconds(step_node)
        rows.append(
            {
                'iteration': int(iteration),
                'step': step,
                'jobs': len(jobs),
                'wall_s': round(wall, 1),
                'bare_s': None if bare is None else round(bare, 1),
                'orchestration_s': None if bare is None else round(wall - bare, 1),
            }
        )
        baseline = 'no folder to rerun' if bare is None else f'bare {bare:6.1f} s, orchestration {wall - bare:5.1f} s'
        print(f'iter {iteration} {step:<8} {len(jobs):>3} jobs: {wall:6.1f} s in the loop, {baseline}', flush=True)

    total = seconds(node)
    measured = [row for row in rows if row['bare_s'] is not None]
    steps_wall = sum(row['wall_s'] for row in rows)
    orchestration = sum(row['orchestration_s'] for row in measured) + (total - steps_wall)
    print(
        f'\nDpgenWorkChain<{node.pk}>: {total:.1f} s; steps {steps_wall:.1f} s, '
        f'between steps {total - steps_wall:.1f} s; orchestration {orchestration:.1f} s '
        f'= {orchestration / total:.1%} of the loop'
        + ('' if len(measured) == len(rows) else ' (steps without a baseline counted as work)')
    )
    print(
        json.dumps(
            {'pk': node.pk, 'total_s': round(total, 1), 'orchestration_s': round(orchestration, 1), 'rows': rows}
        )
    )


main()
