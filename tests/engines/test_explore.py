"""Exploration with the real `lmp` and the DeePMD plugin: 32-atom Cu, two tiny models, NPT and NVT."""

from __future__ import annotations

import numpy as np
import pytest
from aiida.plugins import WorkflowFactory
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData, DeepPotentialData
from aiida_dpgen.exploration.selection import TrustLevels, classify
from aiida_dpgen.workflows.runner import run_get_node

from .conftest import require

ExploreWorkChain = WorkflowFactory('dpgen.explore')


@pytest.fixture
def lmp_code(aiida_localhost):
    from aiida.orm import InstalledCode

    return InstalledCode(
        label='lmp',
        computer=aiida_localhost,
        filepath_executable=require('lmp'),
        default_calc_job_plugin='dpgen.lammps',
    ).store()


@pytest.fixture
def python_code(lmp_code):
    """This environment's Python on the LAMMPS code's computer: it selects on the computer where the MD ran."""
    import sys

    from aiida.orm import InstalledCode

    return InstalledCode(label='python-select', computer=lmp_code.computer, filepath_executable=sys.executable).store()


@pytest.fixture
def ensemble(trained_models):
    return {
        f'model_{index}': DeepPotentialData.from_frozen_model(path).store() for index, path in enumerate(trained_models)
    }


def all_tasks(results) -> dict:
    """Every task's outcome, from the jobs' own task_results."""
    return {index: task for job in results['task_results'].values() for index, task in job['tasks'].items()}


def cu_configurations(structure: str, copies: int, nframes: int) -> ConfigurationsData:
    frames = []
    for seed in range(nframes):
        atoms = bulk('Cu', structure, a={'fcc': 3.61, 'bcc': 2.87}[structure], cubic=True).repeat(copies)
        atoms.rattle(0.02, seed=seed)
        frames.append(atoms)
    return ConfigurationsData.from_ase(frames, type_map=['Cu']).store()


def test_explore_runs_grouped_tasks_and_selects_counts_consistent_with_the_deviations(lmp_code, ensemble):
    configurations = {'fcc': cu_configurations('fcc', 2, 2), 'bcc': cu_configurations('bcc', 2, 1)}
    stage = {
        'systems': ['fcc', 'bcc'],
        'temps': [300.0, 1200.0],
        'press': [1.0],
        'ensemble': 'npt',
        'nsteps': 200,
        'trj_freq': 10,
    }
    selection = {'f_trust_lo': 0.15, 'f_trust_hi': 0.4, 'fp_task_max': 5, 'seed': 3}
    results, node = run_get_node(
        ExploreWorkChain,
        models=ensemble,
        configurations=configurations,
        stage=stage,
        selection=selection,
        group_size=4,
        lammps={'lammps': {'code': lmp_code}},
    )
    assert node.is_finished_ok, node.exit_message

    task_results = {'tasks': all_tasks(results)}
    summary = {'tasks': 6, 'completed': 6, 'lost_atoms': 0, 'failed': 0, 'frames': 6 * 21}
    assert results['task_summary'].get_dict() == summary
    assert sorted(results['deviations']) == ['job_000', 'job_001'], 'six tasks in jobs of four: two jobs'

    # Recount every frame from the stored deviations with the trust levels, independently of the parser.
    trust = TrustLevels(0.15, 0.4)
    expected = dict.fromkeys(('fcc', 'bcc'), np.zeros(3, dtype=int))
    for deviations in results['deviations'].values():
        offsets, tasks = deviations.get_array('offsets'), deviations.get_array('task')
        steps, values = deviations.get_array('steps'), deviations.get_array('values')
        assert values.dtype == np.float32 and values.shape[1] == 6
        for number, task in enumerate(tasks):
            rows = slice(offsets[number], offsets[number + 1])
            system = task_results['tasks'][str(task)]['system']
            categories, _ = classify(steps[rows], values[rows, 0], values[rows, 3], trust)
            expected[system] = expected[system] + np.bincount(categories, minlength=3)

    statistics = results['statistics'].get_dict()
    for system, counts in expected.items():
        got = statistics['systems'][system]
        assert [got['accurate'], got['candidate'], got['failed']] == counts.tolist()
        assert got['chosen'] == min(5, counts[1])
        if got['chosen']:
            assert results['candidates'][system].nframes == got['chosen']
    overall = statistics['overall']
    assert overall['frames'] == 6 * 21
    assert abs(overall['accurate_ratio'] + overall['candidate_ratio'] + overall['failed_ratio'] - 1) < 1e-12
    assert overall['candidate'] > 0, f'trust levels chosen to give candidates; got {overall}'


def test_candidate_frames_are_the_dumped_frames(lmp_code, ensemble):
    from ase.io import read

    configurations = {'fcc': cu_configurations('fcc', 2, 1)}
    stage = {'systems': ['fcc'], 'temps': [900.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    selection = {'f_trust_lo': 0.0, 'f_trust_hi': 100.0, 'fp_task_max': 3}
    results, node = run_get_node(
        ExploreWorkChain,
        models=ensemble,
        configurations=configurations,
        stage=stage,
        selection=selection,
        lammps={'lammps': {'code': lmp_code}},
    )
    assert node.is_finished_ok, node.exit_message
    candidates = results['candidates']['fcc']
    assert candidates.nframes == 3
    steps = candidates.base.attributes.get('steps')

    job = node.called[0].called[0]
    dump = f'{job.outputs.remote_folder.get_remote_path()}/task.000000/traj.dump'
    dumped = {int(atoms.info.get('timestep', -1)): atoms for atoms in read(dump, index=':', format='lammps-dump-text')}
    for atoms, step in zip(candidates.to_ase(), steps, strict=True):
        reference = dumped[step] if step in dumped else read(dump, index=step // 10, format='lammps-dump-text')
        assert np.allclose(atoms.cell.lengths(), reference.cell.lengths(), atol=1e-6)
        assert np.allclose(atoms.get_scaled_positions() % 1.0, reference.get_scaled_positions() % 1.0, atol=1e-6)


LOSING_TEMPLATE = """units metal
boundary p p V_BOUNDARY
atom_style atomic
read_data conf.lmp
mass 1 63.546
pair_style deepmd graph.pb out_file model_devi.out
pair_coeff * *
velocity all create V_TEMP 7 dist gaussian
fix 1 all nve
timestep 0.005
thermo 10
run V_NSTEPS
"""


def test_template_task_that_loses_atoms_keeps_its_frames_and_is_reported(lmp_code, ensemble):
    """A fixed z boundary at 3000 K: atoms leave the box and LAMMPS stops with 'Lost atoms' (a real error)."""
    stage = {
        'systems': ['fcc'],
        'template': LOSING_TEMPLATE,
        'rev_mat': {'V_BOUNDARY': ['p', 'f'], 'V_TEMP': [3000], 'V_NSTEPS': [200]},
        'trj_freq': 10,
    }
    results, node = run_get_node(
        ExploreWorkChain,
        models=ensemble,
        configurations={'fcc': cu_configurations('fcc', 2, 1)},
        stage=stage,
        selection={'f_trust_lo': 0.15, 'f_trust_hi': 0.4},
        lammps={'lammps': {'code': lmp_code}},
    )
    assert node.is_finished_ok, node.exit_message
    tasks = all_tasks(results)
    periodic, fixed = tasks['0'], tasks['1']
    assert (periodic['V_BOUNDARY'], periodic['status'], periodic['frames']) == ('p', 'completed', 21)
    assert (fixed['V_BOUNDARY'], fixed['status']) == ('f', 'lost_atoms')
    assert fixed['message'].startswith('ERROR: Lost atoms')
    assert fixed['errors'] == [{'message': fixed['message']}], "aiida-lammps' log parser reads the same error"
    assert 0 < fixed['frames'] < 21, 'the frames written before the loss are parsed'
    assert fixed['accurate'] + fixed['candidate'] + fixed['failed'] == fixed['frames']
    assert results['statistics']['overall']['frames'] == 21 + fixed['frames']
    (job,) = [child for child in node.called_descendants if child.process_label == 'DpLammpsCalculation']
    trajectory = job.outputs.failed_trajectories.task_000001
    assert trajectory.number_steps > 0 and trajectory.number_atoms == 32, 'what the aiida-lammps tools open'
    assert all(step % 10 == 0 for step in trajectory.time_steps)
    assert 'task_000000' not in job.outputs.failed_trajectories


def test_relative_force_deviations_divide_by_the_rms_force_of_each_trajectory(lmp_code, ensemble):
    """DP-GEN's model_devi_f_avg_relative: the dump carries the forces, and each task's force deviations are
    divided by their trajectory's RMS force before the (relative) trust levels classify them."""
    stage = {'systems': ['fcc'], 'temps': [600.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    selection = {'f_trust_lo': 0.05, 'f_trust_hi': 0.5, 'f_avg_relative': True}
    results, node = run_get_node(
        ExploreWorkChain,
        models=ensemble,
        configurations={'fcc': cu_configurations('fcc', 2, 1)},
        stage=stage,
        selection=selection,
        lammps={'lammps': {'code': lmp_code}},
    )
    assert node.is_finished_ok, node.exit_message
    (task,) = all_tasks(results).values()
    assert task['rms_force'] > 0
    (deviations,) = results['deviations'].values()
    relative = deviations.get_array('values')[:, 3] / task['rms_force']  # max_devi_f, float32 as stored
    expected = [np.sum(relative < 0.05), np.sum((relative >= 0.05) & (relative < 0.5)), np.sum(relative >= 0.5)]
    assert [task['accurate'], task['candidate'], task['failed']] == expected


def test_selecting_on_the_computer_chooses_the_same_frames_and_brings_back_no_trajectory(
    lmp_code, python_code, ensemble
):
    configurations = {'fcc': cu_configurations('fcc', 2, 2), 'bcc': cu_configurations('bcc', 2, 1)}
    stage = {'systems': ['fcc', 'bcc'], 'temps': [300.0, 1200.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    # the inverse-population choice: each job keeps per deviation bin its smallest keys and counts the bin
    selection = {'f_trust_lo': 0.05, 'f_trust_hi': 0.4, 'fp_task_max': 3, 'seed': 5, 'candidate_choice': 'inv_pop_f:4'}
    common = {'models': ensemble, 'configurations': configurations, 'stage': stage, 'selection': selection}

    there, there_node = run_get_node(
        ExploreWorkChain, **common, group_size=3, lammps={'lammps': {'code': lmp_code, 'python': python_code}}
    )
    assert there_node.is_finished_ok, there_node.exit_message
    jobs = [child for child in there_node.called_descendants if child.process_label == 'DpLammpsCalculation']
    for job in jobs:
        assert job.get_retrieve_temporary_list() == ['selection.npz', 'selection.json', ['failed_logs/*.dump', '.', 2]]
        assert job.outputs.retrieved.base.repository.list_object_names() == [
            name for name in job.outputs.retrieved.base.repository.list_object_names() if not name.startswith('task.')
        ], 'no task logs kept: every task completed'

    # the same tasks again, selected here from the brought-back files: the MD is not bit-for-bit repeatable on
    # two cores, so the comparison reselects the first run's own files here instead of running the MD again
    from aiida.orm.implementation.utils import clean_value
    from aiida.plugins import ParserFactory

    for job in jobs:
        folder = job.outputs.remote_folder.get_remote_path()
        here = ParserFactory('dpgen.lammps').parse_from_node(
            _without_python(job), store_provenance=False, retrieved_temporary_folder=folder
        )[0]
        for name in ('statistics', 'task_results'):
            # the stored node's floats went through AiiDA's clean_value (14 significant digits)
            assert clean_value(here[name].get_dict()) == job.outputs[name].get_dict()
        for name in ('deviations', 'candidate_frames'):
            for array in job.outputs[name].get_arraynames():
                np.testing.assert_array_equal(here[name].get_array(array), job.outputs[name].get_array(array))
    chosen = there['statistics']['overall']['chosen']
    assert chosen == sum(node.nframes for node in there['candidates'].values()) > 0
    systems = there['statistics']['systems']
    for name in ('fcc', 'bcc'):
        assert sum(systems[name]['candidate_bins']) == systems[name]['candidate'], 'every candidate in a bin'
        assert systems[name]['chosen'] == min(3, systems[name]['candidate'])


def _without_python(job):
    """An unsealed copy of a finished job's node without the `python` input, whose retrieved folder holds the task
    logs as a job without `python` would (read from its working folder), for parsing the same files here."""
    import pathlib

    from aiida.common.links import LinkType
    from aiida.orm import CalcJobNode, FolderData

    node = CalcJobNode(computer=job.computer, process_type=job.process_type)
    node.set_option('resources', job.get_option('resources'))
    for link in job.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all():
        if link.link_label != 'python':
            node.base.links.add_incoming(link.node, link_type=LinkType.INPUT_CALC, link_label=link.link_label)
    node.store()
    retrieved = FolderData()
    root = pathlib.Path(job.outputs.remote_folder.get_remote_path())
    for log in root.glob('task.*/log.lammps'):
        retrieved.base.repository.put_object_from_file(str(log), f'{log.parent.name}/{log.name}')
    retrieved.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label='retrieved')
    retrieved.store()
    return node


def test_the_diverse_choice_takes_the_most_different_of_the_uniform_pool_by_the_first_models_descriptor(
    lmp_code, ensemble
):
    from aiida_dpgen.exploration import diversity
    from aiida_dpgen.exploration.selection import priority_keys

    configurations = {'fcc': cu_configurations('fcc', 2, 2)}
    stage = {'systems': ['fcc'], 'temps': [300.0, 1200.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 5}
    levels = {'f_trust_lo': 0.0, 'f_trust_hi': 10.0, 'seed': 11}
    explored = {}
    for choice, cap in (('uniform', 12), ('diverse:4', 3)):  # the uniform 12 are the diverse choice's pool
        results, node = run_get_node(
            ExploreWorkChain,
            models=ensemble,
            configurations=configurations,
            stage=stage,
            selection={**levels, 'fp_task_max': cap, 'candidate_choice': choice},
            lammps={'lammps': {'code': lmp_code}},
        )
        assert node.is_finished_ok, node.exit_message
        explored[choice] = results

    statistics = explored['diverse:4']['statistics'].get_dict()['systems']['fcc']
    assert (statistics['candidate'], statistics['pool'], statistics['chosen']) == (84, 12, 3)
    pool = explored['uniform']['candidates']['fcc']
    tasks, steps = np.array(pool.base.attributes.get('tasks')), np.array(pool.base.attributes.get('steps'))
    frames = pool.to_ase()
    with ensemble['model_0'].as_path() as path:
        values = diversity.descriptors(
            str(path),
            np.array([atoms.cell.array for atoms in frames]),
            [atoms.positions for atoms in frames],
            [np.zeros(len(atoms), dtype=int) for atoms in frames],
        )
    features = diversity.fingerprints(values, [np.zeros(len(atoms), dtype=int) for atoms in frames], 1)
    expected = diversity.diverse_subset(features, priority_keys(11, tasks, steps), 3)
    chosen = explored['diverse:4']['candidates']['fcc']
    assert chosen.base.attributes.get('tasks') == tasks[expected].tolist()
    assert chosen.base.attributes.get('steps') == steps[expected].tolist()
    first_three = np.argsort(priority_keys(11, tasks, steps))[:3]
    assert sorted(expected.tolist()) != sorted(first_three.tolist()), 'not the uniform choice of three'
    picked = chosen.to_ase()
    assert np.allclose(picked[0].positions, frames[expected[0]].positions)


def test_the_adaptive_lower_level_selected_on_the_computer_is_its_definition_over_the_stored_deviations(
    lmp_code, python_code, ensemble
):
    from aiida_dpgen.exploration.selection import CANDIDATE, FAILED, priority_keys
    from aiida_dpgen.exploration.strategies import adaptive_lower_levels

    configurations = {'fcc': cu_configurations('fcc', 2, 2), 'bcc': cu_configurations('bcc', 2, 1)}
    stage = {'systems': ['fcc', 'bcc'], 'temps': [300.0, 1200.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 5}
    adaptive = {'numb_candi_f': 4, 'rate_candi_f': 0.1}
    selection = {'f_trust_lo': 0.05, 'f_trust_hi': 0.4, 'fp_task_max': 3, 'seed': 7, 'adaptive_lower': adaptive}
    results, node = run_get_node(
        ExploreWorkChain,
        models=ensemble,
        configurations=configurations,
        stage=stage,
        selection=selection,
        group_size=2,
        lammps={'lammps': {'code': lmp_code, 'python': python_code}},
    )
    assert node.is_finished_ok, node.exit_message

    systems = ['fcc', 'bcc']
    per_system = {name: ([], [], []) for name in systems}  # tasks, steps, max_devi_f of every stored frame
    for deviations in results['deviations'].values():
        offsets, lengths = deviations.get_array('offsets'), np.diff(deviations.get_array('offsets'))
        assert deviations.base.attributes.get('systems') == systems and len(offsets) == 3
        tasks = np.repeat(deviations.get_array('task'), lengths)
        owners = np.repeat(deviations.get_array('system'), lengths)
        for number, name in enumerate(systems):
            mine = owners == number
            per_system[name][0].append(tasks[mine])
            per_system[name][1].append(deviations.get_array('steps')[mine])
            per_system[name][2].append(deviations.get_array('values')[mine, 3])
    statistics = results['statistics'].get_dict()['systems']
    for name in systems:
        tasks, steps, force = (np.concatenate(arrays) for arrays in per_system[name])
        levels = adaptive_lower_levels(tasks, steps, force.astype(float), f_hi=0.4, number_f=4, rate_f=0.1)
        candidate = np.flatnonzero(levels.categories == CANDIDATE)
        assert statistics[name]['candidate'] == len(candidate) == max(4, int(0.1 * np.sum(levels.categories != FAILED)))
        assert statistics[name]['f_trust_lo_adapted'] == pytest.approx(levels.f_lo)
        won = candidate[np.argsort(priority_keys(7, tasks[candidate], steps[candidate]))[:3]]
        chosen = results['candidates'][name]
        expected = sorted(zip(tasks[won].tolist(), steps[won].tolist(), strict=True))
        assert (
            list(zip(chosen.base.attributes.get('tasks'), chosen.base.attributes.get('steps'), strict=True)) == expected
        )
