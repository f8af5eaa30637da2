from __future__ import annotations

import pytest

from .documented import documented_commands


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
