"""Wall time of the property suite (the paper's Table 1 tests) for one Deep Potential model against the
reference potential (EMT), in the same run, and where the time goes.

    python benchmarks/properties.py [--protocol balanced] [--model MODEL.pb] [--steps 2000]
        [--pw fast --mpiprocs 2 --prototypes fcc --properties eos,elastic]

Runs `aiida_dpgen.properties.suite.run_suite` in this process (what `PropertiesCalculation` runs on the
computer), first with EMT, then with the model through DeePMD-kit's ASE calculator, and prints the seconds
per property and the ratio model / EMT. The model's figure includes loading it (TensorFlow start-up).
Without ``--model`` it trains one first (tests/fixtures/make_model.py: the `fast` architecture, EMT data,
``--steps`` steps): an untrained model's forces are near zero and its relaxations end at once.

With ``--pw PROTOCOL`` the Quantum ESPRESSO labeler of that protocol is a third potential, as
`PropertiesWorkChain` runs it for ``reference.labeler`` (`QuantumEspressoLabeler.property_reference`: pw.x
through ASE's Espresso, ``--mpiprocs`` MPI processes); it needs the default AiiDA profile with the pseudo
family of ``aiida-dpgen pseudos install``. ``--prototypes`` and ``--properties`` restrict the suite for all
three (pw.x on the full suite takes hours here).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

REPOSITORY = pathlib.Path(__file__).parents[1]


def train_model(steps: int) -> str:
    import subprocess
    import sys
    import tempfile

    folder = pathlib.Path(tempfile.mkdtemp(prefix='properties-benchmark-'))
    output = folder / 'model.pb'
    command = [sys.executable, str(REPOSITORY / 'tests/fixtures/make_model.py'), f'--output={output}']
    subprocess.run([*command, f'--steps={steps}', f'--workdir={folder / "train"}'], check=True, capture_output=True)
    print(f'model: {output} ({steps} steps on EMT data)')
    return str(output)


def pw_calculator(protocol: str, mpiprocs: int, folder: pathlib.Path):
    """The QE labeler's property reference as the job would build it, its pseudopotential copied to ``folder``
    (where pw.x then runs)."""
    import os
    import shutil

    from aiida import load_profile

    from aiida_dpgen.calculations.properties import engine_command
    from aiida_dpgen.labelers.quantumespresso import QuantumEspressoLabeler
    from aiida_dpgen.properties.suite import load_calculator
    from aiida_dpgen.utils.codes import get_or_create_mpi_code
    from aiida_dpgen.utils.engines import ROOT_MPI_ENV

    load_profile()
    code = get_or_create_mpi_code('pw', 'pw.x', plugin='quantumespresso.pw')
    reference = QuantumEspressoLabeler({'engine': 'quantumespresso', 'protocol': protocol}).property_reference(
        'Cu', code
    )
    for pseudo in reference.files.values():
        with pseudo.open(mode='rb') as source, (folder / pseudo.filename).open('wb') as target:
            shutil.copyfileobj(source, target)
    command = engine_command(code, {'num_machines': 1, 'num_mpiprocs_per_machine': mpiprocs})
    if os.geteuid() == 0:  # what the pw code's prepend text exports in a job
        os.environ.update(ROOT_MPI_ENV)
    specification = reference.calculator
    specification['profile']['kwargs'].update(command=command, pseudo_dir=str(folder))
    specification['kwargs']['directory'] = str(folder)
    return load_calculator(specification)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--protocol', default='balanced', choices=['fast', 'balanced', 'stringent'])
    parser.add_argument('--model', default=None, help='A frozen model; default: train one.')
    parser.add_argument('--steps', type=int, default=2000, help='Training steps of the model trained here.')
    parser.add_argument('--json', default=None, help='Also write the timings here.')
    parser.add_argument('--pw', default=None, choices=['fast', 'balanced', 'stringent'], help='QE labeler protocol.')
    parser.add_argument('--mpiprocs', type=int, default=2, help='MPI processes of pw.x.')
    parser.add_argument('--prototypes', default=None, help='Comma-separated prototypes (default: the protocol).')
    parser.add_argument('--properties', default=None, help='Comma-separated properties (default: the protocol).')
    arguments = parser.parse_args()

    import yaml
    from ase.calculators.emt import EMT

    from aiida_dpgen.properties.suite import run_suite
    from aiida_dpgen.workflows.protocols.utils import recursive_merge

    protocols = yaml.safe_load((REPOSITORY / 'aiida_dpgen/workflows/protocols/properties.yaml').read_text())
    settings = recursive_merge(
        protocols['default_inputs']['settings'], protocols['protocols'][arguments.protocol].get('settings', {})
    )
    for key in ('prototypes', 'properties'):
        if getattr(arguments, key):
            settings[key] = getattr(arguments, key).split(',')
    model = arguments.model or train_model(arguments.steps)
    potentials = [
        ('EMT', EMT),
        ('model', lambda: __import__('deepmd.calculator', fromlist=['DP']).DP(model=model)),
    ]
    if arguments.pw:
        import tempfile

        folder = pathlib.Path(tempfile.mkdtemp(prefix='properties-pw-'))
        potentials.append((f'pw.x ({arguments.pw})', lambda: pw_calculator(arguments.pw, arguments.mpiprocs, folder)))
    timings = {}
    for name, make in potentials:
        start = time.perf_counter()
        results = run_suite('Cu', make(), settings)
        timings[name] = {'total': time.perf_counter() - start, **results['seconds']}
        print(f'{name}: {timings[name]["total"]:.1f} s', flush=True)

    print(f'\nprotocol {arguments.protocol!r}: seconds per property, and each potential / EMT')
    names = list(timings)
    ratios = ''.join(f' {name + " / EMT":>18}' for name in names[1:])
    print(f'{"part":<22}' + ''.join(f' {name:>14}' for name in names) + ratios)
    for part in timings['EMT']:
        emt = timings['EMT'][part]
        row = f'{part:<22}' + ''.join(f' {timings[name][part]:14.2f}' for name in names)
        row += ''.join(f' {timings[name][part] / emt if emt else float("nan"):18.1f}' for name in names[1:])
        print(row)
    if arguments.json:
        pathlib.Path(arguments.json).write_text(json.dumps(timings, indent=1))


if __name__ == '__main__':
    main()
