"""Fixtures for the services suite: a production profile (PostgreSQL + RabbitMQ) in a temporary AIIDA_PATH,
with the computer localhost-slurm (core.ssh + core.slurm on this host) and the engines' codes on it.

The services must be running (scripts/start-services.sh; scripts/run-tests.sh starts them). A missing
service fails these tests instead of skipping them: a silent skip would hide a broken set-up in CI.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import subprocess
import textwrap
import time

import pytest

REPOSITORY = pathlib.Path(__file__).parents[2]
KEY = pathlib.Path.home() / '.ssh' / 'aiida-dpgen-localhost'
"""The key scripts/start-services.sh authorizes for root on localhost."""


def pytest_collection_modifyitems(items):
    for item in items:
        if pathlib.Path(item.fspath).is_relative_to(pathlib.Path(__file__).parent):
            item.add_marker(pytest.mark.services)


SERVICE_CHECKS = {
    'PostgreSQL': ['su', 'postgres', '-c', "psql -tAc 'SELECT 1'"],
    'RabbitMQ': ['rabbitmqctl', 'status'],
    'Slurm': ['sinfo', '-h'],
    'sshd': [
        'ssh',
        '-o',
        'BatchMode=yes',
        '-i',
        str(pathlib.Path.home() / '.ssh/aiida-dpgen-localhost'),
        'localhost',
        'true',
    ],
}


def _postgres(sql: str) -> None:
    subprocess.run(['su', 'postgres', '-c', f'psql -q -c "{sql}"'], check=False, capture_output=True)


class Profile:
    """A production profile in its own AIIDA_PATH; ``verdi`` and ``run`` execute in it as a user would."""

    def __init__(self, root: pathlib.Path, name: str):
        self.root = root
        self.name = name
        self.environment = {**os.environ, 'AIIDA_PATH': str(root)}

    def verdi(self, *arguments, timeout: int = 300, check: bool = True) -> str:
        done = self._verdi(*arguments, timeout=timeout, check=check)
        return done.stdout + done.stderr

    def _verdi(self, *arguments, timeout: int, check: bool) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ['verdi', '-p', self.name, *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    def run(self, text: str, *arguments, timeout: int = 600):
        """Run a Python script with `verdi run`; the last line it prints on stdout is JSON.

        Only stdout is read: libraries warn on stderr (asyncssh's DSA deprecation warning came after the JSON line).
        """
        path = self.root / f'script-{secrets.token_hex(4)}.py'
        path.write_text(textwrap.dedent(text))
        done = self._verdi('run', str(path), *arguments, timeout=timeout, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    def daemon_processes(self) -> list[int]:
        """The pids of this profile's circus daemon, its workers and its stats process."""
        pattern = f'-p {self.name} daemon|circus-{self.name}\\.log'
        done = subprocess.run(['pgrep', '-f', '--', pattern], capture_output=True, text=True, check=False)
        own = os.getpid()
        return [int(pid) for pid in done.stdout.split() if int(pid) != own]

    def wait(self, condition, timeout: float, interval: float = 5.0, what: str = 'condition'):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            assert time.monotonic() < deadline, f'timed out after {timeout} s waiting for {what}'
            time.sleep(interval)


@pytest.fixture(scope='session')
def production_profile(tmp_path_factory):
    for service, command in SERVICE_CHECKS.items():
        done = subprocess.run(command, capture_output=True, check=False, timeout=60)
        if done.returncode != 0:
            pytest.fail(f'{service} is not running: run scripts/start-services.sh (scripts/run-tests.sh does)')
    name = f'dpgen-services-{secrets.token_hex(3)}'
    profile = Profile(tmp_path_factory.mktemp('aiida'), name)
    done = subprocess.run(
        ['bash', str(REPOSITORY / 'scripts' / 'create-production-profile.sh'), name],
        env=profile.environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield profile
    profile.verdi('daemon', 'stop', check=False)
    database = 'aiida_' + name.replace('-', '_')
    _postgres(f'DROP DATABASE IF EXISTS {database}')
    _postgres(f'DROP ROLE IF EXISTS {database}')
