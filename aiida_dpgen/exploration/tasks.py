"""LAMMPS input for DPMD exploration tasks: built-in ensembles and DP-GEN's template mode.

Many tasks run in one job, each in its own folder ``task.NNNNNN`` under the job's working directory.
Every script starts with ``shell cd task.NNNNNN`` so that it reads and writes plain relative names
(``conf.lmp``, ``model_devi.out``, ``traj.dump``) exactly as a DP-GEN template expects, while the
models are stored once per job, one level up.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Mapping, Sequence

import numpy as np

ENSEMBLES = ('nvt', 'npt', 'npt-iso', 'npt-aniso', 'npt-tri', 'nve')
PRESSURE_ENSEMBLES = ('npt', 'npt-iso', 'npt-aniso', 'npt-tri')
_BAROSTAT = {'npt': 'iso', 'npt-iso': 'iso', 'npt-aniso': 'aniso', 'npt-tri': 'tri'}

CONF_FILE = 'conf.lmp'
INPUT_FILE = 'in.lammps'
LOG_FILE = 'log.lammps'
MODEL_DEVI_FILE = 'model_devi.out'
DUMP_FILE = 'traj.dump'
DUMP_ID = 'dpgen_traj'
PLACEHOLDER = re.compile(r'\bV_[A-Z0-9_]+\b')


def task_folder(index: int) -> str:
    return f'task.{index:06d}'


def model_filename(index: int, suffix: str = '.pb') -> str:
    """The ensemble's model ``index`` in a job's folder; ``suffix`` is the frozen model's (``.pb`` TensorFlow,
    ``.pth`` PyTorch): LAMMPS' DeePMD plugin picks the backend by it."""
    return f'graph.{index:03d}{suffix}'


@dataclasses.dataclass(frozen=True)
class MdSettings:
    """One DPMD run: ensemble, thermodynamic conditions and sampling (LAMMPS ``metal`` units: K, bar, ps)."""

    ensemble: str
    temperature: float
    nsteps: int
    trj_freq: int
    pressure: float | None = None
    timestep: float = 0.002
    tau_t: float = 0.1
    tau_p: float = 0.5
    neighbor_skin: float = 1.0
    neighbor_every: int = 1
    relative_f: float | None = None
    relative_v: float | None = None
    velocity_seed: int = 1

    def __post_init__(self):
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f'ensemble={self.ensemble!r}: unknown; expected one of {", ".join(ENSEMBLES)}')
        if self.ensemble in PRESSURE_ENSEMBLES and self.pressure is None:
            raise ValueError(f'press: ensemble {self.ensemble!r} needs a pressure (bar); give `press`, e.g. [1.0]')
        checks = {
            'temps': self.temperature > 0,
            'nsteps': isinstance(self.nsteps, int | np.integer) and self.nsteps > 0,
            'trj_freq': isinstance(self.trj_freq, int | np.integer) and self.trj_freq > 0,
            'timestep': self.timestep > 0,
            'tau_t': self.tau_t > 0,
            'tau_p': self.tau_p > 0,
            'neighbor_skin': self.neighbor_skin >= 0,
            'neighbor_every': self.neighbor_every > 0,
            'velocity_seed': 0 < self.velocity_seed < 2**31,
        }
        values = {
            'temps': self.temperature,
            'nsteps': self.nsteps,
            'trj_freq': self.trj_freq,
            'timestep': self.timestep,
            'tau_t': self.tau_t,
            'tau_p': self.tau_p,
            'neighbor_skin': self.neighbor_skin,
            'neighbor_every': self.neighbor_every,
            'velocity_seed': self.velocity_seed,
        }
        for key, valid in checks.items():
            if not valid:
                raise ValueError(f'{key}={values[key]!r}: expected a positive number (integer for counts)')


def pair_style_lines(
    nmodels: int, trj_freq: int, relative_f=None, relative_v=None, *, suffix: str = '.pb'
) -> list[str]:
    models = ' '.join(f'../{model_filename(index, suffix)}' for index in range(nmodels))
    options = f'out_file {MODEL_DEVI_FILE} out_freq {trj_freq}'
    if relative_f is not None:
        options += f' relative {relative_f}'
    if relative_v is not None:
        options += f' relative_v {relative_v}'
    return [f'pair_style deepmd {models} {options}', 'pair_coeff * *']


def dump_lines(trj_freq: int, forces: bool = False) -> list[str]:
    """The dump of the frames; with ``forces``, also the forces of the ensemble's mean (for relative deviations)."""
    columns = 'id type x y z fx fy fz' if forces else 'id type x y z'
    return [
        f'dump {DUMP_ID} all custom {trj_freq} {DUMP_FILE} {columns}',
        f'dump_modify {DUMP_ID} sort id',
    ]


def md_input(
    settings: MdSettings,
    nmodels: int,
    masses: Sequence[float],
    folder: str,
    dump_forces: bool = False,
    *,
    suffix: str = '.pb',
) -> str:
    """The LAMMPS script of one task with a built-in ensemble."""
    if nmodels < 1:
        raise ValueError('models: expected at least one model')
    temperature, dt = settings.temperature, settings.timestep
    thermostat = f'temp {temperature} {temperature} {settings.tau_t}'
    if settings.ensemble == 'nvt':
        integrator = f'nvt {thermostat}'
    elif settings.ensemble == 'nve':
        integrator = 'nve'
    else:
        barostat = _BAROSTAT[settings.ensemble]
        integrator = f'npt {thermostat} {barostat} {settings.pressure} {settings.pressure} {settings.tau_p}'
    lines = [
        f'shell cd {folder}',
        f'# aiida-dpgen task: {settings.ensemble} T={temperature} K P={settings.pressure} bar, '
        f'{settings.nsteps} steps of {dt} ps, frames every {settings.trj_freq}',
        'units metal',
        'boundary p p p',
        'atom_style atomic',
        f'neighbor {settings.neighbor_skin} bin',
        f'neigh_modify every {settings.neighbor_every} delay 0 check no',
        f'read_data {CONF_FILE}',
        *(f'mass {index + 1} {mass}' for index, mass in enumerate(masses)),
        *pair_style_lines(nmodels, settings.trj_freq, settings.relative_f, settings.relative_v, suffix=suffix),
        'thermo_style custom step temp pe ke etotal press vol lx ly lz xy xz yz',
        f'thermo {settings.trj_freq}',
        *dump_lines(settings.trj_freq, dump_forces),
        f'velocity all create {temperature} {settings.velocity_seed} mom yes rot yes dist gaussian',
        f'fix dpgen_md all {integrator}',
        f'timestep {dt}',
        f'run {settings.nsteps}',
    ]
    return '\n'.join(lines) + '\n'


def template_placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def validate_template(template: str, values: Mapping[str, object]) -> None:
    """A DP-GEN style template: ``V_*`` placeholders, one ``pair_style deepmd`` line, a ``read_data`` line."""
    found = template_placeholders(template)
    missing = sorted(found - set(values))
    if missing:
        raise ValueError(f'template: placeholders {missing} have no value; give them in `rev_mat`')
    unused = sorted(set(values) - found)
    if unused:
        raise ValueError(f'rev_mat: keys {unused} do not occur in the template; remove them or add the placeholders')
    statements = [line.split('#', 1)[0].split() for line in template.splitlines()]
    if not any(words[:2] == ['pair_style', 'deepmd'] for words in statements):
        raise ValueError(
            'template: no `pair_style deepmd` line; aiida-dpgen rewrites that line with the models, '
            f'out_file {MODEL_DEVI_FILE} and out_freq, so the template must contain one'
        )
    if not any(words[:1] == ['read_data'] for words in statements):
        raise ValueError(f'template: no `read_data` line; the task configuration is written to {CONF_FILE}')


def template_input(  # noqa: PLR0917 (a template, its values and where the task runs)
    template: str,
    values: Mapping[str, object],
    nmodels: int,
    trj_freq: int,
    folder: str,
    dump_forces: bool = False,
    *,
    suffix: str = '.pb',
) -> str:
    """Fill a DP-GEN style template: placeholders replaced, the deepmd pair style and the dump set by us.

    The ``read_data`` line is pointed at :data:`CONF_FILE`; any ``dump`` of the template is kept, and the
    frames for labeling are dumped by an extra dump right after the pair style.
    """
    validate_template(template, values)
    text = PLACEHOLDER.sub(lambda match: str(values[match.group(0)]), template)
    lines = [f'shell cd {folder}']
    for line in text.splitlines():
        words = line.split('#', 1)[0].split()
        if words[:2] == ['pair_style', 'deepmd']:
            lines.extend(pair_style_lines(nmodels, trj_freq, suffix=suffix))
            lines.extend(dump_lines(trj_freq, dump_forces))
        elif words[:1] == ['pair_coeff']:
            continue
        elif words[:1] == ['read_data']:
            lines.append(f'read_data {CONF_FILE} {" ".join(words[2:])}'.rstrip())
        else:
            lines.append(line)
    return '\n'.join(lines) + '\n'


def lammps_box(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAMMPS' restricted triclinic cell (lower-triangular rows a, b, c) and the rotation into it."""
    cell = np.asarray(cell, dtype=float)
    if np.linalg.det(cell) <= 0:
        raise ValueError('cell: expected a right-handed cell with positive volume')
    a, b, c = cell
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(b @ b - xy**2)
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(c @ c - xz**2 - yz**2)
    box = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    rotation = np.linalg.solve(cell, box)
    return box, rotation


def shuffled_positions(positions: np.ndarray, seed: int, task: int) -> np.ndarray:
    """The positions in a seeded random order, the atoms' elements kept in theirs: the elements trade sites
    (DP-GEN's ``shuffle_poscar``), the same way for the same seed and task."""
    positions = np.asarray(positions)
    return positions[np.random.default_rng([seed, task]).permutation(len(positions))]


def write_conf(path, cell: np.ndarray, positions: np.ndarray, types: np.ndarray, ntypes: int) -> None:
    """A LAMMPS data file (atomic style, always triclinic so that every barostat works); ``types`` 0-based.

    Positions are wrapped into the cell and expressed in LAMMPS' rotated frame (:func:`lammps_box`).
    """
    box, _ = lammps_box(cell)
    # Wrapped into the cell: LAMMPS refuses atoms outside a non-periodic box ("Did not assign all atoms").
    fractional = np.linalg.solve(np.asarray(cell, dtype=float).T, np.asarray(positions, dtype=float).T).T % 1.0
    positions = fractional @ box
    header = [
        'aiida-dpgen configuration',
        '',
        f'{len(positions)} atoms',
        f'{ntypes} atom types',
        f'0.0 {box[0, 0]:.10f} xlo xhi',
        f'0.0 {box[1, 1]:.10f} ylo yhi',
        f'0.0 {box[2, 2]:.10f} zlo zhi',
        f'{box[1, 0]:.10f} {box[2, 0]:.10f} {box[2, 1]:.10f} xy xz yz',
        '',
        'Atoms # atomic',
        '',
    ]
    atoms = [
        f'{index + 1} {int(kind) + 1} {x:.10f} {y:.10f} {z:.10f}'
        for index, (kind, (x, y, z)) in enumerate(zip(types, positions, strict=True))
    ]
    with pathlib.Path(path).open('w') as handle:
        handle.write('\n'.join(header + atoms) + '\n')
