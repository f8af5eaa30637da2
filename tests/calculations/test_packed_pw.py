"""PackedPwCalculation without pw.x: one input per task, as aiida-quantumespresso writes it, and the checks."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.common import CodeRunMode
from aiida_pseudo.data.pseudo import UpfData
from aiida_quantumespresso.calculations.pw import PwCalculation
from ase.build import bulk

from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY

DEBIAN_CU = DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'
SCF = {'CONTROL': {'calculation': 'scf', 'tprnfor': True, 'tstress': True}, 'SYSTEM': {'ecutwfc': 30}}


@pytest.fixture
def packed_inputs(aiida_localhost):
    if not DEBIAN_CU.is_file():
        pytest.skip('Debian quantum-espresso-data not installed')
    code = orm.InstalledCode(
        computer=aiida_localhost, filepath_executable='pw.x', default_calc_job_plugin='quantumespresso.pw'
    )
    structures = {
        'fcc': orm.StructureData(ase=bulk('Cu', 'fcc', a=3.6, cubic=True)),
        'bcc': orm.StructureData(ase=bulk('Cu', 'bcc', a=2.87, cubic=True)),
    }
    kpoints = {}
    for task, mesh in (('fcc', [3, 3, 3]), ('bcc', [4, 4, 4])):
        kpoints[task] = orm.KpointsData()
        kpoints[task].set_kpoints_mesh(mesh)
    return {
        'code': code.store(),
        'structures': structures,
        'parameters': {task: orm.Dict(SCF) for task in structures},
        'kpoints': kpoints,
        'pseudos': {'Cu': UpfData.get_or_create(DEBIAN_CU)},
        'metadata': {'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}}},
    }


def test_each_task_runs_the_input_its_pw_calculation_would(generate_calc_job, packed_inputs):
    folder, calcinfo = generate_calc_job('dpgen.pw_packed', packed_inputs)

    for task in ('bcc', 'fcc'):
        written = (folder / task / 'aiida.in').read_text()
        alone, _ = PwCalculation._generate_pwcp_inputdata(
            packed_inputs['parameters'][task],
            {},
            packed_inputs['pseudos'],
            packed_inputs['structures'][task],
            packed_inputs['kpoints'][task],
        )
        assert written == alone.replace("outdir = './out/'", f"outdir = './{task}/'")
    assert calcinfo.codes_run_mode == CodeRunMode.SERIAL
    assert [info.cmdline_params for info in calcinfo.codes_info] == [['-in', 'bcc/aiida.in'], ['-in', 'fcc/aiida.in']]
    assert [info.stdout_name for info in calcinfo.codes_info] == ['bcc/aiida.out', 'fcc/aiida.out']
    assert all(info.withmpi for info in calcinfo.codes_info)
    # get_or_create may return a node an earlier test stored under another file name
    filename = packed_inputs['pseudos']['Cu'].filename
    assert [copy[2] for copy in calcinfo.local_copy_list] == [f'./pseudo/{filename}'], 'one copy for all tasks'
    assert ('*/aiida.save/data-file-schema.xml', '.', 3) in calcinfo.retrieve_list


def test_cmdline_flags_go_to_every_task(generate_calc_job, packed_inputs):
    _, calcinfo = generate_calc_job('dpgen.pw_packed', {**packed_inputs, 'settings': {'CMDLINE': ['-nk', '2']}})
    assert [info.cmdline_params[:2] for info in calcinfo.codes_info] == [['-nk', '2'], ['-nk', '2']]


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (lambda inputs: inputs['kpoints'].pop('bcc'), r"kpoints: expected one entry per task .* missing \['bcc'\]"),
        (
            lambda inputs: inputs['parameters'].update(
                fcc=orm.Dict({**SCF, 'CONTROL': {**SCF['CONTROL'], 'calculation': 'relax'}})
            ),
            r"parameters.fcc.CONTROL.calculation='relax': packed jobs run SCF single points",
        ),
        (lambda inputs: inputs.update(settings={'ADDITIONAL_RETRIEVE_LIST': ['x']}), r'settings: unknown keys'),
        (lambda inputs: inputs.update(pseudos={}), r"pseudos: no pseudopotential for the kinds \['Cu'\]"),
    ],
)
def test_inconsistent_tasks_are_refused_before_submission(generate_calc_job, packed_inputs, change, message):
    change(packed_inputs)
    with pytest.raises(ValueError, match=message):
        generate_calc_job('dpgen.pw_packed', packed_inputs)
