"""Coming from DP-GEN: `run` (a param.json and machine.json) and `import-dpgen` (a DP-GEN working directory)."""

from __future__ import annotations

import click

from aiida_dpgen.cli.options import PROFILE, load_profile
from aiida_dpgen.cli.root import cli
from aiida_dpgen.workflows.protocols.utils import default_protocol, protocol_names


@cli.command('run')
@click.argument('param', type=click.Path(exists=True, dir_okay=False))
@click.argument('machine', type=click.Path(exists=True, dir_okay=False), required=False)
@click.option('--dry-run', is_flag=True, help='Print what would run, stage by stage; store nothing.')
@click.option('--submit', is_flag=True, help='Submit to the daemon instead of running in this process.')
@click.option(
    '--code',
    'codes',
    multiple=True,
    metavar='STEP=CODE',
    help='Use an existing code for a step (train, explore, label) instead of the machine.json one.',
)
@click.option(
    '--protocol',
    type=click.Choice(protocol_names('dpgen')),
    default=default_protocol('dpgen'),
    show_default=True,
    help='Protocol for what param.json does not set (e.g. the labeler settings it leaves open).',
)
@click.option(
    '--continue-from',
    'continue_from',
    default=None,
    metavar='GROUP',
    help='Continue an imported DP-GEN run (`aiida-dpgen import-dpgen`): its iterations are reused, not rerun.',
)
@PROFILE
def run_command(param, machine, dry_run, submit, codes, protocol, continue_from, profile):  # noqa: PLR0917 (click)
    """Run DP-GEN's PARAM (param.json) on the computers of MACHINE (machine.json, dpdispatcher's format).

    Paths in PARAM are relative to its folder, as when dpgen runs there. Without MACHINE, give every step's
    code with --code STEP=CODE.
    """
    import json
    import pathlib

    from aiida_dpgen.compat.arguments import DpgenInputError
    from aiida_dpgen.compat.machine import translate_machine
    from aiida_dpgen.compat.param import translate_param
    from aiida_dpgen.compat.plan import all_notes, describe_run

    chosen = {}
    for item in codes:
        step, separator, label = item.partition('=')
        if not separator or step not in ('train', 'explore', 'label'):
            raise click.BadParameter(
                f'{item!r}: expected STEP=CODE with STEP train, explore or label', param_hint='--code'
            )
        chosen[step] = label
    try:
        translated = translate_param(json.loads(pathlib.Path(param).read_text()), pathlib.Path(param).parent)
        machines = translate_machine(json.loads(pathlib.Path(machine).read_text())) if machine else None
    except (DpgenInputError, json.JSONDecodeError) as exception:
        raise click.ClickException(str(exception)) from exception
    if not machines and set(chosen) != {'train', 'explore', 'label'}:
        raise click.UsageError('give MACHINE (machine.json) or --code for each of train, explore and label')
    if dry_run:
        click.echo(describe_run(translated, machines))
        return
    for note in all_notes(translated, machines):
        click.echo(f'note: {note}', err=True)
    for warning in translated.warnings:
        click.echo(f'warning: {warning}', err=True)

    load_profile(profile)
    from aiida.common.exceptions import MultipleObjectsError, NotExistent
    from aiida.engine import submit as submit_process
    from aiida.orm import load_code

    from aiida_dpgen.compat.build import build_dpgen_builder, codes_from_machine
    from aiida_dpgen.workflows.runner import run_get_node

    engine = translated.labeler['engine']
    try:
        step_codes = codes_from_machine(machines, engine) if machines else {}
        step_codes.update({step: load_code(label) for step, label in chosen.items()})
        builder = build_dpgen_builder(
            translated, step_codes, machines=machines, protocol=protocol, continue_from=continue_from
        )
    except (ValueError, NotExistent, MultipleObjectsError) as exception:
        raise click.ClickException(str(exception)) from exception
    if submit:
        node = submit_process(builder)
        click.echo(f'submitted DpgenWorkChain<{node.pk}>; follow it with `aiida-dpgen status {node.pk}`')
        return
    _, node = run_get_node(builder)
    click.echo(f'DpgenWorkChain<{node.pk}> {node.process_state.value}, exit status {node.exit_status}')


@cli.command('import-dpgen')
@click.argument('workdir', type=click.Path(exists=True, file_okay=False))
@click.option(
    '--param',
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help='The param.json the run used (default: WORKDIR/param.json).',
)
@click.option('--group', 'group_label', default=None, help='Group of the imported nodes (default: dpgen-import/NAME).')
@PROFILE
def import_dpgen_command(workdir, param, group_label, profile):
    """Import the complete iterations of the DP-GEN run in WORKDIR (iter.*, record.dpgen): models, data and
    per-iteration statistics, so that `aiida-dpgen run PARAM MACHINE --continue-from GROUP` continues it."""
    import json
    import pathlib

    param_path = pathlib.Path(param or pathlib.Path(workdir) / 'param.json')
    if not param_path.is_file():
        raise click.UsageError(f"{param_path} does not exist; give the run's param.json with --param")
    load_profile(profile)
    from aiida_dpgen.compat.importer import import_dpgen_run
    from aiida_dpgen.loop.report import HEADER, format_row

    try:
        imported = import_dpgen_run(workdir, json.loads(param_path.read_text()), group_label=group_label)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    iterations = imported['restart_from']
    click.echo(f'{len(iterations)} iteration(s) of {workdir} imported into group {imported["group"].label}')
    click.echo(HEADER)
    for name in sorted(iterations):
        click.echo(format_row(iterations[name]['report'].get_dict()))
    click.echo(f'continue with: aiida-dpgen run {param_path} MACHINE --continue-from {imported["group"].label}')
