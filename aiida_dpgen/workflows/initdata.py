"""`InitDataWorkChain`: the loop's initial data and configurations (DP-GEN init_bulk and init_surf) in the graph.

For each crystal: its volume is relaxed with the labeler (single points at a few lattice scales and a
Birch-Murnaghan fit, which works with every labeler), a supercell of the relaxed cell is scaled over a range
and perturbed, and a short ab initio MD at low temperature runs from each perturbed cell with the labeler's
own MD (pw.x, CP2K, ASE); every MD step is labeled (single points of the perturbed cells without ``md``).
The labels are the initial dataset; the perturbed cells, unlabeled, the initial configurations of
exploration. Surfaces: slabs of the relaxed crystal for given Miller indices with
their two halves pulled apart, as configurations for NVT exploration.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_
from aiida.orm import Dict, List, to_aiida_type

from aiida_dpgen.calculations.functions.build_initial_structures import (
    bulk_configurations,
    exploration_configurations,
    relax_volume,
    scaled_cells,
    surface_configurations,
)
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData
from aiida_dpgen.initdata.structures import perturbed, scale_factors, separated_slabs, supercell
from aiida_dpgen.labelers.base import labeler_from_specification
from aiida_dpgen.workflows.label import LabelWorkChain
from aiida_dpgen.workflows.launch import launched_children, submit_once
from aiida_dpgen.workflows.protocols.utils import ProtocolMixin

BULK_KEYS = {
    'supercell': 'repeats of the relaxed cell, e.g. [2, 2, 2]',
    'min_width': 'Å: refuse supercells narrower than this (e.g. the model cutoff), optional',
    'scale': '{"start": 0.84, "stop": 1.0, "step": 0.02}: lattice scale factors of the supercell',
    'perturbations': 'perturbed copies of each scaled supercell',
    'cell_fraction': 'largest cell strain of a perturbation, e.g. 0.03',
    'atom_distance': 'Å, typical displacement of an atom, e.g. 0.01',
    'seed': 'seed of the perturbations',
    'relax_scales': 'lattice scales of the unit cell labeled to find its relaxed volume (5 or more), or [] to skip',
    'md': '{"temperature": 50, "nsteps": 20, "timestep": 2.0} (K, steps, fs): a short ab initio MD from each '
    'perturbed supercell, every step labeled; optional, nsteps 0 or no md labels single points',
}
OPTIONAL_BULK_KEYS = {'min_width', 'md'}
SURFACE_KEYS = {
    'miller': 'Miller indices of the slabs, e.g. [[1, 0, 0], [1, 1, 1]]',
    'layers': 'atomic layers of a slab',
    'repeat': 'in-plane repeats of a slab, e.g. [2, 2]',
    'separations': '{"start": 0.5, "stop": 9.0, "step": 0.5}: Å between the two halves',
}


def validate_bulk(settings: dict) -> None:
    """Everything the structures need, tried on a tiny cell before anything is labeled."""
    unknown = sorted(set(settings) - set(BULK_KEYS))
    if unknown:
        raise ValueError(f'bulk: unknown keys {unknown}; valid keys: {", ".join(BULK_KEYS)}')
    missing = sorted(set(BULK_KEYS) - OPTIONAL_BULK_KEYS - set(settings))
    if missing:
        raise ValueError(f'bulk: missing keys {missing}; ' + '; '.join(f'{key}: {BULK_KEYS[key]}' for key in missing))
    scale = settings['scale']
    if not isinstance(scale, dict) or set(scale) != {'start', 'stop', 'step'}:
        raise ValueError(f'bulk.scale={scale!r}: expected {BULK_KEYS["scale"]}')
    try:
        scale_factors(**scale)
    except ValueError as exception:
        raise ValueError(f'bulk.{exception}') from None
    relax = settings['relax_scales']
    if relax and (len(relax) < 5 or any(not (isinstance(x, int | float) and x > 0) for x in relax)):
        raise ValueError(f'bulk.relax_scales={relax!r}: expected 5 or more positive scales around 1, or [] to skip')


def md_settings(bulk: dict) -> dict | None:
    """The bulk labels' MD, or ``None`` for single points."""
    md = bulk.get('md')
    return md if md and md.get('nsteps') != 0 else None


def labeler_with_md(specification: dict, md: dict | None) -> dict:
    """The labeler specification for single points (``md`` None) or for a short MD per structure."""
    specification = {key: value for key, value in specification.items() if key != 'md'}
    return {**specification, 'md': md} if md else specification


def validate_inputs(inputs: dict, _) -> str | None:
    structures = inputs.get('structures', {})
    if not structures:
        return 'structures: none given; pass the unit cells (e.g. fcc, hcp, bcc) by name'
    type_map = inputs['type_map'].get_list()
    for name, structure in sorted(structures.items()):
        elements = sorted({kind.symbol for kind in structure.kinds})
        outside = sorted(set(elements) - set(type_map))
        if outside:
            return f'structures.{name}: elements {outside} are not in type_map {type_map}'
    try:
        bulk = inputs['bulk'].get_dict()
        validate_bulk(bulk)
        for name, structure in sorted(structures.items()):
            atoms = structure.get_ase()
            try:
                supercell(atoms, bulk['supercell'], bulk.get('min_width'))
            except ValueError as exception:
                raise ValueError(f'structures.{name}: bulk.{exception}') from None
            perturbed(atoms, 1, cell_fraction=bulk['cell_fraction'], atom_distance=bulk['atom_distance'], seed=0)
        if 'surfaces' in inputs:
            validate_surfaces(inputs['surfaces'].get_dict(), structures)
        labeler = labeler_from_specification(inputs['label']['labeler'].get_dict())
        labeler.check_elements(type_map)
        md = md_settings(bulk)
        if md:
            try:
                labeler_from_specification(labeler_with_md(inputs['label']['labeler'].get_dict(), md))
            except ValueError as exception:
                raise ValueError(
                    f'bulk.md={bulk["md"]}: {exception}; or set bulk.md.nsteps to 0 to label single points of the '
                    'perturbed cells'
                ) from None
    except ValueError as exception:
        return str(exception)
    return None


def validate_surfaces(settings: dict, structures: dict) -> None:
    unknown = sorted(set(settings) - set(SURFACE_KEYS))
    if unknown:
        raise ValueError(f'surfaces: unknown keys {unknown}; valid keys: {", ".join(SURFACE_KEYS)}')
    for key in ('miller', 'layers', 'separations'):
        if key not in settings:
            raise ValueError(f'surfaces.{key}: missing; {SURFACE_KEYS[key]}')
    separation = settings['separations']
    if not isinstance(separation, dict) or set(separation) != {'start', 'stop', 'step'}:
        raise ValueError(f'surfaces.separations={separation!r}: expected {SURFACE_KEYS["separations"]}')
    if not (separation['start'] >= 0 and separation['stop'] >= separation['start'] and separation['step'] > 0):
        raise ValueError(f'surfaces.separations={separation}: expected 0 <= start <= stop and step > 0 (Å)')
    for name, structure in structures.items():
        for miller in settings['miller']:
            try:
                separated_slabs(structure.get_ase(), miller, settings['layers'], [separation['start']])
            except ValueError as exception:
                raise ValueError(f'surfaces (structures.{name}): {exception}') from None


class InitDataWorkChain(ProtocolMixin, WorkChain):
    """DP-GEN's init_bulk (and init_surf) with any labeler: relaxed volume, scaled and perturbed supercells,
    their labels as the initial ``dataset``, and ``configurations`` (and ``surfaces``) for exploration."""

    _protocol_file = 'initdata'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace('structures', valid_type=orm.StructureData, dynamic=True, help='Unit cells by name.')
        spec.input('type_map', valid_type=List, serializer=to_aiida_type, help='Elements, in the models order.')
        spec.input('bulk', valid_type=Dict, serializer=to_aiida_type, help=f'Bulk settings: {BULK_KEYS}.')
        spec.input(
            'surfaces', valid_type=Dict, required=False, serializer=to_aiida_type, help=f'Slabs: {SURFACE_KEYS}.'
        )
        spec.expose_inputs(LabelWorkChain, namespace='label', exclude=('candidates',))
        spec.inputs['label'].validator = None
        spec.inputs.validator = validate_inputs
        spec.outline(
            if_(cls.should_relax)(cls.run_relax_labels, cls.inspect_relax_labels),
            cls.build_configurations,
            cls.run_labels,
            cls.inspect_labels,
            cls.results,
        )
        spec.output('dataset', valid_type=LabeledDatasetData, help='The labeled perturbed supercells: initial data.')
        spec.output_namespace(
            'configurations',
            valid_type=ConfigurationsData,
            dynamic=True,
            help='The perturbed supercells of the scale nearest 1, to explore from (the paper: alpha 1.00), by name.',
        )
        spec.output_namespace(
            'perturbed',
            valid_type=ConfigurationsData,
            dynamic=True,
            help='Every perturbed supercell (labeled), by name.',
        )
        spec.output_namespace(
            'surfaces', valid_type=ConfigurationsData, dynamic=True, required=False, help='Separated slabs, by name.'
        )
        spec.output_namespace(
            'relaxed', valid_type=orm.Data, dynamic=True, required=False, help='Relaxed cell and fit, by name.'
        )
        spec.exit_code(401, 'ERROR_RELAX_LABELS_FAILED', message='Labeling the scaled cells failed: {process}.')
        spec.exit_code(402, 'ERROR_LABELS_FAILED', message='Labeling the perturbed supercells failed: {process}.')

    @classmethod
    def get_builder_from_protocol(  # noqa: PLR0917 (the shape of the other builders')
        cls, code, structures: dict, type_map, labeler: dict, protocol=None, overrides=None
    ):
        """Bulk (and, when the protocol or ``overrides`` have them, surface) settings from the named protocol."""
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.structures = dict(structures)
        builder.type_map = List(list(type_map))
        builder.bulk = Dict(inputs['bulk'])
        if inputs.get('surfaces'):
            builder.surfaces = Dict(inputs['surfaces'])
        builder.label.code = code
        builder.label.labeler = Dict({'protocol': protocol or cls.get_default_protocol(), **labeler})
        return builder

    def _bulk(self) -> dict:
        return self.inputs.bulk.get_dict()

    def should_relax(self):
        return bool(self._bulk()['relax_scales'])

    def _label(self, candidates: dict, link: str, md: dict | None = None):
        inputs = self.exposed_inputs(LabelWorkChain, 'label')
        inputs['candidates'] = candidates
        specification = labeler_with_md(inputs['labeler'].get_dict(), md)
        if specification != inputs['labeler'].get_dict():
            inputs['labeler'] = Dict(specification)
        inputs['metadata'] = {'call_link_label': link}
        return submit_once(self, launched_children(self.node), LabelWorkChain, **inputs)

    def run_relax_labels(self):
        scales = List(self._bulk()['relax_scales'])
        running = {}
        for name, structure in sorted(self.inputs.structures.items()):
            cells = scaled_cells(structure, scales, self.inputs.type_map)
            running[f'relax_{name}'] = self._label({name: cells}, f'relax_{name}')
        self.report(f'relaxing the volume of {", ".join(sorted(self.inputs.structures))}')
        return ToContext(**running)

    def inspect_relax_labels(self):
        self.ctx.relaxed = {}
        for name, structure in sorted(self.inputs.structures.items()):
            node = self.ctx[f'relax_{name}']
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_RELAX_LABELS_FAILED.format(process=f'{node.process_label}<{node.pk}>')
            outputs = relax_volume(structure, node.outputs.dataset)
            self.ctx.relaxed[name] = outputs
            fit = outputs['equation_of_state'].get_dict()
            self.report(
                f'{name}: relaxed at {fit["volume_per_atom"]:.3f} Å³/atom (scale {fit["lattice_scale"]:.4f}), '
                f'B = {fit["bulk_modulus_gpa"]:.0f} GPa'
            )
        return None

    def _structure(self, name: str) -> orm.StructureData:
        relaxed = self.ctx.get('relaxed', {})
        return relaxed[name]['structure'] if name in relaxed else self.inputs.structures[name]

    def build_configurations(self):
        self.ctx.configurations = {
            name: bulk_configurations(self._structure(name), self.inputs.bulk, self.inputs.type_map)
            for name in sorted(self.inputs.structures)
        }
        if 'surfaces' in self.inputs:
            self.ctx.surfaces = {
                name: surface_configurations(self._structure(name), self.inputs.surfaces, self.inputs.type_map)
                for name in sorted(self.inputs.structures)
            }

    def run_labels(self):
        count = sum(node.nframes for node in self.ctx.configurations.values())
        md = md_settings(self._bulk())
        node = self._label(dict(self.ctx.configurations), 'label_bulk', md)
        how = f'{md["nsteps"]} MD steps at {md["temperature"]} K from each of' if md else 'single points of'
        self.report(f'labeling {how} {count} perturbed supercells, LabelWorkChain<{node.pk}>')
        return ToContext(labels=node)

    def inspect_labels(self):
        node = self.ctx.labels
        if 'dataset' not in node.outputs:
            return self.exit_codes.ERROR_LABELS_FAILED.format(process=f'{node.process_label}<{node.pk}>')
        if not node.is_finished_ok:
            self.report(f'some labels failed ({node.exit_message}); the {node.outputs.dataset.nframes} others are kept')
        return None

    def results(self):
        self.out('dataset', self.ctx.labels.outputs.dataset)
        self.out('perturbed', self.ctx.configurations)
        self.out(
            'configurations',
            {
                name: exploration_configurations(perturbed, self.inputs.bulk)
                for name, perturbed in self.ctx.configurations.items()
            },
        )
        if 'surfaces' in self.ctx:
            self.out('surfaces', self.ctx.surfaces)
        for name, outputs in self.ctx.get('relaxed', {}).items():
            self.out(f'relaxed.{name}_structure', outputs['structure'])
            self.out(f'relaxed.{name}_equation_of_state', outputs['equation_of_state'])
