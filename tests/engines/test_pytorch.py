"""DeePMD-kit's PyTorch backend through the loop's own steps: a `dp --pt` ensemble trains and freezes `.pth`
models, LAMMPS runs them with the model deviation, the property suite runs one, and a DPA-3 model trains; the
real `dp` and `lmp`."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from aiida.orm import Dict, InstalledCode
from aiida.plugins import CalculationFactory, WorkflowFactory
from ase.build import bulk

from aiida_dpgen.data import ConfigurationsData
from aiida_dpgen.workflows.runner import run_get_node

from .conftest import require

TrainWorkChain = WorkflowFactory('dpgen.train')
ExploreWorkChain = WorkflowFactory('dpgen.explore')
DpTestCalculation = CalculationFactory('dpgen.test')

PTH_PROPERTIES = {'prototypes': ['fcc'], 'properties': ['eos'], 'eos': {'start': 0.98, 'stop': 1.02, 'points': 5}}
SHORT = {'training': {'numb_steps': 100, 'disp_freq': 50, 'save_freq': 100}}


def test_a_pytorch_ensemble_trains_freezes_and_drives_a_lammps_exploration(
    dp_installed_code, emt_cu_dataset, aiida_localhost
):
    from deepmd.infer import DeepPot

    dataset = emt_cu_dataset()
    overrides = {'numb_models': 2, 'base': {'dp': {'backend': 'pt', 'parameters': SHORT}}}
    builder = TrainWorkChain.get_builder_from_protocol(dp_installed_code, {'init': dataset}, 'fast', overrides)
    trained, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    models = trained['models']
    assert {model.filename for model in models.values()} == {'frozen_model.pth'}
    assert {model.deepmd_backend for model in models.values()} == {'pytorch'}
    frame = dataset.to_dpdata()['Cu8']
    predictions = []
    for model in models.values():
        assert (model.descriptor, model.rcut, model.training_steps) == ('se_e2_a', 4.0, 100)
        with model.as_path() as path:
            _, forces, _ = DeepPot(str(path)).eval(frame['coords'][:1], frame['cells'][:1], frame['atom_types'])
        predictions.append(forces)
    assert not np.allclose(*predictions), 'two seeds, two models'
    assert trained['learning_curves']['model_0'].get_array('step')[-1] == 100
    tested, test_node = run_get_node(
        DpTestCalculation, code=dp_installed_code, model=models['model_0'], dataset=dataset
    )
    assert test_node.is_finished_ok, test_node.exit_message
    assert tested['metrics']['systems']['Cu8']['nframes'] == 20

    lmp = InstalledCode(
        label='lmp',
        computer=aiida_localhost,
        filepath_executable=require('lmp'),
        default_calc_job_plugin='dpgen.lammps',
    ).store()
    configurations = {'fcc': ConfigurationsData.from_ase([bulk('Cu', 'fcc', a=3.61, cubic=True)], ['Cu']).store()}
    stage = {'systems': ['fcc'], 'temps': [600.0], 'ensemble': 'nvt', 'nsteps': 100, 'trj_freq': 10}
    selection = {'f_trust_lo': 0.0, 'f_trust_hi': 10.0, 'fp_task_max': 3, 'seed': 1}
    explored, node = run_get_node(
        ExploreWorkChain,
        models=dict(models),
        configurations=configurations,
        stage=stage,
        selection=selection,
        lammps={'lammps': {'code': lmp}},
    )

    assert node.is_finished_ok, node.exit_message
    deviations = next(iter(explored['deviations'].values()))
    max_devi_f = deviations.get_array('values')[:, list(deviations.base.attributes.get('columns')).index('max_devi_f')]
    summary = explored['task_summary'].get_dict()
    assert summary['frames'] == 11 and summary['failed'] == 0
    assert np.all(np.isfinite(max_devi_f)) and np.any(max_devi_f > 0), 'two different models disagree'
    assert len(explored['candidates']['fcc'].to_ase()) == 3

    # the property suite with a .pth model: the job names the model after its backend, as DeePMD-kit reads it
    from deepmd.calculator import DP

    from aiida_dpgen.properties.suite import run_suite
    from aiida_dpgen.workflows.properties import PropertiesWorkChain

    python = InstalledCode(label='python', computer=aiida_localhost, filepath_executable=sys.executable).store()
    builder = PropertiesWorkChain.get_builder_from_protocol('Cu', {'model_0': models['model_0']}, python, None, 'fast')
    settings = {**builder.settings.get_dict(), **PTH_PROPERTIES}
    builder.settings = Dict(settings)
    measured, properties_node = run_get_node(builder)
    assert properties_node.is_finished_ok, properties_node.exit_message
    with models['model_0'].as_path() as path:
        here = run_suite('Cu', DP(model=str(path)), {**settings, 'element': 'Cu'})
    job = measured['properties']['model_0'].get_dict()
    assert job['lattice_constant'] == pytest.approx(here['lattice_constant'], rel=1e-6)
    assert 3.0 < job['lattice_constant'] < 4.2, 'a Cu-like crystal from a model trained on Cu'


# DPA-3 trains through TrainWorkChain in the fine-tuning test below; DPA-2 here (CI time)
@pytest.mark.parametrize('architecture', ['dpa2'])
def test_a_dpa2_model_trains_with_the_pytorch_backend(dp_installed_code, emt_cu_dataset, architecture):
    dataset = emt_cu_dataset(nframes=6)
    overrides = {'numb_models': 2, 'base': {'dp': {'parameters': {'training': {'numb_steps': 20, 'disp_freq': 10}}}}}
    builder = TrainWorkChain.get_builder_from_protocol(
        dp_installed_code, {'init': dataset}, 'fast', overrides, model=architecture
    )
    trained, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    model = trained['models']['model_0']
    assert (model.filename, model.descriptor, model.rcut, model.sel) == ('frozen_model.pth', architecture, 4.0, [40])


def test_an_ensemble_fine_tuned_from_a_pretrained_checkpoint_descends_from_it_in_the_graph(
    dp_installed_code, emt_cu_dataset, tmp_path
):
    import json
    import subprocess

    from aiida.orm import CalcJobNode, QueryBuilder

    from aiida_dpgen.data import DeepPotentialData
    from aiida_dpgen.tools.provenance import model_lineage

    # pretrain: a DPA-3 (its type embedding lets DeePMD-kit map the run's type map onto it) on other frames, with
    # a type map wider than the run's (Ni is not in the data)
    pretraining = emt_cu_dataset(nframes=6, seed=7)
    systems = pretraining.export(str(tmp_path / 'data'))
    parameters = TrainWorkChain.get_protocol_inputs('fast', variant='dpa3')['base']['dp']['parameters']
    parameters['model']['type_map'] = ['Ni', 'Cu']
    parameters['training'].update(numb_steps=20, save_freq=20, disp_freq=10, training_data={'systems': systems})
    (tmp_path / 'input.json').write_text(json.dumps(parameters))
    subprocess.run([require('dp'), '--pt', 'train', 'input.json'], cwd=tmp_path, check=True, capture_output=True)
    pretrained = DeepPotentialData.from_checkpoint(tmp_path / 'model.ckpt-20.pt').store()
    assert (pretrained.type_map, pretrained.descriptor, pretrained.heads) == (['Ni', 'Cu'], 'dpa3', None)

    dataset = emt_cu_dataset()
    overrides = {'numb_models': 2, 'base': {'dp': {'parameters': {'training': {'numb_steps': 20, 'disp_freq': 10}}}}}
    builder = TrainWorkChain.get_builder_from_protocol(
        dp_installed_code, {'init': dataset}, 'fast', overrides, model='dpa3'
    )
    builder.pretrained_model = pretrained
    trained, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    for model in trained['models'].values():
        assert model.type_map == ['Cu'] and model.filename == 'frozen_model.pth'
        started_from = (
            QueryBuilder()
            .append(DeepPotentialData, filters={'id': pretrained.pk}, tag='pretrained')
            .append(CalcJobNode, with_incoming='pretrained', tag='job', edge_filters={'label': 'init_model'})
            .append(DeepPotentialData, with_incoming='job', filters={'id': model.pk})
            .count()
        )
        assert started_from == 1, 'the graph says which pretrained model each member was fine-tuned from'
        assert [(ancestor.model.pk, ancestor.mode) for ancestor in model_lineage(model)] == [
            (pretrained.pk, 'finetune')
        ]
    job = next(child for child in node.called_descendants if isinstance(child, CalcJobNode))
    assert 'Change output bias' in job.outputs.retrieved.base.repository.get_object_content('train.err')

    # a new fitting net per member (DeePMD-kit's RANDOM branch): the members then differ beyond their data order
    from aiida.orm import Str
    from deepmd.infer import DeepPot

    def member_energies(models) -> list[float]:
        frame = dataset.to_dpdata()['Cu8']
        energies = []
        for model in models.values():
            with model.as_path() as path:
                energy = DeepPot(str(path)).eval(frame['coords'][:1], frame['cells'][:1], [0] * 8)[0]
                energies.append(float(np.asarray(energy).reshape(-1)[0]))
        return energies

    builder.finetune_head = Str('RANDOM')
    renewed, renewed_node = run_get_node(builder)
    assert renewed_node.is_finished_ok, renewed_node.exit_message
    job = next(child for child in renewed_node.called_descendants if isinstance(child, CalcJobNode))
    assert "'--model-branch' 'RANDOM'" in job.base.repository.get_object_content('_aiidasubmit.sh')
    kept, new = member_energies(trained['models']), member_energies(renewed['models'])
    assert abs(new[0] - new[1]) > abs(kept[0] - kept[1]), f'members with new fitting nets differ more: {new} {kept}'


def test_an_ensemble_fine_tunes_from_one_head_of_a_multi_task_checkpoint(dp_installed_code, emt_cu_dataset, tmp_path):
    import json
    import subprocess

    from aiida.orm import CalcJobNode, Str

    from aiida_dpgen.data import DeepPotentialData

    # a two-head DPA-3 checkpoint: one shared descriptor and type map, a fitting net per head, each head its data
    parameters = TrainWorkChain.get_protocol_inputs('fast', variant='dpa3')['base']['dp']['parameters']
    heads = ('bulk', 'hot')
    systems = {
        head: emt_cu_dataset(nframes=4, seed=number).export(str(tmp_path / head)) for number, head in enumerate(heads)
    }
    multi_task = {
        'model': {
            'shared_dict': {'elements': ['Ni', 'Cu'], 'shared_descriptor': parameters['model']['descriptor']},
            'model_dict': {
                head: {
                    'type_map': 'elements',
                    'descriptor': 'shared_descriptor',
                    'fitting_net': parameters['model']['fitting_net'],
                }
                for head in heads
            },
        },
        'learning_rate': parameters['learning_rate'],
        'loss_dict': dict.fromkeys(heads, parameters['loss']),
        'training': {
            'model_prob': dict.fromkeys(heads, 0.5),
            'data_dict': {head: {'training_data': {'systems': systems[head], 'batch_size': 1}} for head in heads},
            'numb_steps': 10,
            'save_freq': 10,
            'disp_freq': 5,
        },
    }
    (tmp_path / 'input.json').write_text(json.dumps(multi_task))
    subprocess.run([require('dp'), '--pt', 'train', 'input.json'], cwd=tmp_path, check=True, capture_output=True)
    pretrained = DeepPotentialData.from_checkpoint(tmp_path / 'model.ckpt-10.pt').store()
    assert (pretrained.heads, pretrained.type_map) == (['bulk', 'hot'], ['Ni', 'Cu'])

    overrides = {'numb_models': 2, 'base': {'dp': {'parameters': {'training': {'numb_steps': 10, 'disp_freq': 5}}}}}
    builder = TrainWorkChain.get_builder_from_protocol(
        dp_installed_code, {'init': emt_cu_dataset()}, 'fast', overrides, model='dpa3'
    )
    builder.pretrained_model = pretrained
    builder.finetune_head = Str('hot')
    trained, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    assert {model.type_map[0] for model in trained['models'].values()} == {'Cu'}
    jobs = [child for child in node.called_descendants if isinstance(child, CalcJobNode)]
    for job in jobs:
        script = job.base.repository.get_object_content('_aiidasubmit.sh')
        assert "'--model-branch' 'hot'" in script or '--model-branch hot' in script, script

    builder.finetune_head = Str('cold')
    with pytest.raises(ValueError, match=r"finetune_head='cold': the pretrained model has the heads \['bulk', 'hot'\]"):
        run_get_node(builder)
