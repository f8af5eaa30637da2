"""The package's layout: no module imports another that imports it back, at import time or inside a function."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).parent.parent / 'aiida_dpgen'


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: pathlib.Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports anywhere in its body (``from x import y`` counts x.y when
    that is a module, else x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(
                f'{node.module}.{alias.name}' if f'{node.module}.{alias.name}' in known else node.module
                for alias in node.names
            )
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob('*.py')}
    known = set(paths)
    return {name: imported_modules(path, known) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(name):
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for other in graph[name]:
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in on_stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_the_graph_sees_the_imports_it_checks():
    graph = import_graph()
    assert 'aiida_dpgen.compat.nodes' in graph['aiida_dpgen.compat.importer']
    assert 'aiida_dpgen.loop.iterations' in graph['aiida_dpgen.workflows.dpgen']


def test_no_import_cycles():
    assert cycles(import_graph()) == []
