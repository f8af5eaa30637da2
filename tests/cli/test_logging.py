"""A command run in an interpreter that has a profile loaded (``verdi run``, a notebook, the tests) leaves the
log records of every later process going to the database: verdi's ``-v`` option reconfigures logging without it."""

from __future__ import annotations

import logging

from aiida import orm
from aiida.engine import calcfunction, run_get_node
from aiida.orm.utils.log import DBLogHandler
from click.testing import CliRunner

from aiida_dpgen.cli import cli


@calcfunction
def reporting(value):
    from aiida.engine import Process

    Process.current().report('a message for the database')
    return orm.Int(value.value + 1)


def database_handlers() -> list:
    return [handler for handler in logging.getLogger('aiida').handlers if isinstance(handler, DBLogHandler)]


def test_a_command_run_in_process_keeps_the_database_log(aiida_profile):
    orm.User.collection.get_default()  # the storage is loaded, as in verdi run
    assert database_handlers()

    not_a_loop = orm.Int(1).store()
    result = CliRunner().invoke(cli, ['status', str(not_a_loop.pk)])
    assert result.exit_code == 1, result.output

    assert database_handlers()
    _, node = run_get_node(reporting, value=orm.Int(1))
    assert [log.message for log in orm.Log.collection.get_logs_for(node)] == [
        f'[{node.pk}|reporting|reporting]: a message for the database'
    ]


def test_status_of_a_node_that_is_not_a_loop_or_does_not_exist_says_so(aiida_profile):
    not_a_loop = orm.Int(1).store()
    assert 'a Int, not a DpgenWorkChain' in CliRunner().invoke(cli, ['status', str(not_a_loop.pk)]).output
    missing = CliRunner().invoke(cli, ['status', '987654'])
    assert missing.exit_code == 1
    assert 'node 987654' in missing.output and 'give the pk or UUID of a DpgenWorkChain' in missing.output
