"""PropertiesWorkChain end to end: EMT as the reference through the real job, and the models of a loop
trained on EMT data against it (the paper's Table 3 for a potential whose truth is known)."""

from __future__ import annotations

import pathlib
import runpy
import sys

import numpy as np
import pytest
from aiida.orm import InstalledCode
from ase.build import bulk
from ase.calculators.emt import EMT
from click.testing import CliRunner

from aiida_dpgen.cli import cli
from aiida_dpgen.data import ConfigurationsData, DeepPotentialData, LabeledDatasetData
from aiida_dpgen.properties.suite import run_suite
from aiida_dpgen.workflows.properties import PropertiesWorkChain
from aiida_dpgen.workflows.runner import run_get_node

EMT_CALCULATOR = {'calculator': 'ase.calculators.emt:EMT'}


@pytest.fixture
def python_code(aiida_localhost):
    """The Python of this environment: ASE, phonopy and deepmd-kit (for DeePMD-kit's ASE calculator)."""
    return InstalledCode(label='python-deepmd', computer=aiida_localhost, filepath_executable=sys.executable).store()


def test_the_reference_job_reproduces_the_suite_run_here(python_code, tmp_path):
    builder = PropertiesWorkChain.get_builder_from_protocol(
        'Cu', {}, reference={'calculator': EMT_CALCULATOR, 'code': python_code}, protocol='fast'
    )
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    job = results['properties']['reference'].get_dict()
    settings = {**builder.settings.get_dict(), 'element': 'Cu'}
    here = run_suite('Cu', EMT(), settings)
    assert job['lattice_constant'] == pytest.approx(here['lattice_constant'], abs=1e-9)
    assert job['vacancy']['energy'] == pytest.approx(here['vacancy']['energy'], abs=1e-9)
    assert job['elastic'] == pytest.approx(here['elastic'], abs=1e-6)
    assert job['surface'] == pytest.approx(here['surface'], abs=1e-9)
    assert job['phonons']['max_frequency'] == pytest.approx(here['phonons']['max_frequency'], abs=1e-9)
    curves = results['curves']['reference']
    assert curves.get_array('eos_fcc_volumes').shape == (7,)
    rows = {row['name']: row for row in results['comparison']['rows']}
    assert rows['vacancy formation energy']['reference'] == pytest.approx(here['vacancy']['energy'], abs=1e-9)
    assert rows['vacancy formation energy']['mean'] is None, 'no model was given'

    shown = CliRunner().invoke(
        cli,
        ['properties', str(node.pk), '--plots', str(tmp_path), '--output', str(tmp_path / 'table.txt')],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    assert 'vacancy formation energy' in shown.output and 'EMT' in shown.output
    assert (tmp_path / 'table.txt').read_text().splitlines()[0].startswith('property')
    assert (tmp_path / 'equations_of_state.png').stat().st_size > 10_000
    assert (tmp_path / 'phonons.png').stat().st_size > 10_000


TRAINING = {
    'training': {'numb_steps': 5000},
    'learning_rate': {'decay_steps': 250},
    'loss': {'start_pref_e': 0.2, 'limit_pref_e': 2, 'start_pref_v': 0.02, 'limit_pref_v': 1},
}
"""The fast protocol's tiny model, trained longer and on energies and virials too: the equation of state
is what the properties need most."""
TOLERANCES = {
    'fcc lattice constant': 0.01,
    'fcc bulk modulus (EOS)': 0.25,
    'B (Voigt)': 0.25,
    'C44': 0.30,
    'highest phonon frequency': 0.10,
    'vacancy formation energy': 0.50,
}
"""Relative bounds, about twice what a run measured (0.12 %, 11 %, 11 %, 13 %, 0.6 %, 16 %): tight for what
the data cover (compressed and stretched cells near equilibrium), loose for the vacancy, which no frame of
the data has. C11, C12 and the Voigt shear modulus are reported (mean and spread) but not bounded: the
tiny 4 Å model misses C11 by 25 %."""


def emt_scaled_cells(count: int = 60):
    """4-atom fcc cells scaled from 0.94 to 1.06 of EMT's lattice and rattled, labeled by EMT (energy,
    forces, virial): the paper's initial data, in small."""
    rng = np.random.default_rng(3)
    frames = []
    for index in range(count):
        atoms = bulk('Cu', 'fcc', a=3.59 * rng.uniform(0.94, 1.06), cubic=True)
        atoms.rattle(0.03, seed=index)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    return LabeledDatasetData.from_ase(frames, ['Cu']).store()


LOOP_PROPERTIES = {
    'prototypes': ['fcc'],
    'properties': ['eos', 'elastic', 'vacancy', 'phonons'],
}


def test_the_loop_tests_its_final_models_against_emt(python_code, aiida_localhost, capsys, monkeypatch):
    from aiida_dpgen.workflows.dpgen import DpgenWorkChain

    from .conftest import require
    from .test_dpgen import SELECTION, STAGE

    codes = {
        'train': InstalledCode(
            label='dp',
            computer=aiida_localhost,
            filepath_executable=require('dp'),
            default_calc_job_plugin='dpgen.train',
        ).store(),
        'explore': InstalledCode(
            label='lmp',
            computer=aiida_localhost,
            filepath_executable=require('lmp'),
            default_calc_job_plugin='dpgen.lammps',
        ).store(),
        'label': python_code,
    }
    builder = DpgenWorkChain.get_builder_from_protocol(
        codes,
        datasets={'init': emt_scaled_cells()},
        configurations={
            'fcc': ConfigurationsData.from_ase(
                [bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))], ['Cu']
            ).store()
        },
        schedule=[STAGE],
        selection=SELECTION,
        labeler={'engine': 'ase'},
        protocol='fast',
        overrides={'train': {'overrides': {'base': {'dp': {'parameters': TRAINING}}}}},
    )
    builder.train.numb_models = 2
    settings = PropertiesWorkChain.get_protocol_inputs('fast')['settings']
    builder.properties = {
        'element': 'Cu',
        'code': python_code,
        'reference': {'calculator': EMT_CALCULATOR},
        'settings': {**settings, **LOOP_PROPERTIES},
    }
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    rows = {row['name']: row for row in results['properties']['comparison']['rows']}
    assert set(results['properties']['properties']) == {'model_0', 'model_1', 'reference'}
    shown = CliRunner().invoke(cli, ['properties', str(node.pk)], catch_exceptions=False)  # the loop's pk
    assert shown.exit_code == 0 and 'model (2)' in shown.output and 'vacancy formation energy' in shown.output
    judged = CliRunner().invoke(cli, ['properties', str(node.pk), '--paper'], catch_exceptions=False)
    assert judged.exit_code == 0 and 'paper DP-DFT error (Table 3)' in judged.output
    assert '| vacancy formation energy | eV |' in judged.output and 'Table 3 properties at or below' in judged.output
    for name, tolerance in TOLERANCES.items():
        row = rows[name]
        assert row['models'] == 2 and row['spread'] is not None
        assert abs(row['relative']) < tolerance, f'{name}: model {row["mean"]:.4g} against EMT {row["reference"]:.4g}'

    # examples/properties_cu.py on the finished loop: its own labeler (EMT) is the reference by default
    example = pathlib.Path(__file__).parents[2] / 'examples' / 'properties_cu.py'
    arguments = [str(node.pk), '--computer', aiida_localhost.label, '--prototypes', 'fcc', '--properties', 'eos']
    monkeypatch.setattr(sys, 'argv', ['properties_cu.py', *arguments])
    capsys.readouterr()
    runpy.run_path(str(example), run_name='__main__')
    printed = capsys.readouterr().out
    assert 'exit status 0' in printed and 'ase (fast)' in printed, printed
    assert 'fcc lattice constant' in printed and 'vacancy formation energy' not in printed


PW_REFERENCE_SETTINGS = {
    'prototypes': ['fcc'],
    'properties': ['eos'],
    'fmax': 0.05,
    'eos': {'start': 0.98, 'stop': 1.02, 'points': 5},
}
"""The smallest suite pw.x can run in a test: relax fcc Cu, five volumes around it."""


def test_a_qe_labeler_is_the_reference_with_its_own_pw_settings(python_code, aiida_localhost, tmp_path):
    """The loop's labeler as the reference: pw.x, run by the suite through ASE, gives the energy the labeler
    gives on the same cell, and the table compares a model against it."""
    from ase.units import create_units
    from dpdata.unit import EnergyConversion

    from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family
    from aiida_dpgen.utils.codes import get_or_create_mpi_code
    from aiida_dpgen.workflows.label import LabelWorkChain

    from ..conftest import FIXTURES
    from .conftest import require

    require('pw.x')
    pw_code = get_or_create_mpi_code('pw', 'pw.x', computer=aiida_localhost.label, plugin='quantumespresso.pw')
    family = install_pseudo_family('test/properties-Cu', files={'Cu': DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'})
    labeler = {
        'engine': 'quantumespresso',
        'protocol': 'fast',
        'pseudo_family': family.label,
        'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'max_wallclock_seconds': 600},
        'overrides': {'kpoints_distance': 0.8, 'pw': {'parameters': {'SYSTEM': {'ecutwfc': 25, 'ecutrho': 200}}}},
    }
    model = DeepPotentialData(str(FIXTURES / 'models' / 'cu_se_e2_a.pb'), type_map=['Cu']).store()
    builder = PropertiesWorkChain.get_builder_from_protocol(
        'Cu',
        {'model_0': model},
        code=python_code,
        reference={'labeler': labeler, 'labeler_code': pw_code},
        protocol='fast',
        overrides={'settings': PW_REFERENCE_SETTINGS},
    )
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    fcc = results['properties']['reference']['prototypes']['fcc']
    assert fcc['relaxed'], 'the cell relaxed with pw.x stresses'
    assert 3.55 < (4 * fcc['volume']) ** (1 / 3) < 3.75, 'a PBE lattice constant of Cu, at low cutoff'
    curves = results['curves']['reference']
    volume, energy = curves.get_array('eos_fcc_volumes')[-1], curves.get_array('eos_fcc_energies')[-1]
    cell = bulk('Cu', 'fcc', a=(4 * volume) ** (1 / 3), cubic=True)  # cubic symmetry keeps the relaxed cell cubic
    labeled, _ = run_get_node(
        LabelWorkChain,
        candidates={'fcc': ConfigurationsData.from_ase([cell], ['Cu']).store()},
        labeler=labeler,
        code=pw_code,
    )
    (system,) = labeled['dataset'].to_dpdata()
    # the same pw.x total energy in Ry: ASE converts it with QE's CODATA 2006 Rydberg, the labels with dpdata's
    # CODATA 2018 one (8.8e-8 relative: 0.25 meV/atom of Cu's absolute energy, nothing of any difference)
    rescale = EnergyConversion('rydberg', 'eV').value() / create_units('2006')['Ry']
    assert energy * rescale == pytest.approx(system['energies'][0] / 4, abs=1e-5), 'eV/atom, by the two routes'

    job = next(
        child
        for child in node.called_descendants
        if child.process_label == 'PropertiesCalculation' and 'engine_code' in child.inputs
    )
    assert job.inputs.engine_code.uuid == pw_code.uuid
    assert job.inputs.files['pseudo_Cu'].uuid == family.get_pseudo('Cu').uuid, 'the family pseudo, with provenance'

    shown = CliRunner().invoke(cli, ['properties', str(node.pk)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert 'quantumespresso (fast)' in shown.output and 'fcc lattice constant' in shown.output
