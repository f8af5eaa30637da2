"""What a loop run in this interpreter (``verdi run``) prints: the messages that say nothing is wrong are kept
off the console. They stay in the database (``verdi process report``), and every other warning and error is
printed as before.

* ``Disabling persistence, runner does not have a persister``: aiida-core's warning for every process that
  ``verdi run`` starts; such a run is not meant to survive its interpreter (use ``--submit`` and the daemon).
* ``ERROR_IONIC_CONVERGENCE_NOT_REACHED`` from a pw.x MD: the initial data's ab initio MD runs a fixed number of
  steps and every step is a label; aiida-quantumespresso logs pw.x's "maximum number of steps reached" as an
  error while the calculation finishes with exit status 0.
"""

from __future__ import annotations

import contextlib
import logging

from aiida.orm.utils.log import DBLogHandler

PERSISTENCE_WARNING = 'Disabling persistence, runner does not have a persister'
MD_STEPS_REACHED = 'ERROR_IONIC_CONVERGENCE_NOT_REACHED'
CONSOLE_LOGGERS = (None, 'aiida', 'plumpy')
"""The root logger and those aiida-core configures with a console handler of their own."""


class ExpectedMessages(logging.Filter):
    """Drops the records of the messages above; lets every other record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message == PERSISTENCE_WARNING:
            return False
        if message == MD_STEPS_REACHED:
            return not is_pw_md(getattr(record, 'dbnode_id', None))
        return True


def is_pw_md(pk: int | None) -> bool:
    """Whether node ``pk`` is a pw.x calculation of ``calculation`` ``md`` or ``vc-md``."""
    if pk is None:
        return False
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        node = orm.load_node(pk)
    except NotExistent:
        return False
    if not (node.process_type or '').endswith('quantumespresso.pw') or 'parameters' not in node.inputs:
        return False
    return node.inputs.parameters.get_dict().get('CONTROL', {}).get('calculation') in ('md', 'vc-md')


@contextlib.contextmanager
def expected_messages_silenced():
    """Within the block, the console handlers drop :class:`ExpectedMessages` (the database's and the log files'
    keep them)."""
    expected = ExpectedMessages()
    handlers = {
        handler
        for name in CONSOLE_LOGGERS
        for handler in logging.getLogger(name).handlers
        if not isinstance(handler, DBLogHandler | logging.FileHandler)
    }
    for handler in handlers:
        handler.addFilter(expected)
    try:
        yield expected
    finally:
        for handler in handlers:
            handler.removeFilter(expected)
