"""A CP2K input file as the nested dictionary aiida-cp2k writes back (DP-GEN's ``external_input_path``).

Sections become dictionaries (a section parameter under ``_``, a repeated section a list of them), keywords
their values as written, names upper case. CP2K's preprocessor is applied as CP2K applies it: ``@SET``,
``${NAME}`` and ``$NAME``, ``@INCLUDE`` (relative to the input's folder); comments start at ``#`` or ``!``.
Sections the labeler writes itself (the cell and the coordinates) can be skipped unread, so that an
``@INCLUDE`` of a coordinate file that exists only in DP-GEN's task folders is not followed.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterable, Iterator

VARIABLE = re.compile(r'\$\{(\w+)\}|\$(\w+)')


class Cp2kInputError(ValueError):
    """An input this reader cannot take; the message names the file, the line and why."""


def parse_cp2k_input(path: str | pathlib.Path, skip: Iterable[str] = ()) -> dict:
    """The input file at ``path``; ``skip``: section paths such as ``FORCE_EVAL/SUBSYS/COORD`` left out."""
    path = pathlib.Path(path)
    reader = _Reader({name.upper().strip('/') for name in skip})
    root: dict = {}
    stack = [root]
    for words in reader.lines(path):
        head = words[0].upper()
        if head.startswith('&END'):
            stack.pop()
        elif head.startswith('&'):
            section: dict = {'_': ' '.join(words[1:])} if len(words) > 1 else {}
            _add(stack[-1], head[1:], section)
            stack.append(section)
        else:
            _add(stack[-1], head, ' '.join(words[1:]) if len(words) > 1 else '')
    if reader.sections:
        raise Cp2kInputError(f'{path}: section {"/".join(reader.sections)} is never closed with &END')
    return root


def _add(section: dict, key: str, value) -> None:
    if key not in section:
        section[key] = value
    elif isinstance(section[key], list):
        section[key].append(value)
    else:
        section[key] = [section[key], value]


class _Reader:
    """CP2K's preprocessor over a file and the files it includes; it follows the sections so that it can pass
    over the skipped ones (their directives too) and check that every &END closes the open section."""

    def __init__(self, skipped: set[str]):
        self.skipped = skipped
        self.variables: dict[str, str] = {}
        self.sections: list[str] = []
        self.skipping = 0

    def lines(self, path: pathlib.Path) -> Iterator[list[str]]:
        """The words of every line that is not blank, a comment or in a skipped section."""
        try:
            text = path.read_text()
        except OSError as exception:
            raise Cp2kInputError(f'{path}: cannot read it ({exception.strerror})') from None
        for number, raw in enumerate(text.splitlines(), start=1):
            where = f'{path}:{number}'
            line = re.split(r'[#!]', raw, maxsplit=1)[0].strip()
            if not line:
                continue
            head = line.split(maxsplit=1)[0].upper()
            if self.skipping:
                self.skipping += 1 if head.startswith('&') and not head.startswith('&END') else 0
                self.skipping -= 1 if head.startswith('&END') else 0
                continue
            if head == '@SET':
                parts = line.split(maxsplit=2)
                if len(parts) != 3:
                    raise Cp2kInputError(f'{where}: expected "@SET NAME value"')
                self.variables[parts[1].upper()] = self._substituted(parts[2], where)
            elif head == '@INCLUDE':
                name = self._substituted(line.split(maxsplit=1)[1].strip('\'"'), where)
                yield from self.lines(path.parent / name)
            elif head.startswith('@'):
                raise Cp2kInputError(f'{where}: the preprocessor directive {head} is not supported; expand it')
            else:
                words = self._substituted(line, where).split()
                if self._enters_skipped(words, where):
                    continue
                yield words

    def _enters_skipped(self, words: list[str], where: str) -> bool:
        head = words[0].upper()
        if head.startswith('&END'):
            if not self.sections:
                raise Cp2kInputError(f'{where}: &END without an open section')
            name = words[1].upper() if len(words) > 1 else self.sections[-1]
            if name != self.sections[-1]:
                raise Cp2kInputError(f'{where}: &END {name} closes section {"/".join(self.sections)}')
            self.sections.pop()
        elif head.startswith('&'):
            if '/'.join([*self.sections, head[1:]]) in self.skipped:
                self.skipping = 1
                return True
            self.sections.append(head[1:])
        return False

    def _substituted(self, text: str, where: str) -> str:
        def value(match: re.Match) -> str:
            name = (match[1] or match[2]).upper()
            if name not in self.variables:
                raise Cp2kInputError(f'{where}: ${name} is not set with @SET before it is used')
            return self.variables[name]

        return VARIABLE.sub(value, text)
