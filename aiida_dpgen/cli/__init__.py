"""The ``aiida-dpgen`` command line."""

from __future__ import annotations

import sys

import click

from aiida_dpgen import __version__


@click.group(context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(__version__, prog_name='aiida-dpgen')
def cli():
    """DP-GEN concurrent learning of Deep Potentials with AiiDA."""


@cli.command('engines')
def engines_command():
    """Check that DeePMD-kit, LAMMPS (with pair_style deepmd), pw.x and cp2k run; print their versions."""
    from aiida_dpgen.utils.engines import probe_engines

    statuses = probe_engines()
    width = max(len(status.name) for status in statuses)
    for status in statuses:
        state = 'ok' if status.ok else 'MISSING'
        click.echo(f'{status.name:<{width}}  {state:<7}  {status.version or "-":<28}  {status.executable or "-"}')
        if not status.ok:
            click.echo(f'{"":<{width}}  -> {status.problem}', err=True)
    sys.exit(0 if all(status.ok for status in statuses) else 1)
