"""LabelWorkChain with real engines: ASE's EMT through a CalcJob, and pw.x through PwBaseWorkChain."""

from __future__ import annotations

import pathlib
import sys

import dpdata
import numpy as np
import pytest
from aiida import orm
from aiida.orm import CalcJobNode, InstalledCode, QueryBuilder
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_dpgen.data import ConfigurationsData
from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family
from aiida_dpgen.tools.provenance import frame_origin
from aiida_dpgen.utils.codes import get_or_create_mpi_code
from aiida_dpgen.workflows.label import LabelWorkChain
from aiida_dpgen.workflows.protocols.utils import recursive_merge
from aiida_dpgen.workflows.runner import run_get_node

from .conftest import require


def test_emt_labels_equal_emt_called_directly_and_trace_back_to_their_jobs(aiida_localhost, make_cu_frames):
    frames = make_cu_frames('fcc', 3, seed=11, labeled=False)
    frames.append(frames[0].copy())
    frames[3].positions[1] = frames[3].positions[0] + [0.3, 0.0, 0.0]  # too close: screened, not sent
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    )
    candidates = {
        'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store(),
        'bcc': ConfigurationsData.from_ase(make_cu_frames('bcc', 2, seed=12, labeled=False), ['Cu']).store(),
    }

    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler={'engine': 'ase'}, code=code.store())

    assert node.is_finished_ok, node.exit_message
    summary = results['summary'].get_dict()
    assert (summary['frames'], summary['submitted'], summary['converged'], summary['labeled']) == (6, 5, 5, 5)
    assert summary['excluded_by_reason'] == {'atoms too close': 1}
    assert summary['wall_seconds'] > 0
    labeled = results['dataset'].to_dpdata()
    energies = sorted(float(energy) for system in labeled for energy in system['energies'])
    expected = []
    for atoms in [*frames[:3], *make_cu_frames('bcc', 2, seed=12, labeled=False)]:
        atoms.calc = EMT()
        expected.append(atoms.get_potential_energy())
    assert energies == pytest.approx(sorted(expected), abs=1e-9)
    # every frame's energy comes from the output of one AseSinglePointCalculation
    creator = results['dataset'].creator
    sources = {
        link.node.creator.process_label
        for link in creator.base.links.get_incoming().all()
        if link.link_label.endswith('_parameters')
    }
    assert sources == {'AseSinglePointCalculation'}


def test_too_many_excluded_fails_after_outputting_the_labels(aiida_localhost, make_cu_frames):
    """DP-GEN's ratio_failed: a labeling where more frames are excluded than allowed fails, keeping what it got."""
    frames = make_cu_frames('fcc', 2, seed=13, labeled=False)
    frames[1].positions[1] = frames[1].positions[0] + [0.3, 0.0, 0.0]  # too close: excluded
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    )
    results, node = run_get_node(
        LabelWorkChain,
        candidates={'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store()},
        labeler={'engine': 'ase'},
        code=code.store(),
        max_excluded_ratio=0.25,
    )
    assert node.exit_status == LabelWorkChain.exit_codes.ERROR_TOO_MANY_EXCLUDED.status
    assert '1 of 2 frames were excluded' in node.exit_message
    assert results['dataset'].nframes == 1, 'the label that succeeded is kept'


@pytest.fixture
def pw_code(aiida_localhost):
    require('pw.x')
    return get_or_create_mpi_code('pw', 'pw.x', computer=aiida_localhost.label, plugin='quantumespresso.pw')


@pytest.fixture
def cu_family(tmp_path):
    return install_pseudo_family('test/debian-Cu', files={'Cu': DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'})


QE_OPTIONS = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'max_wallclock_seconds': 600}


def test_pw_labels_are_in_deepmd_units_and_equal_dpdatas_reading(pw_code, cu_family, make_cu_frames, tmp_path):
    frames = make_cu_frames('fcc', 1, seed=5, labeled=False)
    candidates = {'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store()}
    labeler = {'engine': 'quantumespresso', 'protocol': 'fast', 'pseudo_family': cu_family.label, 'options': QE_OPTIONS}

    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=pw_code)

    assert node.is_finished_ok, node.exit_message
    (system,) = results['dataset'].to_dpdata()
    pw = QueryBuilder().append(CalcJobNode, filters={'attributes.process_label': 'PwCalculation'}).all(flat=True)[-1]
    (tmp_path / 'aiida.in').write_text(pw.base.repository.get_object_content('aiida.in'))
    (tmp_path / 'aiida.out').write_text(pw.outputs.retrieved.base.repository.get_object_content('aiida.out'))
    reference = dpdata.LabeledSystem([str(tmp_path / 'aiida.in'), str(tmp_path / 'aiida.out')], fmt='qe/pw/scf')
    assert 'running on     2 processors' in (tmp_path / 'aiida.out').read_text(), 'pw.x ran as one 2-rank MPI job'
    np.testing.assert_allclose(system['energies'], reference['energies'], rtol=0, atol=1e-5)
    np.testing.assert_allclose(system['forces'], reference['forces'], rtol=0, atol=1e-4)
    np.testing.assert_allclose(system['virials'], reference['virials'], rtol=0, atol=2e-3)
    assert np.abs(system['forces']).max() > 0.01, 'a rattled cell has forces'
    summary = results['summary'].get_dict()
    assert summary['converged'] == 1 and summary['core_hours'] > 0


def test_unconverged_scf_is_excluded_not_added(pw_code, cu_family, make_cu_frames):
    candidates = {'fcc': ConfigurationsData.from_ase(make_cu_frames('fcc', 1, seed=6, labeled=False), ['Cu']).store()}
    labeler = {
        'engine': 'quantumespresso',
        'protocol': 'fast',
        'pseudo_family': cu_family.label,
        'options': QE_OPTIONS,
        'max_iterations': 1,
        'overrides': {'pw': {'parameters': {'ELECTRONS': {'electron_maxstep': 1}}}},
    }

    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=pw_code)

    assert node.exit_status == LabelWorkChain.exit_codes.ERROR_NO_LABELS.status
    assert 'dataset' not in results
    summary = results['summary'].get_dict()
    assert summary['excluded_by_reason'] == {'scf_unconverged': 1}
    assert summary['labeled'] == 0


@pytest.fixture
def cp2k_code(aiida_localhost):
    require('cp2k')
    return get_or_create_mpi_code('cp2k', 'cp2k', computer=aiida_localhost.label, plugin='cp2k')


def compressed_cu4(seed: int):
    atoms = bulk('Cu', 'fcc', a=3.45, cubic=True)  # 5 % below PBE's lattice constant: a positive pressure
    atoms.positions += np.random.default_rng(seed).normal(scale=0.15, size=atoms.positions.shape)
    return atoms


def test_cp2k_and_pw_agree_on_the_sign_and_size_of_the_virial(pw_code, cp2k_code, cu_family, tmp_path):
    candidates = {'fcc': ConfigurationsData.from_ase([compressed_cu4(seed=7)], ['Cu']).store()}
    labelers = {
        'cp2k': {'engine': 'cp2k', 'protocol': 'fast', 'options': QE_OPTIONS},
        'pw': {
            'engine': 'quantumespresso',
            'protocol': 'fast',
            'pseudo_family': cu_family.label,
            'options': QE_OPTIONS,
        },
    }
    codes = {'cp2k': cp2k_code, 'pw': pw_code}
    systems = {}
    for name, labeler in labelers.items():
        results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=codes[name])
        assert node.is_finished_ok, node.exit_message
        (systems[name],) = results['dataset'].to_dpdata()

    cp2k_job = (
        QueryBuilder().append(CalcJobNode, filters={'attributes.process_label': 'Cp2kCalculation'}).all(flat=True)
    )
    output = cp2k_job[-1].outputs.retrieved.base.repository.get_object_content('aiida.out')
    (tmp_path / 'cp2k.out').write_text(output)
    reference = dpdata.LabeledSystem(str(tmp_path / 'cp2k.out'), fmt='cp2k/output')
    np.testing.assert_allclose(systems['cp2k']['energies'], reference['energies'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(systems['cp2k']['forces'], reference['forces'], rtol=0, atol=1e-6)

    pressures = {name: np.trace(system['virials'][0]) / 3 for name, system in systems.items()}
    assert pressures['pw'] > 0 and pressures['cp2k'] > 0, f'a compressed cell pushes outwards: {pressures}'
    assert 0.5 < pressures['cp2k'] / pressures['pw'] < 2, pressures
    # both engines, both PBE: forces on the same rattled atoms point the same way
    cosine = np.sum(systems['cp2k']['forces'] * systems['pw']['forces']) / (
        np.linalg.norm(systems['cp2k']['forces']) * np.linalg.norm(systems['pw']['forces'])
    )
    assert cosine > 0.9, (systems['cp2k']['forces'], systems['pw']['forces'])


def test_cp2k_unconverged_scf_is_excluded(cp2k_code):
    candidates = {'fcc': ConfigurationsData.from_ase([compressed_cu4(seed=8)], ['Cu']).store()}
    labeler = {
        'engine': 'cp2k',
        'protocol': 'fast',
        'options': QE_OPTIONS,
        'max_iterations': 1,
        'overrides': {'FORCE_EVAL': {'DFT': {'SCF': {'MAX_SCF': 2}}}},
    }
    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=cp2k_code)
    assert node.exit_status == LabelWorkChain.exit_codes.ERROR_NO_LABELS.status
    assert results['summary']['excluded_by_reason'] == {'scf_unconverged': 1}


def test_with_caching_on_identical_labeling_jobs_are_reused_not_rerun(aiida_localhost, make_cu_frames):
    from aiida.manage.caching import enable_caching

    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    ).store()
    frames = make_cu_frames('fcc', 2, seed=21, labeled=False)

    def label():
        candidates = {'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store()}
        return run_get_node(LabelWorkChain, candidates=candidates, labeler={'engine': 'ase'}, code=code)

    first, first_node = label()
    assert first_node.is_finished_ok, first_node.exit_message
    with enable_caching(identifier='aiida.calculations:dpgen.ase'):
        second, second_node = label()
    assert second_node.is_finished_ok, second_node.exit_message
    jobs = [node for node in second_node.called_descendants if isinstance(node, CalcJobNode)]
    assert len(jobs) == 2 and all(job.base.caching.is_created_from_cache for job in jobs)
    assert second['dataset'].nframes == first['dataset'].nframes == 2


ONE_CORE = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'max_wallclock_seconds': 600}
CHEAP_PW = {'kpoints_distance': 0.8, 'pw': {'parameters': {'SYSTEM': {'ecutwfc': 20, 'ecutrho': 160}}}}
"""Below the fast protocol (3x3x3 k points instead of 4x4x4, 20 Ry): the packing tests compare two routes to the
same numbers, which need no accuracy."""


def test_packed_emt_labels_equal_single_ones_and_a_failed_task_is_labeled_again_alone(aiida_localhost, make_cu_frames):
    """group_size 3 over 6 frames: two PackedAseCalculation jobs whose labels are those of one job per frame;
    a frame whose EMT forces are not finite (two atoms on one site) fails in its packed job, fails again alone
    with the restart work chain's retries, and is excluded."""
    frames = make_cu_frames('fcc', 5, seed=21, labeled=False)
    overlapping = frames[0].copy()
    overlapping.positions[1] = overlapping.positions[0]
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    ).store()
    good = {'fcc': ConfigurationsData.from_ase(frames, ['Cu']).store()}
    labeler = {'engine': 'ase', 'max_iterations': 1}

    packed, packed_node = run_get_node(LabelWorkChain, candidates=good, labeler=labeler, code=code, group_size=3)
    alone, _ = run_get_node(LabelWorkChain, candidates=good, labeler=labeler, code=code)

    assert packed_node.is_finished_ok, packed_node.exit_message
    summary = packed['summary'].get_dict()
    assert (summary['packed_jobs'], summary['packed_labels'], summary['labeled']) == (2, 5, 5)
    jobs = [node for node in packed_node.called_descendants if isinstance(node, CalcJobNode)]
    assert sorted(job.process_label for job in jobs) == ['PackedAseCalculation'] * 2
    for job in jobs:  # no label stored three times: no results.json kept, no JSON copy of the input structures
        assert 'results.json' not in job.outputs.retrieved.base.repository.list_object_names()
        assert 'structure.json' not in job.base.repository.list_object_names()
    for name in ('energies', 'forces', 'virials'):
        np.testing.assert_allclose(
            packed['dataset'].to_dpdata()[0][name], alone['dataset'].to_dpdata()[0][name], rtol=0, atol=1e-10
        )
    # each job's labels are one dataset it created, taken whole: no node per label, and the frame still names
    # its calculation
    collected = packed['dataset'].creator.base.links.get_incoming(node_class=orm.Data).all()
    whole = sorted(link.link_label for link in collected if link.link_label.startswith('packed_'))
    assert whole == ['packed_000', 'packed_001'] and not any(link.link_label.startswith('frame_') for link in collected)
    origin = frame_origin(packed['dataset'], packed['dataset'].system_names[0], 4)
    assert origin.calculation.process_label == 'PackedAseCalculation'

    mixed = {'fcc': ConfigurationsData.from_ase([*frames[:2], overlapping], ['Cu']).store()}
    results, node = run_get_node(
        LabelWorkChain, candidates=mixed, labeler=labeler, code=code, group_size=3, min_distance=0.0
    )
    assert node.is_finished_ok, node.exit_message
    summary = results['summary'].get_dict()
    assert (summary['packed_labels'], summary['labeled'], summary['excluded']) == (2, 2, 1)
    jobs = sorted(job.process_label for job in node.called_descendants if isinstance(job, CalcJobNode))
    assert jobs == ['AseSinglePointCalculation', 'PackedAseCalculation'], 'the failed task ran again alone'
    assert [item['frame'] for item in summary['exclusions']] == [2]


def test_packed_pw_labels_equal_the_labels_of_their_own_jobs(pw_code, cu_family, make_cu_frames):
    """group_size 2: two frames in one job, labeled exactly as PwBaseWorkChain labels each alone."""
    candidates = {'fcc': ConfigurationsData.from_ase(make_cu_frames('fcc', 2, seed=7, labeled=False), ['Cu']).store()}
    labeler = {
        'engine': 'quantumespresso',
        'protocol': 'fast',
        'pseudo_family': cu_family.label,
        'options': ONE_CORE,
        'overrides': CHEAP_PW,
    }

    packed, packed_node = run_get_node(
        LabelWorkChain, candidates=candidates, labeler=labeler, code=pw_code, group_size=2
    )
    alone, _ = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=pw_code)

    assert packed_node.is_finished_ok, packed_node.exit_message
    summary = packed['summary'].get_dict()
    assert (summary['packed_jobs'], summary['packed_labels'], summary['labeled']) == (1, 2, 2)
    jobs = [node for node in packed_node.called_descendants if isinstance(node, CalcJobNode)]
    assert [job.process_label for job in jobs] == ['PackedPwCalculation'], 'one job, nothing labeled alone'
    (job,) = jobs
    output = job.outputs.retrieved.base.repository.get_object_content('frame_000001/aiida.out')
    assert output.count('JOB DONE') == 1
    remote = job.outputs.remote_folder
    assert remote.base.extras.get('cleaned', False), "cleaned as the protocol's clean_workdir asks"
    assert not pathlib.Path(remote.get_remote_path()).exists()
    for name in ('energies', 'forces', 'virials'):
        np.testing.assert_allclose(
            packed['dataset'].to_dpdata()[0][name], alone['dataset'].to_dpdata()[0][name], rtol=0, atol=1e-8
        )
    sources = {
        link.node.creator.process_label
        for link in packed['dataset'].creator.base.links.get_incoming().all()
        if link.link_label.endswith('_parameters')
    }
    assert sources == {'PackedPwCalculation'}


def test_packed_tasks_whose_scf_did_not_converge_are_labeled_again_alone(pw_code, cu_family, make_cu_frames):
    candidates = {'fcc': ConfigurationsData.from_ase(make_cu_frames('fcc', 2, seed=8, labeled=False), ['Cu']).store()}
    labeler = {
        'engine': 'quantumespresso',
        'protocol': 'fast',
        'pseudo_family': cu_family.label,
        'options': ONE_CORE,
        'max_iterations': 1,
        'overrides': recursive_merge(CHEAP_PW, {'pw': {'parameters': {'ELECTRONS': {'electron_maxstep': 2}}}}),
    }

    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=pw_code, group_size=2)

    packed = [child for child in node.called if child.process_label == 'PackedPwCalculation']
    assert len(packed) == 1 and packed[0].outputs.task_status.get_dict() == {
        'frame_000000': 'scf_unconverged',
        'frame_000001': 'scf_unconverged',
    }
    alone = {child.inputs.pw.structure.uuid for child in node.called if child.process_label == 'PwBaseWorkChain'}
    assert alone == {structure.uuid for structure in packed[0].inputs.structures.values()}, 'each ran again alone'
    assert node.exit_status == LabelWorkChain.exit_codes.ERROR_NO_LABELS.status
    summary = results['summary'].get_dict()
    assert summary['excluded_by_reason'] == {'scf_unconverged': 2} and summary['packed_labels'] == 0


def test_dpgens_cp2k_template_labels_methane_with_the_real_cp2k(cp2k_code, tmp_path):
    """DP-GEN's CP2K example labels with the user's own input file (external_input_path): the job runs that
    input, with the frame's cell and coordinates, and its labels are what dpdata reads from CP2K's output."""
    from ase.io import read

    from aiida_dpgen.compat.param import translate_param

    from ..compat.dpgen_examples import CH4_CONFIGURATIONS, FIXTURES, example_tree

    jdata, base = example_tree(tmp_path, 'cp2k')
    jdata.pop('user_fp_params')
    jdata['external_input_path'] = str(FIXTURES / 'template_CH4_cp2k.inp')
    param = translate_param(jdata, base)
    methane = read(base / 'data' / CH4_CONFIGURATIONS / '000000' / 'POSCAR', format='vasp')
    candidates = {'sys_000': ConfigurationsData.from_ase([methane], param.type_map).store()}
    labeler = {**param.labeler, 'options': QE_OPTIONS}
    results, node = run_get_node(LabelWorkChain, candidates=candidates, labeler=labeler, code=cp2k_code)
    assert node.is_finished_ok, node.exit_message
    job = next(child for child in node.called_descendants if isinstance(child, CalcJobNode))
    written = job.base.repository.get_object_content('aiida.inp')
    for line in ('CUTOFF 400', 'MINIMIZER DIIS', 'SCF_GUESS RESTART', 'POTENTIAL GTH-PBE-q4'):
        assert line in written, f'{line!r} of the template is not in the job input:\n{written}'
    assert 'KPOINTS' not in written and 'DPGEN' not in written, 'no k-points added; aiida-cp2k names the project'
    output = job.outputs.retrieved.base.repository.get_object_content('aiida.out')
    (tmp_path / 'cp2k.out').write_text(output)
    reference = dpdata.LabeledSystem(str(tmp_path / 'cp2k.out'), fmt='cp2k/output')
    labels = results['dataset'].to_dpdata()[0]
    np.testing.assert_allclose(labels['energies'], reference['energies'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(labels['forces'], reference['forces'], rtol=0, atol=1e-6)
