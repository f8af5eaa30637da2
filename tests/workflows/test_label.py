"""LabelWorkChain and AseSinglePointBaseWorkChain without engines: checks before submission, retries."""

from __future__ import annotations

import sys

import pytest
from aiida.engine import ProcessHandlerReport
from aiida.orm import Dict, InstalledCode, StructureData
from aiida.plugins import WorkflowFactory

from aiida_dpgen.data import ConfigurationsData

LabelWorkChain = WorkflowFactory('dpgen.label')
AseSinglePointBaseWorkChain = WorkflowFactory('dpgen.ase.base')


@pytest.fixture
def label_inputs(aiida_localhost, make_cu_frames):
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    )
    return {
        'candidates': {'fcc': ConfigurationsData.from_ase(make_cu_frames('fcc', 2, labeled=False), ['Cu']).store()},
        'labeler': {'engine': 'ase'},
        'code': code.store(),
    }


@pytest.mark.parametrize(
    ('labeler', 'message'),
    [
        ({'engine': 'castep'}, r"labeler.engine='castep' is not a registered labeler"),
        ({'engine': 'ase', 'protocol': 'precise'}, r"labeler.protocol='precise'"),
        ({'engine': 'quantumespresso', 'pseudo_family': 'none/such'}, r"pseudo_family='none/such' is not installed"),
        ({'engine': 'ase', 'calculator': 'ase.calculators.emt:EMT', 'kwargs': {}, 'basis': 'x'}, r"\['basis'\]"),
    ],
)
def test_bad_labeler_is_refused_before_anything_runs(generate_workchain, label_inputs, labeler, message):
    with pytest.raises(ValueError, match=message):
        generate_workchain('dpgen.label', {**label_inputs, 'labeler': labeler})


def test_elements_without_parameters_are_refused(generate_workchain, label_inputs, make_cu_frames):
    frames = make_cu_frames('fcc', 1, labeled=False)
    frames[0][0].symbol = 'Fe'
    candidates = {'alloy': ConfigurationsData.from_ase(frames, ['Cu', 'Fe']).store()}
    with pytest.raises(ValueError, match=r"no parameters for \['Fe'\]"):
        generate_workchain('dpgen.label', {**label_inputs, 'candidates': candidates})


def test_bad_geometry_screens_are_refused_naming_the_key(generate_workchain, label_inputs):
    with pytest.raises(ValueError, match=r'label.screens.volume_per_atom=\[30, 6\]: expected \[lowest, highest\]'):
        generate_workchain('dpgen.label', {**label_inputs, 'screens': Dict({'volume_per_atom': [30, 6]})})


def test_no_candidates_is_refused(generate_workchain, label_inputs):
    with pytest.raises(ValueError, match='candidates: no configurations to label'):
        generate_workchain('dpgen.label', {**label_inputs, 'candidates': {}})


def test_setup_screens_and_numbers_the_frames(generate_workchain, label_inputs, make_cu_frames):
    frames = make_cu_frames('fcc', 3, labeled=False)
    frames[0].positions[1] = frames[0].positions[0] + [0.1, 0.1, 0.0]
    candidates = {
        'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store(),
        'bcc': ConfigurationsData.from_ase(make_cu_frames('bcc', 1, labeled=False), ['Cu']).store(),
    }
    process = generate_workchain('dpgen.label', {**label_inputs, 'candidates': candidates})
    process.setup()
    assert [(item['system'], item['frame']) for item in process.ctx.structures.values()] == [
        ('bcc', 0),
        ('fcc', 1),
        ('fcc', 2),
    ]
    assert list(process.ctx.structures) == ['frame_000000', 'frame_000001', 'frame_000002']
    assert [(item['system'], item['frame'], item['reason']) for item in process.ctx.screened] == [
        ('fcc', 0, 'atoms too close')
    ]


def test_ase_base_workchain_reruns_a_failed_job(generate_workchain, generate_failed_calc_job, label_inputs):
    structure = next(iter(label_inputs['candidates'].values()))
    inputs = {
        'ase': {
            'code': label_inputs['code'],
            'structure': StructureData(ase=structure.to_ase()[0]),
            'calculator': Dict({'calculator': 'ase.calculators.emt:EMT'}),
        }
    }
    process = generate_workchain('dpgen.ase.base', inputs)
    process.setup()
    report = process.handle_any_failure(generate_failed_calc_job('dpgen.ase', 300))
    assert isinstance(report, ProcessHandlerReport)
    assert report.do_break
    assert process.inputs.max_iterations.value == 3


@pytest.fixture
def cu_family(tmp_path):
    from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family

    if not (DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF').is_file():
        pytest.skip('Debian quantum-espresso-data not installed')
    return install_pseudo_family('test/packed-Cu', files={'Cu': DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'})


@pytest.mark.parametrize(
    'case',
    [
        ({'engine': 'ase'}, 0, r'group_size=0: expected at least one single point per job'),
        (
            {'engine': 'cp2k'},
            4,
            r"group_size=4: the 'cp2k' labeler runs one structure per job; .*\['ase', 'quantumespresso'\]",
        ),
        (
            {'engine': 'quantumespresso', 'md': {'temperature': 300, 'nsteps': 3, 'timestep': 1.0}},
            2,
            r'group_size=2: labeler.md runs one MD per job; set group_size to 1',
        ),
        (
            {'engine': 'quantumespresso', 'overrides': {'pw': {'settings': {'CMDLINE': ['-nk', '2']}}}},
            3,
            r'group_size=3: labeler.overrides.pw.settings: not passed on to packed pw.x tasks; remove them, or label '
            r'with group_size 1',
        ),
    ],
)
def test_packing_that_cannot_run_is_refused(generate_workchain, label_inputs, cu_family, case):
    labeler, group_size, message = case
    if labeler['engine'] == 'quantumespresso':
        labeler = {**labeler, 'pseudo_family': cu_family.label}
    with pytest.raises(ValueError, match=message):
        generate_workchain('dpgen.label', {**label_inputs, 'labeler': labeler, 'group_size': group_size})


def test_a_packed_job_has_each_frames_single_point_inputs(generate_workchain, label_inputs, cu_family, make_cu_frames):
    code = InstalledCode(
        computer=label_inputs['code'].computer, filepath_executable='pw.x', default_calc_job_plugin='quantumespresso.pw'
    ).store()
    candidates = {'fcc': ConfigurationsData.from_ase(make_cu_frames('fcc', 5, labeled=False), ['Cu']).store()}
    labeler = {
        'engine': 'quantumespresso',
        'protocol': 'fast',
        'pseudo_family': cu_family.label,
        'options': {'resources': {'num_machines': 1}, 'max_wallclock_seconds': 600},
    }
    inputs = {'candidates': candidates, 'labeler': labeler, 'code': code, 'group_size': 3}
    process = generate_workchain('dpgen.label', inputs)
    process.setup()
    assert process.should_pack()

    keys = ['frame_000002', 'frame_000003', 'frame_000004']
    builder = process.ctx.labeler.packed_builder({key: process.ctx.structures[key]['structure'] for key in keys}, code)
    single = process.ctx.labeler.get_builder(process.ctx.structures['frame_000002']['structure'], code)
    assert sorted(builder.structures) == ['frame_000002', 'frame_000003', 'frame_000004']
    assert builder.parameters['frame_000002'].get_dict() == single.pw.parameters.get_dict()
    assert builder.metadata.options['max_wallclock_seconds'] == 3 * 600, 'the walltime is per single point'
    kpoints = builder.kpoints['frame_000002']
    assert kpoints.creator.process_label == 'create_kpoints_from_distance'
    assert kpoints.get_kpoints_mesh()[0] == [4, 4, 4]  # 0.5/Å on a 3.6 Å cubic cell, as PwBaseWorkChain makes it
    assert set(builder.pseudos) == {'Cu'}
