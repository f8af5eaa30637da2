from __future__ import annotations

import io

from aiida import orm

from aiida_dpgen.utils.repository import read_texts, write_tree


def test_read_texts_reads_nested_files_shared_contents_and_skips_missing_paths(aiida_profile):
    folder = orm.FolderData()
    folder.base.repository.put_object_from_filelike(io.BytesIO(b'first log\n'), 'task.000000/log.lammps')
    folder.base.repository.put_object_from_filelike(io.BytesIO(b'same\n'), 'task.000001/log.lammps')
    folder.base.repository.put_object_from_filelike(io.BytesIO(b'same\n'), 'task.000002/log.lammps')
    folder.base.repository.put_object_from_filelike(io.BytesIO(b'top\n'), 'stdout')
    folder.store()

    paths = [f'task.00000{index}/log.lammps' for index in range(4)] + ['stdout', 'task.000000']
    texts = read_texts(folder, paths)

    expected = {path: folder.base.repository.get_object_content(path) for path in [*paths[:3], 'stdout']}
    assert texts == expected
    assert texts['task.000001/log.lammps'] == texts['task.000002/log.lammps'] == 'same\n'


def test_write_tree_writes_a_stored_folder_as_copy_tree_does(aiida_profile, tmp_path):
    import pytest
    from aiida.orm import FolderData

    node = FolderData()
    node.base.repository.put_object_from_bytes(b'top', 'systems/Cu4/type.raw')
    node.base.repository.put_object_from_bytes(b'\x00\x01npy', 'systems/Cu4/set.000/coord.npy')
    node.base.repository.put_object_from_bytes(b'\x00\x01npy', 'systems/Cu2/set.000/coord.npy')  # same bytes
    node.base.repository.put_object_from_bytes(b'other', 'elsewhere.txt')
    node.store()

    assert write_tree(node, 'systems', tmp_path / 'fast') == 3
    node.base.repository.copy_tree(tmp_path / 'reference', 'systems')
    written = sorted(path.relative_to(tmp_path / 'fast') for path in (tmp_path / 'fast').rglob('*') if path.is_file())
    expected = sorted(
        path.relative_to(tmp_path / 'reference') for path in (tmp_path / 'reference').rglob('*') if path.is_file()
    )
    assert written == expected
    assert all(
        (tmp_path / 'fast' / path).read_bytes() == (tmp_path / 'reference' / path).read_bytes() for path in written
    )
    with pytest.raises(FileNotFoundError, match="'missing' is not a folder"):
        write_tree(node, 'missing', tmp_path / 'none')
