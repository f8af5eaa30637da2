"""Commands about the engines and codes: `engines`, `check-codes`, `setup-codes`, `pseudos install`."""

from __future__ import annotations

import sys

import click

from aiida_dpgen.cli.options import PROFILE, load_profile
from aiida_dpgen.cli.root import cli


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
@PROFILE
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
    from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, DEFAULT_FAMILY_LABEL, install_pseudo_family

    load_profile(profile)
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


@cli.command('check-codes')
@click.argument('codes', nargs=-1, required=True)
@click.option('--queue', default=None, help='Also check that this queue/partition exists on each computer.')
@PROFILE
def check_codes_command(codes, queue, profile):
    """Check CODES (labels such as dp@cluster) before a loop runs: computer reachable, executable present, queue
    known. Exits 1 and says what to fix when something is wrong."""
    load_profile(profile)
    from aiida.orm import load_code

    from aiida_dpgen.tools.preflight import check_codes

    loaded = {label: load_code(label) for label in codes}
    problems = check_codes(loaded, dict.fromkeys(loaded, queue) if queue else None)
    for problem in problems:
        click.echo(f'problem: {problem}', err=True)
    if problems:
        sys.exit(1)
    click.echo(f'{len(loaded)} code(s) ready: ' + ', '.join(loaded))


@cli.command('setup-codes')
@click.argument('computer')
@PROFILE
def setup_codes_command(computer, profile):
    """Create the codes dp, lmp, pw, cp2k and python-ase on COMPUTER from the engines on this machine's PATH
    (the venv and Debian); codes that exist are kept."""
    load_profile(profile)
    from aiida_dpgen.utils.codes import setup_engine_codes

    try:
        codes = setup_engine_codes(computer)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    for code in codes:
        click.echo(f'{code.full_label}: {code.filepath_executable} ({code.default_calc_job_plugin})')
