"""`aiida-dpgen import-dpgen WORKDIR` and `aiida-dpgen run PARAM --continue-from GROUP`: a DP-GEN run goes on here."""

from __future__ import annotations

import json

import pytest
from aiida import orm
from click.testing import CliRunner

from aiida_dpgen.cli import cli
from aiida_dpgen.compat.build import build_dpgen_builder
from aiida_dpgen.compat.param import translate_param
from aiida_dpgen.workflows.train import TrainWorkChain

from .test_workdir import write_dpgen_run


def full_param(root) -> dict:
    """The synthetic run's param.json, completed with what `aiida-dpgen run` needs (training, labeler)."""
    param = write_dpgen_run(root)
    parameters = TrainWorkChain.get_protocol_inputs('fast')['base']['dp']['parameters']
    param.update(
        numb_models=2,
        default_training_param=parameters,
        fp_task_min=0,
        model_devi_dt=0.002,
        fp_style='cp2k',
        user_fp_params={'FORCE_EVAL': {'DFT': {'SCF': {'MAX_SCF': 30}}}},
    )
    (root / 'param.json').write_text(json.dumps(param))
    return param


@pytest.fixture
def codes(aiida_localhost):
    def code(executable, plugin):
        return orm.InstalledCode(
            computer=aiida_localhost, filepath_executable=executable, default_calc_job_plugin=plugin
        ).store()

    return {'train': code('dp', 'dpgen.train'), 'explore': code('lmp', 'dpgen.lammps'), 'label': code('cp2k', 'cp2k')}


def test_import_then_continue(tmp_path, codes, generate_workchain):
    param = full_param(tmp_path)
    result = CliRunner().invoke(cli, ['import-dpgen', str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    group = f'dpgen-import/{tmp_path.name}'
    assert f'3 iteration(s) of {tmp_path} imported into group {group}' in result.output
    rows = [line.split() for line in result.output.splitlines() if line.split()[:1] in (['0'], ['1'], ['2'])]
    assert [row[:4] for row in rows] == [['0', '0', '3', '24'], ['1', '1', '1', '10'], ['2', '2', '1', '8']]
    assert f'--continue-from {group}' in result.output

    builder = build_dpgen_builder(translate_param(param, tmp_path), codes, protocol='fast', continue_from=group)
    process = generate_workchain('dpgen.dpgen', builder._inputs(prune=True))
    process.setup()
    assert process.ctx.iteration == 3, 'the three imported iterations are taken over'
    assert process.should_iterate() and process.ctx.stage_index == 3, 'and model_devi_jobs[3] comes next'
    imported = orm.load_group(group).base.extras.get('dpgen_import')
    assert {name: node.uuid for name, node in builder.configurations.items()} == imported['configurations']


def test_importing_again_is_refused(tmp_path):
    full_param(tmp_path)
    assert CliRunner().invoke(cli, ['import-dpgen', str(tmp_path)]).exit_code == 0
    again = CliRunner().invoke(cli, ['import-dpgen', str(tmp_path)])
    assert again.exit_code == 1
    assert 'was imported before' in again.output


def test_import_needs_the_param_json(tmp_path):
    (tmp_path / 'record.dpgen').write_text('0 0\n')
    result = CliRunner().invoke(cli, ['import-dpgen', str(tmp_path)])
    assert result.exit_code == 2
    assert "param.json does not exist; give the run's param.json with --param" in result.output
