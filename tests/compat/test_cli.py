"""`aiida-dpgen run`: the dry run prints the plan without a profile; bad input stops with the message."""

from __future__ import annotations

import json

from click.testing import CliRunner

from aiida_dpgen.cli import cli

from .dpgen_examples import FIXTURES, example_tree


def test_dry_run_prints_plan_and_stores_nothing(tmp_path):
    _, base = example_tree(tmp_path, 'pwscf')
    result = CliRunner().invoke(
        cli, ['run', str(base / 'param.json'), str(FIXTURES / 'machine-slurm-qe.json'), '--dry-run']
    )
    assert result.exit_code == 0, result.output
    assert (
        'iteration 0: sys_000; nvt T=[100] K; 300 steps of 0.002 ps, every 10: 10 MD tasks in 2 job(s), 310 frames'
        in result.output
    )
    assert 'label: core.slurm over core.ssh on xxx.xxx.xxx.xxx' in result.output
    assert '"engine": "quantumespresso"' in result.output


def test_bad_param_is_a_clear_error(tmp_path):
    jdata, base = example_tree(tmp_path, 'gaussian')
    (base / 'param.json').write_text(json.dumps(jdata))
    result = CliRunner().invoke(cli, ['run', str(base / 'param.json'), '--dry-run'])
    assert result.exit_code == 1
    assert 'Error: not supported: param.json use_clusters=True' in result.output


def test_without_machine_every_code_is_needed(tmp_path):
    _, base = example_tree(tmp_path, 'cp2k')
    result = CliRunner().invoke(cli, ['run', str(base / 'param.json'), '--code', 'train=dp'])
    assert result.exit_code == 2
    assert 'give MACHINE (machine.json) or --code for each of train, explore and label' in result.output


def test_a_code_that_does_not_exist_is_named(tmp_path, aiida_profile):
    _, base = example_tree(tmp_path, 'cp2k')
    codes = ['--code', 'train=nothing-here', '--code', 'explore=lmp', '--code', 'label=cp2k']
    result = CliRunner().invoke(cli, ['run', str(base / 'param.json'), *codes])
    assert result.exit_code == 1
    assert 'nothing-here' in result.output and 'Error:' in result.output
