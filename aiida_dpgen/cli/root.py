"""The ``aiida-dpgen`` command group; its commands live in the modules of this package, one per command group."""

from __future__ import annotations

import click
from aiida.cmdline.groups import VerdiCommandGroup

from aiida_dpgen import __version__


# verdi's group: its context resolves aiida-core's profile option, its commands get verdi's -v/--verbosity
@click.group(cls=VerdiCommandGroup, context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(__version__, prog_name='aiida-dpgen')
@click.pass_context
def cli(context):
    """DP-GEN concurrent learning of Deep Potentials with AiiDA."""
    from aiida_dpgen.cli.options import keep_database_log

    context.call_on_close(keep_database_log)
