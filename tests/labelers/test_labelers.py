"""The labeler interface: entry points, specifications, protocols and element checks, before any job runs."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
from aiida import orm
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_dpgen.labelers.ase import AseLabeler
from aiida_dpgen.labelers.base import available_labelers, labeler_from_specification, load_labeler
from aiida_dpgen.labelers.quantumespresso import QuantumEspressoLabeler
from aiida_dpgen.labeling.pseudos import DEBIAN_PSEUDO_DIRECTORY, install_pseudo_family

DEBIAN_CU = DEBIAN_PSEUDO_DIRECTORY / 'Cu.pbe-kjpaw.UPF'
FIXTURES = pathlib.Path(__file__).parent / 'fixtures'


@pytest.fixture
def cu_family(aiida_profile_clean, tmp_path):
    if not DEBIAN_CU.is_file():
        pytest.skip('Debian quantum-espresso-data not installed')
    shutil.copyfile(DEBIAN_CU, tmp_path / 'Cu.UPF')
    return install_pseudo_family('test/Cu', files={'Cu': tmp_path / 'Cu.UPF'})


def test_labelers_are_entry_points():
    assert {'ase', 'quantumespresso'} <= set(available_labelers())
    assert load_labeler('quantumespresso') is QuantumEspressoLabeler
    with pytest.raises(ValueError, match=r"labeler.engine='siesta' is not a registered labeler; choose one of"):
        load_labeler('siesta')
    with pytest.raises(ValueError, match='missing key "engine"'):
        labeler_from_specification({'protocol': 'fast'})


@pytest.mark.parametrize(
    ('specification', 'message'),
    [
        ({'engine': 'ase', 'protocol': 'quick'}, r"labeler.protocol='quick': expected one of \['fast'"),
        ({'engine': 'ase', 'pseudo_family': 'x'}, r"unknown key\(s\) \['pseudo_family'\] for engine 'ase'"),
        ({'engine': 'quantumespresso', 'overrides': 3}, 'labeler.overrides=3: expected a dictionary'),
        ({'engine': 'ase', 'max_iterations': 0}, 'labeler.max_iterations=0: expected a positive integer'),
    ],
)
def test_bad_specifications_name_the_key(specification, message):
    with pytest.raises(ValueError, match=message):
        labeler_from_specification(specification)


def test_emt_refuses_elements_it_has_no_parameters_for():
    labeler = AseLabeler({'engine': 'ase'})
    labeler.check_elements(['Cu', 'Ni'])
    with pytest.raises(ValueError, match=r"no parameters for \['Fe', 'Si'\]"):
        labeler.check_elements(['Cu', 'Fe', 'Si'])
    AseLabeler({'engine': 'ase', 'calculator': 'ase.calculators.lj:LennardJones'}).check_elements(['Fe'])


def test_qe_needs_an_installed_family_with_every_element(aiida_profile_clean):
    labeler = QuantumEspressoLabeler({'engine': 'quantumespresso', 'pseudo_family': 'not/there'})
    with pytest.raises(
        ValueError, match=r"pseudo_family='not/there' is not installed; run `aiida-dpgen pseudos install`"
    ):
        labeler.check_elements(['Cu'])


def test_qe_names_the_missing_element(cu_family):
    labeler = QuantumEspressoLabeler({'engine': 'quantumespresso', 'pseudo_family': 'test/Cu'})
    labeler.check_elements(['Cu'])
    with pytest.raises(ValueError, match=r"no pseudopotential for \['Ni'\].*--file Ni=PATH.UPF"):
        labeler.check_elements(['Cu', 'Ni'])


@pytest.mark.parametrize(('protocol', 'ecutwfc', 'kpoints_distance'), [('fast', 30, 0.5), ('stringent', 47.8, 0.1)])
def test_qe_builder_from_protocol_is_a_single_point_with_forces_and_stress(
    cu_family, aiida_localhost, protocol, ecutwfc, kpoints_distance
):
    code = orm.InstalledCode(
        computer=aiida_localhost, filepath_executable='pw.x', default_calc_job_plugin='quantumespresso.pw'
    )
    structure = orm.StructureData(ase=bulk('Cu', 'fcc', a=3.61, cubic=True))
    labeler = QuantumEspressoLabeler(
        {
            'engine': 'quantumespresso',
            'protocol': protocol,
            'pseudo_family': 'test/Cu',
            'overrides': {'pw': {'parameters': {'ELECTRONS': {'mixing_beta': 0.3}}}},
            'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}},
        }
    )
    builder = labeler.get_builder(structure, code.store())
    parameters = builder.pw.parameters.get_dict()
    assert parameters['CONTROL']['calculation'] == 'scf'
    assert parameters['CONTROL']['tprnfor'] and parameters['CONTROL']['tstress']
    assert parameters['SYSTEM']['ecutwfc'] == ecutwfc
    assert parameters['ELECTRONS']['mixing_beta'] == 0.3
    assert builder.kpoints_distance.value == kpoints_distance
    assert builder.max_iterations.value == 3
    assert builder.pw.metadata.options['resources']['num_mpiprocs_per_machine'] == 2
    assert builder.pw.metadata.options['environment_variables'] == {'OMP_NUM_THREADS': '1'}, 'one thread per rank'
    assert set(builder.pw.pseudos) == {'Cu'}


def test_ase_builder_and_conversion(aiida_localhost):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='python3').store()
    atoms = bulk('Cu', 'fcc', a=3.6, cubic=True)
    atoms.positions[0] += 0.1
    structure = orm.StructureData(ase=atoms)
    builder = AseLabeler({'engine': 'ase', 'max_iterations': 2}).get_builder(structure, code)
    assert builder.ase.calculator.get_dict() == {'calculator': 'ase.calculators.emt:EMT', 'kwargs': {}}
    assert builder.max_iterations.value == 2
    # options without resources (a queue, a prepend_text) keep the default single process
    options = AseLabeler({'engine': 'ase', 'options': {'queue_name': 'debug'}}).get_builder(structure, code).ase
    assert options.metadata.options['queue_name'] == 'debug'
    assert options.metadata.options['resources'] == {'num_machines': 1, 'num_mpiprocs_per_machine': 1}

    atoms.calc = EMT()
    arrays = orm.ArrayData()
    arrays.set_array('forces', atoms.get_forces())
    arrays.set_array('stress', atoms.get_stress(voigt=False))
    label = AseLabeler.convert_outputs(
        structure, parameters=orm.Dict({'energy': atoms.get_potential_energy()}), arrays=arrays
    )
    assert label.symbols == ('Cu',) * 4
    np.testing.assert_allclose(label.forces, atoms.get_forces())
    np.testing.assert_allclose(label.virial, -atoms.get_volume() * atoms.get_stress(voigt=False))


def test_gaussian_parameters_from_protocol_with_charge_and_multiplicity():
    from aiida_dpgen.labelers.gaussian import GaussianLabeler

    water = orm.StructureData(cell=np.eye(3) * 10)
    for symbol, position in (('O', (5, 5, 5)), ('H', (5, 5.76, 4.4)), ('H', (5, 4.24, 4.4))):
        water.append_atom(symbols=symbol, position=position)
    labeler = GaussianLabeler(
        {'engine': 'gaussian', 'protocol': 'fast', 'options': {'resources': {'num_mpiprocs_per_machine': 2}}}
    )
    parameters = labeler.parameters(water)
    assert (parameters['charge'], parameters['multiplicity']) == (0, 1)
    assert parameters['functional'] == 'PBEPBE' and parameters['basis_set'] == '6-31G'
    assert 'force' in parameters['route_parameters']
    assert parameters['link0_parameters']['%nprocshared'] == '2'
    cation = GaussianLabeler({'engine': 'gaussian', 'charge': 1}).parameters(water)
    assert cation['multiplicity'] == 2
    with pytest.raises(ValueError, match=r'labeler\.multiplicity=1 is impossible with 9 electrons'):
        GaussianLabeler({'engine': 'gaussian', 'charge': 1, 'multiplicity': 1}).parameters(water)
    with pytest.raises(ValueError, match=r"labeler\.charge='\+1': expected an integer"):
        GaussianLabeler({'engine': 'gaussian', 'charge': '+1'}).check_elements(['H', 'O'])


def test_vasp_builder_converts_the_spacing_and_maps_potcars(aiida_localhost):
    from aiida_dpgen.labelers.vasp import VaspLabeler

    from ..doubles.vasp import upload_potcar_family

    family = upload_potcar_family()  # the test double's fake, header-only POTCARs
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='vasp_std').store()
    structure = orm.StructureData(ase=bulk('Cu', 'fcc', a=3.61, cubic=True))
    labeler = VaspLabeler(
        {
            'engine': 'vasp',
            'protocol': 'stringent',
            'potential_family': family,
            'potential_mapping': {'Cu': 'Cu'},
            'overrides': {'ncore': 2},
        }
    )
    builder = labeler.get_builder(structure, code)
    incar = builder.parameters['incar']
    assert (incar['encut'], incar['ediff'], incar['nsw'], incar['ncore']) == (650, 1e-6, 0, 2)
    assert builder.kpoints_spacing.value == pytest.approx(0.1 / (2 * np.pi))
    assert builder.potential_mapping.get_dict() == {'Cu': 'Cu'}
    assert VaspLabeler({'engine': 'vasp', 'potential_mapping': {'Cu': 'Cu_pv'}}).mapping(['Cu', 'Ni']) == {
        'Cu': 'Cu_pv',
        'Ni': 'Ni',
    }
    with pytest.raises(ValueError, match=r'labeler\.potential_family: missing'):
        VaspLabeler({'engine': 'vasp'}).check_elements(['Cu'])
    spacing = (
        VaspLabeler({**labeler.specification, 'kpoints_spacing': 0.5}).get_builder(structure, code).kpoints_spacing
    )
    assert spacing.value == pytest.approx(0.5 / (2 * np.pi)), 'the KSPACING of a DP-GEN INCAR'


def test_vasp_atoms_are_matched_back_to_the_structure_order():
    from aiida_dpgen.labelers.vasp import match_atoms

    cell = np.eye(3) * 4.0
    reference = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 0.0], [3.99, 0.0, 2.0]])
    shuffled = np.array([[-0.01, 0.0, 2.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])  # an image across the boundary
    np.testing.assert_array_equal(match_atoms(reference, shuffled, cell), [1, 2, 0])
    with pytest.raises(ValueError, match='do not match'):
        match_atoms(reference, shuffled + 0.1, cell)


def test_the_qe_property_reference_is_the_labelers_pw_settings_through_ase(cu_family, aiida_localhost):
    """The property suite's reference runs pw.x through ASE with what this labeler gives PwBaseWorkChain: the
    same namelists, pseudopotential and, on every cell the suite builds, the same k-point mesh."""
    from ase.build import fcc111
    from ase.io.espresso import kspacing_to_grid

    code = orm.InstalledCode(
        computer=aiida_localhost, filepath_executable='pw.x', default_calc_job_plugin='quantumespresso.pw'
    ).store()
    labeler = QuantumEspressoLabeler(
        {
            'engine': 'quantumespresso',
            'protocol': 'fast',
            'pseudo_family': 'test/Cu',
            'overrides': {'pw': {'parameters': {'ELECTRONS': {'mixing_beta': 0.3}}}},
            'md': {'temperature': 50, 'nsteps': 3, 'timestep': 2.0},
        }
    )
    reference = labeler.property_reference('Cu', code)

    assert reference.calculator['calculator'] == 'ase.calculators.espresso:Espresso'
    assert reference.needs_engine and reference.calculator['profile']['kwargs'] == {'pseudo_dir': '.'}
    kwargs = reference.calculator['kwargs']
    namelists = kwargs['input_data']
    assert namelists['CONTROL']['calculation'] == 'scf', 'the labeler MD is not the reference'
    assert namelists['CONTROL']['tprnfor'] and namelists['CONTROL']['tstress']
    assert namelists['SYSTEM']['ecutwfc'] == 30 and namelists['ELECTRONS']['mixing_beta'] == 0.3
    assert namelists['ELECTRONS']['conv_thr'] == pytest.approx(1e-8), "the fast protocol's SCF threshold per atom"
    (pseudo,) = reference.files.values()
    assert pseudo.uuid == cu_family.get_pseudo('Cu').uuid and kwargs['pseudopotentials'] == {'Cu': pseudo.filename}

    distance = labeler.protocol()['engine_overrides']['kpoints_distance']
    cells = [
        bulk('Cu', 'fcc', a=3.63, cubic=True),
        bulk('Cu', 'fcc', a=3.63, cubic=True).repeat(2),
        bulk('Cu', 'hcp', a=2.56),
        fcc111('Cu', size=(1, 1, 7), a=3.63, vacuum=10.0, periodic=True),
    ]
    for atoms in cells:
        kpoints = orm.KpointsData()
        kpoints.set_cell_from_structure(orm.StructureData(ase=atoms))
        kpoints.set_kpoints_mesh_from_density(distance)
        assert list(kspacing_to_grid(atoms, kwargs['kspacing'])) == kpoints.get_kpoints_mesh()[0], atoms.cell


def test_property_references_name_the_labelers_that_have_one(aiida_localhost):
    with pytest.raises(ValueError, match=r"engine='vasp' cannot be a property reference yet; .*'quantumespresso'"):
        labeler_from_specification({'engine': 'vasp'}).property_reference('Cu')
    with pytest.raises(ValueError, match=r'reference\.labeler_code: the quantumespresso labeler needs its pw\.x code'):
        labeler_from_specification({'engine': 'quantumespresso'}).property_reference('Cu')
    emt = labeler_from_specification({'engine': 'ase', 'md': {'temperature': 50, 'nsteps': 3, 'timestep': 2.0}})
    assert emt.property_reference('Cu').calculator == {'calculator': 'ase.calculators.emt:EMT', 'kwargs': {}}


def failed_labeling(exit_status: int, files: dict[str, str]) -> orm.WorkflowNode:
    """A labeling work chain whose one pw.x calculation failed with ``exit_status`` and retrieved ``files``."""
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState

    workchain = orm.WorkflowNode(process_type='aiida.workflows:quantumespresso.pw.base')
    workchain.set_process_state(ProcessState.FINISHED)
    workchain.set_exit_status(402)
    workchain.set_exit_message('The process failed with an unhandled failure.')
    workchain.store()
    calculation = orm.CalcJobNode(process_type='aiida.calculations:quantumespresso.pw')
    calculation.set_option('output_filename', 'aiida.out')
    calculation.set_process_state(ProcessState.FINISHED)
    calculation.set_exit_status(exit_status)
    calculation.base.links.add_incoming(workchain, LinkType.CALL_CALC, 'iteration_01')
    calculation.store()
    retrieved = orm.FolderData()
    for name, content in files.items():
        retrieved.base.repository.put_object_from_bytes(content.encode(), name)
    retrieved.base.links.add_incoming(calculation, LinkType.CREATE, 'retrieved')
    retrieved.store()
    return workchain


def test_a_program_that_never_started_is_reported_with_the_schedulers_stderr(aiida_profile):
    """Open MPI refusing to run as root used to read `exit status 402: The process failed with an unhandled
    failure`; the first line of the scheduler's stderr says what happened."""
    labeler = labeler_from_specification({'engine': 'quantumespresso'})
    stderr = '\n--------------------------------------------------------------------------\nmpirun has detected an '
    stderr += 'attempt to run as root.\nRunning as root is *strongly* discouraged'
    node = failed_labeling(305, {'aiida.out': '', '_scheduler-stderr.txt': stderr})
    assert labeler.failure_reason(node) == 'program did not start: mpirun has detected an attempt to run as root.'
    started = failed_labeling(
        305, {'aiida.out': 'Program PWSCF v.7.1 starts on ...\n', '_scheduler-stderr.txt': stderr}
    )
    assert labeler.failure_reason(started) == 'exit status 402: The process failed with an unhandled failure.'
