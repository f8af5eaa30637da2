"""TrainWorkChain: protocols, validation of the ensemble, and reuse of previous models."""

from __future__ import annotations

import pytest
from aiida.plugins import WorkflowFactory

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData

from ..conftest import FIXTURES

TrainWorkChain = WorkflowFactory('dpgen.train')


@pytest.fixture
def dataset(aiida_profile, make_cu_system):
    return LabeledDatasetData.from_dpdata(make_cu_system('fcc', 2), ['Cu']).store()


def test_protocols_are_fast_balanced_stringent():
    assert set(TrainWorkChain.get_available_protocols()) == {'fast', 'balanced', 'stringent'}
    assert TrainWorkChain.get_default_protocol() == 'balanced'


def test_stringent_is_the_papers_cu_setting():
    parameters = TrainWorkChain.get_protocol_inputs('stringent')['base']['dp']['parameters']
    descriptor = parameters['model']['descriptor']
    assert (descriptor['type'], descriptor['rcut'], descriptor['rcut_smth']) == ('se_e2_a', 8.0, 2.0)
    assert descriptor['neuron'] == [25, 50, 100]
    assert parameters['model']['fitting_net']['neuron'] == [240, 240, 240]
    assert parameters['training']['numb_steps'] == 400000
    assert (parameters['learning_rate']['start_lr'], parameters['learning_rate']['stop_lr']) == (1e-3, 3.5e-8)
    assert TrainWorkChain.get_protocol_inputs('stringent')['numb_models'] == 4


def test_builder_from_fast_protocol_with_overrides(dp_code, dataset):
    builder = TrainWorkChain.get_builder_from_protocol(
        dp_code, {'init': dataset}, protocol='fast', overrides={'numb_models': 3}, type_map=['Cu']
    )
    assert builder.numb_models.value == 3
    assert builder.base.dp.parameters['training']['numb_steps'] == 400
    assert builder.base.dp.parameters['model']['descriptor']['rcut'] == 4.0
    assert builder.base.dp.type_map.get_list() == ['Cu']
    assert builder.base.dp.datasets['init'].pk == dataset.pk


def test_unknown_protocol_names_the_choices():
    with pytest.raises(ValueError, match=r"protocol='quick' does not exist; choose one of \['balanced', 'fast'"):
        TrainWorkChain.get_protocol_inputs('quick')


def test_an_ensemble_of_one_is_refused(generate_workchain, dp_code, dataset):
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast')
    with pytest.raises(ValueError, match=r'numb_models=1: an ensemble needs at least 2 models'):
        builder.numb_models = 1
    inputs = {**dict(builder), 'numb_models': 1}
    with pytest.raises(ValueError, match=r'numb_models=1: an ensemble needs at least 2 models'):
        generate_workchain('dpgen.train', inputs)


def test_reuse_parameters_without_models_are_refused(generate_workchain, dp_code, dataset):
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast')
    builder.reuse_parameters = {'training': {'numb_steps': 100}}
    with pytest.raises(ValueError, match='reuse_parameters is set but init_models is empty'):
        generate_workchain('dpgen.train', dict(builder))


def test_reused_models_start_each_member_with_fewer_steps(generate_workchain, dp_code, dataset, monkeypatch):
    previous = {
        f'model_{i}': DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu']).store()
        for i in range(2)
    }
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast')
    builder.numb_models = 4
    builder.init_models = previous
    builder.reuse_parameters = {'training': {'numb_steps': 100}, 'learning_rate': {'start_lr': 1e-4}}
    process = generate_workchain('dpgen.train', dict(builder))

    submitted = []
    monkeypatch.setattr(process, 'submit', lambda cls, **inputs: submitted.append(inputs) or _Future(len(submitted)))
    process.run_models()

    assert [inputs['dp']['init_model'].pk for inputs in submitted] == [previous[f'model_{i % 2}'].pk for i in range(4)]
    assert {inputs['dp']['parameters']['training']['numb_steps'] for inputs in submitted} == {100}
    assert {inputs['dp']['parameters']['learning_rate']['start_lr'] for inputs in submitted} == {1e-4}
    assert len({inputs['dp']['seed'].value for inputs in submitted}) == 4


class _Future:
    def __init__(self, pk):
        self.pk = pk


def test_reusing_models_with_sel_auto_is_refused_naming_the_models_sel(generate_workchain, dp_code, dataset):
    previous = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu'], sel=[40]).store()
    builder = TrainWorkChain.get_builder_from_protocol(
        dp_code,
        {'init': dataset},
        protocol='fast',
        overrides={'base': {'dp': {'parameters': {'model': {'descriptor': {'sel': 'auto'}}}}}},
    )
    builder.init_models = {'model_0': previous}
    with pytest.raises(ValueError, match=r'sel is "auto".*set it explicitly \(the init models have sel=\[40\]\)'):
        generate_workchain('dpgen.train', dict(builder))


def test_dpa3_protocols_train_with_the_pytorch_backend(dp_code, dataset):
    assert set(TrainWorkChain.get_available_protocols(variant='dpa3')) == {'fast', 'balanced', 'stringent'}
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast', model='dpa3')
    assert builder.base.dp.backend.value == 'pt'
    repflow = builder.base.dp.parameters['model']['descriptor']['repflow']
    assert (repflow['nlayers'], repflow['e_rcut'], repflow['e_sel'], repflow['a_sel']) == (2, 4.0, 40, 20)
    stringent = TrainWorkChain.get_protocol_inputs('stringent', variant='dpa3')['base']['dp']['parameters']
    # DeePMD-kit's DPA-3 water example
    assert {key: stringent['model']['descriptor']['repflow'][key] for key in ('n_dim', 'e_dim', 'a_dim')} == {
        'n_dim': 128,
        'e_dim': 64,
        'a_dim': 32,
    }
    with pytest.raises(ValueError, match=r"'dpa4' has no protocols for TrainWorkChain; choose one of \['dpa2', 'dpa3'"):
        TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, model='dpa4')


def test_dpa3_with_the_tensorflow_backend_is_refused_before_any_job(generate_workchain, dp_code, dataset):
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast', model='dpa3')
    builder.base.dp.backend = 'tf'
    with pytest.raises(ValueError, match=r"descriptor type 'dpa3' is not in DeePMD-kit's TensorFlow backend"):
        generate_workchain('dpgen.train', dict(builder))


def test_tensorflow_models_cannot_start_a_pytorch_ensemble(generate_workchain, dp_code, dataset):
    previous = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu']).store()
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast', model='dpa3')
    builder.init_models = {'model_0': previous}
    with pytest.raises(ValueError, match=r"init_models: models \['model_0'\] are .pb files, but base.dp.backend"):
        generate_workchain('dpgen.train', dict(builder))


def test_compressing_a_dpa3_model_is_refused(generate_workchain, dp_code, dataset):
    overrides = {'base': {'dp': {'compress': True}}}
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, 'fast', overrides, model='dpa3')
    with pytest.raises(ValueError, match=r"compress: DeePMD-kit cannot compress a 'dpa3' model; set compress=False"):
        generate_workchain('dpgen.train', dict(builder))


def test_dpa2_protocols_train_with_the_pytorch_backend(dp_code, dataset):
    assert set(TrainWorkChain.get_available_protocols(variant='dpa2')) == {'fast', 'balanced', 'stringent'}
    builder = TrainWorkChain.get_builder_from_protocol(dp_code, {'init': dataset}, protocol='fast', model='dpa2')
    descriptor = builder.base.dp.parameters['model']['descriptor']
    assert (builder.base.dp.backend.value, descriptor['type']) == ('pt', 'dpa2')
    assert (descriptor['repinit']['rcut'], descriptor['repinit']['nsel'], descriptor['repformer']['nlayers']) == (
        4.0,
        40,
        1,
    )
