from __future__ import annotations

import pathlib

import pytest

from .documented import DOCS, documented_commands

README = DOCS.parent / 'README.md'


def test_the_archive_commands_of_the_docs_put_the_file_before_the_nodes():
    """aiida-core's `-N` takes every value after it: the file name must come first (the tests run these)."""
    create, import_archive, report = documented_commands(
        'provenance.md', '## Sharing a run', {'<DpgenWorkChain pk>': '12', '<DpgenWorkChain uuid>': 'abc'}
    )
    assert create == ['verdi', 'archive', 'create', 'cu-run.aiida', '-N', '12']
    assert import_archive == ['verdi', 'archive', 'import', 'cu-run.aiida']
    assert report == ['aiida-dpgen', 'report', 'abc']


def test_a_placeholder_without_a_value_is_named():
    with pytest.raises(ValueError, match='DpgenWorkChain uuid'):
        documented_commands('provenance.md', '## Sharing a run', {'<DpgenWorkChain pk>': '12'})


def python_block(path: pathlib.Path, heading: str) -> str:
    text = path.read_text()
    return text.split(heading, 1)[1].split('```python\n', 1)[1].split('```', 1)[0]


def test_the_readmes_python_api_builds_a_loop_the_work_chain_accepts(aiida_localhost, tmp_path, monkeypatch):
    """The README's ten lines, as written: codes as `aiida-dpgen setup-codes` names them, initial data from a
    deepmd/npy folder; the builder they submit passes every check DpgenWorkChain makes before its first job."""
    import aiida.engine
    from aiida import orm

    from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family
    from aiida_dpgen.workflows.dpgen import DpgenWorkChain

    from .conftest import cu_system

    if not DEBIAN_PSEUDO_DIRECTORY.is_dir():
        pytest.skip("Debian's quantum-espresso-data is not installed")
    install_pseudo_family()
    for label, plugin in (('dp', 'dpgen.train'), ('lmp', 'dpgen.lammps'), ('pw', 'quantumespresso.pw')):
        orm.InstalledCode(
            label=label, computer=aiida_localhost, filepath_executable=label, default_calc_job_plugin=plugin
        ).store()
    cu_system('fcc', 4).to('deepmd/npy', str(tmp_path / 'init_data'))
    submitted = []
    monkeypatch.setattr(aiida.engine, 'submit', submitted.append)
    monkeypatch.chdir(tmp_path)
    exec(python_block(README, '## Python API'), {})
    (builder,) = submitted
    assert DpgenWorkChain.spec().inputs.validate(builder._inputs(prune=True)) is None
