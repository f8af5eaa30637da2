"""DpTrainCalculation: what the job folder and command lines look like, and what is refused up front."""

from __future__ import annotations

import json
import re

import pytest
from aiida.common import CodeRunMode
from aiida.orm import Dict

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData

from ..conftest import FIXTURES

PARAMETERS = {
    'model': {
        'descriptor': {'type': 'se_e2_a', 'sel': [40], 'rcut': 4.0, 'rcut_smth': 0.5, 'neuron': [4, 8]},
        'fitting_net': {'neuron': [16, 16]},
    },
    'learning_rate': {'type': 'exp', 'start_lr': 1e-3, 'stop_lr': 1e-5},
    'loss': {'start_pref_e': 0.02, 'limit_pref_e': 1, 'start_pref_f': 1000, 'limit_pref_f': 1},
    'training': {'numb_steps': 100},
}


@pytest.fixture
def train_inputs(aiida_profile, dp_code, make_cu_system):
    init = LabeledDatasetData.from_dpdata([make_cu_system('fcc', 3), make_cu_system('bcc', 1)], ['Cu']).store()
    iteration = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1, seed=9), ['Cu']).store()
    return {
        'code': dp_code,
        'datasets': {'init': init, 'iter_000': iteration},
        'parameters': Dict(PARAMETERS),
        'seed': 42,
    }


def test_job_trains_then_freezes_with_data_copied_from_the_repository(generate_calc_job, train_inputs):
    folder, calc_info = generate_calc_job('dpgen.train', train_inputs)

    content = json.loads((folder / 'input.json').read_text())
    assert content['training']['training_data']['systems'] == [
        'train/init/Cu2',
        'train/init/Cu4',
        'train/iter_000/Cu4',
    ]
    assert 'sys_probs' not in content['training']['training_data']
    assert content['training']['seed'] == content['model']['descriptor']['seed'] == 42
    assert content['model']['type_map'] == ['Cu']

    # the data are written into the job's folder, byte for byte, and not stored with the job again
    datasets = train_inputs['datasets']
    assert calc_info.local_copy_list == []
    assert calc_info.provenance_exclude_list == ['train', 'validation']
    for key, dataset in datasets.items():
        for root, _, names in dataset.base.repository.walk('systems'):
            for name in names:
                stored = dataset.base.repository.get_object_content(str(root / name), mode='rb')
                assert (folder / 'train' / key / root.relative_to('systems') / name).read_bytes() == stored
    assert calc_info.codes_run_mode == CodeRunMode.SERIAL
    assert [info.cmdline_params for info in calc_info.codes_info] == [
        ['--tf', 'train', 'input.json'],
        ['--tf', 'freeze', '-o', 'frozen_model.pb'],
    ]
    assert calc_info.retrieve_temporary_list == ['frozen_model.pb']
    assert {'lcurve.out', 'checkpoint', 'train.err'} <= set(calc_info.retrieve_list)


def test_weights_validation_and_init_model_reach_the_input_and_command(generate_calc_job, train_inputs, make_cu_system):
    model = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu']).store()
    validation = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1, seed=11), ['Cu']).store()
    inputs = {**train_inputs, 'dataset_weights': {'iter_000': 3.0}, 'validation_dataset': validation}
    inputs.update(init_model=model, compress=True)

    folder, calc_info = generate_calc_job('dpgen.train', inputs)

    training = json.loads((folder / 'input.json').read_text())['training']
    assert training['training_data']['sys_probs'] == pytest.approx([1 / 7, 3 / 7, 3 / 7])
    assert training['validation_data']['systems'] == ['validation/Cu4']
    assert (model.uuid, 'cu_se_e2_a.pb', 'init_model.pb') in calc_info.local_copy_list
    assert calc_info.codes_info[0].cmdline_params == [
        '--tf',
        'train',
        'input.json',
        '--init-frz-model',
        'init_model.pb',
    ]
    assert calc_info.codes_info[2].cmdline_params == [
        '--tf', 'compress', '-i', 'frozen_model.pb', '-o', 'compressed_model.pb'
    ]  # fmt: skip


def test_parent_folder_restarts_from_its_checkpoint(generate_calc_job, train_inputs, aiida_localhost):
    from aiida.orm import RemoteData

    parent = RemoteData(computer=aiida_localhost, remote_path='/scratch/previous').store()
    _, calc_info = generate_calc_job('dpgen.train', {**train_inputs, 'parent_folder': parent})

    assert calc_info.codes_info[0].cmdline_params == [
        '--tf',
        'train',
        'input.json',
        '--restart',
        'model.ckpt',
    ]
    assert sorted(calc_info.remote_copy_list) == [
        (aiida_localhost.uuid, '/scratch/previous/checkpoint', '.'),
        (aiida_localhost.uuid, '/scratch/previous/model.ckpt*', '.'),
    ]


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'backend': 'jax'}, 'backend=\'jax\' is not supported; use "tf"'),
        (
            {'type_map': ['Ni']},
            "dataset 'init' contains elements ['Cu'] that are not in the model's type_map=['Ni']",
        ),
        (
            {'dataset_weights': {'iter_001': 1.0}},
            "dataset_weights names ['iter_001'], which are not in `datasets`",
        ),
        (
            {'parameters': {**PARAMETERS, 'training': {'numb_steps': 10, 'seed': 1}}},
            "'training.seed' is set",
        ),
    ],
)
def test_bad_inputs_are_refused_before_submission(generate_calc_job, train_inputs, change, message):
    with pytest.raises(ValueError, match=message.replace('[', r'\[').replace(']', r'\]').replace('(', r'\(')):
        generate_calc_job('dpgen.train', {**train_inputs, **change})


def test_init_model_with_another_type_map_is_refused(generate_calc_job, train_inputs):
    model = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu', 'Ni']).store()
    with pytest.raises(ValueError, match=r"init_model has type_map=\['Cu', 'Ni'\], but this training uses"):
        generate_calc_job('dpgen.train', {**train_inputs, 'init_model': model})


def test_training_on_each_iterations_labels_sees_the_frames_of_the_merged_dataset(generate_calc_job, train_inputs):
    """The loop no longer merges the data into copies: a job given the datasets side by side trains on exactly the
    frames that the merged dataset of earlier versions held."""
    import dpdata
    import numpy as np

    from aiida_dpgen.data.dataset import combined

    folder, _ = generate_calc_job('dpgen.train', train_inputs)
    systems = json.loads((folder / 'input.json').read_text())['training']['training_data']['systems']
    seen = [dpdata.LabeledSystem(str(folder / system), fmt='deepmd/npy') for system in systems]
    merged = combined(dict(train_inputs['datasets'])).to_dpdata()

    def frames(group):
        return sorted(
            (system.formula, round(float(system['energies'][index]), 8), np.round(system['coords'][index], 6).tobytes())
            for system in group
            for index in range(system.get_nframes())
        )

    assert frames(seen) == frames(merged)
    assert sum(system.get_nframes() for system in seen) == sum(d.nframes for d in train_inputs['datasets'].values())


def checkpoint(type_map, heads=None) -> DeepPotentialData:
    """A stand-in for a PyTorch checkpoint: the checks read the node's suffix, type map and heads, not the file."""
    return DeepPotentialData(
        str(FIXTURES / 'models' / 'cu_se_e2_a.pth'), filename='pretrained.pt', type_map=type_map, heads=heads
    ).store()


def test_pytorch_fine_tuning_starts_from_the_checkpoint_with_its_own_architecture_and_head(
    generate_calc_job, train_inputs
):
    pretrained = checkpoint(['Al', 'Cu', 'Ni'], heads=['Domains_Alloy', 'Domains_Metals'])
    inputs = {**train_inputs, 'backend': 'pt', 'init_model': pretrained, 'init_mode': 'finetune'}

    _, calc_info = generate_calc_job('dpgen.train', {**inputs, 'finetune_head': 'Domains_Metals'})

    assert (pretrained.uuid, 'pretrained.pt', 'init_model.pt') in calc_info.local_copy_list
    assert calc_info.codes_info[0].cmdline_params == [
        '--pt', 'train', 'input.json', '--finetune', 'init_model.pt', '--use-pretrain-script',
        '--model-branch', 'Domains_Metals',
    ]  # fmt: skip


def test_a_new_fitting_net_per_member_is_deepmds_random_branch_for_pytorch_only(generate_calc_job, train_inputs):
    inputs = {**train_inputs, 'init_model': checkpoint(['Cu']), 'init_mode': 'finetune', 'finetune_head': 'RANDOM'}
    _, calc_info = generate_calc_job('dpgen.train', {**inputs, 'backend': 'pt'})
    assert calc_info.codes_info[0].cmdline_params[-2:] == ['--model-branch', 'RANDOM']

    frozen = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu']).store()
    message = "finetune_head='RANDOM': a new fitting net per member is a fine-tuning of the PyTorch backend"
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_calc_job('dpgen.train', {**inputs, 'init_model': frozen})


@pytest.mark.parametrize(
    ('pretrained', 'change', 'message'),
    [
        (
            {'type_map': ['Cu'], 'filename': 'frozen_model.pth'},
            {},
            "init_model 'frozen_model.pth': fine-tuning with backend='pt' starts from a .pt file (a PyTorch training "
            'checkpoint, model.ckpt-<step>.pt; DeePMD-kit refuses a frozen .pth there)',
        ),
        (
            {'type_map': ['Al', 'Ni']},
            {},
            "init_model: the pretrained type_map ['Al', 'Ni'] lacks ['Cu'] of this run; fine-tune a model pretrained",
        ),
        (
            {'type_map': ['Ni', 'Cu'], 'descriptor': 'se_e2_a'},
            {},
            "init_model: a se_e2_a model keeps its type map ['Ni', 'Cu'] when fine-tuned, and this run has ['Cu']; "
            'fine-tune a model with a type embedding (DPA-1, DPA-2, DPA-3)',
        ),
        (
            {'type_map': ['Cu'], 'heads': ['Alloy', 'Water']},
            {'finetune_head': 'Metals'},
            "finetune_head='Metals': the pretrained model has the heads ['Alloy', 'Water']; choose one of them",
        ),
        (
            {'type_map': ['Cu']},
            {'finetune_head': 'Metals'},
            "finetune_head='Metals': the pretrained model has one head; leave finetune_head out",
        ),
    ],
)
def test_a_pretrained_model_that_cannot_be_fine_tuned_is_refused_naming_the_fix(
    generate_calc_job, train_inputs, pretrained, change, message
):
    filename = pretrained.pop('filename', 'pretrained.pt')
    model = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pth'), filename=filename, **pretrained).store()
    inputs = {**train_inputs, 'backend': 'pt', 'init_model': model, 'init_mode': 'finetune', **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_calc_job('dpgen.train', inputs)


def test_a_kept_pytorch_checkpoint_is_retrieved_and_refused_for_tensorflow(generate_calc_job, train_inputs):
    _, calc_info = generate_calc_job('dpgen.train', {**train_inputs, 'backend': 'pt', 'keep_checkpoint': True})
    assert calc_info.retrieve_temporary_list == ['frozen_model.pth', 'model.ckpt.pt']
    with pytest.raises(ValueError, match=re.escape('keep_checkpoint: only with backend pt (a single .pt file)')):
        generate_calc_job('dpgen.train', {**train_inputs, 'keep_checkpoint': True})
