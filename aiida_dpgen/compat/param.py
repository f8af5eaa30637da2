"""DP-GEN's run parameters (``param.json``) as the inputs of a :class:`~aiida_dpgen.workflows.dpgen.DpgenWorkChain`.

:func:`translate_param` is plain Python: it reads the JSON, resolves paths and glob patterns as DP-GEN does,
and returns a :class:`DpgenParam` with the loop's schedule, selection, training parameters and labeler
specification, plus notes (what has no effect here, and why) and warnings (unknown keys). Nothing is stored;
:mod:`aiida_dpgen.compat.build` turns it into nodes and a builder.
"""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import re
from collections.abc import Mapping

from aiida_dpgen.compat.arguments import (
    FP_STYLES,
    JOB_NOT_SUPPORTED,
    JOB_ONLY_DEFAULT,
    DpgenInputError,
    check_types,
    classify_keys,
    is_comment,
    model_devi_job_arguments,
    param_arguments,
)
from aiida_dpgen.compat.trust import selection_settings
from aiida_dpgen.compat.workdir import configuration_files, initial_data_paths
from aiida_dpgen.exploration.schedule import from_model_devi_jobs
from aiida_dpgen.labelers.base import labeler_from_specification
from aiida_dpgen.labeling.cp2k_input import parse_cp2k_input
from aiida_dpgen.loop.schedule import LoopPlan
from aiida_dpgen.training.ensemble import ensemble_size_error
from aiida_dpgen.training.inputs import validate_parameters

LABELER_ENGINE = {'vasp': 'vasp', 'pwscf': 'quantumespresso', 'cp2k': 'cp2k', 'gaussian': 'gaussian'}


@dataclasses.dataclass
class DpgenParam:
    """A translated ``param.json``: everything a DpgenWorkChain needs, as plain values and file paths."""

    type_map: list[str]
    init_data: dict[str, list[pathlib.Path]]
    """dataset name (``init_000``, ...) -> the deepmd/npy system folders of that init_data_sys entry"""
    configurations: dict[str, list[pathlib.Path]]
    """system name (``sys_000`` for sys_configs[0], ...) -> configuration files, in DP-GEN's order"""
    sys_format: str
    numb_models: int
    training_parameters: dict
    compress: bool
    train_reuse: dict | None
    schedule: list[dict]
    selection: dict
    labeler: dict
    labeler_files: dict[str, pathlib.Path]
    """element -> pseudopotential (UPF or POTCAR) file the labeler needs installed"""
    backend: str = 'tf'
    pretrained_model: pathlib.Path | None = None
    """training_finetune_model: the model every member of the first ensemble fine-tunes from"""
    finetune_policy: str = 'first'
    max_excluded_ratio: float | None = None
    screens: dict | None = None
    """fp_skip_bad_box as the labeling step's geometry screens (``label.screens``)"""
    notes: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)


def system_name(index: int) -> str:
    """The name of ``sys_configs[index]``, as DP-GEN numbers its tasks (``task.000.*``)."""
    return f'sys_{index:03d}'


def translate_param(jdata: Mapping, base_directory: str | pathlib.Path = '.') -> DpgenParam:
    """Validate and translate a DP-GEN ``param.json`` whose relative paths are relative to ``base_directory``."""
    base = pathlib.Path(base_directory)
    if not isinstance(jdata, Mapping):
        raise DpgenInputError(f'param.json: expected a JSON object, got {type(jdata).__name__}')
    fp_style = jdata.get('fp_style')
    if fp_style not in FP_STYLES:
        raise DpgenInputError(
            f'not supported: param.json fp_style={fp_style!r}; aiida-dpgen labels with {", ".join(FP_STYLES)} '
            '(or its own labelers, e.g. ase, through the Python API)'
        )
    arguments = param_arguments(fp_style)
    data, notes, warnings = classify_keys(jdata, arguments, 'param.json ')
    check_types(data, arguments, 'param.json')

    type_map = list(data['type_map'])
    names = [system_name(index) for index in range(len(data['sys_configs']))]
    relative = _relative_levels(data, notes)
    masses = _masses(data.get('mass_map', 'auto'), type_map)
    stages = _schedule(data, names, base, relative=relative, masses=masses, notes=notes, warnings=warnings)
    reuse = _train_reuse(data, notes)
    _only_auto(data, ('init_batch_size', 'sys_batch_size'))
    labeler, files, engine_notes = LABELER_TRANSLATORS[fp_style](data, type_map, base)
    parameters = training_parameters(data['default_training_param'], notes)
    backend = _backend(data)
    pretrained, policy = _finetuning(data, base, reuse, notes)
    _loop_checks(data['numb_models'], parameters, stages, names, labeler)
    return DpgenParam(
        type_map=type_map,
        init_data=_paths(initial_data_paths, base, data),
        configurations=dict(zip(names, _paths(configuration_files, base, data), strict=True)),
        sys_format=data.get('sys_format', 'vasp/poscar'),
        numb_models=data['numb_models'],
        training_parameters=parameters,
        compress=data.get('dp_compress', False),
        train_reuse=reuse,
        backend=backend,
        pretrained_model=pretrained,
        finetune_policy=policy,
        schedule=stages,
        selection=selection_settings(data, names),
        labeler=labeler,
        labeler_files=files,
        max_excluded_ratio=data.get('ratio_failed'),
        screens=bad_box_screens(data.get('fp_skip_bad_box')),
        notes=notes + engine_notes,
        warnings=warnings,
    )


def bad_box_screens(criteria: str | None) -> dict | None:
    """DP-GEN's ``fp_skip_bad_box`` (``"length_ratio:5;height_ratio:5"``) as geometry screens; ``None`` without it."""
    if not criteria:
        return None
    from aiida_dpgen.exploration.geometry import BAD_BOX_RATIOS, GeometryScreens

    limits = {}
    for item in str(criteria).split(';'):
        name, _, value = item.partition(':')
        try:
            limits[name.strip()] = float(value)
        except ValueError:
            raise DpgenInputError(
                f'param.json fp_skip_bad_box={criteria!r}: {item!r} is not "name:limit"; the names are '
                f'{", ".join(BAD_BOX_RATIOS)}, e.g. "length_ratio:5;height_ratio:5"'
            ) from None
    try:
        GeometryScreens.from_dict({'bad_box': limits})
    except ValueError as exception:
        raise DpgenInputError(f'param.json fp_skip_bad_box={criteria!r}: {exception}') from None
    return {'bad_box': limits}


def _loop_checks(numb_models: int, parameters: dict, stages: list[dict], names: list[str], labeler: dict) -> None:
    """What the loop itself would refuse before its first job, refused here (and so by ``--dry-run``) in
    param.json's words: the ensemble size, the training input, the schedule and the labeler settings. The checks
    that need the profile (codes, pseudopotential families) come when the run is built."""
    errors = {
        'numb_models': ensemble_size_error(numb_models),
        'default_training_param': validate_parameters(parameters),
    }
    for key, error in errors.items():
        if error:
            raise DpgenInputError(f'param.json {key}: {error}')
    try:
        LoopPlan(stages, None, names)
    except ValueError as exception:
        raise DpgenInputError(f'param.json model_devi_jobs: {exception}') from None
    try:
        labeler_from_specification(labeler)
    except ValueError as exception:
        raise DpgenInputError(f'param.json fp_*: {exception}') from None


def _path(base: pathlib.Path, prefix: str | None, name: str) -> pathlib.Path:
    return base / (prefix or '') / name


def _paths(finder, base: pathlib.Path, data: Mapping):
    """The initial data or configuration files as DP-GEN finds them (the same rules as the working-directory
    import), errors in param.json's words."""
    try:
        return finder(base, data)
    except ValueError as exception:
        raise DpgenInputError(str(exception).replace('param.', 'param.json ', 1)) from None


def _masses(mass_map, type_map: list[str]) -> list[float] | None:
    if mass_map == 'auto':
        return None
    if not isinstance(mass_map, list) or len(mass_map) != len(type_map):
        raise DpgenInputError(
            f'param.json mass_map={mass_map!r}: expected "auto" or one mass (amu) per type_map entry {type_map}'
        )
    return [float(mass) for mass in mass_map]


def _relative_levels(data: Mapping, notes: list[str]) -> dict:
    levels = {}
    for flag, level, key in (('use_relative', 'epsilon', 'relative_f'), ('use_relative_v', 'epsilon_v', 'relative_v')):
        if data.get(flag):
            if level not in data:
                raise DpgenInputError(f'param.json {flag}=true needs {level}: the level of the relative deviation')
            levels[key] = data[level]
        elif level in data:
            notes.append(f'param.json {level} has no effect without {flag}=true (as in DP-GEN)')
    return levels


def _schedule(data, names, base, *, relative, masses, notes, warnings) -> list[dict]:
    jobs = []
    job_arguments = model_devi_job_arguments()
    for number, job in enumerate(data['model_devi_jobs']):
        where = f'param.json model_devi_jobs[{number}].'
        if not isinstance(job, Mapping):
            raise DpgenInputError(f'{where[:-1]}: expected an object with sys_idx, temps, nsteps, ...')
        for key, default in JOB_ONLY_DEFAULT.items():
            if job.get(key, default) != default:
                raise DpgenInputError(f'not supported: {where}{key}={job[key]!r}; remove it')
        for key in JOB_NOT_SUPPORTED:
            if key in job:
                raise DpgenInputError(
                    f'not supported: {where}{key}; set trust levels per system with the top-level key instead'
                )
        extra = {key: job[key] for key in job if key not in JOB_ONLY_DEFAULT}
        kept, _, job_warnings = classify_keys(extra, job_arguments, where)
        warnings.extend(job_warnings)
        check_types(kept, job_arguments, where[:-1])
        stage = {key: value for key, value in kept.items() if key not in ('template', 'rev_mat')}
        stage.setdefault('dt', data['model_devi_dt'])
        stage.update(relative)
        if masses is not None:
            stage['masses'] = masses
        if data.get('shuffle_poscar', False):
            stage['shuffle_atoms'] = True
        if 'template' in kept:
            stage.update(_template(kept, where, base))
        elif len(kept.get('press', [])) > 1 and kept.get('ensemble', 'nvt') in ('nvt', 'nve'):
            notes.append(
                f'{where}press: {kept["ensemble"]} runs each temperature once (DP-GEN would repeat the same task '
                'once per pressure)'
            )
        jobs.append(stage)
    try:
        return from_model_devi_jobs(jobs, names)
    except ValueError as exception:
        raise DpgenInputError(f'param.json {exception}') from None


def _template(job: Mapping, where: str, base: pathlib.Path) -> dict:
    template, rev_mat = job['template'], job.get('rev_mat', {})
    unsupported = sorted((set(template) | set(rev_mat)) - {'lmp'})
    if unsupported:
        raise DpgenInputError(f'not supported: {where}template/rev_mat {unsupported}; only the "lmp" template is')
    path = base / template['lmp']
    if not path.is_file():
        raise DpgenInputError(f'{where}template.lmp={template["lmp"]!r}: {path} is not a file')
    stage = {'template': path.read_text(), 'rev_mat': dict(rev_mat.get('lmp', {}))}
    for key in ('temps', 'press', 'ensemble'):
        if key in job:
            raise DpgenInputError(f'{where}{key}: a template job takes its conditions from rev_mat.lmp, not {key}')
    return stage


def _only_auto(data: Mapping, keys) -> None:
    for key in keys:
        value = data.get(key, 'auto')
        values = value if isinstance(value, list) else [value]
        if any(item != 'auto' for item in values):
            raise DpgenInputError(
                f'not supported: param.json {key}={value!r}; batch sizes come from default_training_param '
                '(training.training_data.batch_size), "auto" by default'
            )


TRAINING_FILLED_HERE = (
    ('model', 'type_map'),
    ('model', 'descriptor', 'seed'),
    ('model', 'fitting_net', 'seed'),
    ('model', 'type_embedding', 'seed'),
    ('training', 'seed'),
    ('training', 'systems'),
    ('training', 'set_prefix'),
    ('training', 'training_data', 'systems'),
    ('training', 'training_data', 'set_prefix'),
)


def training_parameters(parameters, notes: list[str]) -> dict:
    """DP-GEN's ``default_training_param`` as TrainWorkChain parameters: without comments and the keys the loop
    fills in (type map, seeds, data paths), ``stop_batch`` as ``numb_steps``, ``training.batch_size`` moved
    into ``training_data`` (DeePMD-kit 1.x names)."""
    if not isinstance(parameters, Mapping):
        raise DpgenInputError(
            'not supported: param.json default_training_param as a list (one input per model); give one dictionary'
        )
    parameters = _without_comments(copy.deepcopy(dict(parameters)))
    for path in TRAINING_FILLED_HERE:
        section = parameters
        for key in path[:-1]:
            section = section.get(key, {}) if isinstance(section, dict) else {}
        if isinstance(section, dict) and section.pop(path[-1], None) is not None:
            notes.append(f'default_training_param.{".".join(path)}: set by aiida-dpgen for every model, not taken')
    training = parameters.setdefault('training', {})
    if 'stop_batch' in training:
        training['numb_steps'] = training.pop('stop_batch')
    if 'batch_size' in training:
        training.setdefault('training_data', {})['batch_size'] = training.pop('batch_size')
    for key in ('disp_file', 'save_ckpt'):
        training.pop(key, None)
    return parameters


def _without_comments(value):
    if isinstance(value, dict):
        return {key: _without_comments(item) for key, item in value.items() if not is_comment(key)}
    if isinstance(value, list):
        return [_without_comments(item) for item in value]
    return value


TRAIN_BACKENDS = {'tensorflow': 'tf', 'pytorch': 'pt'}
"""DP-GEN's train_backend -> the training's backend."""


def _backend(data: Mapping) -> str:
    name = data.get('train_backend', 'tensorflow')
    if name not in TRAIN_BACKENDS:
        raise DpgenInputError(
            f'not supported: param.json train_backend={name!r}; aiida-dpgen trains with {", ".join(TRAIN_BACKENDS)}'
        )
    return TRAIN_BACKENDS[name]


def _finetuning(
    data: Mapping, base: pathlib.Path, reuse: dict | None, notes: list[str]
) -> tuple[pathlib.Path | None, str]:
    """``training_finetune_model`` as the loop's pretrained model and fine-tuning policy."""
    models = data.get('training_finetune_model')
    if not models:
        return None, 'first'
    paths = sorted({str(model) for model in ([models] if isinstance(models, str) else models)})
    if len(paths) > 1:
        raise DpgenInputError(
            f'not supported: param.json training_finetune_model={paths}: different models per member; every member '
            'fine-tunes from one pretrained model here (with its own seed): give one path'
        )
    path = base / paths[0]
    if not path.is_file():
        raise DpgenInputError(f'param.json training_finetune_model: {path} does not exist; give the pretrained model')
    if reuse is not None:
        return path, 'first'
    notes.append(
        'param.json training_finetune_model without training_reuse_*: every iteration fine-tunes from the '
        "pretrained model again (finetune_policy 'always'), where DP-GEN trains later iterations from scratch"
    )
    return path, 'always'


def _train_reuse(data: Mapping, notes: list[str]) -> dict | None:
    """``training_reuse_*`` or ``training_init_model`` as the loop's ``train_reuse`` (start from the previous
    ensemble from the second iteration on)."""
    reuse_iter = data.get('training_reuse_iter')
    if reuse_iter is None:
        if data.get('training_init_model'):
            return {}
        return None
    if reuse_iter > 1:
        raise DpgenInputError(
            f'not supported: param.json training_reuse_iter={reuse_iter}; aiida-dpgen reuses the previous ensemble '
            'from the first retraining on (training_reuse_iter 0 or 1)'
        )
    if data.get('training_reuse_old_ratio', 'auto') != 'auto':
        raise DpgenInputError(
            f'not supported: param.json training_reuse_old_ratio={data["training_reuse_old_ratio"]!r}; every frame '
            'is sampled with the same probability (remove the key)'
        )
    notes.append(
        'param.json training_reuse_iter: every frame is sampled with the same probability; DP-GEN\'s "auto" '
        'old/new data ratio is not applied'
    )
    reuse: dict = {}
    steps = data.get('training_reuse_numb_steps', data.get('training_reuse_stop_batch'))
    if steps is not None:
        reuse.setdefault('training', {})['numb_steps'] = steps
    if data.get('training_reuse_start_lr') is not None:
        reuse['learning_rate'] = {'start_lr': data['training_reuse_start_lr']}
    for key in ('start_pref_e', 'start_pref_f'):
        if data.get(f'training_reuse_{key}') is not None:
            reuse.setdefault('loss', {})[key] = data[f'training_reuse_{key}']
    return reuse


def _pp_files(data: Mapping, type_map: list[str], base: pathlib.Path) -> list[pathlib.Path]:
    files = [_path(base, data['fp_pp_path'], name) for name in data['fp_pp_files']]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise DpgenInputError(f'param.json fp_pp_files: {missing} not found (relative to fp_pp_path)')
    if len(files) != len(type_map):
        raise DpgenInputError(
            f'param.json fp_pp_files={data["fp_pp_files"]!r}: expected one file per type_map entry {type_map}'
        )
    return files


_UPF_ELEMENT = (
    re.compile(r'element\s*=\s*"\s*([A-Z][a-z]?)\s*"', re.IGNORECASE),
    re.compile(r'^\s*([A-Z][a-z]?)\s+Element', re.MULTILINE),
)


def upf_element(path: pathlib.Path) -> str:
    header = path.read_text(errors='replace')[:20000]
    for pattern in _UPF_ELEMENT:
        match = pattern.search(header)
        if match:
            return match[1].capitalize()
    raise DpgenInputError(f'param.json fp_pp_files: {path} has no element in its UPF header; is it a UPF file?')


PW_SET_BY_PLUGIN = {
    'control': ('pseudo_dir', 'outdir', 'prefix'),
    'system': ('nat', 'ntyp', 'ibrav', 'celldm', 'a', 'b', 'c'),
}


def _pwscf(data: Mapping, type_map: list[str], base: pathlib.Path):
    """pw.x: the namelists of ``user_fp_params`` (or DP-GEN's ``fp_params`` shorthand) as PwBaseWorkChain
    overrides, ``kspacing`` as ``kpoints_distance`` (both in 1/Å with 2π included), the UPF files as a family."""
    notes = []
    elements = {}
    for path in _pp_files(data, type_map, base):
        elements[upf_element(path)] = path
    if sorted(elements) != sorted(type_map):
        raise DpgenInputError(
            f'param.json fp_pp_files: the UPF files are for {sorted(elements)}, type_map is {type_map}; '
            'give one UPF file per element'
        )
    if list(elements) != type_map:
        notes.append(
            f'param.json fp_pp_files are not in type_map order {type_map}; each is used for the element its UPF '
            'header names'
        )
    namelists, kspacing = _pw_namelists(data, notes)
    calculation = namelists.get('CONTROL', {}).get('calculation', 'scf')
    if calculation != 'scf':
        raise DpgenInputError(f'param.json user_fp_params.control.calculation={calculation!r}: labels need "scf"')
    system = namelists.setdefault('SYSTEM', {})
    if 'ecutwfc' in system and 'ecutrho' not in system:
        system['ecutrho'] = 4 * system['ecutwfc']
    overrides: dict = {'pw': {'parameters': namelists}}
    if kspacing is None:
        raise DpgenInputError('param.json user_fp_params.kspacing: missing; the k-point spacing (1/Å, 2π included)')
    overrides['kpoints_distance'] = kspacing
    return {'engine': 'quantumespresso', 'overrides': overrides}, elements, notes


def _pw_namelists(data: Mapping, notes: list[str]) -> tuple[dict, float | None]:
    """The pw.x namelists (upper-case names) and k-point spacing of ``user_fp_params`` or ``fp_params``."""
    if 'user_fp_params' in data:
        params = copy.deepcopy(data['user_fp_params'])
        kspacing = params.pop('kspacing', None)
        namelists = {}
        for name, values in params.items():
            if not isinstance(values, Mapping):
                raise DpgenInputError(f'param.json user_fp_params.{name}: expected a namelist dictionary')
            kept = dict(values)
            for key in PW_SET_BY_PLUGIN.get(name.lower(), ()):
                if kept.pop(key, None) is not None:
                    notes.append(f'param.json user_fp_params.{name}.{key}: set by aiida-quantumespresso, not taken')
            namelists[name.upper()] = kept
        return namelists, kspacing
    if 'fp_params' in data:
        fp_params = data['fp_params']
        system = {'ecutwfc': fp_params['ecut'], 'vdw_corr': 'TS', 'ts_vdw_econv_thr': fp_params['ediff'], 'nosym': True}
        if 'smearing' in fp_params:
            system['smearing'] = fp_params['smearing'].lower()
        if 'sigma' in fp_params:
            system['degauss'] = fp_params['sigma']
        return {'SYSTEM': system}, fp_params.get('kspacing')
    raise DpgenInputError('param.json fp_style "pwscf" needs user_fp_params (or fp_params): the pw.x settings')


def read_incar(path: pathlib.Path) -> dict:
    """An INCAR as lower-case tags with numbers, booleans and strings, as aiida-vasp takes them."""
    incar = {}
    for line in path.read_text().splitlines():
        for statement in line.split('#')[0].split('!')[0].split(';'):
            key, separator, value = statement.partition('=')
            if not separator:
                continue
            incar[key.strip().lower()] = _incar_value(value.strip())
    return incar


def _incar_value(text: str):
    lowered = text.lower().strip('.')
    if lowered in ('true', 't'):
        return True
    if lowered in ('false', 'f'):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _vasp(data: Mapping, type_map: list[str], base: pathlib.Path):
    """VASP: the INCAR tags as overrides (KSPACING as the k-point spacing), POTCARs in type_map order."""
    path = base / data['fp_incar']
    if not path.is_file():
        raise DpgenInputError(f'param.json fp_incar={data["fp_incar"]!r}: {path} is not a file')
    incar = read_incar(path)
    specification: dict = {'engine': 'vasp', 'overrides': incar}
    if 'kspacing' in incar:
        specification['kpoints_spacing'] = incar.pop('kspacing')
        incar.pop('kgamma', None)
    files = dict(zip(type_map, _pp_files(data, type_map, base), strict=True))
    return specification, files, ['param.json fp_incar: INCAR tags it does not set come from the labeler protocol']


CP2K_LABELER_SECTIONS = ('FORCE_EVAL/SUBSYS/CELL', 'FORCE_EVAL/SUBSYS/COORD', 'FORCE_EVAL/SUBSYS/TOPOLOGY')
"""Sections of a user's CP2K input that the labeler writes for each structure."""


def _cp2k(data: Mapping, type_map: list[str], base: pathlib.Path):
    """CP2K: ``user_fp_params`` merged into the labeler's input, or the input file ``external_input_path`` used
    whole (as DP-GEN does) but for the cell and coordinates; the KIND sections' basis sets and potentials by
    element."""
    if ('user_fp_params' in data) == ('external_input_path' in data):
        raise DpgenInputError(
            'param.json fp_style "cp2k" needs one of user_fp_params (the CP2K input as a dictionary, merged into '
            'the labeler protocol) and external_input_path (a CP2K input file, used as it is); give one'
        )
    specification: dict = {'engine': 'cp2k'}
    if 'external_input_path' in data:
        path = base / data['external_input_path']
        try:
            parameters = parse_cp2k_input(path, skip=CP2K_LABELER_SECTIONS)
        except ValueError as exception:
            raise DpgenInputError(
                f'param.json external_input_path={data["external_input_path"]!r}: {exception}'
            ) from None
        note = (
            f'param.json external_input_path: {path} is the CP2K input; the labeler writes the cell, the '
            'coordinates, the KIND elements and the printing of forces and stress'
        )
    else:
        parameters = copy.deepcopy(data['user_fp_params'])
        note = 'param.json user_fp_params: sections it does not set come from the labeler protocol'
    specification.update(_cp2k_kinds(parameters))
    if 'external_input_path' in data:
        specification['parameters'] = parameters
    else:
        specification['overrides'] = parameters
    return specification, {}, [note]


def _cp2k_kinds(parameters: dict) -> dict:
    """The KIND sections' basis sets and potentials by element, taken out of ``parameters`` (the labeler writes
    a KIND per element of each structure): DP-GEN's ``{"_": [elements], "BASIS_SET": [...]}`` or CP2K's own
    repeated sections."""
    subsys = parameters.get('FORCE_EVAL', {}).get('SUBSYS', {})
    kinds = subsys.pop('KIND', None)
    if kinds is None:
        return {}
    if isinstance(kinds, Mapping):
        names = kinds.get('_')
        names = [names] if isinstance(names, str) else names
        kinds = [
            {
                '_': name,
                **{
                    key: kinds[key] if isinstance(kinds[key], str) else kinds[key][index]
                    for key in ('BASIS_SET', 'POTENTIAL')
                    if key in kinds
                },
            }
            for index, name in enumerate(names)
        ]
    found = {}
    for key, ours in (('BASIS_SET', 'basis_set'), ('POTENTIAL', 'potential')):
        by_element = {kind['_']: kind[key] for kind in kinds if key in kind}
        if by_element:
            found[ours] = by_element
    if not subsys:
        parameters['FORCE_EVAL'].pop('SUBSYS')
    return found


GAUSSIAN_NOT_SUPPORTED = ('keywords_high_multiplicity', 'fragment_guesses', 'basis_set')


def _gaussian(data: Mapping, type_map: list[str], base: pathlib.Path):
    """Gaussian: ``keywords`` as the route line (as DP-GEN writes it), charge, multiplicity and processors."""
    fp_params = dict(data['fp_params'])
    for key in GAUSSIAN_NOT_SUPPORTED:
        if key in fp_params:
            raise DpgenInputError(f'not supported: param.json fp_params.{key}; remove it')
    keywords = fp_params.get('keywords')
    if isinstance(keywords, list):
        if len(keywords) != 1:
            raise DpgenInputError('not supported: param.json fp_params.keywords as several link steps; give one line')
        keywords = keywords[0]
    if not isinstance(keywords, str) or not keywords.strip():
        raise DpgenInputError('param.json fp_params.keywords: missing; the route line, e.g. "force B3LYP 6-31G(d)"')
    route = dict.fromkeys(keywords.split())
    if not any(token.lower().startswith('force') for token in route):
        raise DpgenInputError(f'param.json fp_params.keywords={keywords!r}: add "force", labels need the forces')
    overrides: dict = {'functional': '', 'basis_set': '', 'route_parameters': route}
    if 'nproc' in fp_params:
        overrides['link0_parameters'] = {'%nprocshared': str(fp_params['nproc'])}
    specification: dict = {'engine': 'gaussian', 'overrides': overrides}
    multiplicity = fp_params.get('multiplicity', 'auto')
    if multiplicity != 'auto':
        specification['multiplicity'] = multiplicity
    if 'charge' in fp_params:
        specification['charge'] = fp_params['charge']
    notes = ['param.json fp_params.keywords: the protocol also sets the SCF cycle limit and convergence']
    return specification, {}, notes


LABELER_TRANSLATORS = {'pwscf': _pwscf, 'vasp': _vasp, 'cp2k': _cp2k, 'gaussian': _gaussian}
