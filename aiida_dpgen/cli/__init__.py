"""The ``aiida-dpgen`` command line."""

from __future__ import annotations

import sys

import click

from aiida_dpgen import __version__
from aiida_dpgen.workflows.protocols.utils import default_protocol, protocol_names


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


def _load(profile):
    import aiida

    aiida.load_profile(profile)


@cli.command('report')
@click.argument('identifier')
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
@click.option(
    '--plots',
    type=click.Path(file_okay=False),
    default=None,
    help='Write PNG plots here: ratios, deviation histograms, learning curves, dataset growth.',
)
def report_command(identifier, profile, plots):
    """Per-iteration table of a DpgenWorkChain (pk or UUID): ratios, labels, data, errors and cost."""
    _load(profile)
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
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
@click.option('--output', type=click.Path(dir_okay=False), default=None, help='Also write the table to this file.')
@click.option(
    '--plots', type=click.Path(file_okay=False), default=None, help='Write PNG plots here: EOS curves, phonon bands.'
)
def properties_command(identifier, profile, output, plots):
    """The property tests of a PropertiesWorkChain (or of the DpgenWorkChain that ran one): the paper's Table 3,
    reference against the model ensemble's mean and spread."""
    _load(profile)
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
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def status_command(identifier, profile):
    """Where a DpgenWorkChain (pk or UUID) is: iteration, step, and its jobs queued, running, finished."""
    _load(profile)
    from aiida_dpgen.tools.report import dpgen_node
    from aiida_dpgen.tools.status import loop_status

    try:
        node = dpgen_node(identifier)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    click.echo(loop_status(node).format())


@cli.command('check-codes')
@click.argument('codes', nargs=-1, required=True)
@click.option('--queue', default=None, help='Also check that this queue/partition exists on each computer.')
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def check_codes_command(codes, queue, profile):
    """Check CODES (labels such as dp@cluster) before a loop runs: computer reachable, executable present, queue
    known. Exits 1 and says what to fix when something is wrong."""
    _load(profile)
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
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def setup_codes_command(computer, profile):
    """Create the codes dp, lmp, pw, cp2k and python-ase on COMPUTER from the engines on this machine's PATH
    (the venv and Debian); codes that exist are kept."""
    _load(profile)
    from aiida_dpgen.utils.codes import setup_engine_codes

    try:
        codes = setup_engine_codes(computer)
    except ValueError as exception:
        raise click.ClickException(str(exception)) from exception
    for code in codes:
        click.echo(f'{code.full_label}: {code.filepath_executable} ({code.default_calc_job_plugin})')


@cli.group('provenance')
def provenance_group():
    """Where models and frames came from, read from the provenance graph."""


@provenance_group.command('model')
@click.argument('identifier')
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def provenance_model_command(identifier, profile):
    """The labeling calculations and initial data behind the training data of a model (pk or UUID)."""
    _load(profile)
    from aiida.orm import load_node

    from aiida_dpgen.tools.provenance import model_sources

    try:
        sources = model_sources(load_node(identifier))
    except (ValueError, AttributeError) as exception:
        raise click.ClickException(f'{identifier}: {exception}') from exception
    click.echo(f'model {identifier}: trained on data from {len(sources.calculations)} labeling calculations')
    for dataset in sources.initial_datasets:
        click.echo(f'  initial dataset {dataset.pk}: {dataset.nframes} frames (no creator: brought in)')
    for workchain in sources.label_workchains:
        click.echo(f'  {workchain.process_label}<{workchain.pk}>')
    for calculation in sources.calculations:
        click.echo(f'    {calculation.process_label}<{calculation.pk}> on {calculation.computer.label}')


@provenance_group.command('frame')
@click.argument('dataset')
@click.argument('system')
@click.argument('index', type=int)
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def provenance_frame_command(dataset, system, index, profile):
    """Which iteration, selection and calculation added frame INDEX of SYSTEM in DATASET (pk or UUID)."""
    _load(profile)
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


@cli.command('export-data')
@click.argument('identifier')
@click.argument('directory', type=click.Path(file_okay=False))
@click.option('--fmt', default='deepmd/npy', show_default=True, help='dpdata format, e.g. deepmd/npy, deepmd/hdf5.')
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def export_data_command(identifier, directory, fmt, profile):
    """Write all labeled data of a DpgenWorkChain (initial and every iteration's labels), or one dataset node,
    for `dp train`."""
    _load(profile)
    from aiida.orm import load_node

    from aiida_dpgen.data import LabeledDatasetData
    from aiida_dpgen.data.dataset import combined

    node = load_node(identifier)
    dataset = node if isinstance(node, LabeledDatasetData) else None
    if dataset is None and node.process_label == 'DpgenWorkChain' and 'datasets' in node.outputs:
        dataset = combined(dict(node.outputs.datasets))
    if dataset is None:
        raise click.ClickException(f'{identifier}: neither a dataset nor a DpgenWorkChain with datasets outputs')
    paths = dataset.export(directory, fmt=fmt)
    source = f'dataset {dataset.pk}' if dataset.is_stored else f'the {len(node.outputs.datasets)} datasets of {node.pk}'
    click.echo(f'{source}: {dataset.nframes} frames in {len(dataset.system_names)} systems -> {directory}')
    for path in paths:
        click.echo(f'  {path}')


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
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
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

    _load(profile)
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
@click.option('-p', '--profile', default=None, help='AiiDA profile (default: the default profile).')
def import_dpgen_command(workdir, param, group_label, profile):
    """Import the complete iterations of the DP-GEN run in WORKDIR (iter.*, record.dpgen): models, data and
    per-iteration statistics, so that `aiida-dpgen run PARAM MACHINE --continue-from GROUP` continues it."""
    import json
    import pathlib

    param_path = pathlib.Path(param or pathlib.Path(workdir) / 'param.json')
    if not param_path.is_file():
        raise click.UsageError(f"{param_path} does not exist; give the run's param.json with --param")
    _load(profile)
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
