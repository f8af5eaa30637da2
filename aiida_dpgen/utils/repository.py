"""Read many files of a stored node at once."""

from __future__ import annotations

import pathlib
from collections.abc import Iterable

from aiida import orm


def read_texts(node: orm.Node, paths: Iterable[str]) -> dict[str, str]:
    """The text of each of ``paths`` in the repository of the stored ``node``; a path it does not hold is left out.

    ``node.base.repository.get_object_content`` opens the object store and its index database once per file, about
    10 ms each: a parser reading the logs of 200 tasks this way spends two seconds on it. Here the keys come from
    the node's repository metadata and all objects are read in one pass over the store.
    """
    metadata = node.base.repository.metadata
    paths_by_key: dict[str, list[str]] = {}
    for path in paths:
        key = _object_key(metadata, path)
        if key is not None:
            paths_by_key.setdefault(key, []).append(path)
    texts = {}
    for key, stream in node.backend.get_repository().iter_object_streams(list(paths_by_key)):
        text = stream.read().decode('utf-8', errors='replace')
        for path in paths_by_key[key]:
            texts[path] = text
    return texts


def _object_key(metadata: dict, path: str) -> str | None:
    """The key of the file ``path`` in a node's repository metadata (``{'o': {name: {'o': ...} or {'k': key}}}``)."""
    entry = metadata
    for part in path.split('/'):
        entry = entry.get('o', {}).get(part)
        if entry is None:
            return None
    return entry.get('k')


def write_tree(node: orm.Node, source: str, destination: pathlib.Path) -> int:
    """Write the folder ``source`` of the stored ``node``'s repository under ``destination`` in one pass over the
    object store; return the number of files. ``copy_tree`` and AiiDA's ``local_copy_list`` open the store once per
    file (about 7 ms each here): a training job of the 11 datasets of a tenth iteration spent 1.8 s on it, and the
    loop trains on every iteration's labels, so that grew with every iteration."""
    entry = node.base.repository.metadata
    for part in pathlib.PurePosixPath(source).parts:
        entry = entry.get('o', {}).get(part)
        if entry is None:
            raise FileNotFoundError(f'{source!r} is not a folder of node {node.pk}')
    paths_by_key: dict[str, list[pathlib.Path]] = {}
    _files(entry, destination, paths_by_key)
    for key, stream in node.backend.get_repository().iter_object_streams(list(paths_by_key)):
        content = stream.read()
        for path in paths_by_key[key]:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    return sum(len(paths) for paths in paths_by_key.values())


def _files(entry: dict, folder: pathlib.Path, paths_by_key: dict[str, list[pathlib.Path]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, child in entry.get('o', {}).items():
        if 'k' in child:
            paths_by_key.setdefault(child['k'], []).append(folder / name)
        else:
            _files(child, folder / name, paths_by_key)
