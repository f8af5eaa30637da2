"""DP-GEN's own example param.json files translate into the loop's inputs, key by key; bad input is refused."""

from __future__ import annotations

import copy
import json
import re

import pytest

from aiida_dpgen.compat.arguments import DpgenInputError
from aiida_dpgen.compat.importer import iteration_selection
from aiida_dpgen.compat.param import translate_param
from aiida_dpgen.compat.workdir import IterationFiles, ModelDeviFile, default_system_names

from .dpgen_examples import CH4_CONFIGURATIONS, FIXTURES, NUMBER_OF_CH4_CONFIGURATIONS, example_tree


@pytest.fixture(params=['vasp', 'pwscf', 'cp2k', 'gaussian'])
def example(request, tmp_path):
    jdata, base = example_tree(tmp_path, request.param)
    if request.param == 'gaussian':
        for key in ('use_clusters', 'cluster_cutoff', 'cluster_minify'):
            jdata.pop(key)
    return request.param, jdata, base


def test_common_keys_translate(example):
    """type_map, data, configurations (DP-GEN's order), training, schedule and selection of every example."""
    _, jdata, base = example
    param = translate_param(jdata, base)
    assert param.type_map == jdata['type_map']
    assert param.numb_models == jdata['numb_models'] == 4
    assert len(param.init_data) == len(jdata['init_data_sys'])
    assert all(folder.is_dir() and (folder / 'type.raw').is_file() for f in param.init_data.values() for folder in f)
    assert list(param.configurations) == [f'sys_{index:03d}' for index in range(len(jdata['sys_configs']))]

    training = param.training_parameters
    original = jdata['default_training_param']
    assert training['training']['numb_steps'] == original['training']['stop_batch']
    assert 'stop_batch' not in training['training']
    assert 'type_map' not in training['model'] and 'seed' not in training['model']['descriptor']
    assert training['model']['descriptor']['rcut'] == original['model']['descriptor']['rcut']
    assert training['model']['fitting_net']['neuron'] == original['model']['fitting_net']['neuron']
    assert training['learning_rate'] == original['learning_rate']
    assert training['loss'] == original['loss']
    assert not any(key.startswith('_') for key in training['training'])

    assert len(param.schedule) == len(jdata['model_devi_jobs'])
    for stage, job in zip(param.schedule, jdata['model_devi_jobs'], strict=True):
        assert stage['systems'] == [f'sys_{index:03d}' for index in job['sys_idx']]
        assert (stage['temps'], stage['nsteps'], stage['trj_freq']) == (job['temps'], job['nsteps'], job['trj_freq'])
        assert (stage['ensemble'], stage['press']) == (job['ensemble'], job['press'])
        assert stage['timestep'] == jdata['model_devi_dt']
        assert '_idx' not in stage
        if jdata.get('use_relative'):
            assert stage['relative_f'] == jdata['epsilon']

    assert param.selection == {  # DP-GEN's virial levels default to 1e10: off
        'fp_task_max': jdata['fp_task_max'],
        'fp_task_min': jdata['fp_task_min'],
        'skip': jdata['model_devi_skip'],
        'f_trust_lo': jdata['model_devi_f_trust_lo'],
        'f_trust_hi': jdata['model_devi_f_trust_hi'],
    }
    assert param.max_excluded_ratio == jdata.get('ratio_failed')
    assert any('model_devi_clean_traj' in note for note in param.notes)
    assert not param.warnings


def test_configurations_in_dpgen_order(tmp_path):
    """The sorted matches of each pattern, pattern after pattern: sys_000 gets 000000-000009, sys_001 the rest."""
    jdata, base = example_tree(tmp_path, 'vasp')
    param = translate_param(jdata, base)
    first, second = param.configurations['sys_000'], param.configurations['sys_001']
    assert [path.parent.name for path in first] == [f'{index:06d}' for index in range(10)]
    assert [path.parent.name for path in second] == [
        f'{index:06d}' for index in range(10, NUMBER_OF_CH4_CONFIGURATIONS)
    ]
    assert all(str(path).endswith('POSCAR') and CH4_CONFIGURATIONS in str(path) for path in first + second)


def test_vasp_labeler(tmp_path):
    jdata, base = example_tree(tmp_path, 'vasp')
    param = translate_param(jdata, base)
    overrides = param.labeler['overrides']
    assert param.labeler['engine'] == 'vasp'
    assert param.labeler['kpoints_spacing'] == 0.5
    assert (overrides['encut'], overrides['ediff'], overrides['ismear'], overrides['sigma']) == (400, 1e-6, 0, 0.2)
    assert (overrides['prec'], overrides['lreal'], overrides['lwave'], overrides['nsw']) == ('A', False, False, 0)
    assert 'kspacing' not in overrides and 'kgamma' not in overrides
    assert param.labeler_files == {'H': FIXTURES / 'POTCAR_H', 'C': FIXTURES / 'POTCAR_C'}


def test_pwscf_labeler(tmp_path):
    jdata, base = example_tree(tmp_path, 'pwscf')
    param = translate_param(jdata, base)
    parameters = param.labeler['overrides']['pw']['parameters']
    assert param.labeler['overrides']['kpoints_distance'] == 999
    assert parameters['SYSTEM'] == {
        'ecutwfc': 110,
        'ecutrho': 440,
        'input_dft': 'revpbe',
        'edir': 1,
        'emaxpos': 0.6,
        'vdw_corr': 'dft-d3',
    }
    assert parameters['CONTROL'] == {'calculation': 'scf', 'tprnfor': True, 'disk_io': 'none'}
    assert parameters['ELECTRONS'] == {'electron_maxstep': 1000, 'mixing_beta': 0.5}
    assert param.labeler_files == {'C': FIXTURES / 'C_ONCV_PBE_sr.upf', 'H': FIXTURES / 'H_ONCV_PBE_sr.upf'}
    assert any('not in type_map order' in note for note in param.notes)
    assert any('system.nat' in note for note in param.notes)


def test_cp2k_labeler(tmp_path):
    jdata, base = example_tree(tmp_path, 'cp2k')
    param = translate_param(jdata, base)
    assert param.labeler == {
        'engine': 'cp2k',
        'basis_set': {'C': 'DZVP-MOLOPT-GTH', 'H': 'DZVP-MOLOPT-GTH'},
        'potential': {'C': 'GTH-PBE-q4', 'H': 'GTH-PBE-q1'},
        'overrides': {
            'FORCE_EVAL': {'DFT': {'BASIS_SET_FILE_NAME': 'BASIS_MOLOPT', 'POTENTIAL_FILE_NAME': 'GTH_POTENTIALS'}}
        },
    }
    assert param.max_excluded_ratio == 0.2


def test_gaussian_clusters_are_not_supported(tmp_path):
    jdata, base = example_tree(tmp_path, 'gaussian')
    with pytest.raises(DpgenInputError, match=r'not supported: param.json use_clusters=True'):
        translate_param(jdata, base)


def test_gaussian_labeler(tmp_path):
    jdata, base = example_tree(tmp_path, 'gaussian')
    for key in ('use_clusters', 'cluster_cutoff', 'cluster_minify'):
        jdata.pop(key)
    param = translate_param(jdata, base)
    assert param.labeler == {
        'engine': 'gaussian',
        'overrides': {
            'functional': '',
            'basis_set': '',
            'route_parameters': {'force': None, 'B3LYP': None, '6-31g(d,p)': None, 'nosymm': None},
            'link0_parameters': {'%nprocshared': '2'},
        },
    }
    assert param.sys_format == 'lammps/lmp'
    assert [stage['relative_f'] for stage in param.schedule] == [1.0, 1.0]


@pytest.fixture
def vasp_example(tmp_path):
    return example_tree(tmp_path, 'vasp')


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'numb_models': '4'}, r'key `numb_models` gets wrong value type, requires <int>'),
        ({'type_map': 'H C'}, r'key `type_map` gets wrong value type, requires <list>'),
        ({'fp_style': 'abacus'}, r"not supported: param.json fp_style='abacus'"),
        ({'fp_cluster_vacuum': 10}, r'not supported: param.json fp_cluster_vacuum'),
        (
            {'fp_accurate_threshold': 0.9, 'fp_accurate_soft_threshold': 0.99},
            r'param.json fp_accurate_\*: .*fp_accurate_soft_threshold=0.99 is above fp_accurate_threshold=0.9',
        ),
        ({'model_devi_nopbc': True}, r'not supported: param.json model_devi_nopbc=True'),
        ({'shuffle_poscar': 'yes'}, r'shuffle_poscar'),
        ({'model_devi_f_trust_lo': [0.05]}, r'a list needs one level per sys_configs entry \(2\)'),
        ({'mass_map': [1]}, r'mass_map=\[1\]: expected "auto" or one mass'),
        ({'model_devi_v_trust_hi': 0.3}, r'model_devi_\*_trust_\*: .*v_lo=10000000000.0 and v_hi=0.3'),
        ({'training_reuse_iter': 3}, r'not supported: param.json training_reuse_iter=3'),
        (
            {'train_backend': 'jax'},
            r"param.json train_backend='jax'; aiida-dpgen trains with tensorflow",
        ),
        (
            {'training_finetune_model': ['a.pt', 'b.pt']},
            r"training_finetune_model=\['a.pt', 'b.pt'\]: different models per member; .* give one path",
        ),
        ({'training_finetune_model': 'absent.pt'}, r'training_finetune_model: .*absent.pt does not exist'),
        ({'init_batch_size': [1]}, r'not supported: param.json init_batch_size'),
        ({'sys_configs': [['nothing*/POSCAR'], ['no/POSCAR']]}, r'sys_configs\[0\].*no file matches'),
        ({'fp_pp_files': ['POTCAR_H']}, r'expected one file per type_map entry'),
    ],
)
def test_bad_input_names_key_value_and_fix(vasp_example, change, message):
    jdata, base = vasp_example
    with pytest.raises(DpgenInputError, match=message):
        translate_param({**jdata, **change}, base)


def test_the_labeling_taper_becomes_selection_settings(vasp_example):
    jdata, base = vasp_example
    param = translate_param({**jdata, 'fp_accurate_threshold': 0.99, 'fp_accurate_soft_threshold': 0.9}, base)
    assert (param.selection['fp_accurate_threshold'], param.selection['fp_accurate_soft_threshold']) == (0.99, 0.9)


def test_dp_gens_adaptive_lower_level_becomes_selection_settings(vasp_example):
    jdata, base = vasp_example
    adaptive = {'model_devi_adapt_trust_lo': True, 'model_devi_numb_candi_f': 20, 'model_devi_perc_candi_f': 5}
    param = translate_param({**jdata, **adaptive}, base)
    assert param.selection['adaptive_lower'] == {'numb_candi_f': 20, 'rate_candi_f': 0.05}
    defaults = translate_param({**jdata, 'model_devi_adapt_trust_lo': True}, base)
    assert defaults.selection['adaptive_lower'] == {'numb_candi_f': 10, 'rate_candi_f': 0.0}, "DP-GEN's defaults"
    assert 'adaptive_lower' not in translate_param(jdata, base).selection
    with pytest.raises(DpgenInputError, match=r'model_devi_adapt_trust_lo, model_devi_\*_candi_f: .*rate_candi_f=2.0'):
        translate_param({**jdata, **adaptive, 'model_devi_perc_candi_f': 200}, base)


def test_dp_gens_bad_box_criteria_become_a_geometry_screen(vasp_example):
    jdata, base = vasp_example
    param = translate_param({**jdata, 'fp_skip_bad_box': 'length_ratio:5;height_ratio:4.5'}, base)
    assert param.screens == {'bad_box': {'length_ratio': 5.0, 'height_ratio': 4.5}}
    with pytest.raises(
        DpgenInputError, match=r"fp_skip_bad_box='length_ratio=5': 'length_ratio=5' is not \"name:limit\""
    ):
        translate_param({**jdata, 'fp_skip_bad_box': 'length_ratio=5'}, base)
    with pytest.raises(DpgenInputError, match=r'screens.bad_box=.*expected limits of length_ratio, height_ratio'):
        translate_param({**jdata, 'fp_skip_bad_box': 'aspect:5'}, base)


def test_missing_required_key(vasp_example):
    jdata, base = vasp_example
    del jdata['fp_task_max']
    with pytest.raises(DpgenInputError, match=r'key `fp_task_max` is required'):
        translate_param(jdata, base)


def test_unknown_key_warns_with_closest(vasp_example):
    jdata, base = vasp_example
    param = translate_param({**jdata, 'fp_task_maxx': 3, 'model_devi_f_trust_high': 0.3}, base)
    assert "param.json fp_task_maxx: unknown key, ignored; did you mean 'fp_task_max'?" in param.warnings
    assert any("did you mean 'model_devi_f_trust_hi'" in warning for warning in param.warnings)


PER_SYSTEM_LEVELS = {
    'model_devi_f_trust_lo': [0.05, 0.08],
    'model_devi_v_trust_lo': 0.1,
    'model_devi_v_trust_hi': {'0': 0.5, '1': 0.6},
}
"""DP-GEN's trust levels as a list, a number and a dictionary by system index."""


def test_a_fresh_run_and_an_import_of_the_same_param_json_select_with_the_same_settings(vasp_example, tmp_path):
    """`aiida-dpgen run` and `aiida-dpgen import` translate trust levels with one function: an iteration that
    explored every system is selected with the settings the fresh run uses, per-system levels included."""
    jdata, base = vasp_example
    changed = {
        **jdata,
        **PER_SYSTEM_LEVELS,
        'fp_task_max': 7,
        'model_devi_skip': 3,
    }
    names = default_system_names(changed)
    iteration = IterationFiles(
        index=0,
        path=tmp_path,
        models=(),
        training=(),
        models_copied=False,
        model_devi=tuple(ModelDeviFile(system, 0, tmp_path / f'{system}.out') for system in range(len(names))),
        fp_data={},
        fp_tasks=None,
        current_job={'sys_idx': list(range(len(names)))},
    )
    fresh = translate_param(changed, base).selection
    assert iteration_selection(changed, iteration, names) == fresh
    assert fresh['per_system'] == {'sys_001': {'f_trust_lo': 0.08, 'v_trust_hi': 0.6}}
    assert (fresh['fp_task_max'], fresh['skip']) == (7, 3)


def test_pytorch_backend_and_fine_tuning_from_one_pretrained_model(vasp_example):
    jdata, base = vasp_example
    (base / 'pretrained.pt').write_bytes(b'a checkpoint')
    changed = {**jdata, 'train_backend': 'pytorch', 'training_finetune_model': ['pretrained.pt'] * 4}

    param = translate_param(changed, base)
    assert (param.backend, param.pretrained_model, param.finetune_policy) == ('pt', base / 'pretrained.pt', 'always')
    assert any('every iteration fine-tunes from the pretrained model again' in note for note in param.notes)

    reused = translate_param({**changed, 'training_reuse_iter': 1}, base)
    assert reused.finetune_policy == 'first', 'with training_reuse_* the later ensembles start from the previous one'
    assert translate_param(jdata, base).backend == 'tf'


def test_per_system_trust_levels_and_reuse(vasp_example):
    jdata, base = vasp_example
    changed = {
        **jdata,
        **PER_SYSTEM_LEVELS,
        'training_reuse_iter': 1,
        'training_reuse_numb_steps': 1000,
        'training_reuse_start_lr': 1e-4,
        'training_reuse_start_pref_f': 100,
        'mass_map': [1.0, 12.0],
    }
    param = translate_param(changed, base)
    assert param.selection['f_trust_lo'] == 0.05 and param.selection['v_trust_hi'] == 0.5
    assert param.selection['v_trust_lo'] == 0.1
    assert param.selection['per_system'] == {'sys_001': {'f_trust_lo': 0.08, 'v_trust_hi': 0.6}}
    assert param.train_reuse == {
        'training': {'numb_steps': 1000},
        'learning_rate': {'start_lr': 1e-4},
        'loss': {'start_pref_f': 100},
    }
    assert all(stage['masses'] == [1.0, 12.0] for stage in param.schedule)


@pytest.mark.parametrize(
    ('levels', 'expected'),
    [
        ({'model_devi_v_trust_lo': 1e10, 'model_devi_v_trust_hi': 1e10}, {}),
        ({'model_devi_v_trust_lo': 0.5}, {'v_trust_lo': 0.5, 'v_trust_hi': 1e10}),
        ({'model_devi_v_trust_lo': 0.5, 'model_devi_v_trust_hi': 1.0}, {'v_trust_lo': 0.5, 'v_trust_hi': 1.0}),
    ],
)
def test_virial_levels_with_dpgen_defaults(vasp_example, levels, expected):
    jdata, base = vasp_example
    selection = translate_param({**jdata, **levels}, base).selection
    assert {key: value for key, value in selection.items() if key.startswith('v_')} == expected


def test_shuffle_poscar_shuffles_the_atoms_of_every_stage(vasp_example):
    jdata, base = vasp_example
    assert not any('shuffle_atoms' in stage for stage in translate_param(jdata, base).schedule)
    stages = translate_param({**jdata, 'shuffle_poscar': True}, base).schedule
    assert [stage['shuffle_atoms'] for stage in stages] == [True] * len(jdata['model_devi_jobs'])


def test_relative_force_deviations(vasp_example):
    jdata, base = vasp_example
    assert translate_param({**jdata, 'model_devi_f_avg_relative': True}, base).selection['f_avg_relative'] is True
    assert 'f_avg_relative' not in translate_param(jdata, base).selection


def test_template_job(vasp_example):
    jdata, base = vasp_example
    (base / 'lmp').mkdir()
    (base / 'lmp' / 'input.lammps').write_text(
        'units metal\nboundary p p p\natom_style atomic\nread_data conf.lmp\n'
        'pair_style deepmd ../graph.000.pb ../graph.001.pb out_freq 10 out_file model_devi.out\npair_coeff * *\n'
        'velocity all create V_TEMP 1\nfix 1 all nvt temp V_TEMP V_TEMP 0.1\ntimestep 0.002\nrun V_NSTEPS\n'
    )
    job = {'sys_idx': [0], 'trj_freq': 10, 'template': {'lmp': 'lmp/input.lammps'}}
    job['rev_mat'] = {'lmp': {'V_NSTEPS': [100], 'V_TEMP': [50, 100]}}
    param = translate_param({**jdata, 'model_devi_jobs': [job]}, base)
    assert param.schedule[0]['rev_mat'] == {'V_NSTEPS': [100], 'V_TEMP': [50, 100]}
    assert param.schedule[0]['template'].startswith('units metal')

    bad = copy.deepcopy(job)
    bad['template']['plm'] = 'input.plumed'
    with pytest.raises(DpgenInputError, match=r"not supported: .*template/rev_mat \['plm'\]"):
        translate_param({**jdata, 'model_devi_jobs': [bad]}, base)


def test_per_job_trust_levels_are_not_supported(vasp_example):
    jdata, base = vasp_example
    jobs = copy.deepcopy(jdata['model_devi_jobs'])
    jobs[1]['model_devi_f_trust_lo'] = 0.1
    with pytest.raises(DpgenInputError, match=r'not supported: param.json model_devi_jobs\[1\].model_devi_f_trust_lo'):
        translate_param({**jdata, 'model_devi_jobs': jobs}, base)


def test_the_examples_are_the_shipped_files():
    """Guard against editing the fixtures: they are DP-GEN's files, their paths are replaced only in the tests."""
    jdata = json.loads((FIXTURES / 'param_CH4_vasp.json').read_text())
    assert jdata['init_data_prefix'] == '/data1/yfb222333/2_dpgen_gpu_multi'


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'numb_models': 1}, r'param.json numb_models: numb_models=1: an ensemble needs at least 2 models'),
        (
            {'default_training_param': {'model': {}, 'learning_rate': {}, 'loss': {}, 'training': {'numb_steps': 0}}},
            r'param.json default_training_param: .*"training.numb_steps" is 0',
        ),
    ],
)
def test_the_dry_run_refuses_what_the_loop_would_refuse(vasp_example, tmp_path, change, message):
    """`aiida-dpgen run --dry-run` refuses, before any profile is used, what DpgenWorkChain's own validators
    would refuse when the run is built (numb_models: 1 went through the dry run before)."""
    from click.testing import CliRunner

    from aiida_dpgen.cli import cli

    jdata, base = vasp_example
    with pytest.raises(DpgenInputError, match=message):
        translate_param({**jdata, **change}, base)
    param = tmp_path / 'param.json'
    param.write_text(json.dumps({**jdata, **change}))
    result = CliRunner().invoke(
        cli, ['run', str(param), '--dry-run', '--code', 'train=a', '--code', 'explore=b', '--code', 'label=c']
    )
    assert result.exit_code == 1 and re.search(message, result.output), result.output


def test_cp2k_external_input_path_is_the_labelers_whole_input(tmp_path):
    """DP-GEN's CP2K template is used as it is but for what the labeler writes per frame: the cell, the
    coordinates and the KIND sections (their basis sets and potentials become the labeler's by element)."""
    from .dpgen_examples import FIXTURES

    jdata, base = example_tree(tmp_path, 'cp2k')
    jdata.pop('user_fp_params')
    jdata['external_input_path'] = str(FIXTURES / 'template_CH4_cp2k.inp')
    labeler = translate_param(jdata, base).labeler
    assert labeler['basis_set'] == {'H': 'DZVP-MOLOPT-SR-GTH', 'C': 'DZVP-MOLOPT-SR-GTH'}
    assert labeler['potential'] == {'H': 'GTH-PBE-q1', 'C': 'GTH-PBE-q4'}
    assert 'SUBSYS' not in labeler['parameters']['FORCE_EVAL'] and 'overrides' not in labeler
    assert labeler['parameters']['FORCE_EVAL']['DFT']['MGRID']['CUTOFF'] == '400'
    with pytest.raises(DpgenInputError, match=r'needs one of user_fp_params .* and external_input_path'):
        translate_param({**jdata, 'user_fp_params': {}}, base)
    with pytest.raises(DpgenInputError, match=r"external_input_path='missing.inp': .*missing.inp: cannot read it"):
        translate_param({**jdata, 'external_input_path': 'missing.inp'}, base)
