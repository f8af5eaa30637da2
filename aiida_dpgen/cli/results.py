"""Commands that read a loop: `report`, `status`, `properties`, `export-data`."""

from __future__ import annotations

import click

from aiida_dpgen.cli.options import PROFILE, load_profile
from aiida_dpgen.cli.root import cli


@cli.command('report')
@click.argument('identifier')
@PROFILE
@click.option(
    '--plots',
    type=click.Path(file_okay=False),
    default=None,
    help='Write PNG plots here: ratios, deviation histograms, learning curves, dataset growth.',
)
def report_command(identifier, profile, plots):
    """Per-iteration table of a DpgenWorkChain (pk or UUID): ratios, labels, data, errors and cost."""
    load_profile(profile)
    from aiida_dpgen.loop.report import format_costs, format_table
    from aiida_dpgen.tools.report import dpgen_node, initial_frames, iteration_reports, learning_curves

    try:
        node = dpgen_node(identifier)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    reports = iteration_reports(node)
    state = node.process_state.value if node.process_state else 'unknown'
    exit_status = f', exit status {node.exit_status}' if node.exit_status else ''
    click.echo(f'DpgenWorkChain<{node.pk}>: {state}{exit_status}; {len(reports)} iteration(s) completed')
    click.echo(f'initial data: {initial_frames(node)} frames')
    if not reports:
        return
    click.echo(format_table(reports))
    click.echo('\nwall time and core-hours per step')
    click.echo(format_costs(reports))
    if plots:
        import pathlib

        from aiida_dpgen.loop import plots as plotting

        folder = pathlib.Path(plots)
        written = [
            plotting.plot_ratios(reports, folder / 'ratios.png'),
            plotting.plot_deviation_histograms(reports, folder / 'deviations.png'),
            plotting.plot_learning_curves(learning_curves(node), folder / 'learning_curves.png'),
            plotting.plot_dataset_growth(reports, initial_frames(node), folder / 'dataset.png'),
        ]
        click.echo('\nplots: ' + ', '.join(str(path) for path in written))


@cli.command('properties')
@click.argument('identifier')
@PROFILE
@click.option('--output', type=click.Path(dir_okay=False), default=None, help='Also write the table to this file.')
@click.option(
    '--plots', type=click.Path(file_okay=False), default=None, help='Write PNG plots here: EOS curves, phonon bands.'
)
@click.option(
    '--paper',
    is_flag=True,
    help="A Markdown table with the paper's DP-versus-DFT error of each Table 3 property beside the model's error.",
)
def properties_command(identifier, profile, output, plots, paper):
    """The property tests of a PropertiesWorkChain (or of the DpgenWorkChain that ran one): the paper's Table 3,
    reference against the model ensemble's mean and spread."""
    load_profile(profile)
    from aiida_dpgen.properties.compare import format_comparison
    from aiida_dpgen.tools.properties import (
        band_labels,
        comparison_rows,
        curves,
        properties_node,
        reference_name,
        suite_warnings,
    )

    try:
        node = properties_node(identifier)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    rows = comparison_rows(node)
    state = node.process_state.value if node.process_state else 'unknown'
    models = sorted(name for name in node.inputs.models) if 'models' in node.inputs else []
    click.echo(f'PropertiesWorkChain<{node.pk}>: {state}; {len(models)} model(s), element {node.inputs.element.value}')
    if not rows:
        raise click.ClickException(
            f'PropertiesWorkChain<{node.pk}> has no comparison yet ({node.exit_message or state})'
        )
    if paper:
        from aiida_dpgen.properties.paper import format_judged, judge, tally

        judged = judge(rows)
        table = f'{format_judged(judged, reference_name(node))}\n\n{tally(judged)}'
    else:
        table = format_comparison(rows, reference_name(node), f'model ({len(models)})')
    click.echo(table)
    for name, messages in suite_warnings(node).items():
        for message in messages:
            click.echo(f'{name}: {message}')
    if output:
        import pathlib

        pathlib.Path(output).write_text(table + '\n', encoding='utf-8')
        click.echo(f'\ntable: {output}')
    if plots:
        import pathlib

        from aiida_dpgen.properties import plots as plotting

        folder, arrays = pathlib.Path(plots), curves(node)
        written = [plotting.plot_equations_of_state(arrays, folder / 'equations_of_state.png')]
        if any('phonon_frequencies' in values for values in arrays.values()):
            written.append(plotting.plot_phonon_bands(arrays, band_labels(node), folder / 'phonons.png'))
        click.echo('plots: ' + ', '.join(str(path) for path in written))


@cli.command('status')
@click.argument('identifier')
@PROFILE
def status_command(identifier, profile):
    """Where a DpgenWorkChain (pk or UUID) is: iteration, step, and its jobs queued, running, finished."""
    load_profile(profile)
    from aiida_dpgen.tools.report import dpgen_node
    from aiida_dpgen.tools.status import loop_status

    try:
        node = dpgen_node(identifier)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    click.echo(loop_status(node).format())


@cli.command('export-data')
@click.argument('identifier')
@click.argument('directory', type=click.Path(file_okay=False))
@click.option('--fmt', default='deepmd/npy', show_default=True, help='dpdata format, e.g. deepmd/npy, deepmd/hdf5.')
@PROFILE
def export_data_command(identifier, directory, fmt, profile):
    """Write all labeled data of a DpgenWorkChain (initial and every iteration's labels), or one dataset node,
    for `dp train`."""
    load_profile(profile)
    from aiida.orm import load_node

    from aiida_dpgen.data import LabeledDatasetData
    from aiida_dpgen.data.dataset import combined

    node = load_node(identifier)
    dataset = node if isinstance(node, LabeledDatasetData) else None
    if dataset is None and getattr(node, 'process_label', None) == 'DpgenWorkChain' and 'datasets' in node.outputs:
        dataset = combined(dict(node.outputs.datasets))
    if dataset is None:
        raise click.ClickException(f'{identifier}: neither a dataset nor a DpgenWorkChain with datasets outputs')
    paths = dataset.export(directory, fmt=fmt)
    source = f'dataset {dataset.pk}' if dataset.is_stored else f'the {len(node.outputs.datasets)} datasets of {node.pk}'
    click.echo(f'{source}: {dataset.nframes} frames in {len(dataset.system_names)} systems -> {directory}')
    for path in paths:
        click.echo(f'  {path}')
