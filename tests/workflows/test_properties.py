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
    reference = {'labeler': Dict({'engine': 'vasp'})}
    assert "properties.reference.labeler.engine='vasp' cannot be a property reference" in validate_properties(
        {'element': Str('Cu'), 'code': python_code, 'settings': settings, 'reference': reference}, ['Cu']
    )
    bad = Dict({**settings.get_dict(), 'prototypes': ['fcc', 'bct']})
    assert 'properties.settings.prototypes' in validate_properties(
        {'element': Str('Cu'), 'code': python_code, 'settings': bad}, ['Cu']
    )


@pytest.fixture
def pw_code(aiida_localhost):
    return InstalledCode(
        computer=aiida_localhost,
        filepath_executable='/usr/bin/pw.x',
        default_calc_job_plugin='quantumespresso.pw',
        prepend_text='export OMP_NUM_THREADS=1',
    ).store()


@pytest.mark.parametrize(
    ('reference', 'message'),
    [
        ({'calculator': EMT, 'labeler': {'engine': 'ase'}}, 'reference: give a calculator or a labeler, not both'),
        ({'labeler': {'engine': 'vasp'}}, r"reference.labeler.engine='vasp' cannot be a property reference yet"),
        ({'labeler': {'engine': 'ase', 'protocl': 'fast'}}, r"reference.labeler: unknown key\(s\) \['protocl'\]"),
        ({'labeler': {'engine': 'quantumespresso'}}, 'reference.labeler_code: the quantumespresso labeler needs'),
        ({'calculator': EMT, 'labeler_code': 'pw'}, 'reference.labeler_code: only a reference labeler runs'),
    ],
)
def test_a_bad_reference_is_refused_before_any_job(generate_workchain, python_code, pw_code, reference, message):
    reference = {key: pw_code if value == 'pw' else value for key, value in reference.items()}
    builder = PropertiesWorkChain.get_builder_from_protocol(
        'Cu', {}, code=python_code, reference=reference, protocol='fast'
    )
    with pytest.raises(ValueError, match=message):
        generate_workchain('dpgen.properties', builder._inputs(prune=True))


def test_a_labeler_reference_runs_its_engine_from_the_suites_job(generate_calc_job, python_code, pw_code, tmp_path):
    """pw.x under the computer's mpirun when the job has 2 processes, its pseudopotential copied in, its
    code's prepend text in the job script; the suite's Python itself runs without MPI."""
    from aiida.orm import Dict, SinglefileData

    pseudo = tmp_path / 'Cu.UPF'
    pseudo.write_text('<UPF version="2.0.1"></UPF>\n')
    pseudo_node = SinglefileData(str(pseudo)).store()
    calculator = {
        'calculator': 'ase.calculators.espresso:Espresso',
        'kwargs': {'pseudopotentials': {'Cu': 'Cu.UPF'}, 'kspacing': 0.08},
        'profile': {'class': 'ase.calculators.espresso:EspressoProfile', 'kwargs': {'pseudo_dir': '.'}},
    }
    settings = {**PropertiesWorkChain.get_protocol_inputs('fast')['settings'], 'element': 'Cu'}
    inputs = {
        'code': python_code,
        'calculator': Dict(calculator),
        'engine_code': pw_code,
        'files': {'pseudo_Cu': pseudo_node},
        'settings': settings,
        'metadata': {'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}}},
    }
    folder, calc_info = generate_calc_job('dpgen.properties', inputs)

    written = json.loads((folder / 'calculator.json').read_text())
    command = written['profile']['kwargs']['command'].split()
    assert command[-1] == '/usr/bin/pw.x' and command[command.index('-np') + 1] == '2'
    assert calc_info.local_copy_list == [(pseudo_node.uuid, 'Cu.UPF', 'Cu.UPF')]
    assert calc_info.prepend_text == 'export OMP_NUM_THREADS=1'

    inputs['metadata'] = {'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}}
    folder, _ = generate_calc_job('dpgen.properties', inputs)
    assert json.loads((folder / 'calculator.json').read_text())['profile']['kwargs']['command'] == '/usr/bin/pw.x'

    with pytest.raises(ValueError, match=r"engine_code: the calculator 'ase.calculators.espresso:Espresso' runs an"):
        generate_calc_job('dpgen.properties', {key: value for key, value in inputs.items() if key != 'engine_code'})


def test_a_pytorch_model_keeps_its_suffix_in_the_job_so_deepmd_reads_it_with_its_backend(
    generate_calc_job, python_code
):
    model = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pth'), type_map=['Cu']).store()
    settings = {**PropertiesWorkChain.get_protocol_inputs('fast')['settings'], 'element': 'Cu'}
    folder, _ = generate_calc_job('dpgen.properties', {'code': python_code, 'model': model, 'settings': settings})
    assert json.loads((folder / 'calculator.json').read_text())['kwargs'] == {'model': 'model.pth'}
    assert (folder / 'model.pth').read_bytes() == (FIXTURES / 'models' / 'cu_se_e2_a.pth').read_bytes()
