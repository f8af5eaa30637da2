"""AseSinglePointCalculation: the script, structure and calculator go to the computer; bad calculators refused."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from aiida.orm import Dict, InstalledCode, StructureData
from ase.build import bulk
from ase.calculators.emt import EMT


@pytest.fixture
def ase_inputs(aiida_localhost):
    atoms = bulk('Cu', 'fcc', a=3.6, cubic=True)
    atoms.positions[1] += [0.05, -0.02, 0.03]
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    )
    return {
        'code': code.store(),
        'structure': StructureData(ase=atoms),
        'calculator': Dict({'calculator': 'ase.calculators.emt:EMT'}),
    }


def test_prepared_folder_runs_and_equals_emt(generate_calc_job, ase_inputs):
    folder, calc_info = generate_calc_job('dpgen.ase', ase_inputs)
    assert calc_info.codes_info[0].cmdline_params == ['ase_single_point.py']
    assert sorted(calc_info.retrieve_list) == ['aiida.out', 'results.json']

    subprocess.run([sys.executable, 'ase_single_point.py'], cwd=folder, check=True)
    results = json.loads((folder / 'results.json').read_text())
    atoms = ase_inputs['structure'].get_ase()
    atoms.calc = EMT()
    assert results['energy'] == pytest.approx(atoms.get_potential_energy())
    np.testing.assert_allclose(results['forces'], atoms.get_forces())
    np.testing.assert_allclose(results['stress'], atoms.get_stress(voigt=False))


@pytest.mark.parametrize(
    ('calculator', 'message'),
    [
        ({'calculator': 'EMT'}, r'expected "module:Class"'),
        ({'calculator': 'ase.calculators.emt:EMT', 'kwargs': [1]}, 'calculator.kwargs=\\[1\\]: expected a dictionary'),
        ({'calculator': 'ase.calculators.emt:EMT', 'parameters': {}}, r"unknown key\(s\) \['parameters'\]"),
    ],
)
def test_bad_calculator_is_refused_before_submission(generate_calc_job, ase_inputs, calculator, message):
    with pytest.raises(ValueError, match=message):
        generate_calc_job('dpgen.ase', {**ase_inputs, 'calculator': Dict(calculator)})
