"""One real run per engine on a tiny copper cell, each result parsed the way the loop will parse it."""

from __future__ import annotations

import re

import dpdata
import numpy as np
import pytest
from ase.build import bulk
from ase.io import write
from ase.units import Bohr, Hartree, Rydberg

from aiida_dpgen.data import DeepPotentialData, LabeledDatasetData
from aiida_dpgen.utils.engines import CP2K_DATA_DIR, QE_PSEUDO_DIR, probe_engines

from .conftest import require, run_mpi


def rattled_cu4(seed: int = 1):
    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True)
    atoms.rattle(0.05, seed=seed)
    return atoms


def test_every_engine_is_found_with_a_version():
    statuses = probe_engines()
    problems = {status.name: status.problem for status in statuses if not status.ok}
    assert not problems
    assert all(status.version for status in statuses)


def test_deepmd_trains_freezes_and_predicts(aiida_profile, trained_models):
    from deepmd.infer import DeepPot

    model = DeepPotentialData.from_frozen_model(trained_models[0], training_steps=200)
    assert (model.deepmd_backend, model.type_map, model.rcut) == ('tensorflow', ['Cu'], 4.0)
    assert (model.descriptor, model.seed) == ('se_e2_a', 1)

    lcurve = np.loadtxt(trained_models[0].parent / 'train_1' / 'lcurve.out')
    assert lcurve[-1, 2] < lcurve[0, 2], 'training force RMSE did not decrease'

    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))
    atoms.rattle(0.03, seed=99)
    energy, forces, virial = DeepPot(str(trained_models[0])).eval(
        atoms.positions.reshape(1, -1), atoms.cell[:].reshape(1, -1), np.zeros(len(atoms), dtype=int)
    )[:3]
    assert energy.shape == (1, 1)
    assert forces.shape == (1, 8, 3)
    assert np.all(np.isfinite(energy)) and np.all(np.isfinite(forces)) and np.all(np.isfinite(virial))


LAMMPS_INPUT = """
units metal
boundary p p p
atom_style atomic
read_data conf.lmp
mass 1 63.546
pair_style deepmd {models} out_file model_devi.out out_freq 10
pair_coeff * *
velocity all create 600.0 4928459 mom yes rot yes dist gaussian
fix nvt all nvt temp 600.0 600.0 0.1
timestep 0.001
thermo 10
dump traj all custom 10 traj.dump id type x y z
run 100
"""


def test_lammps_runs_dpmd_and_writes_model_deviation(tmp_path, trained_models):
    lmp = require('lmp')
    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat(2)
    write(tmp_path / 'conf.lmp', atoms, format='lammps-data', specorder=['Cu'])
    (tmp_path / 'in.lammps').write_text(LAMMPS_INPUT.format(models=' '.join(map(str, trained_models))))

    import subprocess

    subprocess.run([lmp, '-in', 'in.lammps'], cwd=tmp_path, check=True, capture_output=True)

    deviation = np.loadtxt(tmp_path / 'model_devi.out')
    assert deviation.shape == (11, 7)
    np.testing.assert_array_equal(deviation[:, 0], np.arange(0, 101, 10))
    max_f, min_f, avg_f = deviation[:, 4], deviation[:, 5], deviation[:, 6]
    assert np.all(max_f >= avg_f) and np.all(avg_f >= min_f) and np.all(min_f >= 0)
    assert max_f.max() > 0, 'two models with different seeds must disagree somewhere'

    trajectory = dpdata.System(str(tmp_path / 'traj.dump'), fmt='lammps/dump', type_map=['Cu'])
    assert (trajectory.get_nframes(), trajectory.get_natoms()) == (11, 32)


def test_pw_single_point_is_parsed_by_dpdata_into_a_dataset(aiida_profile, tmp_path):
    require('pw.x')
    write(
        tmp_path / 'pw.in',
        rattled_cu4(),
        format='espresso-in',
        input_data={
            'control': {
                'calculation': 'scf',
                'tprnfor': True,
                'tstress': True,
                'pseudo_dir': str(QE_PSEUDO_DIR),
                'outdir': './out',
            },
            'system': {
                'ecutwfc': 25,
                'ecutrho': 200,
                'occupations': 'smearing',
                'smearing': 'mv',
                'degauss': 0.02,
            },
            'electrons': {'conv_thr': 1e-6},
        },
        pseudopotentials={'Cu': 'Cu.pbe-kjpaw.UPF'},
        kpts=(2, 2, 2),
    )
    with (tmp_path / 'pw.out').open('w') as stdout:
        run_mpi(['pw.x', '-in', 'pw.in'], cwd=tmp_path, stdout=stdout)
    output = (tmp_path / 'pw.out').read_text()
    assert 'running on     2 processors' in output, 'pw.x did not run as one 2-rank MPI job'
    assert 'convergence has been achieved' in output

    system = dpdata.LabeledSystem([str(tmp_path / 'pw.in'), str(tmp_path / 'pw.out')], fmt='qe/pw/scf')
    total_energy_ry = float(re.search(r'!\s+total energy\s+=\s+(-?\d+\.\d+) Ry', output).group(1))
    np.testing.assert_allclose(system['energies'][0], total_energy_ry * Rydberg, rtol=1e-6)
    assert system['forces'].shape == (1, 4, 3)
    np.testing.assert_allclose(system['forces'][0].sum(axis=0), 0, atol=1e-3)
    assert np.abs(system['virials']).max() > 0

    dataset = LabeledDatasetData.from_dpdata(system, type_map=['Cu'])
    assert dataset.labels == ['energies', 'forces', 'virials']


CP2K_INPUT = """&GLOBAL
  PROJECT cu
  RUN_TYPE ENERGY_FORCE
&END GLOBAL
&FORCE_EVAL
  METHOD Quickstep
  STRESS_TENSOR ANALYTICAL
  &DFT
    BASIS_SET_FILE_NAME {data}/BASIS_MOLOPT
    POTENTIAL_FILE_NAME {data}/GTH_POTENTIALS
    &MGRID
      CUTOFF 200
      REL_CUTOFF 40
    &END MGRID
    &SCF
      EPS_SCF 1.0E-6
      MAX_SCF 60
      ADDED_MOS 20
      &SMEAR ON
        METHOD FERMI_DIRAC
        ELECTRONIC_TEMPERATURE 1000
      &END SMEAR
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA 0.3
      &END MIXING
    &END SCF
    &XC
      &XC_FUNCTIONAL PBE
      &END XC_FUNCTIONAL
    &END XC
  &END DFT
  &SUBSYS
    &CELL
{cell}
    &END CELL
    &COORD
{coords}
    &END COORD
    &KIND Cu
      BASIS_SET DZVP-MOLOPT-SR-GTH
      POTENTIAL GTH-PBE-q11
    &END KIND
  &END SUBSYS
  &PRINT
    &FORCES ON
    &END FORCES
    &STRESS_TENSOR ON
    &END STRESS_TENSOR
  &END PRINT
&END FORCE_EVAL
"""


def test_cp2k_single_point_is_parsed_by_dpdata_and_by_aiida_cp2ks_parser(tmp_path):
    """Also the check on the numpy pin: cp2k-output-tools 0.5.0 (aiida-cp2k's parser) runs under numpy 2."""
    require('cp2k')
    atoms = rattled_cu4()
    cell = '\n'.join(
        f'      {axis} {x:.10f} {y:.10f} {z:.10f}' for axis, (x, y, z) in zip('ABC', atoms.cell, strict=True)
    )
    coords = '\n'.join(f'      Cu {x:.10f} {y:.10f} {z:.10f}' for x, y, z in atoms.positions)
    (tmp_path / 'cu.inp').write_text(CP2K_INPUT.format(data=CP2K_DATA_DIR, cell=cell, coords=coords))
    run_mpi(['cp2k', '-i', 'cu.inp', '-o', 'cu.out'], cwd=tmp_path)
    output = (tmp_path / 'cu.out').read_text()
    assert 'SCF run converged' in output

    energy_ha = float(
        re.search(r'ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+(-?\d+\.\d+)', output).group(1)
    )
    force_block = re.search(r'ATOMIC FORCES in \[a\.u\.\]\s+# Atom.*?\n(.*?)\n\s*SUM OF', output, re.DOTALL).group(1)
    forces_ha_bohr = np.array([line.split()[3:6] for line in force_block.strip().splitlines()], dtype=float)

    system = dpdata.LabeledSystem(str(tmp_path / 'cu.out'), fmt='cp2k/output')
    np.testing.assert_allclose(system['energies'][0], energy_ha * Hartree, rtol=1e-6)
    np.testing.assert_allclose(system['forces'][0], forces_ha_bohr * Hartree / Bohr, rtol=1e-5, atol=1e-6)

    import importlib.metadata

    from cp2k_output_tools import parse_iter

    assert importlib.metadata.version('cp2k-output-tools') == '0.5.0', 'the version aiida-cp2k 2.1.1 is built for'
    parsed = {}
    for match in parse_iter(output):
        parsed.update(match)
    assert parsed['energies']['total force_eval'] == pytest.approx(energy_ha)
