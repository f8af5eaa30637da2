"""The paper's copper example (Zhang et al. 2020, section 4), shrunk to a laptop.

Run with ``verdi run examples/launch_cu.py`` on any profile (``scripts/run-example.sh`` creates an embedded
``verdi presto`` profile and runs it). What it does, every step a node in the provenance graph:

1. initial data with ``InitDataWorkChain`` (DP-GEN's init_bulk): fcc, hcp and bcc cells scaled and
   perturbed (0.01 Å atoms, 3 % cell) as in the paper, and a short ab initio MD at 50 K from each, every
   step labeled by the chosen first-principles engine (Quantum ESPRESSO by default). With the ``fast``
   protocol the cells keep their given lattice constants (no relaxation), two scales, one perturbation and
   two MD steps each, to stay within minutes; ``balanced`` and ``stringent`` relax the volume first;
2. ``DpgenWorkChain``, iteration after iteration: train an ensemble of 4 DeePMD-kit models, explore with
   LAMMPS DPMD from the perturbed fcc/hcp/bcc cells, NPT at the low temperatures and pressures of the paper's
   Table A.1 (first interval), select frames with the paper's trust levels (0.05 and 0.20 eV/Å), label up
   to ``fp_task_max`` of them per crystal (2 with the fast protocol) and add them to the data;
3. the per-iteration table (accurate / candidate / failed, labels, dataset size, errors, cost).

Options::

    verdi run examples/launch_cu.py [--labeler qe|cp2k|vasp|emt] [--protocol fast|balanced|stringent]
                                    [--iterations 2] [--computer localhost] [--label-code LABEL]
                                    [--train-code LABEL] [--explore-code LABEL] [--resources FILE]
                                    [--label-group-size N] [--submit]

``qe`` (pw.x, Debian's Cu PAW pseudopotential) and ``cp2k`` run here; ``emt`` is ASE's EMT potential, a
fast stand-in for DFT; ``vasp`` needs your VASP code (``--label-code vasp@cluster``) and POTCAR family.
``fast`` keeps the models and the DFT tiny (minutes on 2 cores); ``stringent`` is the paper's setting.

On a cluster (docs/cluster.md): ``--computer`` (or one code per step) picks where the jobs run,
``--resources`` a YAML file of per-step resources (examples/cluster/resources.yaml), ``--label-group-size``
packs that many pw.x single points into one job (labels of a few minutes each), and ``--submit`` hands
the loop to the daemon (``verdi daemon start``) after the initial data are labeled, and returns; follow it
with ``aiida-dpgen status <pk>``.
"""

from __future__ import annotations

import argparse
import sys
import time

from aiida.engine import submit
from aiida.orm import StructureData, load_code

from aiida_dpgen.exploration.schedule import paper_cu_schedule
from aiida_dpgen.initdata.structures import crystal
from aiida_dpgen.loop.report import format_costs, format_table
from aiida_dpgen.tools.report import iteration_reports
from aiida_dpgen.utils.codes import get_or_create_code, get_or_create_mpi_code
from aiida_dpgen.utils.resources import job_options
from aiida_dpgen.workflows.dpgen import DpgenWorkChain
from aiida_dpgen.workflows.initdata import InitDataWorkChain
from aiida_dpgen.workflows.launch import launched_children
from aiida_dpgen.workflows.runner import run_get_node

TYPE_MAP = ['Cu']
LATTICE_CONSTANTS = {'fcc': 3.61, 'hcp': 2.55, 'bcc': 2.87}
"""The conventional cells (fcc 4 atoms, hcp and bcc 2): small enough for pw.x labels in seconds to a minute."""
FAST_INITIAL_DATA = {
    'bulk': {
        'relax_scales': [],
        'scale': {'start': 0.96, 'stop': 1.0, 'step': 0.04},
        'perturbations': 1,
        'md': {'temperature': 50.0, 'nsteps': 2, 'timestep': 2.0},
    }
}
"""With ``--protocol fast``: two scales (the paper: 0.84-1.00 of the relaxed volume), one perturbation and
two MD steps each, no relaxation: 12 labels."""
TRUST_LEVELS = {'f_trust_lo': 0.05, 'f_trust_hi': 0.20}
"""The paper's trust levels for Cu (eV/Å)."""
LABELERS = {
    'qe': ({'engine': 'quantumespresso'}, 'pw', 'pw.x', 'quantumespresso.pw'),
    'cp2k': ({'engine': 'cp2k'}, 'cp2k', 'cp2k', 'cp2k'),
    'vasp': ({'engine': 'vasp'}, None, None, 'vasp.vasp'),
    'emt': ({'engine': 'ase'}, 'python-ase', sys.executable, 'dpgen.ase'),
}


def labeler_and_code(name: str, computer: str, label_code: str | None):
    specification, label, executable, plugin = LABELERS[name]
    if label_code:
        return specification, load_code(label_code)
    if name == 'vasp':
        raise SystemExit('--labeler vasp: VASP is licensed and not installed here; pass --label-code vasp@<computer>')
    if name == 'qe':
        from aiida_dpgen.labeling.pseudos import install_pseudo_family

        install_pseudo_family()  # Debian's Cu PAW file; kept as it is when the family exists
    if name == 'emt':
        return specification, get_or_create_code(label, executable, computer=computer, plugin=plugin)
    return specification, get_or_create_mpi_code(label, executable, computer=computer, plugin=plugin)


def initial_data(labeler: dict, code, protocol: str):
    """DP-GEN's init_bulk with the same engine as the loop's labels: the labeled dataset and the perturbed
    cells to explore from, as one finished ``InitDataWorkChain``."""
    structures = {name: StructureData(ase=crystal('Cu', name, a)) for name, a in LATTICE_CONSTANTS.items()}
    overrides = FAST_INITIAL_DATA if protocol == 'fast' else None
    builder = InitDataWorkChain.get_builder_from_protocol(
        code, structures, TYPE_MAP, labeler, protocol=protocol, overrides=overrides
    )
    bulk = builder.bulk.get_dict()
    md = bulk.get('md') or {'nsteps': 0}
    print(
        f'Initial data: fcc/hcp/bcc cells, {bulk["perturbations"]} perturbation(s) per scale, {md["nsteps"]} MD '
        f'step(s) from each, labeled with {labeler["engine"]} ({code.full_label})'
    )
    results, node = run_get_node(builder)
    if not node.is_finished_ok:
        raise SystemExit(
            f'InitDataWorkChain<{node.pk}> failed: {node.exit_message}; see `verdi process report {node.pk}`'
        )
    summary = launched_children(node)['label_bulk'].outputs.summary.get_dict()
    print(
        f'  {summary["labeled"]} frames labeled from {summary["submitted"]} runs, {summary["excluded"]} excluded, '
        f'{summary["core_hours"]:.3f} core-hours (InitDataWorkChain<{node.pk}>, dataset {results["dataset"].pk})'
    )
    return node


def schedule(iterations: int) -> list[dict]:
    """The first bulk iterations of Table A.1 (50 K to 0.4 Tm, NPT), shortened: two of its temperatures and
    two of its pressures per iteration, moving up the temperature list, 300 steps of 2 fs."""
    first = paper_cu_schedule()[0]
    temps, press = first['temps'], first['press']
    stages = []
    for number in range(iterations):
        stage = {key: value for key, value in first.items() if key != 'configurations_per_system'}
        pair = [temps[min(2 * number, len(temps) - 1)], temps[min(2 * number + 1, len(temps) - 1)]]
        stages.append({**stage, 'temps': sorted(set(pair)), 'press': [press[0], press[3]], 'nsteps': 300})
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description='The DP-GEN Cu example on a laptop.')
    parser.add_argument('--labeler', choices=sorted(LABELERS), default='qe')
    parser.add_argument('--protocol', choices=['fast', 'balanced', 'stringent'], default='fast')
    parser.add_argument('--iterations', type=int, default=2)
    parser.add_argument('--computer', default='localhost')
    parser.add_argument('--label-code', default=None, help='An existing code for the labeler, e.g. vasp@cluster.')
    parser.add_argument('--train-code', default=None, help='An existing dp code, e.g. dp@gpu-cluster.')
    parser.add_argument('--explore-code', default=None, help='An existing lmp code, e.g. lmp@gpu-cluster.')
    parser.add_argument('--resources', default=None, help='YAML file of per-step job resources (train/explore/label).')
    parser.add_argument(
        '--label-group-size', type=int, default=1, help="The loop's single points per job (qe only; default 1)."
    )
    parser.add_argument('--submit', action='store_true', help='Submit the loop to the daemon instead of running it.')
    arguments = parser.parse_args()
    resources = None
    if arguments.resources:
        import pathlib

        import yaml

        resources = yaml.safe_load(pathlib.Path(arguments.resources).read_text(encoding='utf-8'))

    start = time.perf_counter()
    labeler, label_code = labeler_and_code(arguments.labeler, arguments.computer, arguments.label_code)
    if resources and 'label' in resources:  # the initial labels run where and as the loop's labels do
        scheduler = label_code.computer.scheduler_type
        labeler = {**labeler, 'options': job_options(resources['label'], scheduler, step='resources.label')}
    init_data = initial_data(labeler, label_code, arguments.protocol)
    codes = {
        'train': load_code(arguments.train_code)
        if arguments.train_code
        else get_or_create_code('dp', 'dp', computer=arguments.computer, plugin='dpgen.train'),
        'explore': load_code(arguments.explore_code)
        if arguments.explore_code
        else get_or_create_code('lmp', 'lmp', computer=arguments.computer, plugin='dpgen.lammps'),
        'label': label_code,
    }
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        init_data=init_data,
        schedule=schedule(arguments.iterations),
        selection=TRUST_LEVELS,
        labeler=labeler,
        protocol=arguments.protocol,
        overrides={'label': {'group_size': arguments.label_group_size}},
        resources=resources,
    )
    if arguments.submit:
        node = submit(builder)
        print(f'\nSubmitted DpgenWorkChain<{node.pk}> to the daemon; follow it with `aiida-dpgen status {node.pk}`')
        return
    print(
        f'\nDpgenWorkChain: {arguments.iterations} iterations, {builder.train.numb_models.value} models, '
        f'protocol {arguments.protocol!r}, labels by {labeler["engine"]}; progress: `verdi process report <pk>`'
    )
    results, node = run_get_node(builder)
    reports = iteration_reports(node)
    print()
    print(format_table(reports))
    print('\nCost per step (wall seconds, core-hours):')
    print(format_costs(reports))
    if not node.is_finished_ok:
        raise SystemExit(f'DpgenWorkChain<{node.pk}> failed: {node.exit_message}')
    datasets = results['datasets']
    frames = sum(dataset.nframes for dataset in datasets.values())
    print(
        f'\nDpgenWorkChain<{node.pk}> finished in {time.perf_counter() - start:.0f} s (with the initial data): '
        f'{len(results["models"])} models, {frames} labeled frames in {len(datasets)} datasets '
        f'({", ".join(sorted(datasets))}; `aiida-dpgen export-data {node.pk} DIR` writes them for dp train).'
    )
    print(f'Report with plots: aiida-dpgen report {node.pk} --plots cu-report')


if __name__ == '__main__':  # also imported by benchmarks/active_learning.py
    main()
