"""The CP2K labeler without running CP2K: input from protocol, labels read from a real CP2K output."""

from __future__ import annotations

import dpdata
import numpy as np
import pytest
from aiida import orm
from ase.build import bulk
from ase.io import read

from aiida_dpgen.labelers.cp2k import Cp2kLabeler, read_energy_and_forces, read_stress_gpa
from aiida_dpgen.labeling.frames import EV_PER_ANGSTROM3_PER_GPA

from .test_labelers import FIXTURES

OUTPUT = FIXTURES / 'cp2k_cu4_compressed.out'


def structure() -> orm.StructureData:
    atoms = read(FIXTURES / 'cp2k_cu4_compressed.xyz')
    atoms.set_cell(np.eye(3) * 3.45)
    atoms.pbc = True
    return orm.StructureData(ase=atoms)


def test_energy_and_forces_equal_dpdatas_reading():
    reference = dpdata.LabeledSystem(str(OUTPUT), fmt='cp2k/output')
    retrieved = orm.FolderData()
    retrieved.base.repository.put_object_from_file(str(OUTPUT), 'aiida.out')
    label = Cp2kLabeler.convert_outputs(structure(), retrieved=retrieved)
    assert label.energy == pytest.approx(reference['energies'][0], abs=1e-8)
    np.testing.assert_allclose(label.forces, reference['forces'][0], atol=1e-8)
    stress = read_stress_gpa(OUTPUT.read_text())
    np.testing.assert_allclose(np.trace(stress) / 3, 52.4001456956, rtol=1e-10)  # STRESS| 1/3 Trace
    np.testing.assert_allclose(label.virial, 3.45**3 * stress * EV_PER_ANGSTROM3_PER_GPA)
    assert np.all(np.diag(label.virial) > 0), 'a compressed cell: positive virial on the diagonal'


def test_incomplete_output_is_named():
    with pytest.raises(ValueError, match=r'no "ENERGY\| Total FORCE_EVAL" line'):
        read_energy_and_forces('nothing here', 4)
    with pytest.raises(ValueError, match='forces for 4 atoms, the structure 8'):
        read_energy_and_forces(OUTPUT.read_text(), 8)


def test_input_from_protocol_has_kinds_kpoints_and_data_files():
    labeler = Cp2kLabeler(
        {'engine': 'cp2k', 'protocol': 'fast', 'overrides': {'FORCE_EVAL': {'DFT': {'SCF': {'MAX_SCF': 7}}}}}
    )
    parameters = labeler.parameters(orm.StructureData(ase=bulk('Cu', 'fcc', a=3.61, cubic=True)))
    dft = parameters['FORCE_EVAL']['DFT']
    assert parameters['GLOBAL']['RUN_TYPE'] == 'ENERGY_FORCE'
    assert parameters['FORCE_EVAL']['STRESS_TENSOR'] == 'ANALYTICAL'
    assert dft['KPOINTS']['SCHEME'] == 'MONKHORST-PACK 2 2 2'  # |b| = 1.74 / Å, spacing 1.0 / Å
    assert dft['BASIS_SET_FILE_NAME'] == '/usr/share/cp2k/BASIS_MOLOPT'
    assert dft['SCF']['MAX_SCF'] == 7 and dft['MGRID']['CUTOFF'] == 300
    assert parameters['FORCE_EVAL']['SUBSYS']['KIND'] == [
        {'_': 'Cu', 'ELEMENT': 'Cu', 'BASIS_SET': 'DZVP-MOLOPT-SR-GTH', 'POTENTIAL': 'GTH-PBE'}
    ]


@pytest.mark.parametrize(
    'case',
    [
        ({}, {'OMP_NUM_THREADS': '1'}),
        ({'environment_variables': {'OMP_NUM_THREADS': '4'}}, {'OMP_NUM_THREADS': '4'}),
        ({'environment_variables': {'CP2K_DATA_DIR': '/data'}}, {'OMP_NUM_THREADS': '1', 'CP2K_DATA_DIR': '/data'}),
    ],
)
def test_cp2k_jobs_run_one_openmp_thread_per_process_unless_told(aiida_localhost, case):
    """Debian's cp2k is the hybrid psmp build: without OMP_NUM_THREADS each MPI process starts a thread per core."""
    options, environment = case
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='cp2k').store()
    labeler = Cp2kLabeler({'engine': 'cp2k', 'protocol': 'fast', 'options': options})
    builder = labeler.get_builder(orm.StructureData(ase=bulk('Cu', 'fcc', a=3.61, cubic=True)), code)
    assert builder.cp2k.metadata.options['environment_variables'] == environment


@pytest.mark.skipif(not (FIXTURES.parents[2] / 'aiida_dpgen').is_dir(), reason='source checkout only')
def test_elements_without_basis_or_potential_are_named(tmp_path):
    (tmp_path / 'BASIS_MOLOPT').write_text(' Cu DZVP-MOLOPT-SR-GTH DZVP-MOLOPT-SR-GTH-q11\n 1\n')
    (tmp_path / 'GTH_POTENTIALS').write_text('Cu GTH-PBE-q11 GTH-PBE\n    3    6    2\n')
    labeler = Cp2kLabeler({'engine': 'cp2k', 'data_directory': str(tmp_path)})
    labeler.check_elements(['Cu'])
    with pytest.raises(ValueError, match=r"labeler.basis_set='DZVP-MOLOPT-SR-GTH' is not defined for \['Ni'\]"):
        labeler.check_elements(['Cu', 'Ni'])
    with pytest.raises(ValueError, match=r"labeler.potential='GTH-PBE-q19' is not defined for \['Cu'\]"):
        Cp2kLabeler({'engine': 'cp2k', 'data_directory': str(tmp_path), 'potential': 'GTH-PBE-q19'}).check_elements(
            ['Cu']
        )


def test_basis_sets_and_potentials_by_element(tmp_path):
    """DP-GEN's KIND sections name a potential per element (GTH-PBE-q4 for C, GTH-PBE-q1 for H)."""
    (tmp_path / 'BASIS_MOLOPT').write_text(''.join(f' {el} DZVP-MOLOPT-GTH\n 1\n' for el in 'HCN'))
    (tmp_path / 'GTH_POTENTIALS').write_text('H GTH-PBE-q1\n 1\nC GTH-PBE-q4\n 2 2\n')
    specification = {
        'engine': 'cp2k',
        'data_directory': str(tmp_path),
        'basis_set': 'DZVP-MOLOPT-GTH',
        'potential': {'C': 'GTH-PBE-q4', 'H': 'GTH-PBE-q1'},
    }
    labeler = Cp2kLabeler(specification)
    labeler.check_elements(['C', 'H'])
    methane = orm.StructureData(cell=[[8, 0, 0], [0, 8, 0], [0, 0, 8]])
    for symbol, position in (('C', (4, 4, 4)), ('H', (4.6, 4.6, 4.6)), ('H', (3.4, 3.4, 4.6))):
        methane.append_atom(symbols=symbol, position=position)
    kinds = {kind['_']: kind for kind in labeler.parameters(methane)['FORCE_EVAL']['SUBSYS']['KIND']}
    assert (kinds['C']['POTENTIAL'], kinds['H']['POTENTIAL']) == ('GTH-PBE-q4', 'GTH-PBE-q1')
    assert kinds['H']['BASIS_SET'] == 'DZVP-MOLOPT-GTH'
    with pytest.raises(ValueError, match=r'labeler.potential=.* has no entry for N; add "N": NAME'):
        labeler.check_elements(['C', 'N'])


def test_a_prepend_text_that_exports_threads_overrides_the_labelers_default():
    """AiiDA writes the job's environment before the prepend text, so a site's own OMP_NUM_THREADS wins."""
    from tests.utils.test_resources import submit_script

    prepend = 'export OMP_NUM_THREADS=4'
    labeler = Cp2kLabeler({'engine': 'cp2k', 'protocol': 'fast', 'options': {'prepend_text': prepend}})
    lines = submit_script('core.slurm', labeler.job_options()).splitlines()
    assert lines.index("export OMP_NUM_THREADS='1'") < lines.index(prepend)
