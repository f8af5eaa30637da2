"""Importing a DP-GEN working directory: the scan, the recomputed counts, the graph and the restart_from mapping.

The directory is written here in DP-GEN's layout: record.dpgen, iter.NNNNNN/00.train with graph.NNN.pb links,
01.model_devi task folders with model_devi.out files of known counts, 02.fp data.SSS folders of EMT-labeled
copper (flat, as DP-GEN 0.10 wrote them, and one folder per formula, as later versions do). Model files are
stand-in bytes with a training input.json next to them, so no DeePMD-kit is needed.
"""

from __future__ import annotations

import json
import pathlib
import re
import shutil

import dpdata
import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from aiida_dpgen.compat import workdir
from aiida_dpgen.compat.trust import selection_settings
from aiida_dpgen.exploration.deviation import write_model_devi
from aiida_dpgen.exploration.selection import TrustLevels

from ..conftest import cu_system

ACCURATE, CANDIDATE, FAILED = 0.01, 0.1, 0.5
"""Force deviations (eV/Å) on either side of the trust levels 0.05 and 0.2."""
STAGE = {'sys_idx': [0, 1], 'temps': [100], 'ensemble': 'nvt', 'nsteps': 200, 'trj_freq': 10}


def deviation_table(accurate: int, candidate: int, failed: int, trj_freq: int = 10) -> np.ndarray:
    """model_devi.out rows: the accurate frames first, then the candidates, then the failed ones."""
    forces = [ACCURATE] * accurate + [CANDIDATE] * candidate + [FAILED] * failed
    table = np.zeros((len(forces), 7))
    table[:, 0] = np.arange(len(forces)) * trj_freq
    table[:, 1:4] = 0.001
    table[:, 4] = forces
    table[:, 5:7] = np.asarray(forces)[:, None] / 2
    return table


def write_model(train: pathlib.Path, number: int, model: bytes | pathlib.Path, *, lcurve=None, training_input=True):
    """``train/NNN/frozen_model.pb`` and DP-GEN's ``graph.NNN.pb`` link to it, with the training files."""
    folder = train / f'{number:03d}'
    folder.mkdir(parents=True)
    if isinstance(model, bytes):
        (folder / 'frozen_model.pb').write_bytes(model)
    else:
        shutil.copyfile(model, folder / 'frozen_model.pb')
    (train / f'graph.{number:03d}.pb').symlink_to(f'{number:03d}/frozen_model.pb')
    if training_input:
        content = {
            'model': {'type_map': ['Cu'], 'descriptor': {'type': 'se_e2_a', 'rcut': 4.0, 'sel': [40], 'seed': number}},
            'training': {'numb_steps': 100, 'seed': number},
        }
        (folder / 'input.json').write_text(json.dumps(content))
    if isinstance(lcurve, pathlib.Path):
        shutil.copyfile(lcurve, folder / 'lcurve.out')
    elif lcurve is not None:
        rows = '\n'.join(f'{step:7d} {rmse:.3e} {rmse / 10:.3e} {rmse:.3e} 1.0e-03' for step, rmse in lcurve)
        (folder / 'lcurve.out').write_text(f'#  step      rmse_trn    rmse_e_trn    rmse_f_trn         lr\n{rows}\n')


def write_labels(folder: pathlib.Path, system: dpdata.LabeledSystem, nested: bool = False) -> None:
    """DP-GEN's post_fp output: raw and npy copies in one folder, or one folder per formula."""
    if nested:
        dpdata.MultiSystems(system, type_map=['Cu']).to('deepmd/npy', str(folder))
    else:
        system.to('deepmd/raw', str(folder))
        system.to('deepmd/npy', str(folder))


def write_iteration(
    root: pathlib.Path,
    index: int,
    *,
    models: list | None,
    deviations: dict[int, list[tuple[int, int, int]]],
    labels: dict[int, dpdata.LabeledSystem] | None = None,
    fp_tasks: dict[int, int] | None = None,
    nested: bool = False,
) -> pathlib.Path:
    """One complete iteration; ``models`` None: copied from the previous one, as DP-GEN does after an empty one."""
    path = root / workdir.iteration_name(index)
    train = path / workdir.TRAIN
    if models is None:
        train.mkdir(parents=True)
        previous = pathlib.Path('..', '..', workdir.iteration_name(index - 1), workdir.TRAIN)
        for number in range(2):
            (train / f'{number:03d}').symlink_to(previous / f'{number:03d}')
            (train / f'graph.{number:03d}.pb').symlink_to(f'{number:03d}/frozen_model.pb')
        (train / 'copied').touch()
    else:
        for number, model in enumerate(models):
            write_model(train, number, **model)
    for system, counts in deviations.items():
        for task, (accurate, candidate, failed) in enumerate(counts):
            folder = path / workdir.MODEL_DEVI / f'task.{system:03d}.{task:06d}'
            folder.mkdir(parents=True)
            write_model_devi(folder / 'model_devi.out', deviation_table(accurate, candidate, failed))
            (folder / 'input.lammps').write_text('# the LAMMPS input\n')
    fp = path / workdir.FP
    fp.mkdir(parents=True)
    for system, frames in (labels or {}).items():
        write_labels(fp / f'data.{system:03d}', frames, nested)
    for system, count in (fp_tasks or {}).items():
        for task in range(count):
            (fp / f'task.{system:03d}.{task:06d}').mkdir()
    return path


def write_record(root: pathlib.Path, complete: int, started: int | None = None) -> None:
    lines = [f'{index} {step}' for index in range(complete) for step in range(9)]
    lines += [f'{started} {step}' for step in range(2)] if started is not None else []
    (root / workdir.RECORD).write_text('\n'.join(lines) + '\n')


def write_inputs(root: pathlib.Path, init_frames: int = 5) -> dict:
    """The initial data and configurations a param.json names, and that param.json's content."""
    cu_system('fcc', init_frames, seed=10).to('deepmd/npy', str(root / 'data' / 'init'))
    for structure in ('fcc', 'bcc'):
        (root / 'confs' / structure).mkdir(parents=True)
        write(root / 'confs' / structure / 'POSCAR', bulk('Cu', structure, a=3.6, cubic=True), format='vasp')
    return {
        'type_map': ['Cu'],
        'init_data_prefix': 'data',
        'init_data_sys': ['init'],
        'sys_configs': [['confs/fcc/POSCAR'], ['confs/bcc/POSCAR']],
        'model_devi_f_trust_lo': 0.05,
        'model_devi_f_trust_hi': 0.2,
        'model_devi_skip': 0,
        'model_devi_jobs': [STAGE, STAGE, STAGE, STAGE],
        'fp_task_max': 20,
        'fp_style': 'vasp',
    }


def model(name: str, lcurve=((0, 1.0), (100, 0.2))) -> dict:
    return {'model': name.encode(), 'lcurve': list(lcurve)}


def write_dpgen_run(root: pathlib.Path) -> dict:
    """Three complete iterations and a fourth started:

    * 0: two systems explored, 4 + 1 frames sent to labeling, 3 + 1 labeled (one failed in DP-GEN's fp);
    * 1: new models, no candidate, nothing labeled;
    * 2: the models of 1 copied, 2 frames labeled (one folder per formula), the fp task folders deleted.
    """
    param = write_inputs(root)
    write_iteration(
        root,
        0,
        models=[model('iteration 0 model 0'), model('iteration 0 model 1', ((0, 1.0), (100, 0.4)))],
        deviations={0: [(5, 3, 2), (4, 4, 2)], 1: [(2, 1, 1)]},
        labels={0: cu_system('fcc', 3, seed=1), 1: cu_system('bcc', 1, seed=2)},
        fp_tasks={0: 4, 1: 1},
    )
    write_iteration(
        root, 1, models=[model('iteration 1 model 0'), model('iteration 1 model 1')], deviations={0: [(10, 0, 0)]}
    )
    write_iteration(root, 2, models=None, deviations={0: [(6, 2, 0)]}, labels={0: cu_system('fcc', 2, 3)}, nested=True)
    (root / workdir.iteration_name(3) / workdir.TRAIN).mkdir(parents=True)
    write_record(root, complete=3, started=3)
    return param


@pytest.fixture
def dpgen_run(tmp_path) -> tuple[pathlib.Path, dict]:
    return tmp_path, write_dpgen_run(tmp_path)


# -- the scan ---------------------------------------------------------------------------------------------------


def test_complete_iterations_are_those_past_post_fp_or_followed_by_another():
    assert workdir.complete_iterations([(0, step) for step in range(9)] + [(1, 0), (1, 1)]) == [0]
    assert workdir.complete_iterations([(0, 0), (0, 8)]) == [0]
    assert workdir.complete_iterations([(0, 0), (0, 5), (1, 0)]) == [0]
    assert workdir.complete_iterations([(0, 0), (0, 7)]) == []


def test_the_scan_finds_the_complete_iterations_their_models_deviations_and_labels(dpgen_run):
    root, _ = dpgen_run
    run = workdir.scan_workdir(root)

    assert [iteration.index for iteration in run.iterations] == [0, 1, 2]
    assert run.last_started == 3
    first, second, third = run.iterations
    assert [path.relative_to(root).as_posix() for path in first.models] == [
        'iter.000000/00.train/000/frozen_model.pb',
        'iter.000000/00.train/001/frozen_model.pb',
    ]
    assert [(entry.system, entry.task) for entry in first.model_devi] == [(0, 0), (0, 1), (1, 0)]
    assert first.systems == [0, 1]
    assert sorted(first.fp_data) == [0, 1]
    assert first.fp_tasks == {0: 4, 1: 1}
    assert not first.models_copied
    assert (second.fp_data, second.fp_tasks) == ({}, {})
    assert third.models_copied
    assert third.models == second.models, 'the copied links resolve to the models of iteration 1'
    assert third.fp_tasks is None, 'the labeled frames are there, the task folders are not'
    assert third.current_job is None


def test_stored_files_keep_dpgen_layout_and_only_what_deepmd_reads(dpgen_run):
    root, _ = dpgen_run
    files = workdir.scan_workdir(root).iterations[0].stored_files()

    assert files['00.train/graph.000.pb'] == root / 'iter.000000/00.train/000/frozen_model.pb'
    assert '00.train/001/input.json' in files and '00.train/001/lcurve.out' in files
    assert '01.model_devi/task.001.000000/model_devi.out' in files
    assert '02.fp/data.000/set.000/force.npy' in files and '02.fp/data.000/type.raw' in files
    assert '02.fp/data.000/force.raw' not in files, 'the raw copies DP-GEN also writes are not stored twice'
    assert not any('input.lammps' in name for name in files)


def test_a_stored_iteration_scans_like_the_original(dpgen_run, tmp_path_factory):
    root, _ = dpgen_run
    original = workdir.scan_workdir(root).iterations[2]
    copy = tmp_path_factory.mktemp('stored')
    for relative, path in original.stored_files().items():
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy / relative)

    stored = workdir.scan_iteration(copy, 2)
    assert [path.read_bytes() for path in stored.models] == [path.read_bytes() for path in original.models]
    assert [(entry.system, entry.task) for entry in stored.model_devi] == [(0, 0)]
    assert [len(system) for system in workdir.read_labeled_systems(stored.fp_data[0], ['Cu'])] == [2]


def test_counts_and_ratios_are_recomputed_from_the_model_devi_files(dpgen_run):
    root, _ = dpgen_run
    iteration = workdir.scan_workdir(root).iterations[0]
    trust = dict.fromkeys(['fcc', 'bcc'], TrustLevels(0.05, 0.2))

    statistics = workdir.exploration_statistics(iteration, trust, ['fcc', 'bcc'], {'fcc': 4, 'bcc': 1})

    overall = statistics['overall']
    assert (overall['frames'], overall['accurate'], overall['candidate'], overall['failed']) == (24, 11, 8, 5)
    assert overall['candidate_ratio'] == pytest.approx(8 / 24)
    assert overall['chosen'] == 5
    fcc = statistics['systems']['fcc']
    assert (fcc['frames'], fcc['candidate'], fcc['chosen']) == (20, 7, 4)
    assert sum(overall['max_devi_f_histogram']) == 24
    skipped = workdir.exploration_statistics(iteration, trust, ['fcc', 'bcc'], {}, skip=10)
    assert skipped['overall']['frames'] == 21, 'step 0 of each of the three tasks is below model_devi_skip'


def test_selection_follows_dpgen_trust_levels_per_job_and_per_system():
    param = {
        'model_devi_f_trust_lo': [0.05, 0.1],
        'model_devi_f_trust_hi': 0.3,
        'model_devi_v_trust_lo': 1e10,
        'model_devi_v_trust_hi': 1e10,
        'fp_task_max': 50,
        'model_devi_skip': 2,
    }
    selection = selection_settings(param, ['fcc', 'bcc'])
    assert selection == {
        'f_trust_lo': 0.05,
        'f_trust_hi': 0.3,
        'fp_task_max': 50,
        'fp_task_min': 0,
        'skip': 2,
        'per_system': {'bcc': {'f_trust_lo': 0.1}},
    }, "DP-GEN's default virial levels (1e10) mean no virial levels"
    job = {'model_devi_f_trust_lo': 0.08, 'model_devi_v_trust_lo': 0.1, 'model_devi_v_trust_hi': 0.5}
    assert selection_settings(param, ['fcc', 'bcc'], job=job, explored=[1]) == {
        'f_trust_lo': 0.08,
        'f_trust_hi': 0.3,
        'v_trust_lo': 0.1,
        'v_trust_hi': 0.5,
        'fp_task_max': 50,
        'fp_task_min': 0,
        'skip': 2,
    }


def test_a_virial_level_given_alone_keeps_dpgens_default_for_the_other():
    """DP-GEN fills a missing model_devi_v_trust_hi with 1e10: frames above v_trust_lo are candidates and none
    fails on the virial; `aiida-dpgen run` translates it the same way (compat.param)."""
    param = {'model_devi_f_trust_lo': 0.05, 'model_devi_f_trust_hi': 0.3, 'model_devi_v_trust_lo': 0.2}
    selection = selection_settings(param, ['fcc'])
    assert (selection['v_trust_lo'], selection['v_trust_hi']) == (0.2, 1e10)

    job = {**STAGE, 'sys_idx': [[1], 0], 'model_devi_f_trust_lo': 0.1}
    assert workdir.stage_from_job(job, ['fcc', 'bcc'], [0]) == {
        'systems': ['bcc', 'fcc'],
        'ensemble': 'nvt',
        'temps': [100],
        'nsteps': 200,
        'trj_freq': 10,
    }
    assert workdir.stage_from_job({}, ['fcc', 'bcc'], [1]) == {'systems': ['bcc']}


def test_labeling_counts_frames_sent_and_labeled():
    assert workdir.labeling_summary({'fcc': 3, 'bcc': 1}, {'fcc': 4, 'bcc': 1}, 'vasp') == {
        'submitted': 5,
        'labeled': 4,
        'excluded': 1,
        'excluded_by_reason': {'no labeled frame from DP-GEN post_fp': 1},
        'engine': 'vasp',
    }
    assert workdir.labeling_summary({'fcc': 2}, None, None)['submitted'] == 2


@pytest.mark.parametrize(
    ('damage', 'message'),
    [
        (lambda root: (root / 'record.dpgen').unlink(), 'no record.dpgen, so this is not a DP-GEN working directory'),
        (
            lambda root: (root / 'record.dpgen').write_text('0 0\n0 7\n'),
            'no iteration is complete (last record: (0, 7))',
        ),
        (lambda root: (root / 'record.dpgen').write_text('0 8\nzero 1\n'), 'line 2: \'zero 1\' is not "ITER STEP"'),
        (
            lambda root: shutil.rmtree(root / 'iter.000001'),
            'iter.000001: missing, but record.dpgen says iteration 1 is complete',
        ),
        (
            lambda root: [
                (root / f'iter.000001/00.train/{name}').unlink() for name in ('graph.001.pb', '001/frozen_model.pb')
            ],
            'iter.000001/00.train: no frozen model for model(s) [1]',
        ),
        (
            lambda root: (root / 'iter.000000/01.model_devi/task.001.000000/model_devi.out').unlink(),
            'task.001.000000/model_devi.out: missing; every exploration task counts towards the ratios',
        ),
        (
            lambda root: shutil.rmtree(root / 'iter.000001/01.model_devi'),
            'iter.000001/01.model_devi: no task.SSS.NNNNNN folders',
        ),
        (
            lambda root: (root / 'iter.000000/02.fp/data.000/type.raw').unlink(),
            'data.000: no DeePMD-kit system in it (no type.raw)',
        ),
    ],
)
def test_what_the_import_cannot_do_without_is_named_with_its_path(dpgen_run, damage, message):
    root, _ = dpgen_run
    damage(root)
    with pytest.raises(ValueError, match=re.escape(message)):
        workdir.scan_workdir(root)


def test_a_folder_that_is_not_a_dpgen_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match='no such directory; pass the folder in which `dpgen run` ran'):
        workdir.scan_workdir(tmp_path / 'nowhere')


def test_initial_data_and_configurations_are_found_as_dpgen_finds_them(dpgen_run):
    root, param = dpgen_run
    assert workdir.initial_data_paths(root, param) == {'init_000': [root / 'data' / 'init']}
    assert workdir.configuration_files(root, param) == [[root / 'confs/fcc/POSCAR'], [root / 'confs/bcc/POSCAR']]
    with pytest.raises(ValueError, match=re.escape("param.init_data_sys[0]='init': no DeePMD-kit system")):
        workdir.initial_data_paths(root, {**param, 'init_data_prefix': 'elsewhere'})
    with pytest.raises(ValueError, match=re.escape("param.sys_configs[1]=['confs/hcp/*']: no file matches")):
        workdir.configuration_files(root, {**param, 'sys_configs': [['confs/fcc/*'], ['confs/hcp/*']]})


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'model_devi_engine': 'gromacs'}, "param.model_devi_engine='gromacs': only LAMMPS explorations"),
        ({'model_devi_adapt_trust_lo': True}, 'param.model_devi_adapt_trust_lo=True: DP-GEN chose the lower'),
    ],
)
def test_runs_whose_counts_cannot_be_recomputed_are_refused(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        workdir.check_param(change)


# -- the import ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def imported(aiida_profile, tmp_path_factory):
    """One import shared by the tests that only read it."""
    from aiida_dpgen.compat.importer import import_dpgen_run

    root = tmp_path_factory.mktemp('dpgen-run')
    return root, import_dpgen_run(root, write_dpgen_run(root), system_names=['fcc', 'bcc'])


def test_the_import_gives_reports_with_the_counts_of_the_files(imported):
    from aiida_dpgen.loop.report import format_costs, format_table

    root, result = imported
    restart_from = result['restart_from']
    assert sorted(restart_from) == ['iter_000', 'iter_001', 'iter_002']
    reports = [restart_from[name]['report'].get_dict() for name in sorted(restart_from)]

    first = reports[0]
    assert (first['iteration'], first['stage_index']) == (0, 0)
    assert first['stage'] == {
        'systems': ['fcc', 'bcc'],
        'ensemble': 'nvt',
        'temps': [100],
        'nsteps': 200,
        'trj_freq': 10,
    }
    assert first['trust_levels'] == {'f_trust_lo': 0.05, 'f_trust_hi': 0.2}
    exploration = first['exploration']
    assert (exploration['tasks'], exploration['frames'], exploration['candidate'], exploration['chosen']) == (
        3,
        24,
        8,
        5,
    )
    assert exploration['accurate_ratio'] == pytest.approx(11 / 24)
    assert exploration['systems']['bcc'] == {
        'frames': 4,
        'accurate_ratio': 0.5,
        'candidate_ratio': 0.25,
        'failed_ratio': 0.25,
        'chosen': 1,
    }
    assert first['labeling'] == {
        'submitted': 5,
        'labeled': 4,
        'excluded': 1,
        'duplicates': 0,
        'excluded_by_reason': {'no labeled frame from DP-GEN post_fp': 1},
        'engine': 'vasp',
    }
    assert first['dataset'] == {'frames': 9, 'added': 4}
    assert first['training']['models'] == 2 and first['training']['trained']
    assert first['training']['rmse_f_trn']['mean'] == pytest.approx(0.3)
    assert first['imported'] == {'source': str(root / 'iter.000000'), 'unknown': ['cost', 'exploration.lost_atoms']}

    assert reports[1]['exploration']['candidate_ratio'] == 0 and reports[1]['dataset'] == {'frames': 9, 'added': 0}
    assert not reports[2]['training']['trained'], 'DP-GEN copied the models of iteration 1'
    assert reports[2]['labeling']['submitted'] == reports[2]['labeling']['labeled'] == 2
    assert reports[2]['dataset'] == {'frames': 11, 'added': 2}

    table = format_table(reports).splitlines()
    assert table[1].split()[:4] == ['0', '0', '3', '24'] and '33.3%' in table[1]
    assert len(format_costs(reports).splitlines()) == 4


def test_the_import_chains_labels_and_models_as_a_dpgen_workchain_would(imported):
    from aiida_dpgen.loop.iterations import ITERATION_OUTPUTS, models_trained_on, validate_restart_from

    _, result = imported
    restart_from = result['restart_from']
    first, second, third = (restart_from[name] for name in ('iter_000', 'iter_001', 'iter_002'))
    initial = result['datasets']['init_000']
    assert validate_restart_from(restart_from, ['Cu']) is None
    assert all(set(ITERATION_OUTPUTS) <= set(iteration) for iteration in restart_from.values())

    assert first['labels'].nframes == 4, 'only the labels of the iteration, not a copy of the data before'
    assert 'labels' not in second, 'nothing labeled: nothing stored'
    assert third['labels'].nframes == 2
    names = ['init_000', 'iter_000', 'iter_002']
    assert models_trained_on({'iter_000': first}, names[:2]) == ['init_000'], 'the first ensemble: initial data'
    assert models_trained_on({'iter_000': first, 'iter_001': second}, names[:2]) == names[:2]
    assert models_trained_on(restart_from, names) == names[:2], "the copied models predate iter_002's labels"
    assert {key: node.uuid for key, node in third['models'].items()} == {
        key: node.uuid for key, node in second['models'].items()
    }, 'copied models are the same nodes'

    model = first['models']['model_1']
    assert (model.filename, model.type_map, model.rcut, model.descriptor, model.seed) == (
        'graph.001.pb',
        ['Cu'],
        4.0,
        'se_e2_a',
        1,
    )
    assert model.training_steps == 100
    with model.open(mode='rb') as handle:
        assert handle.read() == b'iteration 0 model 1'

    creator = first['report'].creator
    assert creator.process_label == 'import_dpgen_iteration' and creator.is_finished_ok
    assert creator.inputs.settings['previous_frames'] == initial.nframes
    assert first['labels'].creator.uuid == first['models']['model_0'].creator.uuid == creator.uuid
    assert sorted(creator.inputs.files.base.repository.list_object_names()) == ['00.train', '01.model_devi', '02.fp']
    assert second['report'].creator.inputs.settings['previous_frames'] == initial.nframes + 4


def test_the_group_holds_every_node_and_gives_the_import_back(imported):
    from aiida import orm

    from aiida_dpgen.compat.importer import load_dpgen_import

    root, result = imported
    group = result['group']
    assert group.label == f'dpgen-import/{root.name}'
    members = {node.uuid for node in group.nodes}
    iteration = result['restart_from']['iter_000']
    expected = [
        result['datasets']['init_000'],
        *result['configurations'].values(),
        iteration['report'],
        iteration['report'].creator,
        iteration['report'].creator.inputs.files,
        iteration['report'].creator.inputs.settings,
        iteration['labels'],
        *iteration['models'].values(),
    ]
    assert {node.uuid for node in expected} <= members
    assert result['configurations']['bcc'].nframes == 1

    loaded = load_dpgen_import(group.label)
    assert loaded['restart_from']['iter_002']['labels'].uuid == result['restart_from']['iter_002']['labels'].uuid
    assert 'labels' not in loaded['restart_from']['iter_001']
    assert loaded['restart_from']['iter_000']['models']['model_0'].uuid == iteration['models']['model_0'].uuid
    assert loaded['datasets']['init_000'].uuid == result['datasets']['init_000'].uuid
    with pytest.raises(ValueError, match='was not made by import_dpgen_run'):
        load_dpgen_import(orm.Group(label=f'{group.label}-other').store())


def test_a_continuing_dpgen_workchain_takes_over_the_imported_iterations(imported, generate_workchain, aiida_localhost):
    import sys

    from aiida.orm import InstalledCode

    from aiida_dpgen.workflows.dpgen import DpgenWorkChain

    _, result = imported
    codes = {
        step: InstalledCode(computer=aiida_localhost, filepath_executable=executable, default_calc_job_plugin=plugin)
        for step, executable, plugin in (
            ('train', 'dp', 'dpgen.train'),
            ('explore', 'lmp', 'dpgen.lammps'),
            ('label', sys.executable, 'dpgen.ase'),
        )
    }
    stage = {'systems': ['fcc'], 'temps': [100.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    builder = DpgenWorkChain.get_builder_from_protocol(
        {step: code.store() for step, code in codes.items()},
        datasets=result['datasets'],
        configurations=result['configurations'],
        schedule=[stage] * 4,
        selection={'f_trust_lo': 0.05, 'f_trust_hi': 0.2},
        labeler={'engine': 'ase'},
        protocol='fast',
    )
    builder.restart_from = result['restart_from']

    process = generate_workchain('dpgen.dpgen', builder._inputs(prune=True))
    process.setup()

    assert process.ctx.iteration == 3
    assert sorted(process.ctx.datasets) == ['init_000', 'iter_000', 'iter_002']
    assert process.ctx.datasets['iter_002'].uuid == result['restart_from']['iter_002']['labels'].uuid
    assert process.needs_training(), 'the data grew since the copied models were trained'
    assert process.should_iterate() and process.ctx.stage_index == 3
    assert process.ctx.history[0] == [0, pytest.approx(11 / 24), pytest.approx(8 / 24), None], 'no adaptive level'


def test_a_second_import_of_the_same_folder_is_refused_before_storing_anything(imported):
    from aiida import orm

    from aiida_dpgen.compat.importer import import_dpgen_run

    root, _ = imported
    count = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(ValueError, match=re.escape(f"group 'dpgen-import/{root.name}' exists: {root} was imported")):
        import_dpgen_run(root, write_inputs(root / 'again'))
    assert orm.QueryBuilder().append(orm.Node).count() == count


def test_system_names_must_match_sys_configs(aiida_profile, dpgen_run):
    from aiida_dpgen.compat.importer import import_dpgen_run

    root, param = dpgen_run
    with pytest.raises(ValueError, match=re.escape("system_names=['fcc']: expected 2 distinct names")):
        import_dpgen_run(root, param, system_names=['fcc'])


def test_an_iteration_that_fails_to_import_names_its_folder_and_the_group_to_delete(aiida_profile, dpgen_run):
    from aiida_dpgen.compat.importer import import_dpgen_run

    root, param = dpgen_run
    (root / 'iter.000001/01.model_devi/task.000.000000/model_devi.out').write_text('# step\nnot a number\n')
    with pytest.raises(ValueError, match=re.escape(f'{root / "iter.000001"}: import failed (')) as raised:
        import_dpgen_run(root, param)
    assert f'`verdi group delete --delete-nodes dpgen-import/{root.name}`' in str(raised.value)
