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
