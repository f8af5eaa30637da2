"""LAMMPS inputs: built-in ensembles, DP-GEN template mode, and the data file's cell convention."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.build import bulk

from aiida_dpgen.exploration.tasks import (
    MdSettings,
    lammps_box,
    md_input,
    template_input,
    write_conf,
)


def lines_of(script: str) -> list[str]:
    return script.splitlines()


@pytest.mark.parametrize(
    ('ensemble', 'pressure', 'fix'),
    [
        ('nvt', None, 'fix dpgen_md all nvt temp 300.0 300.0 0.1'),
        ('nve', None, 'fix dpgen_md all nve'),
        ('npt', 1.0, 'fix dpgen_md all npt temp 300.0 300.0 0.1 iso 1.0 1.0 0.5'),
        ('npt-iso', 10.0, 'fix dpgen_md all npt temp 300.0 300.0 0.1 iso 10.0 10.0 0.5'),
        ('npt-aniso', 10.0, 'fix dpgen_md all npt temp 300.0 300.0 0.1 aniso 10.0 10.0 0.5'),
        ('npt-tri', 10.0, 'fix dpgen_md all npt temp 300.0 300.0 0.1 tri 10.0 10.0 0.5'),
    ],
)
def test_each_ensemble_gets_its_integrator(ensemble, pressure, fix):
    script = md_input(MdSettings(ensemble, 300.0, 1000, 10, pressure=pressure), 4, [63.546], 'task.000003')
    lines = lines_of(script)
    assert lines[0] == 'shell cd task.000003', 'relative names inside the task folder, as DP-GEN templates use'
    assert fix in lines
    assert 'read_data conf.lmp' in lines
    assert (
        'pair_style deepmd ../graph.000.pb ../graph.001.pb ../graph.002.pb ../graph.003.pb '
        'out_file model_devi.out out_freq 10'
    ) in lines
    assert 'dump dpgen_traj all custom 10 traj.dump id type x y z' in lines
    assert lines[-1] == 'run 1000'


def test_neighbor_timestep_and_relative_deviation_are_written():
    settings = MdSettings('nvt', 50.0, 20, 5, timestep=0.001, neighbor_skin=2.0, neighbor_every=10, relative_f=1.0)
    lines = lines_of(md_input(settings, 2, [63.546, 26.98], 'task.000000'))
    assert {'neighbor 2.0 bin', 'neigh_modify every 10 delay 0 check no', 'timestep 0.001'} <= set(lines)
    assert {'mass 1 63.546', 'mass 2 26.98'} <= set(lines)
    assert any(line.startswith('pair_style deepmd') and line.endswith('relative 1.0') for line in lines)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'ensemble': 'nph'}, "ensemble='nph': unknown"),
        ({'ensemble': 'npt'}, "press: ensemble 'npt' needs a pressure"),
        ({'nsteps': 0}, 'nsteps=0: expected a positive number'),
        ({'trj_freq': 2.5}, 'trj_freq=2.5'),
        ({'temperature': -1.0}, 'temps=-1.0'),
    ],
)
def test_bad_md_settings_name_the_key(kwargs, message):
    arguments = {'ensemble': 'nvt', 'temperature': 300.0, 'nsteps': 10, 'trj_freq': 1, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        MdSettings(**arguments)


TEMPLATE = """units metal
atom_style atomic
read_data data.lmp
pair_style deepmd old.pb out_file md.out
pair_coeff * *
velocity all create V_TEMP 1
fix 1 all npt temp V_TEMP V_TEMP 0.1 iso V_PRES V_PRES 0.5
run V_NSTEPS
"""


def test_template_placeholders_are_filled_and_the_pair_style_and_data_file_are_ours():
    values = {'V_TEMP': 300, 'V_PRES': 1.0, 'V_NSTEPS': 500}
    lines = lines_of(template_input(TEMPLATE, values, 2, 10, 'task.000001'))
    assert lines[0] == 'shell cd task.000001'
    assert 'read_data conf.lmp' in lines
    assert 'pair_style deepmd ../graph.000.pb ../graph.001.pb out_file model_devi.out out_freq 10' in lines
    assert lines.count('pair_coeff * *') == 1
    assert 'fix 1 all npt temp 300 300 0.1 iso 1.0 1.0 0.5' in lines
    assert 'run 500' in lines
    assert not any('V_' in line for line in lines)


@pytest.mark.parametrize(
    ('template', 'values', 'message'),
    [
        (TEMPLATE, {'V_TEMP': 1, 'V_PRES': 1}, "placeholders ['V_NSTEPS'] have no value"),
        (TEMPLATE, {'V_TEMP': 1, 'V_PRES': 1, 'V_NSTEPS': 1, 'V_SEED': 1}, "rev_mat: keys ['V_SEED'] do not occur"),
        (
            TEMPLATE.replace('pair_style deepmd', 'pair_style eam'),
            {'V_TEMP': 1, 'V_PRES': 1, 'V_NSTEPS': 1},
            'no `pair_style deepmd` line',
        ),
        (TEMPLATE.replace('read_data data.lmp', ''), {'V_TEMP': 1, 'V_PRES': 1, 'V_NSTEPS': 1}, 'no `read_data` line'),
    ],
)
def test_template_without_what_it_needs_is_refused(template, values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        template_input(template, values, 2, 10, 'task.000000')


def test_lammps_box_keeps_lengths_angles_and_volume_of_a_skewed_cell():
    cell = bulk('Cu', 'hcp', a=2.55).cell[:] @ np.array([[0.8, 0.6, 0], [-0.6, 0.8, 0], [0, 0, 1]])
    box, rotation = lammps_box(cell)
    assert np.allclose(np.triu(box, 1), 0.0), 'LAMMPS needs a lower-triangular cell'
    assert np.allclose(cell @ rotation, box)
    assert np.allclose(box @ box.T, cell @ cell.T), 'same lengths and angles'


def test_left_handed_cell_is_refused():
    with pytest.raises(ValueError, match='right-handed'):
        lammps_box(np.diag([1.0, 1.0, -1.0]))


def test_data_file_wraps_atoms_into_the_box(tmp_path):
    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True)
    positions = atoms.positions - np.array([0.0, 0.0, 0.1])  # one layer just below z = 0
    write_conf(tmp_path / 'conf.lmp', atoms.cell[:], positions, np.zeros(4, int), 2)
    text = (tmp_path / 'conf.lmp').read_text()
    assert '4 atoms' in text and '2 atom types' in text
    rows = np.array([line.split() for line in text.split('Atoms # atomic')[1].strip().splitlines()], dtype=float)
    assert np.all(rows[:, 4] >= 0.0) and np.all(rows[:, 4] < 3.61)
    assert np.isclose(rows[0, 4], 3.51)
