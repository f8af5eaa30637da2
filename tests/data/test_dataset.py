"""LabeledDatasetData: storage, attributes, real dpdata round trips, and refusal of bad frames."""

from __future__ import annotations

import dpdata
import numpy as np
import pytest
from aiida.orm import QueryBuilder, load_node

from aiida_dpgen.data import LabeledDatasetData


def count_datasets() -> int:
    return QueryBuilder().append(LabeledDatasetData).count()


def assert_same_frames(expected: dpdata.System, actual: dpdata.System, fields=('coords', 'cells')):
    assert actual.get_nframes() == expected.get_nframes()
    for field in fields:
        np.testing.assert_allclose(actual[field], expected[field], rtol=0, atol=1e-10, err_msg=field)


def test_dataset_stores_systems_by_formula_with_summary_attributes(aiida_profile, make_cu_system):
    fcc, bcc = make_cu_system('fcc', 3, seed=1), make_cu_system('bcc', 2, seed=2)
    node = LabeledDatasetData.from_dpdata([fcc, bcc], type_map=['Cu']).store()

    loaded = load_node(node.pk)
    assert loaded.type_map == ['Cu']
    assert loaded.nframes == 5
    assert loaded.base.attributes.get('nsystems') == 2
    assert loaded.labels == ['energies', 'forces', 'virials']
    summaries = {summary['name']: summary for summary in loaded.systems}
    assert summaries['Cu4'] == {
        'name': 'Cu4',
        'formula': 'Cu4',
        'natoms': 4,
        'nframes': 3,
        'labels': ['energies', 'forces', 'virials'],
        'nopbc': False,
    }
    assert summaries['Cu2']['nframes'] == 2
    assert 'systems/Cu4/set.000/force.npy' in _repository_files(loaded)


def _repository_files(node) -> set[str]:
    files = set()

    def walk(path):
        for name in node.base.repository.list_object_names(path):
            child = f'{path}/{name}' if path else name
            if node.base.repository.get_object(child).is_dir():
                walk(child)
            else:
                files.add(child)

    walk('')
    return files


def test_dataset_round_trips_labels_through_dpdata(aiida_profile, make_cu_system):
    fcc = make_cu_system('fcc', 4, seed=3)
    node = LabeledDatasetData.from_dpdata(fcc, type_map=['Cu']).store()

    restored = load_node(node.pk).to_dpdata()
    assert isinstance(restored['Cu4'], dpdata.LabeledSystem)
    assert_same_frames(fcc, restored['Cu4'], fields=('coords', 'cells', 'energies', 'forces', 'virials'))


def test_from_ase_converts_stress_to_virial(aiida_profile, make_cu_frames):
    frames = make_cu_frames('fcc', 2, seed=4)
    node = LabeledDatasetData.from_ase(frames, type_map=['Cu'])

    system = node.to_dpdata()['Cu4']
    for index, atoms in enumerate(frames):
        np.testing.assert_allclose(system['energies'][index], atoms.get_potential_energy())
        np.testing.assert_allclose(system['forces'][index], atoms.get_forces(), atol=1e-12)
        expected_virial = -atoms.get_volume() * atoms.get_stress(voigt=False)
        np.testing.assert_allclose(system['virials'][index], expected_virial, atol=1e-10)


def test_type_map_orders_atom_types_of_a_binary_system(aiida_profile, make_cu_frames):
    atoms = make_cu_frames('fcc', 1, seed=5)[0]
    symbols = atoms.get_chemical_symbols()
    symbols[0] = 'Ni'
    atoms.set_chemical_symbols(symbols)
    from ase.calculators.emt import EMT

    atoms.calc = EMT()
    atoms.get_potential_energy()

    node = LabeledDatasetData.from_ase([atoms], type_map=['Ni', 'Cu'])
    assert node.system_names == ['Ni1Cu3']
    assert node.elements == ['Ni', 'Cu']
    assert LabeledDatasetData.from_ase([atoms], type_map=['Ag', 'Ni', 'Cu']).elements == ['Ni', 'Cu']
    system = node.to_dpdata()['Ni1Cu3']
    assert system['atom_names'] == ['Ni', 'Cu']
    assert sorted(system['atom_types'].tolist()) == [0, 1, 1, 1]


@pytest.mark.parametrize(
    ('fmt', 'reader'),
    [
        (
            'deepmd/npy',
            lambda path: dpdata.MultiSystems(
                *[dpdata.LabeledSystem(str(folder), fmt='deepmd/npy') for folder in sorted(path.iterdir())]
            ),
        ),
        ('deepmd/hdf5', lambda path: dpdata.MultiSystems.from_file(str(path), fmt='deepmd/hdf5')),
        ('extxyz', lambda path: dpdata.MultiSystems.from_file(str(path), fmt='extxyz')),
    ],
)
def test_export_round_trips_through_dpdata_formats(aiida_profile, make_cu_system, tmp_path, fmt, reader):
    fcc, bcc = make_cu_system('fcc', 2, seed=6), make_cu_system('bcc', 3, seed=7)
    node = LabeledDatasetData.from_dpdata([fcc, bcc], type_map=['Cu'])

    written = node.export(tmp_path / 'export', fmt=fmt)
    assert written

    restored = reader(tmp_path / 'export')
    by_natoms = {system.get_natoms(): system for system in restored}
    assert_same_frames(fcc, by_natoms[4], fields=('coords', 'energies', 'forces'))
    assert_same_frames(bcc, by_natoms[2], fields=('coords', 'energies', 'forces'))


def test_export_refuses_to_overwrite_unless_asked(aiida_profile, make_cu_system, tmp_path):
    node = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1), type_map=['Cu'])
    node.export(tmp_path / 'data')
    with pytest.raises(FileExistsError, match='overwrite=True'):
        node.export(tmp_path / 'data')
    node.export(tmp_path / 'data', overwrite=True)


def test_export_unknown_format_names_the_choices(aiida_profile, make_cu_system, tmp_path):
    node = LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1), type_map=['Cu'])
    with pytest.raises(ValueError, match=r"fmt='vasp/incar' is not a dpdata format; choose one of"):
        node.export(tmp_path / 'x', fmt='vasp/incar')


def test_from_file_reads_what_dpdata_reads(aiida_profile, make_cu_system, tmp_path):
    make_cu_system('fcc', 2, seed=8).to('deepmd/npy', str(tmp_path / 'npy'))
    node = LabeledDatasetData.from_file(tmp_path / 'npy', fmt='deepmd/npy', type_map=['Cu'])
    assert node.nframes == 2


# Bad input: each error names the system, the field and what was expected; nothing is stored.


def test_missing_forces_is_refused_before_anything_is_stored(aiida_profile, make_cu_system):
    system = make_cu_system('fcc', 2)
    del system.data['forces']
    before = count_datasets()
    with pytest.raises(ValueError, match=r"system '#0 \(Cu4\)': field 'forces' is missing"):
        LabeledDatasetData.from_dpdata(system, type_map=['Cu'])
    assert count_datasets() == before


def test_unlabeled_frames_are_refused_naming_energies(aiida_profile, make_cu_frames):
    unlabeled = dpdata.System(make_cu_frames('fcc', 1, labeled=False)[0], fmt='ase/structure')
    with pytest.raises(ValueError, match=r'field \"energies\" is missing; a labeled dataset needs'):
        LabeledDatasetData.from_dpdata(unlabeled, type_map=['Cu'])


def test_ase_frame_without_calculator_is_refused_naming_the_frame(aiida_profile, make_cu_frames):
    frames = make_cu_frames('fcc', 2)
    frames[1].calc = None
    with pytest.raises(ValueError, match=r'frame #1 \(Cu4\): field "energies" is missing'):
        LabeledDatasetData.from_ase(frames, type_map=['Cu'])


def test_inconsistent_atom_counts_are_refused_with_expected_shape(aiida_profile, make_cu_system):
    system = make_cu_system('fcc', 2)
    system.data['forces'] = system.data['forces'][:, :3]
    with pytest.raises(ValueError, match=r"field 'forces' has shape \(2, 3, 3\); expected \(2, 4, 3\)"):
        LabeledDatasetData.from_dpdata(system, type_map=['Cu'])


def test_energies_of_wrong_length_are_refused(aiida_profile, make_cu_system):
    system = make_cu_system('fcc', 3)
    system.data['energies'] = system.data['energies'][:2]
    with pytest.raises(ValueError, match=r"field 'energies' has shape \(2,\); expected \(3,\)"):
        LabeledDatasetData.from_dpdata(system, type_map=['Cu'])


def test_type_map_must_cover_every_element(aiida_profile, make_cu_system):
    with pytest.raises(ValueError, match=r"elements \['Cu'\] are not in type_map=\['Ni'\]; add them to type_map"):
        LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1), type_map=['Ni'])


@pytest.mark.parametrize('type_map', [[], 'Cu', ['Cu', 'Cu']])
def test_malformed_type_map_is_refused(aiida_profile, make_cu_system, type_map):
    with pytest.raises(ValueError, match='type_map='):
        LabeledDatasetData.from_dpdata(make_cu_system('fcc', 1), type_map=type_map)


def test_zero_frames_are_refused(aiida_profile, make_cu_system):
    empty = make_cu_system('fcc', 2).sub_system([])
    with pytest.raises(ValueError, match=r'field "coords" has zero frames; expected at least one frame'):
        LabeledDatasetData.from_dpdata(empty, type_map=['Cu'])
    with pytest.raises(ValueError, match='got zero systems'):
        LabeledDatasetData.from_dpdata([], type_map=['Cu'])
    with pytest.raises(ValueError, match='got zero frames'):
        LabeledDatasetData.from_ase([], type_map=['Cu'])


def test_nan_forces_are_refused(aiida_profile, make_cu_system):
    system = make_cu_system('fcc', 2)
    system.data['forces'][1, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"field 'forces' contains NaN"):
        LabeledDatasetData.from_dpdata(system, type_map=['Cu'])
