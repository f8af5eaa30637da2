"""`aiida-dpgen provenance`: where models and frames came from."""

from __future__ import annotations

import click

from aiida_dpgen.cli.options import PROFILE, load_profile
from aiida_dpgen.cli.root import cli


@cli.group('provenance')
def provenance_group():
    """Where models and frames came from, read from the provenance graph."""


@provenance_group.command('model')
@click.argument('identifier')
@PROFILE
def provenance_model_command(identifier, profile):
    """The labeling calculations and initial data behind the training data of a model (pk or UUID)."""
    load_profile(profile)
    from aiida.orm import load_node

    from aiida_dpgen.tools.provenance import called_as, model_lineage, model_sources

    model = load_node(identifier)
    try:
        sources = model_sources(model)
    except (ValueError, AttributeError) as exception:
        raise click.ClickException(f'{identifier}: {exception}') from exception
    click.echo(f'model {identifier}: trained on data from {len(sources.calculations)} labeling calculations')
    for ancestor in model_lineage(model):
        how = 'fine-tuned from' if ancestor.mode == 'finetune' else 'continued from'
        made = (
            f'trained by {ancestor.model.creator.process_label}<{ancestor.model.creator.pk}>'
            if ancestor.model.creator
            else 'brought in'
        )
        click.echo(f'  {how} model {ancestor.model.pk} ({ancestor.model.filename}, {made})')
    for dataset in sources.initial_datasets:
        click.echo(f'  initial dataset {dataset.pk}: {dataset.nframes} frames (no creator: brought in)')
    for workchain in sources.label_workchains:
        caller = workchain.caller
        within = f' ({called_as(workchain)} of {caller.process_label}<{caller.pk}>)' if caller is not None else ''
        calculations = sources.calculations_of(workchain)
        click.echo(f'  {workchain.process_label}<{workchain.pk}>{within}: {len(calculations)} calculations')
        for calculation in calculations:
            click.echo(f'    {calculation.process_label}<{calculation.pk}> on {calculation.computer.label}')


@provenance_group.command('frame')
@click.argument('dataset')
@click.argument('system')
@click.argument('index', type=int)
@PROFILE
def provenance_frame_command(dataset, system, index, profile):
    """Which iteration, selection and calculation added frame INDEX of SYSTEM in DATASET (pk or UUID)."""
    load_profile(profile)
    from aiida.orm import load_node

    from aiida_dpgen.tools.provenance import frame_origin

    try:
        origin = frame_origin(load_node(dataset), system, index)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    click.echo(f'frame {index} of {system} in dataset {dataset}: added by dataset {origin.dataset.pk}')
    if origin.label_workchain is None:
        click.echo('  initial data (brought in, not labeled by the loop)')
        return
    if origin.iteration is not None:
        click.echo(f'  iteration {origin.iteration}')
    for name in ('exploration', 'selection', 'label_workchain', 'calculation'):
        node = getattr(origin, name)
        if node is not None:
            click.echo(f'  {name:<16} {node.process_label}<{node.pk}>')
