"""ConfigurationsData: unlabeled frames for exploration and labeling, through dpdata's formats."""

from __future__ import annotations

import dpdata
import numpy as np
from ase.io import write

from aiida_dpgen.data import ConfigurationsData


def test_configurations_drop_labels_and_keep_geometry(aiida_profile, make_cu_system):
    labeled = make_cu_system('fcc', 2, seed=1)
    node = ConfigurationsData.from_dpdata(labeled, type_map=['Cu']).store()

    assert node.labels == []
    assert node.systems[0]['labels'] == []
    restored = node.to_dpdata()['Cu4']
    assert not isinstance(restored, dpdata.LabeledSystem)
    np.testing.assert_allclose(restored['coords'], labeled['coords'], atol=1e-10)


def test_configurations_from_vasp_poscar_round_trip(aiida_profile, make_cu_frames, tmp_path):
    atoms = make_cu_frames('bcc', 1, labeled=False)[0]
    write(tmp_path / 'POSCAR', atoms, format='vasp')

    node = ConfigurationsData.from_file(tmp_path / 'POSCAR', fmt='vasp/poscar', type_map=['Cu'])
    written = node.export(tmp_path / 'out', fmt='vasp/poscar')

    assert [path.split('/')[-2:] for path in written] == [['Cu2', '000000.poscar']]
    back = dpdata.System(written[0], fmt='vasp/poscar')
    np.testing.assert_allclose(back['coords'][0], atoms.positions, atol=1e-6)
    np.testing.assert_allclose(back['cells'][0], atoms.cell[:], atol=1e-6)


def test_configurations_export_lammps_data_per_frame(aiida_profile, make_cu_frames, tmp_path):
    frames = make_cu_frames('fcc', 3, seed=2, labeled=False)
    node = ConfigurationsData.from_ase(frames, type_map=['Cu'])

    written = node.export(tmp_path / 'lmp', fmt='lammps/lmp')

    assert len(written) == 3
    for path, atoms in zip(written, frames, strict=True):
        back = dpdata.System(path, fmt='lammps/lmp', type_map=['Cu'])
        np.testing.assert_allclose(back['coords'][0], atoms.positions, atol=1e-6)


def test_configurations_to_ase_returns_every_frame(aiida_profile, make_cu_frames):
    frames = make_cu_frames('fcc', 2, seed=3, labeled=False) + make_cu_frames('hcp', 1, seed=4, labeled=False)
    node = ConfigurationsData.from_ase(frames, type_map=['Cu'])
    assert sorted(len(atoms) for atoms in node.to_ase()) == [2, 4, 4]
