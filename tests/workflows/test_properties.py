"""PropertiesWorkChain and PropertiesCalculation without running anything: inputs checked before any job,
the job's folder, and the loop's `properties` input."""

from __future__ import annotations

import json
import sys

import pytest
from aiida.orm import InstalledCode

from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.workflows.properties import PropertiesWorkChain

from ..conftest import FIXTURES

EMT = {'calculator': 'ase.calculators.emt:EMT'}


@pytest.fixture
def python_code(aiida_localhost):
    return InstalledCode(computer=aiida_localhost, filepath_executable=sys.executable).store()


@pytest.fixture
def model(aiida_profile):
    return DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu']).store()


def test_protocols_shrink_the_cells_for_tests_and_keep_the_paper_s_suite():
    fast = PropertiesWorkChain.get_protocol_inputs('fast')['settings']
    stringent = PropertiesWorkChain.get_protocol_inputs('stringent')['settings']
    assert fast['vacancy']['repeat'] == 2 and stringent['vacancy']['repeat'] == 3  # the paper's 3x3x3
    assert stringent['prototypes'] == ['fcc', 'hcp', 'bcc', 'sc', 'diamond', 'dhcp']
    assert set(stringent['properties']) == {
        'eos',
        'elastic',
        'vacancy',
        'interstitial',
        'surface',
        'stacking_fault',
        'phonons',
    }


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'element': 'Al'}, r"models.model_0: element='Al' is not in its type map \['Cu'\]"),
        ({'settings': {'vacancy': {'repeat': 1}}}, r'settings.vacancy.repeat=1: expected 2 or more'),
        ({'no_code': True}, r'code: the models need a code'),
        ({'no_models': True}, r'models and reference: nothing to compute'),
    ],
)
def test_bad_input_is_refused_before_any_job(generate_workchain, python_code, model, change, message):
    builder = PropertiesWorkChain.get_builder_from_protocol(
        change.get('element', 'Cu'),
        {} if change.get('no_models') else {'model_0': model},
        code=None if change.get('no_code') else python_code,
        protocol='fast',
        overrides={'settings': change.get('settings', {})},
    )
    with pytest.raises(ValueError, match=message):
        generate_workchain('dpgen.properties', builder._inputs(prune=True))


def test_the_job_runs_the_suite_with_the_model_through_deepmds_ase_calculator(generate_calc_job, python_code, model):
    settings = {**PropertiesWorkChain.get_protocol_inputs('fast')['settings'], 'element': 'Cu'}
    folder, calc_info = generate_calc_job(
        'dpgen.properties', {'code': python_code, 'model': model, 'settings': settings}
    )
    assert json.loads((folder / 'calculator.json').read_text()) == {
        'calculator': 'deepmd.calculator:DP',
        'kwargs': {'model': 'model.pb'},
    }
    assert (folder / 'model.pb').read_bytes() == (FIXTURES / 'models' / 'cu_se_e2_a.pb').read_bytes()
    assert json.loads((folder / 'settings.json').read_text()) == settings
    assert 'def run_suite(' in (folder / 'suite.py').read_text()
    assert calc_info.codes_info[0].cmdline_params == ['suite.py']


def test_the_loop_checks_its_property_tests_before_the_first_job(python_code):
    from aiida.orm import Dict, Str

    from aiida_dpgen.workflows.dpgen import validate_properties

    settings = Dict(PropertiesWorkChain.get_protocol_inputs('fast')['settings'])
    assert validate_properties({'element': Str('Cu'), 'code': python_code, 'settings': settings}, ['Cu']) is None
    assert "properties.element='Al': expected one of the type map" in validate_properties(
        {'element': Str('Al'), 'code': python_code, 'settings': settings}, ['Cu']
    )
    assert 'properties.code: missing' in validate_properties({'element': Str('Cu'), 'settings': settings}, ['Cu'])
    bad = Dict({**settings.get_dict(), 'prototypes': ['fcc', 'bct']})
    assert 'properties.settings.prototypes' in validate_properties(
        {'element': Str('Cu'), 'code': python_code, 'settings': bad}, ['Cu']
    )
