"""DP-GEN's shipped example param.json files, with their data made here in DP-GEN's layout (EMT labels).

Each example names an initial dataset and configuration files on its authors' machine; :func:`example_tree`
writes small stand-ins where the example's paths (prefixes replaced by the test's folder) point, and returns
the param.json content and the folder it lives in.
"""

from __future__ import annotations

import json
import pathlib

import dpdata
import numpy as np
from ase import Atoms
from ase.build import molecule
from ase.calculators.emt import EMT

FIXTURES = pathlib.Path(__file__).parents[1] / 'fixtures' / 'dpgen'
EXAMPLES = {
    'vasp': 'param_CH4_vasp.json',
    'pwscf': 'param_CH4_pwscf.json',
    'cp2k': 'param_CH4_cp2k.json',
    'gaussian': 'param_C4H16N4_gaussian.json',
}
CH4_MD = 'CH4.POSCAR.01x01x01/02.md/sys-0004-0001/deepmd'
CH4_CONFIGURATIONS = 'CH4.POSCAR.01x01x01/01.scale_pert/sys-0004-0001/scale-1.000'
NUMBER_OF_CH4_CONFIGURATIONS = 13  # 000000-000009 match the first pattern, 000010-000012 the second


def _in_box(atoms: Atoms, size: float = 10.0) -> Atoms:
    atoms = atoms.copy()
    atoms.set_cell([size, size, size])
    atoms.center()
    atoms.pbc = True
    return atoms


def _rattled(atoms: Atoms, count: int, seed: int) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        frame = atoms.copy()
        frame.positions += rng.normal(scale=0.03, size=frame.positions.shape)
        frames.append(frame)
    return frames


def write_labeled(frames: list[Atoms], path: pathlib.Path, type_map: list[str]) -> None:
    systems = []
    for frame in frames:
        frame.calc = EMT()
        frame.get_potential_energy()
        systems.append(dpdata.LabeledSystem(frame, fmt='ase/structure', type_map=type_map))
    system = systems[0]
    for other in systems[1:]:
        system.append(other)
    system.to('deepmd/npy', str(path))


def _write_ch4_tree(root: pathlib.Path, type_map: list[str]) -> None:
    methane = _in_box(molecule('CH4'))
    write_labeled(_rattled(methane, 4, seed=1), root / CH4_MD, type_map)
    for index, frame in enumerate(_rattled(methane, NUMBER_OF_CH4_CONFIGURATIONS, seed=2)):
        folder = root / CH4_CONFIGURATIONS / f'{index:06d}'
        folder.mkdir(parents=True)
        dpdata.System(frame, fmt='ase/structure', type_map=type_map).to('vasp/poscar', str(folder / 'POSCAR'))


def _write_gaussian_tree(root: pathlib.Path, type_map: list[str]) -> None:
    base = molecule('CH4')
    nitrogen = Atoms('N2', positions=[[2.5, 0.0, 0.0], [3.6, 0.0, 0.0]])
    ch4n2 = _in_box(base + nitrogen, 12.0)
    for index in range(6):
        write_labeled(_rattled(ch4n2, 2, seed=10 + index), root / 'data' / 'deepmd' / f'data.{index:03d}', type_map)
    (root / 'data' / 'md_sys').mkdir(parents=True)
    dpdata.System(ch4n2, fmt='ase/structure', type_map=type_map).to('lammps/lmp', str(root / 'data/md_sys/data.ch4n2'))


def example_tree(root: pathlib.Path, fp_style: str) -> tuple[dict, pathlib.Path]:
    """The example of ``fp_style`` with its data under ``root``; returns (param.json content, its folder)."""
    jdata = json.loads((FIXTURES / EXAMPLES[fp_style]).read_text())
    type_map = jdata['type_map']
    if fp_style == 'gaussian':
        _write_gaussian_tree(root, type_map)
    elif fp_style == 'cp2k':
        _write_ch4_tree(root / 'data', type_map)
        (root / 'data' / 'deepmd').parent.mkdir(exist_ok=True)
        (root / 'data' / CH4_MD).rename(root / 'data' / 'deepmd')
    else:
        _write_ch4_tree(root, type_map)
        jdata['init_data_prefix'] = str(root)
        jdata['sys_configs_prefix'] = str(root)
        jdata['fp_pp_path'] = str(FIXTURES)
    if fp_style == 'vasp':
        jdata['fp_incar'] = str(FIXTURES / 'INCAR_methane')
    (root / 'param.json').write_text(json.dumps(jdata, indent=2))
    return jdata, root
