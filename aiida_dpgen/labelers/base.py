"""The labeler interface: how the loop asks any first-principles engine for energy, forces and virial.

Modelled on aiida-common-workflows' common relax interface: each labeler names the engine's own workchain
as ``_process_class`` (so the engine plugin's protocols and error handlers do the work), builds its inputs
from a protocol, and converts what that workchain returns into a :class:`~aiida_dpgen.labeling.frames.Label`
in eV and Å. Labelers are found through the ``aiida_dpgen.labelers`` entry-point group, so that a new engine
plugs in without touching the loop.
"""

from __future__ import annotations

import abc
import dataclasses
import pathlib
import tempfile
from typing import ClassVar

import numpy as np
from aiida import orm
from aiida.engine import ProcessBuilder
from aiida.plugins.entry_point import get_entry_point_names, load_entry_point

from aiida_dpgen.exploration.geometry import REASONS as GEOMETRY_REASONS
from aiida_dpgen.labeling.frames import MD_KEYS, Label
from aiida_dpgen.workflows.protocols.utils import ProtocolMixin

ENTRY_POINT_GROUP = 'aiida_dpgen.labelers'
COMMON_KEYS = {'engine', 'protocol', 'overrides', 'options', 'max_iterations', 'md'}
SCF_UNCONVERGED = 'scf_unconverged'
PHYSICS_REASONS = frozenset({SCF_UNCONVERGED, *GEOMETRY_REASONS})
"""Reasons a frame gave no label that come from the frame itself; any other reason (a program that did not
start, an engine error) is a problem of the settings or the computer."""
PROGRAM_DID_NOT_START = 'program did not start'
SCHEDULER_STDERR = '_scheduler-stderr.txt'


@dataclasses.dataclass(frozen=True)
class PropertyReference:
    """A labeler's settings as the ASE calculator the property suite runs (`PropertiesCalculation`):
    ``calculator`` is its specification (``{"calculator": "module:Class", "kwargs": ..., "profile": ...}``),
    ``files`` the files it reads in the job's folder (pseudopotentials), and ``needs_engine`` whether the
    engine's own code (pw.x) must be given to run it."""

    calculator: dict
    files: dict[str, orm.SinglefileData] = dataclasses.field(default_factory=dict)
    needs_engine: bool = False


def available_labelers() -> list[str]:
    return sorted(get_entry_point_names(ENTRY_POINT_GROUP))


def load_labeler(engine: str) -> type[Labeler]:
    """The labeler class registered as ``engine``; a clear error listing the registered ones otherwise."""
    if engine not in available_labelers():
        raise ValueError(
            f'labeler.engine={engine!r} is not a registered labeler; choose one of {available_labelers()} '
            f'(entry-point group {ENTRY_POINT_GROUP!r})'
        )
    return load_entry_point(ENTRY_POINT_GROUP, engine)


def labeler_from_specification(specification: dict) -> Labeler:
    """Validate a ``labeler`` specification (``engine``, ``protocol``, engine keys) and build its labeler."""
    if 'engine' not in specification:
        raise ValueError(f'labeler: missing key "engine"; choose one of {available_labelers()}')
    return load_labeler(specification['engine'])(specification)


def one_thread_per_process(options: dict) -> dict:
    """``options`` with ``OMP_NUM_THREADS=1`` in the job's environment unless they set it. An OpenMP build (CP2K's
    psmp, a pw.x built with OpenMP) starts one thread per core in every MPI process when it is not told, so one
    process per core oversubscribes the node: a 2-rank CP2K job on 4 Cu atoms took 171 s on 2 cores, 19 s with
    one thread per rank. Hybrid runs ask for their threads with ``OMP_NUM_THREADS`` (``threads_per_mpiproc`` in
    per-step resources)."""
    environment = {'OMP_NUM_THREADS': '1', **(options.get('environment_variables') or {})}
    return {**options, 'environment_variables': environment}


class Labeler(ProtocolMixin, abc.ABC):
    """A first-principles engine that labels one structure per calculation.

    A specification is a plain dict: ``engine`` (the entry-point name), ``protocol`` (``fast``, ``balanced``
    or ``stringent``), ``overrides`` (merged into the protocol's engine inputs), ``options`` (the CalcJob's
    ``metadata.options``: resources, walltime, queue), ``max_iterations`` of the engine's restart workchain,
    and the keys each engine adds in ``engine_keys``.
    """

    _process_class: ClassVar[type]
    engine_keys: ClassVar[dict[str, str]] = {}
    """Keys this engine adds to the specification, with what they mean (shown in error messages)."""

    _protocol_file: ClassVar[str]
    """``workflows/protocols/<name>.yaml``: the engine settings of ``fast``, ``balanced`` and ``stringent``."""

    supports_md: ClassVar[bool] = False
    """Whether ``md`` in the specification is run (a short ab initio MD per structure, every step a label)."""

    scf_unconverged_exit_codes: ClassVar[tuple[str, ...]] = ()
    """The names of the engine calculation's exit codes that mean its SCF did not converge: such a frame is
    excluded as ``scf_unconverged``, never added to the data."""

    supports_packing: ClassVar[bool] = False
    """Whether several single points can run in one job (``LabelWorkChain``'s ``group_size``):
    :meth:`packed_builder` and :meth:`packed_label_nodes` are implemented."""

    def __init__(self, specification: dict):
        unknown = sorted(set(specification) - COMMON_KEYS - set(self.engine_keys))
        if unknown:
            allowed = sorted(COMMON_KEYS | set(self.engine_keys))
            engine = specification.get('engine')
            raise ValueError(f'labeler: unknown key(s) {unknown} for engine {engine!r}; allowed keys: {allowed}')
        protocol = specification.get('protocol', 'fast')
        if protocol not in self.get_available_protocols():
            raise ValueError(f'labeler.protocol={protocol!r}: expected one of {list(self.get_available_protocols())}')
        for key in ('overrides', 'options'):
            if not isinstance(specification.get(key, {}), dict):
                raise ValueError(f'labeler.{key}={specification[key]!r}: expected a dictionary')
        max_iterations = specification.get('max_iterations', 3)
        if not isinstance(max_iterations, int) or max_iterations < 1:
            raise ValueError(f'labeler.max_iterations={max_iterations!r}: expected a positive integer')
        self.md = self._md(specification)
        self.specification = dict(specification)
        self.protocol_name = protocol
        self.max_iterations = max_iterations
        self.overrides = dict(specification.get('overrides', {}))
        self.options = dict(specification.get('options', {}))

    def _md(self, specification: dict) -> dict | None:
        md = specification.get('md')
        if md is None:
            return None
        engine = specification.get('engine')
        if not self.supports_md:
            supported = sorted(name for name in available_labelers() if load_labeler(name).supports_md)
            raise ValueError(
                f'labeler.md: the {engine!r} labeler runs no MD; labelers with MD: {supported}. Leave md out to label '
                'single points'
            )
        expected = '; '.join(f'{key}: {meaning}' for key, meaning in MD_KEYS.items())
        if not isinstance(md, dict) or set(md) != set(MD_KEYS):
            raise ValueError(f'labeler.md={md!r}: expected the keys {expected}')
        if not (isinstance(md['nsteps'], int) and md['nsteps'] >= 1):
            raise ValueError(f'labeler.md.nsteps={md["nsteps"]!r}: expected a positive integer')
        if not (isinstance(md['temperature'], int | float) and md['temperature'] >= 0):
            raise ValueError(f'labeler.md.temperature={md["temperature"]!r}: expected a temperature >= 0 K')
        if not (isinstance(md['timestep'], int | float) and 0 < md['timestep'] <= 10):
            raise ValueError(f'labeler.md.timestep={md["timestep"]!r}: expected a time step in fs, 0 < timestep <= 10')
        return dict(md)

    @property
    def engine(self) -> str:
        return self.specification.get('engine', type(self).__name__)

    def protocol(self) -> dict:
        """The protocol file's defaults updated by the named protocol's settings (each engine merges the
        specification's ``overrides`` into the inputs it gives its workchain)."""
        return self.get_protocol_inputs(self.protocol_name)

    @abc.abstractmethod
    def check_elements(self, elements: list[str]) -> None:
        """Raise a ``ValueError`` naming each element this labeler cannot compute (no pseudopotential, basis
        set or parameters) and how to provide it; called before anything is submitted."""

    @abc.abstractmethod
    def get_builder(self, structure: orm.StructureData, code: orm.AbstractCode) -> ProcessBuilder:
        """The builder of ``_process_class`` for a single point (energy, forces, stress) of ``structure``, or
        with ``md`` set, for a short MD from ``structure`` that labels every step."""

    def label_nodes(self, node: orm.ProcessNode) -> dict[str, orm.Data]:
        """The output nodes of a finished ``_process_class`` run that hold the labels (inputs of the
        calcfunction that builds the dataset, so each frame links to its calculation): its ``retrieved``
        folder, read by :meth:`convert_outputs`, unless the engine's parser gives richer nodes."""
        return {'retrieved': node.outputs.retrieved}

    @classmethod
    @abc.abstractmethod
    def convert_outputs(cls, structure: orm.StructureData, **nodes: orm.Data) -> Label:
        """The label of ``structure`` from ``label_nodes``' nodes, in eV, Å, eV/Å and eV (virial)."""

    @classmethod
    def convert_md_outputs(cls, structure: orm.StructureData, **nodes: orm.Data) -> list[Label]:
        """The labels of every step of an MD run from ``structure`` (``supports_md`` labelers), in step order."""
        raise NotImplementedError(f'{cls.__name__} runs no MD')

    def restart_builder(self, namespace: str, structure: orm.StructureData, code: orm.AbstractCode, parameters: dict):
        """The builder of a ``_process_class`` whose calculation (in ``namespace``) takes a code, a structure and
        one parameters dictionary, with this labeler's restart limit and job options."""
        builder = self._process_class.get_builder()
        builder.max_iterations = orm.Int(self.max_iterations)
        calculation = builder[namespace]
        calculation.code = code
        calculation.structure = structure
        calculation.parameters = orm.Dict(parameters)
        calculation.metadata.options = self.job_options()
        return builder

    def job_options(self) -> dict:
        """The CalcJob's ``metadata.options``: one process of one thread for an hour unless the specification's
        ``options`` say otherwise."""
        defaults = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'max_wallclock_seconds': 3600}
        return one_thread_per_process({**defaults, **self.options})

    def packed_builder(
        self, structures: dict[str, orm.StructureData], code: orm.AbstractCode, type_map: list[str] | None = None
    ) -> ProcessBuilder:
        """The builder of one job that runs the single points of ``structures`` (keyed by task name) one after
        another, with each structure's inputs as :meth:`get_builder` gives them. Its outputs hold a
        ``task_status`` Dict: ``"ok"`` or why a task gave no label. ``type_map``: the run's, for a labeler whose
        packed job gives its labels as one dataset (:meth:`packed_dataset`)."""
        raise NotImplementedError(f'{type(self).__name__} runs one structure per job')

    def validate_packing(self, group_size: int, where: str = '') -> str | None:
        """Why ``group_size`` single points cannot share a job with this labeler, or ``None`` when they can
        (``group_size`` 1 always can); asked by the loop and ``LabelWorkChain`` before any job is submitted."""
        if group_size <= 1:
            return None
        if not self.supports_packing:
            packing = sorted(name for name in available_labelers() if load_labeler(name).supports_packing)
            return (
                f'{where}group_size={group_size}: the {self.engine!r} labeler runs one structure per job; '
                f'labelers that pack single points: {packing}. Set group_size to 1'
            )
        if self.md:
            return f'{where}group_size={group_size}: labeler.md runs one MD per job; set group_size to 1'
        refusal = self.packing_refusal()
        return f'{where}group_size={group_size}: {refusal}' if refusal else None

    def packing_refusal(self) -> str | None:
        """Why this specification's settings cannot run in a packed job, or ``None`` when they can (asked before
        any job is submitted; only for ``supports_packing`` labelers)."""
        return None

    def packed_label_nodes(self, node: orm.CalcJobNode, task: str) -> dict[str, orm.Data]:
        """:meth:`label_nodes` of one task of a packed job (same names, so :meth:`convert_outputs` reads both)."""
        raise NotImplementedError(f'{type(self).__name__} runs one structure per job')

    def packed_dataset(self, node: orm.CalcJobNode) -> orm.Data | None:
        """The labels of a packed job as one `LabeledDatasetData` it created, for labelers whose packed jobs give
        one (then :meth:`packed_label_nodes` is not asked); ``None`` otherwise."""
        return None

    def packed_wall_seconds(self, node: orm.CalcJobNode, tasks: list[str]) -> list[float | None]:
        """The engine's own wall time of each of ``tasks`` of a packed job, ``None`` where it reports none."""
        return [None] * len(tasks)

    @property
    def cleans_workdir(self) -> bool:
        """Whether the engine's remote folders are emptied once their outputs are parsed (packed jobs too)."""
        return False

    def property_reference(self, element: str, code: orm.AbstractCode | None = None) -> PropertyReference:
        """This labeler's settings (cutoffs, smearing, k-point density, pseudopotentials) as an ASE calculator,
        so that the property suite relaxes and strains structures of ``element`` with the same first-principles
        settings as the labels; ``code`` is the engine's code."""
        capable = sorted(name for name in available_labelers() if 'property_reference' in vars(load_labeler(name)))
        raise ValueError(
            f'reference.labeler.engine={self.engine!r} cannot be a property reference yet; labelers that can: '
            f'{capable}, or give reference.calculator (an ASE calculator)'
        )

    def rejection_reason(self, node: orm.ProcessNode) -> str | None:
        """Why a run that finished without error must still not become a label (e.g. an engine that carries on
        after an SCF that did not converge); ``None`` to accept it."""
        return None

    def failure_reason(self, node: orm.ProcessNode) -> str:
        """Why a labeling run gave no label: ``scf_unconverged`` when the engine's SCF did not converge (the
        frame is excluded, never added); ``program did not start: <first line of the scheduler's stderr>`` when
        the engine wrote no output (a launcher that refused to run, a missing library); otherwise the exit status
        and message."""
        if self.scf_unconverged(node):
            return SCF_UNCONVERGED
        calculation = last_calculation(node)
        if calculation is not None and not calculation.is_finished_ok and not wrote_output(calculation):
            stderr = first_line(calculation, SCHEDULER_STDERR)
            if stderr:
                return f'{PROGRAM_DID_NOT_START}: {stderr}'
        return f'exit status {node.exit_status}: {node.exit_message or node.process_state.value}'

    def scf_unconverged(self, node: orm.ProcessNode) -> bool:
        """Whether the last calculation of ``node`` stopped with one of :attr:`scf_unconverged_exit_codes`."""
        calculation = last_calculation(node)
        if calculation is None or calculation.exit_status is None:
            return False
        codes = calculation.process_class.exit_codes
        return calculation.exit_status in {codes[name].status for name in self.scf_unconverged_exit_codes}

    def wall_seconds(self, calculation: orm.CalcJobNode) -> float | None:
        """The engine's own wall time of one calculation, when it reports one."""
        return None


def structure_arrays(structure: orm.StructureData) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Element symbols (not kind names), cell and positions of ``structure``, in site order."""
    symbols = tuple(structure.get_kind(site.kind_name).symbol for site in structure.sites)
    return symbols, np.array(structure.cell, dtype=float), np.array([site.position for site in structure.sites])


def read_labeled_system(retrieved: orm.FolderData, name: str, fmt: str):
    """The ``dpdata.LabeledSystem`` that dpdata's ``fmt`` reader makes of the retrieved file ``name`` (dpdata
    reads paths, so the file is written to a scratch folder first)."""
    import dpdata

    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch) / name
        path.write_text(retrieved.base.repository.get_object_content(name, mode='r'))
        return dpdata.LabeledSystem(str(path), fmt=fmt)


def retrieved_text(calculation: orm.CalcJobNode, name: str) -> str | None:
    """The text of a file the calculation retrieved, ``None`` where it retrieved nothing or not that file."""
    if 'retrieved' not in calculation.outputs:
        return None
    try:
        return calculation.outputs.retrieved.base.repository.get_object_content(name, mode='r')
    except OSError:  # FileNotFoundError included
        return None


def wrote_output(calculation: orm.CalcJobNode) -> bool:
    """Whether the engine wrote anything to its output file (the CalcJob's ``output_filename`` option); a
    calculation without that option counts as having written."""
    name = calculation.get_option('output_filename')
    return name is None or bool((retrieved_text(calculation, name) or '').strip())


def first_line(calculation: orm.CalcJobNode, name: str) -> str | None:
    """The first line of a retrieved file that has a letter or a digit (Open MPI frames its messages with rows
    of dashes), ``None`` where there is none."""
    text = retrieved_text(calculation, name) or ''
    return next((line.strip() for line in text.splitlines() if any(char.isalnum() for char in line)), None)


def last_calculation(node: orm.ProcessNode) -> orm.CalcJobNode | None:
    calculations = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    return max(calculations, key=lambda child: child.ctime) if calculations else None
