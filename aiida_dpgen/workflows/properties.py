"""`PropertiesWorkChain`: the paper's Table 1 property tests for an ensemble of models and a reference.

Each model, and the reference potential, runs the whole property suite in its own job
(`PropertiesCalculation` through `PropertiesBaseWorkChain`), so that each relaxes every structure itself;
`compare_properties` then puts them side by side as the paper's Table 3 does, with the ensemble's mean and
spread (Table A.2). The reference is an ASE calculator (EMT) or a labeler specification, the loop's own: its
first-principles settings (pw.x's namelists, pseudopotential, k-point density) run through ASE.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain
from aiida.orm import Dict, Str, to_aiida_type

from aiida_dpgen.calculations.ase import validate_calculator
from aiida_dpgen.calculations.functions.compare_properties import compare_properties
from aiida_dpgen.data import DeepPotentialData
from aiida_dpgen.labelers.base import labeler_from_specification
from aiida_dpgen.properties.settings import validate_settings
from aiida_dpgen.workflows.base.properties import PropertiesBaseWorkChain
from aiida_dpgen.workflows.launch import launched_children, submit_once
from aiida_dpgen.workflows.protocols.utils import ProtocolMixin


def validate_reference(reference: dict, element: str, has_code: bool) -> str | None:
    """The ``reference`` namespace: a calculator or a labeler that can compute ``element``, and their codes."""
    if 'calculator' in reference and 'labeler' in reference:
        return 'reference: give a calculator or a labeler, not both'
    if 'labeler_code' in reference and 'labeler' not in reference:
        return 'reference.labeler_code: only a reference labeler runs an engine code'
    if ('calculator' in reference or 'labeler' in reference) and 'code' not in reference and not has_code:
        return 'reference.code: the reference runs in a Python with ASE; give reference.code or `code`'
    if 'labeler' in reference:
        try:
            property_reference(reference['labeler'].get_dict(), element, reference.get('labeler_code'))
        except ValueError as exception:
            return str(exception)
    return None


def validate_inputs(inputs: dict, _) -> str | None:
    models, reference = inputs.get('models', {}), inputs.get('reference', {})
    if not models and 'calculator' not in reference and 'labeler' not in reference:
        return 'models and reference: nothing to compute; give models, a reference calculator or labeler, or both'
    if models and 'code' not in inputs:
        return 'code: the models need a code (a Python with deepmd-kit and ASE, e.g. `python-deepmd@localhost`)'
    element = inputs['element'].value
    error = validate_reference(reference, element, 'code' in inputs)
    if error:
        return error
    settings = inputs['settings'].get_dict()
    try:
        validate_settings({**settings, 'element': element})
    except ValueError as exception:
        return str(exception)
    for name, model in sorted(models.items()):
        if element not in model.type_map:
            return f'models.{name}: element={element!r} is not in its type map {model.type_map}'
    return None


def property_reference(specification: dict, element: str, code: orm.AbstractCode | None):
    """The labeler of ``specification`` as the suite's ASE calculator (`Labeler.property_reference`)."""
    try:
        labeler = labeler_from_specification(specification)
    except ValueError as exception:
        raise ValueError(f'reference.{exception}') from None
    return labeler, labeler.property_reference(element, code)


class PropertiesWorkChain(ProtocolMixin, WorkChain):
    """Equation of state of six prototypes, elastic constants, vacancy and interstitial formation energies,
    surface and stacking-fault energies and phonons, for each model and for the reference, compared."""

    _protocol_file = 'properties'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('element', valid_type=Str, serializer=to_aiida_type, help='The chemical symbol, e.g. "Cu".')
        spec.input_namespace('models', valid_type=DeepPotentialData, dynamic=True, help='The ensemble, by name.')
        spec.input('code', valid_type=orm.AbstractCode, required=False, help='A Python with deepmd-kit and ASE.')
        spec.input_namespace('reference', help='The reference potential: an ASE calculator and its code.')
        spec.input(
            'reference.calculator',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            validator=validate_calculator,
            help='{"calculator": "module:Class", "kwargs": {...}}, e.g. {"calculator": "ase.calculators.emt:EMT"}',
        )
        spec.input(
            'reference.labeler',
            valid_type=Dict,
            required=False,
            serializer=to_aiida_type,
            help="Or a labeler specification (the loop's `labeler`): its engine and settings are the reference, "
            'e.g. {"engine": "quantumespresso", "protocol": "fast"}.',
        )
        spec.input(
            'reference.labeler_code',
            valid_type=orm.InstalledCode,
            required=False,
            help="The labeler's engine code (pw.x), on the computer of the reference's Python.",
        )
        spec.input('reference.code', valid_type=orm.AbstractCode, required=False, help='Its Python; default `code`.')
        spec.input('settings', valid_type=Dict, serializer=to_aiida_type, help='See the properties protocol.')
        spec.input(
            'options', valid_type=Dict, required=False, serializer=to_aiida_type, help='The jobs metadata.options.'
        )
        spec.inputs.validator = validate_inputs
        spec.outline(cls.run_suites, cls.inspect_suites, cls.compare)
        spec.output_namespace('properties', valid_type=Dict, dynamic=True, help='Per potential: the properties.')
        spec.output_namespace('curves', valid_type=orm.ArrayData, dynamic=True, help='Per potential: EOS, phonons.')
        spec.output('comparison', valid_type=Dict, required=False, help='The Table-3 rows: reference, mean, spread.')
        spec.exit_code(401, 'ERROR_SUITES_FAILED', message='The property suite failed for {failed}.')

    @classmethod
    def get_builder_from_protocol(  # noqa: PLR0917 (the shape of the other builders')
        cls, element: str, models: dict, code=None, reference: dict | None = None, protocol=None, overrides=None
    ):
        """``reference`` (optional): ``{"calculator": {"calculator": "module:Class"}, "code": python}`` or
        ``{"labeler": {"engine": ...}, "labeler_code": pw, "code": python}``."""
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.element = Str(element)
        if models:
            builder.models = dict(models)
        if code is not None:
            builder.code = code
        for key, value in (reference or {}).items():
            builder.reference[key] = Dict(value) if key in ('calculator', 'labeler') else value
        builder.settings = Dict(inputs['settings'])
        if inputs.get('options'):
            builder.options = Dict(inputs['options'])
        return builder

    def _settings(self) -> Dict:
        return Dict({**self.inputs.settings.get_dict(), 'element': self.inputs.element.value})

    def run_suites(self):
        potentials = {
            name: {'code': self.inputs.code, 'model': model}
            for name, model in sorted(self.inputs.get('models', {}).items())
        }
        options = self.inputs.options.get_dict() if 'options' in self.inputs else {}
        job_options = dict.fromkeys(potentials, options)
        reference = self.inputs.reference
        if 'calculator' in reference or 'labeler' in reference:
            potentials['reference'] = {'code': reference.get('code', self.inputs.get('code'))}
            job_options['reference'] = options
        if 'calculator' in reference:
            potentials['reference']['calculator'] = reference.calculator
        elif 'labeler' in reference:
            labeler, engine = property_reference(
                reference.labeler.get_dict(), self.inputs.element.value, reference.get('labeler_code')
            )
            potentials['reference'].update(calculator=Dict(engine.calculator), files=engine.files)
            if engine.needs_engine:
                potentials['reference']['engine_code'] = reference.labeler_code
            # the labeler's resources, queue and account fit its engine; its walltime is for one single point
            engine_options = {key: value for key, value in labeler.options.items() if key != 'max_wallclock_seconds'}
            job_options['reference'] = {**engine_options, **options}
        settings, launched, running = self._settings(), launched_children(self.node), {}
        for name, potential in potentials.items():
            inputs = {**potential, 'settings': settings, 'metadata': {'options': job_options[name]}}
            running[name] = submit_once(
                self, launched, PropertiesBaseWorkChain, properties=inputs, metadata={'call_link_label': name}
            )
        self.report(f'property suites launched for {", ".join(running)}')
        return ToContext(**{f'suites.{name}': node for name, node in running.items()})

    def inspect_suites(self):
        failed = []
        for name, node in sorted(self.ctx.suites.items()):
            if not node.is_finished_ok:
                failed.append(f'{name} ({node.process_label}<{node.pk}>, exit status {node.exit_status})')
                continue
            self.out(f'properties.{name}', node.outputs.properties)
            self.out(f'curves.{name}', node.outputs.curves)
        self.ctx.failed = failed
        if len(failed) == len(self.ctx.suites):
            return self.exit_codes.ERROR_SUITES_FAILED.format(failed=', '.join(failed))
        if failed:
            self.report(f'the property suite failed for {", ".join(failed)}; comparing the others')
        return None

    def compare(self):
        properties = {name: node.outputs.properties for name, node in self.ctx.suites.items() if node.is_finished_ok}
        self.out('comparison', compare_properties(**properties))
        if self.ctx.failed:
            return self.exit_codes.ERROR_SUITES_FAILED.format(failed=', '.join(self.ctx.failed))
        return None
