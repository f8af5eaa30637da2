"""Training input: what the user gives, what the plugin fills in, and what it refuses."""

from __future__ import annotations

import copy

import pytest

from aiida_dpgen.training.inputs import (
    backend_error,
    build_training_input,
    descriptor_summary,
    per_element_sel,
    sampling_probabilities,
    sel_error,
    validate_parameters,
)

PARAMETERS = {
    'model': {
        'descriptor': {'type': 'se_e2_a', 'sel': [40], 'rcut': 4.0, 'rcut_smth': 0.5, 'neuron': [4, 8]},
        'fitting_net': {'neuron': [16, 16]},
    },
    'learning_rate': {'type': 'exp', 'start_lr': 1e-3, 'stop_lr': 1e-5},
    'loss': {'start_pref_e': 0.02, 'limit_pref_e': 1, 'start_pref_f': 1000, 'limit_pref_f': 1},
    'training': {'numb_steps': 200, 'disp_freq': 20},
}


def test_plugin_fills_type_map_data_paths_probabilities_and_seeds():
    content = build_training_input(
        PARAMETERS,
        type_map=['Cu'],
        training_systems=['train/init/Cu4', 'train/iter/Cu2'],
        sys_probs=[0.75, 0.25],
        validation_systems=['validation/Cu4'],
        seed=1234,
    )
    assert content['model']['type_map'] == ['Cu']
    assert content['model']['descriptor']['seed'] == content['model']['fitting_net']['seed'] == 1234
    assert content['training']['seed'] == 1234
    assert content['training']['training_data'] == {
        'systems': ['train/init/Cu4', 'train/iter/Cu2'],
        'batch_size': 'auto',
        'sys_probs': [0.75, 0.25],
    }
    assert content['training']['validation_data'] == {'systems': ['validation/Cu4'], 'batch_size': 'auto'}
    assert 'seed' not in PARAMETERS['model']['descriptor'], 'the user parameters must not be modified'


def test_hybrid_descriptors_get_the_seed_in_every_member():
    parameters = copy.deepcopy(PARAMETERS)
    parameters['model']['descriptor'] = {
        'type': 'hybrid',
        'list': [{'type': 'se_e2_a', 'rcut': 6.0}, {'rcut': 4.0}],
    }
    content = build_training_input(
        parameters, type_map=['Cu'], training_systems=['a'], sys_probs=None, validation_systems=None, seed=5
    )
    assert [member['seed'] for member in content['model']['descriptor']['list']] == [5, 5]
    assert descriptor_summary(content) == {'descriptor': 'hybrid', 'rcut': 6.0, 'sel': None, 'seed': 5}


@pytest.mark.parametrize(
    ('path', 'value', 'message'),
    [
        (
            ('training', 'training_data', 'systems'),
            ['/home/me/data'],
            "'training.training_data.systems' is set",
        ),
        (('training', 'seed'), 1, "'training.seed' is set; remove it, seeds come from the `seed` input"),
        (('model', 'descriptor', 'seed'), 1, "'model.descriptor.seed' is set"),
        (('model', 'fitting_net', 'seed'), 1, "'model.fitting_net.seed' is set"),
        (('model', 'type_map'), ['Cu'], "'model.type_map' is set; remove it, the type map comes from"),
    ],
)
def test_parameters_that_set_paths_seeds_or_type_map_are_refused(path, value, message):
    parameters = copy.deepcopy(PARAMETERS)
    target = parameters
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    assert message in validate_parameters(parameters)


def test_missing_sections_and_bad_step_counts_are_refused():
    assert "sections ['loss']" in validate_parameters({k: v for k, v in PARAMETERS.items() if k != 'loss'})
    parameters = copy.deepcopy(PARAMETERS)
    parameters['training']['numb_steps'] = 0
    assert '"training.numb_steps" is 0; expected a positive integer' in validate_parameters(parameters)
    assert validate_parameters(PARAMETERS) is None


def test_sampling_follows_frame_counts_times_dataset_weights():
    frames = {'init': [30, 10], 'iter_000': [20]}
    assert sampling_probabilities(frames, {}) == pytest.approx([0.5, 1 / 6, 1 / 3])
    assert sampling_probabilities(frames, {'iter_000': 4.0}) == pytest.approx([0.25, 1 / 12, 2 / 3])
    with pytest.raises(ValueError, match='weighted frame count is zero'):
        sampling_probabilities(frames, {'init': 0.0, 'iter_000': 0.0})


DPA3 = {'type': 'dpa3', 'repflow': {'e_rcut': 4.0, 'e_sel': 40, 'a_rcut': 3.5, 'a_sel': 20, 'nlayers': 2}}


def test_dpa3_is_refused_with_the_tensorflow_backend_alone_and_in_a_hybrid():
    dpa3 = {**PARAMETERS, 'model': {**PARAMETERS['model'], 'descriptor': DPA3}}
    error = backend_error(dpa3, 'tf')
    assert error == (
        "parameters: model.descriptor type 'dpa3' is not in DeePMD-kit's TensorFlow backend; set backend='pt' "
        '(PyTorch; train.base.dp.backend) or use a TensorFlow descriptor such as se_e2_a'
    )
    hybrid = {
        **PARAMETERS,
        'model': {'descriptor': {'type': 'hybrid', 'list': [PARAMETERS['model']['descriptor'], DPA3]}},
    }
    assert "'dpa3'" in backend_error(hybrid, 'tf')
    assert backend_error(dpa3, 'pt') is None
    assert backend_error(PARAMETERS, 'tf') is None


def test_the_summary_of_a_dpa3_model_gives_its_edges_cutoff_and_sel():
    summary = descriptor_summary({'model': {'descriptor': {**DPA3, 'seed': 7}}})
    assert summary == {'descriptor': 'dpa3', 'rcut': 4.0, 'sel': [40], 'seed': 7}


def test_a_one_entry_sel_is_repeated_per_element_and_a_mismatch_is_named():
    assert sel_error(PARAMETERS, ['Cu']) is None
    assert sel_error(PARAMETERS, ['Al', 'Cu']) == (
        "parameters: model.descriptor.sel=[40] has 1 entries, the type map ['Al', 'Cu'] has 2: give one per element "
        '(e.g. [40, 40]), or build the builder from a protocol with the data, which does that'
    )
    two = per_element_sel(PARAMETERS, 2)
    assert two['model']['descriptor']['sel'] == [40, 40] and PARAMETERS['model']['descriptor']['sel'] == [40]
    assert sel_error(two, ['Al', 'Cu']) is None
    dpa3 = {**PARAMETERS, 'model': {'descriptor': DPA3}}
    assert per_element_sel(dpa3, 3) == dpa3 and sel_error(dpa3, ['Al', 'Cu', 'Ni']) is None
