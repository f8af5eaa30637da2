"""InitDataWorkChain without engines: the protocol builder, and bad input refused before anything is labeled."""

from __future__ import annotations

import sys

import pytest
from aiida.orm import InstalledCode, StructureData

from aiida_dpgen.initdata.structures import crystal
from aiida_dpgen.workflows.initdata import InitDataWorkChain


@pytest.fixture
def builder(aiida_localhost):
    code = InstalledCode(
        computer=aiida_localhost, filepath_executable=sys.executable, default_calc_job_plugin='dpgen.ase'
    )
    structures = {'fcc': StructureData(ase=crystal('Cu', 'fcc')), 'bcc': StructureData(ase=crystal('Cu', 'bcc', 2.87))}
    return InitDataWorkChain.get_builder_from_protocol(
        code.store(), structures, ['Cu'], {'engine': 'ase'}, protocol='stringent'
    )


def test_stringent_is_the_paper_s_setting(builder):
    bulk = builder.bulk.get_dict()
    assert bulk['supercell'] == [2, 2, 2] and bulk['scale'] == {'start': 0.84, 'stop': 1.0, 'step': 0.02}
    assert (bulk['cell_fraction'], bulk['atom_distance']) == (0.03, 0.01)
    assert builder.surfaces['separations'] == {'start': 0.5, 'stop': 9.0, 'step': 0.5}
    assert builder.label.labeler.get_dict() == {'protocol': 'stringent', 'engine': 'ase'}
    assert bulk['md'] == {'temperature': 50.0, 'nsteps': 20, 'timestep': 2.0}, '20 AIMD steps at 50 K'


SEPARATIONS = {'start': 0.5, 'stop': 9, 'step': 0.5}
BAD_INPUT = [
    ({'bulk': {'scale': {'start': 1.0, 'stop': 0.9, 'step': 0.02}}}, r'bulk.scale: start=1.0 > stop=0.9; .* empty'),
    ({'bulk': {'scale': {'start': -0.9, 'stop': 1.0, 'step': 0.02}}}, r'bulk.scale: .*expected positive factors'),
    (
        {'bulk': {'supercell': [2, 2, 2], 'min_width': 8.0}},
        r'structures.bcc: bulk.supercell=\[2, 2, 2\]: 5.74 Å across, less than 8.0 Å',
    ),
    ({'bulk': {'relax_scales': [0.98, 1.0, 1.02]}}, r'bulk.relax_scales=\[0.98, 1.0, 1.02\]: expected 5 or more'),
    ({'bulk': {'perturbation': 3}}, r"bulk: unknown keys \['perturbation'\]"),
    ({'bulk': {'md': {'temperature': 50, 'nsteps': -1, 'timestep': 2}}}, r'bulk.md=.*nsteps=-1: expected a positive'),
    ({'labeler': {'engine': 'gaussian'}}, r"bulk.md=.*'gaussian' labeler runs no MD.*set bulk.md.nsteps to 0"),
    ({'type_map': ['Al']}, r"structures.bcc: elements \['Cu'\] are not in type_map \['Al'\]"),
    ({'surfaces': {'miller': [[0, 0, 0]], 'layers': 4, 'separations': SEPARATIONS}}, r'miller=\[0, 0, 0\]'),
    (
        {'surfaces': {'miller': [[1, 1, 1]], 'layers': 4, 'separations': {**SEPARATIONS, 'start': 10}}},
        r'expected 0 <= start <= stop',
    ),
]


@pytest.mark.parametrize(('change', 'message'), BAD_INPUT)
def test_bad_input_is_refused_before_anything_runs(builder, generate_workchain, change, message):
    inputs = builder._inputs(prune=True)
    if 'bulk' in change:
        inputs['bulk'] = {**inputs['bulk'].get_dict(), **change['bulk']}
    if 'surfaces' in change:
        inputs['surfaces'] = change['surfaces']
    if 'type_map' in change:
        inputs['type_map'] = change['type_map']
    if 'labeler' in change:
        inputs['label']['labeler'] = change['labeler']
    with pytest.raises(ValueError, match=message):
        generate_workchain('dpgen.init_data', inputs)


def test_md_with_no_steps_labels_single_points(builder, generate_workchain):
    inputs = builder._inputs(prune=True)
    inputs['bulk'] = {**inputs['bulk'].get_dict(), 'md': {'nsteps': 0}}
    inputs['label']['labeler'] = {'engine': 'gaussian'}
    assert generate_workchain('dpgen.init_data', inputs).inputs.bulk['md'] == {'nsteps': 0}
