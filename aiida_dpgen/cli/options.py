"""What the commands share: aiida-core's profile option and loading the profile only when a command needs it."""

from __future__ import annotations

import logging

import click
from aiida.cmdline.params import options
from click.core import ParameterSource

PROFILE = options.PROFILE(help='AiiDA profile (default: the default profile).')
"""aiida-core's ``-p/--profile``: a profile name, checked against the configuration; not loaded until a
command calls :func:`load_profile` (``run --dry-run`` needs none)."""


def load_profile(profile) -> None:
    """Load the profile given with ``-p``; without it the one already loaded (``verdi run``, tests) or else the
    default profile."""
    import aiida

    context = click.get_current_context(silent=True)
    given = context is not None and context.get_parameter_source('profile') is not ParameterSource.DEFAULT
    aiida.load_profile(profile.name if given and profile is not None else None)
    keep_database_log()


def keep_database_log() -> None:
    """Give the processes' log records back to the database where the storage is already loaded.

    verdi's ``-v`` option configures logging without the database handler, expecting the storage to be loaded
    later (which adds it again). In an interpreter that has loaded it already (``verdi run``, a notebook, the
    tests) the handler would stay off, and every later process's reports would be missing from
    ``verdi process report``. Only that handler is added back: configuring logging anew here would bind the
    console handlers to the streams of the moment, which a test runner closes after the command."""
    from aiida.manage import get_manager
    from aiida.manage.configuration import get_config_option
    from aiida.orm.utils.log import DBLogHandler

    manager = get_manager()
    if manager.get_profile() is None or not manager.profile_storage_loaded:
        return
    logger = logging.getLogger('aiida')
    if not any(isinstance(handler, DBLogHandler) for handler in logger.handlers):
        handler = DBLogHandler()
        handler.setLevel(get_config_option('logging.database_handler'))
        logger.addHandler(handler)
