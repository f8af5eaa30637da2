from __future__ import annotations

import io

from aiida import orm

from aiida_dpgen.utils.repository import read_texts


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
