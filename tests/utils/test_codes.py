"""Codes for examples: created once from PATH, found again afterwards."""

from __future__ import annotations

import pytest

from aiida_dpgen.utils.codes import get_or_create_code


def test_code_is_created_from_path_once(aiida_localhost, tmp_path, monkeypatch):
    executable = tmp_path / 'dp-fake'
    executable.write_text('#!/bin/sh\n')
    executable.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))

    code = get_or_create_code('dp-from-path', 'dp-fake', computer=aiida_localhost.label, plugin='dpgen.train')

    assert str(code.filepath_executable) == str(executable)
    assert get_or_create_code('dp-from-path', 'dp-fake', computer=aiida_localhost.label).pk == code.pk


def test_missing_executable_says_how_to_install(aiida_localhost, tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(ValueError, match=r"executable 'lmp' is not on PATH; run scripts/install\.sh"):
        get_or_create_code('lmp-missing', 'lmp', computer=aiida_localhost.label)


def test_mpi_code_uses_open_mpi_unbound_and_may_run_as_root(aiida_localhost, tmp_path, monkeypatch):
    from aiida_dpgen.utils import codes
    from aiida_dpgen.utils.engines import OPENMPI_RUN

    executable = tmp_path / 'pw-fake'
    executable.write_text('#!/bin/sh\n')
    executable.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setattr(codes.os, 'geteuid', lambda: 0)
    monkeypatch.setattr(codes.pathlib.Path, 'exists', lambda self: True)

    code = codes.get_or_create_mpi_code('pw-fake', 'pw-fake', computer=aiida_localhost.label)

    assert aiida_localhost.get_mpirun_command() == [OPENMPI_RUN, '--bind-to', 'none', '-np', '{tot_num_mpiprocs}']
    assert 'export OMPI_ALLOW_RUN_AS_ROOT=1' in code.prepend_text
