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


@cli.group('pseudos')
def pseudos_group():
    """Pseudopotential families for the Quantum ESPRESSO labeler, installed without a network."""


@pseudos_group.command('install')
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
@click.option('--label', default=None, help='Family label (default: dpgen/espresso-debian/PBE).')
@click.option(
    '--directory',
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help='Folder with El.pbe-*.UPF files (default: /usr/share/espresso/pseudo from Debian).',
)
@click.option('--file', 'files', multiple=True, metavar='El=PATH', help='Use exactly these files, one per element.')
def pseudos_install_command(profile, label, directory, files):
    """Create an aiida-pseudo UPF family from files on disk: by default one PBE file per element from
    Debian's quantum-espresso-data (PAW preferred). An existing family with that label is kept as it is."""
    import aiida

    from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, DEFAULT_FAMILY_LABEL, install_pseudo_family

    aiida.load_profile(profile)
    mapping = {}
    for item in files:
        element, separator, path = item.partition('=')
        if not separator or not element or not path:
            raise click.BadParameter(f'{item!r}: expected El=PATH, e.g. Cu=/path/Cu.pbe-kjpaw.UPF', param_hint='--file')
        mapping[element] = path
    try:
        family = install_pseudo_family(
            label or DEFAULT_FAMILY_LABEL, files=mapping or None, directory=directory or DEBIAN_PSEUDO_DIRECTORY
        )
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    elements = sorted(pseudo.element for pseudo in family.nodes)
    click.echo(f'{family.label}: {len(elements)} elements ({", ".join(elements)})')
