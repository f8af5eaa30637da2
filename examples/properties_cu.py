"""The paper's Table 3 for the final models of a finished copper loop: property tests against a reference.

Run with ``verdi run examples/properties_cu.py PK`` where PK is a finished ``DpgenWorkChain`` (for example
the one ``launch_cu.py`` ran). Each final model, and the reference, runs the property suite (the paper's
Table 1: equations of state, elastic constants, vacancy, interstitials, surfaces, stacking fault, phonons)
in its own job; the comparison printed at the end is the one ``aiida-dpgen properties <pk>`` prints.

Options::

    verdi run examples/properties_cu.py PK [--reference loop|emt|qe] [--protocol fast|balanced|stringent]
                                           [--prototypes fcc,hcp,...] [--properties eos,elastic,...]
                                           [--computer localhost] [--mpiprocs 2]

The reference is by default the loop's own labeler, with its settings and code: the models are judged
against what they were trained on. ``emt`` is ASE's EMT copper (seconds); ``qe`` the Quantum ESPRESSO
labeler's ``fast`` settings. A first-principles reference runs pw.x through ASE in the reference's job, on
``--mpiprocs`` processes: minutes per property on 4-atom cells, hours for the defect and phonon supercells
(docs/properties.md). So with one, and neither ``--prototypes`` nor ``--properties`` given, only the fcc
equation of state and elastic constants are computed.
"""

from __future__ import annotations

import argparse
import sys

from aiida.orm import load_node

from aiida_dpgen.properties.compare import format_comparison
from aiida_dpgen.tools.properties import comparison_rows, reference_name, suite_warnings
from aiida_dpgen.utils.codes import get_or_create_code, get_or_create_mpi_code
from aiida_dpgen.workflows.properties import PropertiesWorkChain
from aiida_dpgen.workflows.runner import run_get_node


def reference(loop, name: str, computer: str, mpiprocs: int) -> dict:
    """The reference namespace: EMT, or a labeler (the loop's own, or Quantum ESPRESSO's) with its code."""
    if name == 'emt':
        return {'calculator': {'calculator': 'ase.calculators.emt:EMT'}}
    if name == 'loop':
        labeler, code = loop.inputs.label.labeler.get_dict(), loop.inputs.label.code
    else:
        labeler = {'engine': 'quantumespresso', 'protocol': 'fast'}
        code = get_or_create_mpi_code('pw', 'pw.x', computer=computer, plugin='quantumespresso.pw')
    if labeler['engine'] == 'ase':
        return {'labeler': labeler}
    resources = {'num_machines': 1, 'num_mpiprocs_per_machine': mpiprocs}
    labeler['options'] = {**labeler.get('options', {}), 'resources': resources}
    return {'labeler': labeler, 'labeler_code': code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pk', type=int, help='A finished DpgenWorkChain.')
    parser.add_argument('--reference', choices=['loop', 'emt', 'qe'], default='loop')
    parser.add_argument('--protocol', choices=['fast', 'balanced', 'stringent'], default='fast')
    parser.add_argument('--prototypes', default=None, help='Comma-separated, e.g. fcc,hcp (default: all six).')
    parser.add_argument('--properties', default=None, help='Comma-separated, e.g. eos,elastic (default: all).')
    parser.add_argument('--computer', default='localhost')
    parser.add_argument('--mpiprocs', type=int, default=2, help='MPI processes of a first-principles reference.')
    arguments = parser.parse_args()

    loop = load_node(arguments.pk)
    if 'models' not in loop.outputs:
        sys.exit(f'{loop.process_label}<{loop.pk}> has no final models (state: {loop.process_state})')
    settings = {
        key: getattr(arguments, key).split(',') for key in ('prototypes', 'properties') if getattr(arguments, key)
    }
    potential = reference(loop, arguments.reference, arguments.computer, arguments.mpiprocs)
    if 'labeler_code' in potential and not settings:
        settings = {'prototypes': ['fcc'], 'properties': ['eos', 'elastic']}
        print('a first-principles reference: the fcc equation of state and elastic constants only')
    python = get_or_create_code('python-ase', sys.executable, computer=arguments.computer, plugin='dpgen.ase')
    builder = PropertiesWorkChain.get_builder_from_protocol(
        'Cu',
        dict(loop.outputs.models),
        code=python,
        reference=potential,
        protocol=arguments.protocol,
        overrides={'settings': settings},
    )
    _, node = run_get_node(builder)
    print(f'\nPropertiesWorkChain<{node.pk}>: exit status {node.exit_status}')
    rows = comparison_rows(node)
    if rows:
        print(format_comparison(rows, reference_name(node), f'model ({len(loop.outputs.models)})'))
    for name, messages in suite_warnings(node).items():
        for message in messages:
            print(f'{name}: {message}')
    print(f'\nPlots: aiida-dpgen properties {node.pk} --plots DIR')


if __name__ == '__main__':
    main()
