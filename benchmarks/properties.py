"""Wall time of the property suite (the paper's Table 1 tests) for one Deep Potential model against the
reference potential (EMT), in the same run, and where the time goes.

    python benchmarks/properties.py [--protocol balanced] [--model MODEL.pb] [--steps 2000]

Runs `aiida_dpgen.properties.suite.run_suite` in this process (what `PropertiesCalculation` runs on the
computer), first with EMT, then with the model through DeePMD-kit's ASE calculator, and prints the seconds
per property and the ratio model / EMT. The model's figure includes loading it (TensorFlow start-up).
Without ``--model`` it trains one first (tests/fixtures/make_model.py: the `fast` architecture, EMT data,
``--steps`` steps): an untrained model's forces are near zero and its relaxations end at once.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--protocol', default='balanced', choices=['fast', 'balanced', 'stringent'])
    parser.add_argument('--model', default=None, help='A frozen model; default: train one.')
    parser.add_argument('--steps', type=int, default=2000, help='Training steps of the model trained here.')
    parser.add_argument('--json', default=None, help='Also write the timings here.')
    arguments = parser.parse_args()

    import yaml
    from ase.calculators.emt import EMT

    from aiida_dpgen.properties.suite import run_suite
    from aiida_dpgen.workflows.protocols.utils import recursive_merge

    protocols = yaml.safe_load((REPOSITORY / 'aiida_dpgen/workflows/protocols/properties.yaml').read_text())
    settings = recursive_merge(
        protocols['default_inputs']['settings'], protocols['protocols'][arguments.protocol].get('settings', {})
    )
    model = arguments.model or train_model(arguments.steps)
    timings = {}
    for name, make in (
        ('EMT', EMT),
        ('model', lambda: __import__('deepmd.calculator', fromlist=['DP']).DP(model=model)),
    ):
        start = time.perf_counter()
        results = run_suite('Cu', make(), settings)
        timings[name] = {'total': time.perf_counter() - start, **results['seconds']}
        print(f'{name}: {timings[name]["total"]:.1f} s', flush=True)

    print(f'\nprotocol {arguments.protocol!r}: seconds per property')
    print(f'{"part":<22} {"EMT":>9} {"model":>9} {"ratio":>7}')
    for part in timings['EMT']:
        emt, model = timings['EMT'][part], timings['model'][part]
        print(f'{part:<22} {emt:9.2f} {model:9.2f} {model / emt if emt else float("nan"):7.1f}')
    if arguments.json:
        pathlib.Path(arguments.json).write_text(json.dumps(timings, indent=1))


if __name__ == '__main__':
    main()
