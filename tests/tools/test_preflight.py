"""check_codes on the local computer: an executable that is there passes, one that is not is named with its fix."""

from __future__ import annotations

import sys

from aiida.orm import Computer, InstalledCode

from aiida_dpgen.tools.preflight import check_codes


def test_an_existing_executable_passes_and_a_missing_one_is_named(aiida_localhost):
    present = InstalledCode(label='python', computer=aiida_localhost, filepath_executable=sys.executable).store()
    missing = InstalledCode(label='dp', computer=aiida_localhost, filepath_executable='/opt/nowhere/dp').store()
    assert check_codes({'label': present}) == []
    (problem,) = check_codes({'label': present, 'train': missing})
    assert str(problem).startswith(f'train: code dp@{aiida_localhost.label}: /opt/nowhere/dp does not exist on ')
    assert 'install it there or point the code to it' in str(problem)


def test_a_computer_without_configuration_is_named_with_the_command_to_configure_it(aiida_localhost):
    computer = Computer(
        label='unconfigured', hostname='localhost', transport_type='core.local', scheduler_type='core.direct'
    ).store()
    code = InstalledCode(label='lmp', computer=computer, filepath_executable='/usr/bin/true').store()
    (problem,) = check_codes({'explore': code})
    assert 'computer unconfigured is not configured; run `verdi computer configure core.local unconfigured`' in str(
        problem
    )
