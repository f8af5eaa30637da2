"""A loop run with `verdi run` keeps the messages that say nothing is wrong off the console, and only those."""

from __future__ import annotations

import io
import logging

from aiida import orm
from aiida.common.links import LinkType

from aiida_dpgen.utils.console import MD_STEPS_REACHED, PERSISTENCE_WARNING, expected_messages_silenced


def pw_calculation(calculation: str) -> orm.CalcJobNode:
    node = orm.CalcJobNode(process_type='aiida.calculations:quantumespresso.pw')
    node.base.links.add_incoming(
        orm.Dict({'CONTROL': {'calculation': calculation}}).store(), LinkType.INPUT_CALC, 'parameters'
    )
    return node.store()


def printed(emit, log_file) -> str:
    """What a console handler of the 'aiida' logger prints while ``emit(logger)`` runs in the silenced block;
    a log file handler beside it must see every message."""
    console = io.StringIO()
    logger = logging.getLogger('aiida.test_console')
    handlers = [logging.StreamHandler(console), logging.FileHandler(log_file)]
    aiida_logger = logging.getLogger('aiida')
    for handler in handlers:
        aiida_logger.addHandler(handler)
    try:
        with expected_messages_silenced():
            emit(logger)
    finally:
        for handler in handlers:
            aiida_logger.removeHandler(handler)
            handler.close()
    return console.getvalue()


def test_the_persistence_warning_is_silenced_and_real_warnings_are_not(aiida_profile, tmp_path):
    log_file = tmp_path / 'aiida.log'
    output = printed(lambda logger: (logger.warning(PERSISTENCE_WARNING), logger.warning('a real warning')), log_file)
    assert output == 'a real warning\n'
    assert log_file.read_text() == f'{PERSISTENCE_WARNING}\na real warning\n', 'log files keep everything'


def test_the_md_steps_message_is_silenced_for_a_pw_md_only(aiida_profile, tmp_path):
    md, relax = pw_calculation('md'), pw_calculation('relax')
    output = printed(
        lambda logger: (
            logger.error(MD_STEPS_REACHED, extra={'dbnode_id': md.pk}),
            logger.error(MD_STEPS_REACHED, extra={'dbnode_id': relax.pk}),
            logger.error(MD_STEPS_REACHED),
        ),
        tmp_path / 'aiida.log',
    )
    assert output == f'{MD_STEPS_REACHED}\n' * 2, 'a relax that did not converge is a real error'


def test_the_filter_is_removed_after_the_block(aiida_profile):
    console = io.StringIO()
    handler = logging.StreamHandler(console)
    logging.getLogger('aiida').addHandler(handler)
    try:
        with expected_messages_silenced():
            pass
        logging.getLogger('aiida.test_console').warning(PERSISTENCE_WARNING)
    finally:
        logging.getLogger('aiida').removeHandler(handler)
    assert console.getvalue() == f'{PERSISTENCE_WARNING}\n'
