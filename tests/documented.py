"""The shell commands the docs give, so that tests run them as written."""

from __future__ import annotations

import pathlib
import re
import shlex

DOCS = pathlib.Path(__file__).parent.parent / 'docs'


def documented_commands(page: str, heading: str, placeholders: dict[str, str]) -> list[list[str]]:
    """The ``$ `` lines of the first ``console`` block after ``heading`` in ``docs/page``, comments dropped and
    each ``<placeholder>`` replaced, as argument lists."""
    text = (DOCS / page).read_text()
    if heading not in text:
        raise ValueError(f'docs/{page} has no heading {heading!r}')
    block = text.split(heading, 1)[1].split('```console\n', 1)[1].split('```', 1)[0]
    commands = []
    for line in block.splitlines():
        if not line.startswith('$ '):
            continue
        command = line[2:].split('  #', 1)[0]
        for placeholder, value in placeholders.items():
            command = command.replace(placeholder, value)
        left = re.findall(r'<[^<>]+>', command)
        if left:
            raise ValueError(f'docs/{page}: no value for {left} in {line!r}')
        commands.append(shlex.split(command))
    return commands
