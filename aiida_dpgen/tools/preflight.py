"""Check codes and queues on their computers before a loop submits anything (``aiida-dpgen check``).

A typo in a hostname, a code path or a partition otherwise shows up only when the first job of that step is
submitted: after the steps before it have run, as a paused process with the scheduler's message in its
report. These checks open each computer once and say what is wrong and how to fix it.
"""

from __future__ import annotations

import dataclasses

from aiida.common.exceptions import NotExistent


@dataclasses.dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f'{self.where}: {self.message}'


def _queues(transport, scheduler: str) -> set[str] | None:
    """The queue or partition names the scheduler knows; None where this check does not know how to ask."""
    commands = {
        'core.slurm': "sinfo -h -o '%R'",
        'core.pbspro': "qstat -Q | awk 'NR > 2 {print $1}'",
        'core.lsf': "bqueues -w | awk 'NR > 1 {print $1}'",
    }
    if scheduler not in commands:
        return None
    retval, stdout, _ = transport.exec_command_wait(commands[scheduler])
    return {line.strip() for line in stdout.splitlines() if line.strip()} if retval == 0 else None


def check_codes(codes: dict, queues: dict | None = None) -> list[Problem]:
    """Problems with ``codes`` (step -> InstalledCode): the computer cannot be reached, the executable is not
    there, or ``queues[step]`` is not a queue of that computer's scheduler. An empty list: all good."""
    queues = queues or {}
    problems = []
    for step, code in codes.items():
        computer = code.computer
        where = f'{step}: code {code.full_label}'
        try:
            user = computer.get_authinfo(_current_user())
        except NotExistent:
            problems.append(
                Problem(
                    where,
                    f'computer {computer.label} is not configured; run `verdi computer configure '
                    f'{computer.transport_type} {computer.label}`',
                )
            )
            continue
        try:
            with user.get_transport() as transport:
                executable = str(code.filepath_executable)
                if not transport.isfile(executable):
                    problems.append(
                        Problem(
                            where,
                            f'{executable} does not exist on {computer.label} ({computer.hostname}); '
                            f'install it there or point the code to it (`verdi code duplicate {code.full_label}`)',
                        )
                    )
                queue = queues.get(step)
                known = _queues(transport, computer.scheduler_type) if queue else None
                if queue and known is not None and queue not in known:
                    problems.append(
                        Problem(
                            f'{step}: queue',
                            f"{queue!r} is not a queue of {computer.label}'s scheduler "
                            f'({computer.scheduler_type}); it has: {", ".join(sorted(known))}',
                        )
                    )
        except Exception as exception:  # any failure to connect: paramiko, socket, authentication errors
            problems.append(
                Problem(
                    where,
                    f'cannot reach computer {computer.label} ({computer.hostname}) over '
                    f'{computer.transport_type}: {exception}; check it with `verdi computer test {computer.label}`',
                )
            )
    return problems


def _current_user():
    from aiida.orm import User

    return User.collection.get_default()
