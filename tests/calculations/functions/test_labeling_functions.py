"""extract_structures and collect_labels: candidate frames in, screened structures out, labels into a dataset."""

from __future__ import annotations

import numpy as np
import pytest
from aiida.orm import ArrayData, Dict, Float, List, Str
from ase.calculators.emt import EMT

from aiida_dpgen.calculations.functions.collect_labels import collect_labels
from aiida_dpgen.calculations.functions.extract_structures import extract_structures
from aiida_dpgen.data import ConfigurationsData


def test_extract_structures_screens_atoms_that_are_too_close(make_cu_frames):
    frames = make_cu_frames('fcc', nframes=3, labeled=False)
    frames[1].positions[2] = frames[1].positions[3] + [0.2, 0.0, 0.0]
    configurations = ConfigurationsData.from_ase(frames, type_map=['Cu'])
    outputs = extract_structures(configurations, Float(0.5))

    screening = outputs['screening'].get_dict()
    assert screening['frames'] == 3 and screening['kept'] == 2
    assert screening['excluded'] == [
        {
            'frame': 1,
            'formula': 'Cu4',
            'reason': 'atoms too close',
            'detail': 'Cu-Cu 0.200 Å < 0.5 Å',
            'closest_distance': pytest.approx(0.2, abs=1e-4),
        }
    ]
    assert sorted(outputs) == ['frame_000000', 'frame_000002', 'screening']
    np.testing.assert_allclose(outputs['frame_000002'].get_ase().positions, frames[2].positions, atol=1e-10)
    assert outputs['frame_000000'].creator.process_label == 'extract_structures'


def test_extract_structures_screens_by_pair_box_and_volume_with_reasons(make_cu_frames):
    """The blown-up cell of a young NPT run, a skewed box and a per-pair distance: each excluded with its
    reason; the global min_distance still applies to pairs the screens do not name."""
    frames = make_cu_frames('fcc', nframes=5, labeled=False)
    frames[1].set_cell(frames[1].cell * 2.5, scale_atoms=True)  # 11.8 -> about 184 Å^3 per atom
    frames[2].set_cell(frames[2].cell.array + np.array([[0, 0, 0], [3.61 * 2, 0, 0], [0, 0, 0]]), scale_atoms=False)
    frames[3].positions[2] = frames[3].positions[3] + [1.5, 0.0, 0.0]
    frames[4].positions[2] = frames[4].positions[3] + [0.3, 0.0, 0.0]
    configurations = ConfigurationsData.from_ase(frames, type_map=['Cu'])
    screens = Dict({'min_distance': {'Cu-Cu': 1.6}, 'max_tilt_angle': 60, 'volume_per_atom': [6, 30]})
    outputs = extract_structures(configurations, Float(0.5), screens)

    excluded = {item['frame']: item['reason'] for item in outputs['screening'].get_dict()['excluded']}
    assert excluded == {1: 'volume per atom', 2: 'skewed box', 3: 'atoms too close', 4: 'atoms too close'}
    assert sorted(outputs) == ['frame_000000', 'screening']


def ase_label_nodes(structure):
    atoms = structure.get_ase()
    atoms.calc = EMT()
    arrays = ArrayData()
    arrays.set_array('forces', atoms.get_forces())
    arrays.set_array('stress', atoms.get_stress(voigt=False))
    return {'parameters': Dict({'energy': atoms.get_potential_energy()}), 'arrays': arrays}, atoms


def test_collect_labels_builds_a_dataset_that_links_to_every_label(make_cu_frames):
    frames = make_cu_frames('fcc', nframes=2, labeled=False) + make_cu_frames('bcc', nframes=1, labeled=False)
    structures = {}
    for configurations in (
        ConfigurationsData.from_ase(frames[:2], ['Cu']),
        ConfigurationsData.from_ase(frames[2:], ['Cu']),
    ):
        for label, node in extract_structures(configurations, Float(0.5)).items():
            if label != 'screening':
                structures[f'frame_{len(structures):06d}'] = node
    inputs, expected = {}, []
    for key, structure in structures.items():
        nodes, atoms = ase_label_nodes(structure)
        inputs[f'{key}_structure'] = structure
        inputs.update({f'{key}_{name}': node for name, node in nodes.items()})
        expected.append(atoms)

    outputs = collect_labels(Str('ase'), List(['Cu']), Dict({'submitted': 3}), **inputs)

    dataset = outputs['dataset']
    assert dataset.nframes == 3
    assert {system['name'] for system in dataset.systems} == {'Cu4', 'Cu2'}
    assert outputs['summary'].get_dict() == {'submitted': 3, 'labeled': 3, 'duplicates': 0}
    energies = sorted(float(e) for system in dataset.to_dpdata() for e in system['energies'])
    assert energies == pytest.approx(sorted(atoms.get_potential_energy() for atoms in expected))
    incoming = {link.link_label for link in dataset.creator.base.links.get_incoming().all()}
    assert {'frame_000002_arrays', 'frame_000002_parameters', 'frame_000002_structure'} <= incoming


def test_a_frame_labeled_twice_is_stored_once_and_counted_as_a_duplicate(make_cu_frames):
    """MD tasks from one configuration share their first frame; labeled twice, it is one frame of the data, and
    the summary says so rather than counting two labels."""
    frame = make_cu_frames('fcc', nframes=1, labeled=False)
    structures = extract_structures(ConfigurationsData.from_ase(frame * 2, ['Cu']), Float(0.5))
    inputs = {}
    for index, key in enumerate(sorted(label for label in structures if label != 'screening')):
        nodes, _ = ase_label_nodes(structures[key])
        inputs[f'frame_{index:06d}_structure'] = structures[key]
        inputs.update({f'frame_{index:06d}_{name}': node for name, node in nodes.items()})

    outputs = collect_labels(Str('ase'), List(['Cu']), Dict({'submitted': 2}), **inputs)

    assert outputs['dataset'].nframes == 1
    assert outputs['summary'].get_dict() == {'submitted': 2, 'labeled': 1, 'duplicates': 1}


def test_collect_labels_without_frames_gives_only_the_summary():
    outputs = collect_labels(Str('ase'), List(['Cu']), Dict({'submitted': 2, 'excluded': 2}))
    assert 'dataset' not in outputs
    assert outputs['summary']['labeled'] == 0
