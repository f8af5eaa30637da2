"""The engine probe says what is missing and how to get it, without raising."""

from __future__ import annotations

from click.testing import CliRunner

from aiida_dpgen.cli import cli
from aiida_dpgen.utils import engines


def test_missing_engines_are_reported_with_the_install_script(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setattr(engines, 'OPENMPI_RUN', str(tmp_path / 'mpirun.openmpi'))

    statuses = engines.probe_engines()

    assert [status.ok for status in statuses] == [False] * len(statuses)
    assert all('not on PATH; run scripts/install.sh' in status.problem for status in statuses)


def test_engines_command_exits_nonzero_when_an_engine_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))

    result = CliRunner().invoke(cli, ['engines'])

    assert result.exit_code == 1
    assert 'MISSING' in result.output


def test_a_backend_that_does_not_import_names_what_to_install(monkeypatch, tmp_path):
    python = tmp_path / 'python'
    python.write_text('#!/bin/sh\necho "ModuleNotFoundError: No module named \'torch\'" >&2\nexit 1\n')
    dp = tmp_path / 'dp'
    dp.write_text(f'#!{python}\n')
    for script in (python, dp):
        script.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))

    status = engines._probe_backend('PyTorch')

    assert not status.ok
    assert status.problem == (
        "deepmd.pt does not import (ModuleNotFoundError: No module named 'torch'); install torch==2.11.0 with "
        'mpich, e3nn and nvidia-cuda-runtime-cu12'
    )
