"""The proof of the paper's section 4 on this machine: a Cu loop run to convergence, judged as Table 3 judges DP.

    verdi run benchmarks/validation_cu.py [--intervals 4] [--surface-intervals 1] [--train-steps 4000]
                                          [--fp-task-max 10] [--max-repeats 2] [--accurate-threshold 0.99]
                                          [--nsteps 300,600] [--no-surfaces] [--properties-protocol balanced]
                                          [--virial] [--retrain-steps 0] [--retrain-virial] [--loop PK]
                                          [--output validation_cu.json] [--plots DIR]

ASE's EMT copper stands in for DFT (labels in milliseconds on 2 cores); the loop sees it only through its labeler,
and the property suite computes the same properties with EMT directly. Every step is the real one:

1. ``InitDataWorkChain`` (DP-GEN's init_bulk and init_surf): fcc, hcp and bcc relaxed by EMT, 2x2x2 supercells
   scaled 0.96-1.00 and perturbed as in the paper, 10 MD steps at 50 K from each, every frame an EMT label;
   (100), (110), (111) slabs pulled apart by 0.5-4.5 Å for the surface stages.
2. ``DpgenWorkChain`` along a compressed Table A.1: its four temperature intervals up to 2 Tm (two of each
   interval's five temperatures, the lowest and the highest), NPT at 1 bar and 10 kbar for the bulk crystals,
   then NVT for the fcc and hcp slabs in the lowest interval (``--surface-intervals``). Every stage is repeated,
   with the next MD length of ``--nsteps``, until its accurate ratio reaches ``--accurate-threshold`` (the
   paper's last iterations of each interval had at most 0.01 % candidates) or ``--max-repeats``. The paper's trust
   levels (0.05 and 0.20 eV/Å), ``--fp-task-max`` labels per system and iteration, 4 se_e2_a models per
   iteration with a 5 Å cutoff (past Cu's third neighbour shell), ``--train-steps`` steps each. Labels by EMT
   through the loop's labeler; MD by LAMMPS with the DeePMD plugin.
3. ``PropertiesWorkChain`` (the loop's ``properties`` input) on the final ensemble against EMT: the paper's Table 1
   tests, then the comparison with the paper's DP-versus-DFT error for each Table 3 property
   (:mod:`aiida_dpgen.properties.paper`).

With ``--retrain-steps N`` the final dataset also trains a second 4-model ensemble with N steps, tested the same
way: what longer training alone changes, measured in the same run; with ``--retrain-virial`` that training also
fits the virials (``--virial``: the loop's own training does). ``--loop PK`` takes a finished run of this
benchmark instead of running one (its report and judgement again, and the retraining).

Prints (and writes to ``--output``) the per-iteration report, the cost per step, the judged table, whether the
accurate-ratio criterion was met on each stage's last iteration, labels against explored frames, and the wall time.
The result of a run is in docs/validation.md.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time

from aiida import orm
from aiida.orm import StructureData

from aiida_dpgen.exploration.schedule import paper_cu_schedule
from aiida_dpgen.initdata.structures import crystal
from aiida_dpgen.loop.report import format_costs, format_table
from aiida_dpgen.properties.paper import format_judged, judge, tally
from aiida_dpgen.tools.properties import comparison_rows, properties_node
from aiida_dpgen.tools.report import iteration_reports
from aiida_dpgen.utils.codes import get_or_create_code
from aiida_dpgen.workflows.dpgen import DpgenWorkChain
from aiida_dpgen.workflows.initdata import InitDataWorkChain
from aiida_dpgen.workflows.properties import PropertiesWorkChain
from aiida_dpgen.workflows.runner import run_get_node
from aiida_dpgen.workflows.train import TrainWorkChain

TYPE_MAP = ['Cu']
LATTICE_CONSTANTS = {'fcc': 3.61, 'hcp': 2.55, 'bcc': 2.87}
"""Starting lattice constants; InitDataWorkChain relaxes the volume with the labeler (EMT) first."""
TRUST_LEVELS = {'f_trust_lo': 0.05, 'f_trust_hi': 0.20}
"""The paper's trust levels for Cu (eV/Å)."""
ARCHITECTURE = {
    'descriptor': {'sel': [80], 'rcut_smth': 2.0, 'rcut': 5.0, 'neuron': [8, 16, 32], 'axis_neuron': 8},
    'fitting_net': {'neuron': [64, 64, 64]},
}
"""se_e2_a with a 5 Å cutoff (Cu's third neighbour shell is at 4.4 Å, the fourth at 5.1 Å) on the ``fast``
training protocol: the ``wide`` model of benchmarks/active_learning.py, with room for compressed cells' neighbours."""
INITIAL_DATA = {
    'bulk': {
        'supercell': [2, 2, 2],
        'scale': {'start': 0.96, 'stop': 1.0, 'step': 0.02},
        'perturbations': 3,
        'md': {'temperature': 50.0, 'nsteps': 10, 'timestep': 2.0},
    },
    'surfaces': {
        'miller': [[1, 0, 0], [1, 1, 0], [1, 1, 1]],
        'layers': 4,
        'repeat': [1, 1],
        'separations': {'start': 0.5, 'stop': 4.5, 'step': 2.0},
    },
}
"""The paper's init_bulk and init_surf, smaller: 3 scales x 3 perturbations x 11 MD frames per crystal (the paper:
9 scales x 10 perturbations x 21), slabs of 4 layers pulled apart by 0.5, 2.5 and 4.5 Å (the paper: 0.5-9 Å)."""
VIRIAL_LOSS = {'start_pref_v': 0.02, 'limit_pref_v': 1.0}
"""The virial term of the loss (the ``fast`` protocol has none): the stress, and so the equation of state and the
elastic constants, fitted too; EMT's labels carry it."""
BULK_PRESSURES = [1.0, 10000.0]
"""Bar: two of Table A.1's eight NPT pressures."""


def schedule(arguments) -> dict:
    """A staged schedule: one stage per Table A.1 temperature interval (bulk), then the surfaces' lowest ones."""
    paper = paper_cu_schedule()
    bulk_intervals = [paper[8 * interval] for interval in range(arguments.intervals)]
    surface_intervals = [stage for stage in paper[32:] if stage['ensemble'] == 'nvt'][::4][
        : min(arguments.surface_intervals, arguments.intervals)
    ]
    stages = []
    for stage in bulk_intervals:
        temps = stage['temps']
        stages.append(
            {
                'systems': ['fcc', 'hcp', 'bcc'],
                'temps': [temps[0], temps[-1]],
                'press': BULK_PRESSURES,
                'ensemble': 'npt',
                'configurations_per_system': 1,
                'trj_freq': 10,
                'timestep': 0.002,
            }
        )
    if arguments.surfaces:
        for stage in surface_intervals:
            temps = stage['temps']
            stages.append(
                {
                    'systems': ['fcc_surface', 'hcp_surface'],
                    'temps': [temps[0], temps[-1]],
                    'ensemble': 'nvt',
                    'configurations_per_system': 2,
                    'trj_freq': 10,
                    'timestep': 0.002,
                }
            )
    return {
        'stages': stages,
        'nsteps': [int(steps) for steps in arguments.nsteps.split(',')],
        'accurate_threshold': arguments.accurate_threshold,
        'max_repeats': arguments.max_repeats,
    }


def initial_data(code, surfaces: bool):
    structures = {name: StructureData(ase=crystal('Cu', name, a)) for name, a in LATTICE_CONSTANTS.items()}
    overrides = INITIAL_DATA if surfaces else {'bulk': INITIAL_DATA['bulk']}
    builder = InitDataWorkChain.get_builder_from_protocol(
        code, structures, TYPE_MAP, {'engine': 'ase'}, protocol='balanced', overrides=overrides
    )
    if not surfaces:
        builder.pop('surfaces', None)
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'InitDataWorkChain<{node.pk}> failed: {node.exit_message}')
    print(f'initial data: {results["dataset"].nframes} EMT frames (InitDataWorkChain<{node.pk}>)')
    return node


def property_inputs(code, protocol: str) -> dict:
    return {
        'element': 'Cu',
        'code': code,
        'reference': {'calculator': {'calculator': 'ase.calculators.emt:EMT'}},
        'settings': PropertiesWorkChain.get_protocol_inputs(protocol)['settings'],
    }


def stage_criteria(reports: list[dict], threshold: float) -> list[dict]:
    """Per stage, its last iteration's accurate ratio and whether it reached the threshold."""
    last = {}
    for report in reports:
        last[report['stage_index']] = report
    return [
        {
            'stage': index,
            'systems': report['stage']['systems'],
            'temps': report['stage']['temps'],
            'iterations': sum(1 for other in reports if other['stage_index'] == index),
            'accurate_ratio': report['exploration']['accurate_ratio'],
            'met': report['exploration']['accurate_ratio'] >= threshold,
        }
        for index, report in sorted(last.items())
    ]


def retrained(loop, code, python, arguments, training: dict) -> orm.WorkflowNode:
    """A second ensemble on the loop's final dataset with ``--retrain-steps`` steps, tested against EMT."""
    datasets = dict(loop.outputs.datasets)
    parameters = {**training['dp']['parameters'], 'training': {'numb_steps': arguments.retrain_steps}}
    if arguments.retrain_virial:
        parameters['loss'] = VIRIAL_LOSS
    overrides = {'base': {'dp': {'parameters': parameters}}, 'numb_models': 4}
    builder = TrainWorkChain.get_builder_from_protocol(code, datasets, protocol='fast', overrides=overrides)
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(f'TrainWorkChain<{node.pk}> failed: {node.exit_message}')
    inputs = property_inputs(python, arguments.properties_protocol)
    builder = PropertiesWorkChain.get_builder_from_protocol(
        'Cu',
        dict(results['models']),
        code=python,
        reference=inputs['reference'],
        protocol=arguments.properties_protocol,
    )
    _, properties = run_get_node(builder)
    return properties


def write_plots(loop, folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for command in ('report', 'properties'):
        subprocess.run(['aiida-dpgen', command, str(loop.pk), '--plots', str(folder)], check=False, capture_output=True)
    print(f'plots: {", ".join(sorted(path.name for path in folder.glob("*.png")))} in {folder}')


def main() -> None:  # noqa: PLR0915 (one benchmark, read top to bottom)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--train-steps', type=int, default=4000)
    parser.add_argument('--fp-task-max', type=int, default=10)
    parser.add_argument('--max-repeats', type=int, default=2)
    parser.add_argument('--accurate-threshold', type=float, default=0.99)
    parser.add_argument('--nsteps', default='300,600', help='MD steps (2 fs) of a stage, then of each repeat.')
    parser.add_argument('--intervals', type=int, default=4, choices=[1, 2, 3, 4], help='Temperature intervals.')
    parser.add_argument('--surface-intervals', type=int, default=1, choices=[0, 1, 2], help='Surface stages.')
    parser.add_argument('--no-surfaces', dest='surfaces', action='store_false')
    parser.add_argument('--properties-protocol', choices=['fast', 'balanced', 'stringent'], default='balanced')
    parser.add_argument('--retrain-steps', type=int, default=0, help='Also train the final data this long; 0: no.')
    parser.add_argument('--virial', action='store_true', help="The loop's training also fits the virials.")
    parser.add_argument(
        '--retrain-virial', action='store_true', help='The retraining also fits the virials (limit_pref_v 1).'
    )
    parser.add_argument('--loop', type=int, default=None, help='A finished run of this benchmark to judge again.')
    parser.add_argument('--output', default=None, help='Write the results as JSON here.')
    parser.add_argument('--plots', default=None, help='Write the loop and property plots here.')
    arguments = parser.parse_args()
    start = time.perf_counter()

    python = get_or_create_code('python-ase', sys.executable, plugin='dpgen.ase')
    codes = {
        'train': get_or_create_code('dp', 'dp', plugin='dpgen.train'),
        'explore': get_or_create_code('lmp', 'lmp', plugin='dpgen.lammps'),
        'label': python,
    }
    training = {'dp': {'parameters': {'model': ARCHITECTURE, 'training': {'numb_steps': arguments.train_steps}}}}
    if arguments.virial:
        training['dp']['parameters']['loss'] = VIRIAL_LOSS
    if arguments.loop:  # a finished run: report and judge it again, and retrain its data
        loop = orm.load_node(arguments.loop)
        results = {'datasets': dict(loop.outputs.datasets)}
        init_seconds = loop_seconds = 0.0
        print(f'DpgenWorkChain<{loop.pk}>, finished before ({loop.process_state.value}, exit {loop.exit_status})')
    else:
        init_data = initial_data(python, arguments.surfaces)
        init_seconds = time.perf_counter() - start
        plan = schedule(arguments)
        builder = DpgenWorkChain.get_builder_from_protocol(
            codes,
            init_data=init_data,
            schedule=plan,
            selection={**TRUST_LEVELS, 'fp_task_max': arguments.fp_task_max},
            labeler={'engine': 'ase'},
            protocol='fast',
            overrides={'train': {'overrides': {'base': training, 'numb_models': 4}}},
        )
        builder.properties = property_inputs(python, arguments.properties_protocol)
        print(
            f'DpgenWorkChain: {len(plan["stages"])} stages, MD {plan["nsteps"]} steps, up to {arguments.max_repeats} '
            f'iterations each until {arguments.accurate_threshold:.0%} accurate; {arguments.train_steps} training steps'
        )
        results, loop = run_get_node(builder)
        loop_seconds = time.perf_counter() - start - init_seconds
    reports = iteration_reports(loop)
    print()
    print(format_table(reports))
    print('\nCost per step (wall seconds, core-hours):')
    print(format_costs(reports))
    if 'models' not in loop.outputs:
        raise SystemExit(f'DpgenWorkChain<{loop.pk}> has no final models: {loop.exit_message}')
    criteria = stage_criteria(reports, arguments.accurate_threshold)
    print(f"\nAccurate ratio on each stage's last iteration (criterion: >= {arguments.accurate_threshold:.0%}):")
    for entry in criteria:
        print(
            f'  stage {entry["stage"]} {",".join(entry["systems"])} {entry["temps"]} K: {entry["accurate_ratio"]:.2%} '
            f'after {entry["iterations"]} iteration(s): {"met" if entry["met"] else "NOT met"}'
        )
    judged = judge(comparison_rows(properties_node(str(loop.pk))))
    print("\nThe final ensemble against EMT, and the paper's DP-versus-DFT error (Table 3):\n")
    print(format_judged(judged, reference_name='EMT'))
    print(f'\n{tally(judged)}')

    frames = sum(report['exploration']['frames'] for report in reports)
    labels = sum(report['labeling']['labeled'] for report in reports)
    dataset = sum(data.nframes for data in results['datasets'].values())
    core_hours = {
        step: sum(report['cost'][step]['core_hours'] for report in reports) for step in ('train', 'explore', 'label')
    }
    print(
        f'\nExplored {frames} frames, labeled {labels} ({labels / max(frames, 1):.2%}; the paper: 7646 of 25 M, '
        f'0.03 %); final dataset {dataset} frames; core-hours {core_hours}'
    )
    summary = {
        'arguments': vars(arguments),
        'loop': loop.pk,
        'exit_status': loop.exit_status,
        'iterations': len(reports),
        'stage_criteria': criteria,
        'judged': [entry.as_dict() for entry in judged],
        'frames_explored': frames,
        'labels': labels,
        'dataset_frames': dataset,
        'core_hours': core_hours,
        'minutes': {'initial_data': init_seconds / 60, 'loop_and_properties': loop_seconds / 60},
        'reports': reports,
    }
    if arguments.retrain_steps:
        properties = retrained(loop, codes['train'], python, arguments, training)
        longer = judge(comparison_rows(properties))
        print(
            f'\nThe final dataset trained with {arguments.retrain_steps} steps '
            f'(PropertiesWorkChain<{properties.pk}>):\n'
        )
        print(format_judged(longer, reference_name='EMT'))
        summary['retrained'] = [entry.as_dict() for entry in longer]
    if arguments.plots:
        write_plots(loop, pathlib.Path(arguments.plots))
    summary['minutes']['total'] = (time.perf_counter() - start) / 60
    print(f'\nwall time: {summary["minutes"]["total"]:.1f} min (DpgenWorkChain<{loop.pk}>)')
    if arguments.output:
        pathlib.Path(arguments.output).write_text(json.dumps(summary, indent=1, default=str), encoding='utf-8')


if __name__ == '__main__':
    main()
