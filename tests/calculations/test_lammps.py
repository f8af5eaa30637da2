"""DpLammpsCalculation: one folder per task, one LAMMPS run per task, models copied once, bad input refused."""

from __future__ import annotations

import re

import numpy as np
import pytest
from aiida.common import CodeRunMode
from aiida.orm import InstalledCode, List
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData, DeepPotentialData

from ..conftest import FIXTURES

STAGE = {'systems': ['fcc', 'bcc'], 'temps': [300.0, 600.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}


@pytest.fixture
def lammps_inputs(aiida_localhost):
    def configurations(structure, a, nframes):
        frames = [bulk('Cu', structure, a=a, cubic=True) for _ in range(nframes)]
        return ConfigurationsData.from_ase(frames, type_map=['Cu']).store()

    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    code = InstalledCode(computer=aiida_localhost, filepath_executable='lmp', default_calc_job_plugin='dpgen.lammps')
    return {
        'code': code.store(),
        'models': {f'model_{index}': DeepPotentialData(str(model), type_map=['Cu']).store() for index in range(3)},
        'configurations': {'fcc': configurations('fcc', 3.61, 2), 'bcc': configurations('bcc', 2.87, 1)},
        'stage': STAGE,
        'tasks': List([1, 2, 5]),
    }


def test_each_task_gets_its_folder_script_and_run(generate_calc_job, lammps_inputs):
    folder, calc_info = generate_calc_job('dpgen.lammps', lammps_inputs)

    assert sorted(path.name for path in folder.iterdir()) == ['task.000001', 'task.000002', 'task.000005']
    assert calc_info.codes_run_mode == CodeRunMode.SERIAL
    assert [info.cmdline_params for info in calc_info.codes_info] == [
        ['-in', f'task.{index:06d}/in.lammps', '-log', f'task.{index:06d}/log.lammps', '-screen', 'none']
        for index in (1, 2, 5)
    ]
    # Tasks: fcc conf 0 (300, 600), fcc conf 1 (300, 600), bcc conf 0 (300, 600); task 5 is bcc at 600 K.
    script = (folder / 'task.000005' / 'in.lammps').read_text()
    assert 'fix dpgen_md all nvt temp 600.0 600.0 0.1' in script
    assert '2 atoms' in (folder / 'task.000005' / 'conf.lmp').read_text()
    assert '4 atoms' in (folder / 'task.000001' / 'conf.lmp').read_text()

    models = lammps_inputs['models']
    assert sorted(calc_info.local_copy_list) == sorted(
        (models[name].uuid, models[name].filename, f'graph.{index:03d}.pb') for index, name in enumerate(sorted(models))
    ), 'models are copied from the repository, never written into the submit folder'
    assert calc_info.retrieve_list == [('task.*/log.lammps', '.', 2)]
    assert calc_info.retrieve_temporary_list == [('task.*/model_devi.out', '.', 2), ('task.*/traj.dump', '.', 2)]
    # the task folders are made from the job's inputs: not stored with it again, thousands per exploration
    assert calc_info.provenance_exclude_list == ['task.000001', 'task.000002', 'task.000005']


def test_pytorch_models_keep_their_suffix_so_that_lammps_loads_them_with_that_backend(generate_calc_job, lammps_inputs):
    # the file's content is not read here; LAMMPS' plugin picks the backend by the suffix
    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    models = {
        f'model_{i}': DeepPotentialData(str(model), filename='frozen_model.pth', type_map=['Cu']) for i in range(2)
    }
    folder, calc_info = generate_calc_job('dpgen.lammps', {**lammps_inputs, 'models': models})
    assert sorted(target for _, _, target in calc_info.local_copy_list) == ['graph.000.pth', 'graph.001.pth']
    assert (
        'pair_style deepmd ../graph.000.pth ../graph.001.pth out_file'
        in (folder / 'task.000001' / 'in.lammps').read_text()
    )


def test_configuration_elements_are_mapped_onto_the_models_type_map(generate_calc_job, lammps_inputs, tmp_path):
    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    lammps_inputs['models'] = {
        f'model_{index}': DeepPotentialData(str(model), type_map=['Al', 'Cu']).store() for index in range(2)
    }
    folder, _ = generate_calc_job('dpgen.lammps', {**lammps_inputs, 'tasks': List([0])})
    conf = (folder / 'task.000000' / 'conf.lmp').read_text()
    assert '2 atom types' in conf
    rows = np.array([line.split() for line in conf.split('Atoms # atomic')[1].strip().splitlines()], dtype=float)
    assert set(rows[:, 1]) == {2.0}, 'Cu is type 2 of the models'
    script = (folder / 'task.000000' / 'in.lammps').read_text()
    assert 'mass 1 26.9815385' in script and 'mass 2 63.546' in script


def test_relative_deviations_dump_the_forces(generate_calc_job, lammps_inputs):
    selection = {'f_trust_lo': 0.05, 'f_trust_hi': 0.5, 'f_avg_relative': True}
    folder, _ = generate_calc_job('dpgen.lammps', {**lammps_inputs, 'selection': selection})
    assert 'traj.dump id type x y z fx fy fz' in (folder / 'task.000001' / 'in.lammps').read_text()
    folder, _ = generate_calc_job('dpgen.lammps', lammps_inputs)
    assert 'traj.dump id type x y z\n' in (folder / 'task.000001' / 'in.lammps').read_text()


def test_stage_masses_replace_the_standard_ones(generate_calc_job, lammps_inputs):
    """DP-GEN's mass_map: the stage's masses, in the models' type_map order."""
    folder, _ = generate_calc_job('dpgen.lammps', {**lammps_inputs, 'stage': {**STAGE, 'masses': [64.0]}})
    assert 'mass 1 64.0' in (folder / 'task.000001' / 'in.lammps').read_text()


def test_shuffled_atoms_trade_places_reproducibly(generate_calc_job, lammps_inputs):
    """DP-GEN's shuffle_poscar: the same sites, in another order per task, the same order for the same seed."""
    frames = [bulk('Cu', 'fcc', a=3.61, cubic=True).repeat(2)]
    frames[0].symbols[:8] = 'Al'
    lammps_inputs['configurations'] = {'fcc': ConfigurationsData.from_ase(frames, type_map=['Al', 'Cu']).store()}
    lammps_inputs['models'] = {
        f'model_{index}': DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Al', 'Cu']).store()
        for index in range(2)
    }
    stage = {**STAGE, 'systems': ['fcc']}

    def atoms(stage, task):
        folder, _ = generate_calc_job('dpgen.lammps', {**lammps_inputs, 'stage': stage, 'tasks': List([task])})
        conf = (folder / f'task.{task:06d}' / 'conf.lmp').read_text()
        return np.array([line.split() for line in conf.split('Atoms # atomic')[1].strip().splitlines()], dtype=float)

    def sites(rows):
        return sorted(map(tuple, np.round(rows[:, 2:], 6)))

    shuffled = {**stage, 'shuffle_atoms': True}
    plain, first, second = atoms(stage, 0), atoms(shuffled, 0), atoms(shuffled, 1)
    np.testing.assert_array_equal(first[:, 1], plain[:, 1])  # the elements keep their order and counts
    assert sites(first) == sites(plain) == sites(second), 'the same sites'
    assert not np.allclose(first[:, 2:], plain[:, 2:]) and not np.allclose(first[:, 2:], second[:, 2:])
    np.testing.assert_array_equal(atoms(shuffled, 0), first)


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'models': 'one'}, 'models: got 1 model(s); the model deviation needs an ensemble of at least two'),
        ({'stage': {**STAGE, 'ensemble': 'npt'}}, "stage.press=None: ensemble 'npt' needs"),
        ({'stage': {**STAGE, 'systems': ['hcp']}}, "stage.systems: ['hcp'] are not among the configurations"),
        ({'tasks': [6]}, 'tasks: [6] are not task indices of this stage (0 to 5)'),
        ({'selection': {'f_trust_lo': 0.3, 'f_trust_hi': 0.1}}, 'selection: trust levels: f_lo=0.3 and f_hi=0.1'),
        ({'models': 'al'}, "configurations.fcc: elements ['Cu'] are not in the models' type_map ['Al']"),
        ({'models': 'mixed'}, "models: the ensemble mixes backends ['pytorch', 'tensorflow']; train every model"),
        ({'stage': {**STAGE, 'masses': [1.0, 2.0]}}, 'stage.masses=[1.0, 2.0]: expected one mass per element'),
        ({'stage': {**STAGE, 'masses': ['heavy']}}, "stage.masses=['heavy']: expected a list of positive masses"),
    ],
)
def test_bad_input_is_refused_before_submission_naming_the_key(generate_calc_job, lammps_inputs, change, message):
    model = FIXTURES / 'models' / 'cu_se_e2_a.pb'
    if change.get('models') == 'one':
        change['models'] = {'model_0': lammps_inputs['models']['model_0']}
    elif change.get('models') == 'al':
        change['models'] = {f'm{i}': DeepPotentialData(str(model), type_map=['Al']).store() for i in range(2)}
    elif change.get('models') == 'mixed':
        pytorch = DeepPotentialData(str(model), filename='frozen_model.pth', type_map=['Cu']).store()
        change['models'] = {'m0': lammps_inputs['models']['model_0'], 'm1': pytorch}
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_calc_job('dpgen.lammps', {**lammps_inputs, **change})
