"""DP-GEN's ``param.json`` and ``machine.json`` keys: which are translated, which have no effect here, which are
not supported, all checked with dargs (the argument library DP-GEN itself validates its inputs with).

Every key DP-GEN 0.14 knows for the DeePMD-kit + LAMMPS engines and the VASP, PWscf, CP2K and Gaussian labelers
falls in exactly one class: translated (with its dargs type), accepted without effect (the reason is shown),
accepted only at its default (anything else is "not supported"), or not supported. A key DP-GEN does not know is
a warning naming the closest valid key, as a typo usually is.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from dargs import Argument
from dargs.dargs import ArgumentError

FP_STYLES = ('vasp', 'pwscf', 'cp2k', 'gaussian')


class DpgenInputError(ValueError):
    """A param.json or machine.json that cannot be translated; the message names the key, the value and the fix."""


def _arg(name, dtype, optional=True, doc=''):
    return Argument(name, dtype, optional=optional, doc=doc)


def param_arguments(fp_style: str) -> Argument:
    """The dargs definition of the param.json keys that are translated, for one ``fp_style``."""
    number = [int, float]
    trust = [int, float, list, dict]
    common = [
        _arg('type_map', list, optional=False, doc='elements; the atom types of every dataset and configuration'),
        _arg('mass_map', [list, str], doc='atomic masses (amu) in type_map order, or "auto"'),
        _arg('init_data_prefix', str, doc='folder the init_data_sys paths are relative to'),
        _arg('init_data_sys', list, optional=False, doc='initial datasets (deepmd/npy or deepmd/raw folders)'),
        _arg('sys_format', str, doc='dpdata format of the sys_configs files (default vasp/poscar)'),
        _arg('init_batch_size', [list, str], doc='only "auto"'),
        _arg('sys_configs_prefix', str, doc='folder the sys_configs patterns are relative to'),
        _arg('sys_configs', list, optional=False, doc='per system, glob patterns of initial configuration files'),
        _arg('sys_batch_size', list, doc='only "auto"'),
        _arg('numb_models', int, optional=False, doc='models in the ensemble'),
        _arg('fp_task_max', int, optional=False, doc='most candidates labeled per system and iteration'),
        _arg('fp_task_min', int, optional=False, doc='fewest candidates worth labeling in a system'),
        _arg('fp_accurate_threshold', number, doc='no labels for a system at least this accurate'),
        _arg('fp_accurate_soft_threshold', number, doc='fewer labels from this accurate ratio on'),
        _arg('fp_skip_bad_box', str, doc='cell ratio limits of a frame to label, "length_ratio:5;height_ratio:5"'),
        _arg('ratio_failed', number, doc='largest tolerated ratio of failed labeling calculations'),
        _arg('default_training_param', dict, optional=False, doc='DeePMD-kit training input'),
        _arg('dp_compress', bool, doc='compress the frozen models'),
        _arg('train_backend', str, doc='tensorflow (default) or pytorch'),
        _arg('training_finetune_model', [list, str], doc='at iteration 0, fine-tune every model from this model'),
        _arg('training_init_model', bool, doc='every training starts from the previous ensemble'),
        _arg('training_reuse_iter', [int, type(None)], doc='retrain from the previous ensemble from this iteration'),
        _arg('training_reuse_numb_steps', [int, type(None)], doc='training steps when reusing'),
        _arg('training_reuse_stop_batch', [int, type(None)], doc='training steps when reusing (old name)'),
        _arg('training_reuse_start_lr', [float, type(None)], doc='learning rate when reusing'),
        _arg('training_reuse_start_pref_e', [int, float, type(None)], doc='energy prefactor when reusing'),
        _arg('training_reuse_start_pref_f', [int, float, type(None)], doc='force prefactor when reusing'),
        _arg('training_reuse_old_ratio', [float, str], doc='only "auto"'),
        _arg('model_devi_jobs', list, optional=False, doc='the exploration schedule, one entry per iteration'),
        _arg('model_devi_dt', number, optional=False, doc='MD time step (ps)'),
        _arg('model_devi_skip', int, optional=False, doc='leading frames of each trajectory not selected'),
        _arg('shuffle_poscar', bool, doc="atoms trade places at random in each MD task's starting configuration"),
        _arg('model_devi_f_trust_lo', trust, optional=False, doc='force deviation (eV/Å) of a candidate'),
        _arg('model_devi_f_trust_hi', trust, optional=False, doc='force deviation (eV/Å) of a failed frame'),
        _arg('model_devi_v_trust_lo', trust, doc='virial deviation (eV) of a candidate'),
        _arg('model_devi_v_trust_hi', trust, doc='virial deviation (eV) of a failed frame'),
        _arg('model_devi_f_avg_relative', bool, doc='force deviations relative to the RMS force of the trajectory'),
        _arg('model_devi_adapt_trust_lo', bool, doc='the lower force level adapts to the data (adaptive_lower)'),
        _arg('model_devi_numb_candi_f', int, doc='with the adaptive level, at least this many candidates'),
        _arg('model_devi_perc_candi_f', number, doc='with the adaptive level, at least this % of frames below hi'),
        _arg('use_relative', bool, doc='relative force deviation (LAMMPS deepmd `relative`)'),
        _arg('epsilon', number, doc='level of the relative force deviation (eV/Å)'),
        _arg('use_relative_v', bool, doc='relative virial deviation (LAMMPS deepmd `relative_v`)'),
        _arg('epsilon_v', number, doc='level of the relative virial deviation (eV)'),
        _arg('fp_style', str, optional=False, doc=f'labeling engine, one of {", ".join(FP_STYLES)}'),
    ]
    engine = {
        'vasp': [
            _arg('fp_pp_path', str, optional=False, doc='folder of the POTCAR files'),
            _arg('fp_pp_files', list, optional=False, doc='POTCAR files in type_map order'),
            _arg('fp_incar', str, optional=False, doc='the INCAR file'),
        ],
        'pwscf': [
            _arg('fp_pp_path', str, optional=False, doc='folder of the UPF files'),
            _arg('fp_pp_files', list, optional=False, doc='UPF files, one per element'),
            _arg('fp_params', dict, doc='ecut, ediff, kspacing, smearing, sigma'),
            _arg('user_fp_params', dict, doc='pw.x namelists (control, system, electrons) and kspacing'),
        ],
        'cp2k': [
            _arg('user_fp_params', dict, doc='the CP2K input as a nested dictionary'),
            _arg('external_input_path', str, doc='a CP2K input file, used whole but for cell and coordinates'),
        ],
        'gaussian': [_arg('fp_params', dict, optional=False, doc='keywords, multiplicity, charge, nproc')],
    }
    return Argument('param.json', dict, sub_fields=common + engine.get(fp_style, []))


def model_devi_job_arguments() -> Argument:
    """One entry of ``model_devi_jobs``."""
    number = [int, float]
    return Argument(
        'model_devi_jobs[]',
        dict,
        sub_fields=[
            _arg('sys_idx', list, optional=False, doc='indices into sys_configs'),
            _arg('temps', list, doc='temperatures (K)'),
            _arg('press', list, doc='pressures (bar)'),
            _arg('trj_freq', int, optional=False, doc='frames are saved every trj_freq steps'),
            _arg('nsteps', int, doc='MD steps'),
            _arg('ensemble', str, doc='nvt, npt, npt-iso, npt-aniso, npt-tri or nve'),
            _arg('dt', number, doc='time step (ps), overrides model_devi_dt'),
            _arg('taut', number, doc='thermostat damping (ps)'),
            _arg('taup', number, doc='barostat damping (ps)'),
            _arg('template', dict, doc='{"lmp": LAMMPS template file}'),
            _arg('rev_mat', dict, doc='{"lmp": {placeholder: values}}'),
        ],
    )


NO_EFFECT = {
    'model_devi_clean_traj': 'trajectories are never copied back; only the selected frames are extracted',
    'model_devi_merge_traj': 'trajectories are never copied back; only the selected frames are extracted',
    'detailed_report_make_fp': 'the per-iteration report always has the selection counts per system',
    'dp_train_skip_neighbor_stat': 'a speed-up of `dp train` start-up; the training inputs are the same',
    'one_h5': 'datasets are stored in the AiiDA repository, not in HDF5 files',
    'model_format': 'frozen models are .pb (train_backend tensorflow) or .pth (pytorch) files',
    'deepmd_version': 'the installed DeePMD-kit runs',
    'api_version': 'only api_version 1.0 is read',
}
"""Keys that have no counterpart here because what they tune is done differently, with the reason shown."""

ONLY_DEFAULT = {
    'mlp_engine': 'dp',
    'model_devi_engine': 'lammps',
    'use_ele_temp': 0,
    'model_devi_nopbc': False,
    'model_devi_plumed': False,
    'model_devi_plumed_path': False,
    'use_clusters': False,
    'cluster_minify': False,
    'cvasp': False,
}
"""Keys accepted at DP-GEN's default value; any other value is a feature not supported yet."""

NOT_SUPPORTED = (
    'fp_cluster_vacuum',
    'training_iter0_model_path',
    'training_init_frozen_model',
    'model_devi_activation_func',
    'srtab_file_path',
    'model_devi_numb_candi_v',
    'model_devi_perc_candi_v',
    'lmp_d3',
    'lmp_neigh_modify_one',
    'fp_aniso_kspacing',
    'cluster_cutoff',
    'cluster_cutoff_hard',
)
"""DP-GEN features for the supported engines that aiida-dpgen does not have yet: an error, never ignored."""

OTHER_ENGINE_KEYS = (
    'fp_orb_files',
    'fp_kpt_file',
    'fp_dpks_descriptor',
    'k_points',
    'high_level',
    'low_level',
    'cutoff',
    'parm7_prefix',
    'parm7',
    'mdin_prefix',
    'mdin',
    'qm_region',
    'qm_charge',
    'nsteps',
    'r',
    'disang_prefix',
    'disang',
    'calypso_input_path',
    'model_devi_max_iter',
    'vsc',
    'gromacs_settings',
)
"""Keys of DP-GEN engines other than LAMMPS and the four labelers (ABACUS, Amber, CALYPSO, GROMACS, ...)."""

JOB_ONLY_DEFAULT = {'nbeads': None, 'neidelay': None}
JOB_NOT_SUPPORTED = (
    'sys_rev_mat',
    'model_devi_f_trust_lo',
    'model_devi_f_trust_hi',
    'model_devi_v_trust_lo',
    'model_devi_v_trust_hi',
)


def is_comment(key: str) -> bool:
    """DP-GEN ignores keys starting with an underscore (``_comment``, ``_idx``)."""
    return key.startswith('_')


def classify_keys(data: Mapping, arguments: Argument, where: str) -> tuple[dict, list[str], list[str]]:
    """Split ``data`` into the keys ``arguments`` translates and the rest: returns ``(translated, notes,
    warnings)`` and raises :class:`DpgenInputError` for a feature that is not supported."""
    translated, notes, warnings = {}, [], []
    valid = set(arguments.sub_fields)
    known = valid | set(NO_EFFECT) | set(ONLY_DEFAULT) | set(NOT_SUPPORTED) | set(OTHER_ENGINE_KEYS)
    for key, value in data.items():
        if is_comment(key):
            continue
        if key in valid:
            translated[key] = value
        elif key in NO_EFFECT:
            notes.append(f'{where}{key}={value!r} has no effect: {NO_EFFECT[key]}')
        elif key in ONLY_DEFAULT:
            if value != ONLY_DEFAULT[key]:
                raise DpgenInputError(
                    f'not supported: {where}{key}={value!r}; aiida-dpgen runs only {key}={ONLY_DEFAULT[key]!r} '
                    f'(remove the key or set it to {ONLY_DEFAULT[key]!r})'
                )
        elif key in NOT_SUPPORTED or key in OTHER_ENGINE_KEYS:
            raise DpgenInputError(
                f'not supported: {where}{key}; aiida-dpgen has no equivalent yet (docs/migration.md lists what '
                'is); remove the key to run without it'
            )
        else:
            closest = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f'; did you mean {closest[0]!r}?' if closest else ''
            warnings.append(f'{where}{key}: unknown key, ignored{hint}')
    return translated, notes, warnings


def check_types(data: Mapping, arguments: Argument, where: str) -> None:
    """Required keys present and every value of the type dargs expects; the error names key and type."""
    try:
        arguments.check_value(dict(data), strict=False)
    except ArgumentError as exception:
        raise DpgenInputError(f'{where}{exception}') from None
