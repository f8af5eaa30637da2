"""CP2K labeler: a Quickstep single point with forces and the analytical stress through aiida-cp2k's
``Cp2kBaseWorkChain`` (its restarts and error handling); basis sets and pseudopotentials from CP2K's data
files (Debian's ``cp2k-data`` in /usr/share/cp2k)."""

from __future__ import annotations

import functools
import pathlib
import re

import numpy as np
from aiida import orm
from aiida_cp2k.workchains.base import Cp2kBaseWorkChain
from ase.data import chemical_symbols
from dpdata.unit import EnergyConversion, LengthConversion

from aiida_dpgen.labelers.base import SCF_UNCONVERGED, Labeler, retrieved_text, structure_arrays
from aiida_dpgen.labeling.frames import Label, kpoints_mesh, virial_from_pressure_gpa
from aiida_dpgen.workflows.protocols.utils import recursive_merge

DEFAULT_DATA_DIRECTORY = '/usr/share/cp2k'
OUTPUT_FILE = 'aiida.out'
TRAJECTORY_FILE = 'aiida-pos-1.xyz'
_NUMBER = r'-?\d+\.\d+(?:[eE][-+]?\d+)?'
_ENERGY_LINE = re.compile(rf'ENERGY\| Total FORCE_EVAL \( \w+ \) energy \[(?:a\.u\.|hartree)\]:\s+({_NUMBER})')
_FORCE_ROW = rf'\s+\d+\s+\d+\s+\w+(?:\s+{_NUMBER}){{3}}\s*\n'
_FORCE_BLOCK = re.compile(rf'ATOMIC FORCES in \[a\.u\.\]\s*\n\s*# Atom.*\n((?:{_FORCE_ROW})+)')
_HARTREE_TO_EV = EnergyConversion('hartree', 'eV').value()
_BOHR_TO_ANGSTROM = LengthConversion('bohr', 'angstrom').value()
_STRESS_BLOCK = re.compile(r'STRESS\| Analytical stress tensor \[GPa\]\s*\n\s*STRESS\|\s+x\s+y\s+z\s*\n((?:.*\n){3})')


@functools.cache
def names_by_element(path: str) -> dict[str, frozenset[str]]:
    """The names (and aliases) of the basis sets or potentials a CP2K data file defines, by element."""
    names: dict[str, set[str]] = {}
    for line in pathlib.Path(path).read_text(errors='replace').splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in chemical_symbols and not line.lstrip().startswith('#'):
            names.setdefault(fields[0], set()).update(fields[1:])
    return {element: frozenset(values) for element, values in names.items()}


def _force_blocks(output: str) -> list[np.ndarray]:
    """Every ATOMIC FORCES block of a CP2K output (Hartree/Bohr, atom order), in the order printed."""
    return [
        np.array([row.split()[3:6] for row in block.strip().splitlines()], dtype=float)
        for block in _FORCE_BLOCK.findall(output)
    ]


def _stress_blocks(output: str) -> list[np.ndarray]:
    """Every analytical stress tensor of a CP2K output (GPa, positive under compression), in the order printed."""
    return [
        np.array([line.split()[2:5] for line in block.strip().splitlines()], dtype=float)
        for block in _STRESS_BLOCK.findall(output)
    ]


def read_energy_and_forces(output: str, natoms: int) -> tuple[float, np.ndarray]:
    """The last total energy (Hartree) and atomic forces (Hartree/Bohr, in atom order) of a CP2K output."""
    energies = _ENERGY_LINE.findall(output)
    blocks = _force_blocks(output)
    if not energies or not blocks:
        raise ValueError('the CP2K output has no "ENERGY| Total FORCE_EVAL" line or no ATOMIC FORCES block')
    forces = blocks[-1]
    if forces.shape != (natoms, 3):
        raise ValueError(f'the CP2K output has forces for {len(forces)} atoms, the structure {natoms}')
    return float(energies[-1]), forces


def read_md_steps(output: str, natoms: int) -> tuple[list[float], list[np.ndarray], list[np.ndarray]]:
    """Energies (Hartree), forces (Hartree/Bohr) and stresses (GPa; none without the stress tensor) of every
    force evaluation of a CP2K MD output, in step order."""
    energies = [float(value) for value in _ENERGY_LINE.findall(output)]
    forces, stresses = _force_blocks(output), _stress_blocks(output)
    if not energies or len(forces) != len(energies) or (stresses and len(stresses) != len(energies)):
        raise ValueError(
            f'the CP2K MD output has {len(energies)} energies, {len(forces)} force and {len(stresses)} stress blocks; '
            'expected one of each per step (FORCE_EVAL%PRINT%FORCES and STRESS_TENSOR on)'
        )
    if any(block.shape != (natoms, 3) for block in forces):
        raise ValueError(f'the CP2K MD output has forces for another number of atoms than the structure ({natoms})')
    return energies, forces, stresses


def read_xyz_positions(text: str, natoms: int) -> list[np.ndarray]:
    """The positions (Å) of each frame of a CP2K ``-pos-1.xyz`` trajectory."""
    lines = text.splitlines()
    frames = []
    while lines:
        count, body, lines = int(lines[0]), lines[2 : 2 + natoms], lines[2 + natoms :]
        if count != natoms or len(body) != natoms:
            raise ValueError(f'the CP2K trajectory has a frame of {count} atoms, the structure {natoms}')
        frames.append(np.array([line.split()[1:4] for line in body], dtype=float))
    return frames


def read_stress_gpa(output: str) -> np.ndarray | None:
    """The last analytical stress tensor (GPa, CP2K's sign: positive under compression) of a CP2K output."""
    blocks = _stress_blocks(output)
    return blocks[-1] if blocks else None


class Cp2kLabeler(Labeler):
    """CP2K single points (``RUN_TYPE ENERGY_FORCE``), Monkhorst-Pack k-points from a spacing."""

    _process_class = Cp2kBaseWorkChain
    _protocol_file = 'label_cp2k'
    supports_md = True
    scf_unconverged_exit_codes = ('ERROR_SCF_NOT_CONVERGED',)
    engine_keys = {
        'data_directory': f'folder with the basis and potential files on the computer ({DEFAULT_DATA_DIRECTORY})',
        'basis_set': 'basis set name for every element, or element -> name (default from the protocol: '
        'DZVP-MOLOPT-SR-GTH)',
        'potential': 'pseudopotential name for every element, or element -> name (default from the protocol: GTH-PBE)',
        'parameters': "the whole CP2K input as a nested dictionary instead of the protocol's (DP-GEN's "
        'external_input_path); the labeler still writes the cell, the coordinates, the KIND sections and the '
        'printing of forces and stress, and adds no k-points',
    }

    @property
    def data_directory(self) -> pathlib.Path:
        return pathlib.Path(self.specification.get('data_directory', DEFAULT_DATA_DIRECTORY))

    def _names(self) -> tuple[dict | str, dict | str, dict]:
        protocol = self.protocol()
        basis = self.specification.get('basis_set', protocol['basis_set'])
        potential = self.specification.get('potential', protocol['potential'])
        return basis, potential, protocol

    @staticmethod
    def _name_of(names: dict | str, element: str, key: str) -> str:
        """The basis set or potential of ``element``: one name for all, or from an element -> name mapping."""
        if isinstance(names, str):
            return names
        if element not in names:
            raise ValueError(f'labeler.{key}={names!r} has no entry for {element}; add "{element}": NAME')
        return names[element]

    def _input(self, protocol: dict) -> dict:
        """The user's whole input where given, else the protocol's parameters; ``overrides`` merged in."""
        return recursive_merge(self.specification.get('parameters', protocol['parameters']), self.overrides)

    def check_elements(self, elements: list[str]) -> None:
        basis, potential, protocol = self._names()
        dft = self._input(protocol)['FORCE_EVAL']['DFT']
        for key, name in (('basis_set', basis), ('potential', potential)):
            filename = dft['BASIS_SET_FILE_NAME' if key == 'basis_set' else 'POTENTIAL_FILE_NAME']
            path = self.data_directory / filename
            if not path.is_file():
                continue  # a data directory on a remote computer: CP2K itself will check
            known = names_by_element(str(path))
            missing = sorted(
                element for element in elements if self._name_of(name, element, key) not in known.get(element, ())
            )
            if missing:
                raise ValueError(
                    f'labeler.{key}={name!r} is not defined for {missing} in {path}; choose a {key} that '
                    f'{path.name} has for them, or another data_directory'
                )

    def parameters(self, structure: orm.StructureData) -> dict:
        basis, potential, protocol = self._names()
        _, cell, _ = structure_arrays(structure)
        parameters = self._input(protocol)
        dft = parameters['FORCE_EVAL']['DFT']
        for key in ('BASIS_SET_FILE_NAME', 'POTENTIAL_FILE_NAME'):
            dft[key] = str(self.data_directory / dft[key])
        if 'parameters' in self.specification:
            parameters = recursive_merge(parameters, self._labels_printed(all(structure.pbc)))
        elif all(structure.pbc):
            mesh = kpoints_mesh(cell, protocol['kpoints_spacing'])
            dft.setdefault('KPOINTS', {'SCHEME': 'MONKHORST-PACK ' + ' '.join(str(n) for n in mesh)})
        kinds = [
            {
                '_': kind.name,
                'ELEMENT': kind.symbol,
                'BASIS_SET': self._name_of(basis, kind.symbol, 'basis_set'),
                'POTENTIAL': self._name_of(potential, kind.symbol, 'potential'),
            }
            for kind in structure.kinds
        ]
        parameters['FORCE_EVAL'].setdefault('SUBSYS', {})['KIND'] = kinds
        if self.md:
            parameters = recursive_merge(parameters, self.md_parameters(self.md))
        return parameters

    @staticmethod
    def _labels_printed(periodic: bool) -> dict:
        """What a user's input must have for the labels to be read: a single point that prints its forces and,
        for a periodic cell, computes and prints its stress."""
        force_eval: dict = {'PRINT': {'FORCES': {'_': 'ON'}}}
        if periodic:
            force_eval['STRESS_TENSOR'] = 'ANALYTICAL'
            force_eval['PRINT']['STRESS_TENSOR'] = {'_': 'ON'}
        return {'GLOBAL': {'RUN_TYPE': 'ENERGY_FORCE'}, 'FORCE_EVAL': force_eval}

    @staticmethod
    def md_parameters(md: dict) -> dict:
        """CP2K sections of a short NVT MD (CSVR thermostat, DP-GEN's AIMD of the initial data): ``nsteps`` force
        evaluations, the first at the given structure, each printing energy, forces, stress and positions."""
        return {
            'GLOBAL': {'RUN_TYPE': 'MD'},
            'MOTION': {
                'MD': {
                    'ENSEMBLE': 'NVT',
                    'STEPS': md['nsteps'] - 1,
                    'TIMESTEP': float(md['timestep']),
                    'TEMPERATURE': float(md['temperature']),
                    'THERMOSTAT': {'TYPE': 'CSVR', 'CSVR': {'TIMECON': 20.0}},
                },
                'PRINT': {'TRAJECTORY': {'EACH': {'MD': 1}}, 'FORCES': {'EACH': {'MD': 1}}},
            },
        }

    def get_builder(self, structure: orm.StructureData, code: orm.AbstractCode):
        return self.restart_builder('cp2k', structure, code, self.parameters(structure))

    @classmethod
    def convert_outputs(cls, structure: orm.StructureData, retrieved: orm.FolderData) -> Label:
        """Energy, forces and the stress of the job's output in dpdata's units (CODATA 2018 Hartree and Bohr);
        the stress (GPa) has CP2K's sign (positive under compression), so the virial is ``volume * stress``."""
        output = retrieved.base.repository.get_object_content(OUTPUT_FILE, mode='r')
        symbols, cell, positions = structure_arrays(structure)
        energy, forces = read_energy_and_forces(output, len(symbols))
        stress = read_stress_gpa(output)
        return Label(
            symbols=symbols,
            cell=cell,
            positions=positions,
            energy=energy * _HARTREE_TO_EV,
            forces=forces * _HARTREE_TO_EV / _BOHR_TO_ANGSTROM,
            virial=None if stress is None else virial_from_pressure_gpa(stress, cell),
            pbc=all(structure.pbc),
        )

    @classmethod
    def convert_md_outputs(cls, structure: orm.StructureData, retrieved: orm.FolderData) -> list[Label]:
        """Every MD step: positions from the ``-pos-1.xyz`` trajectory, energy, forces and stress from the
        output, in the units of `convert_outputs`; the cell is the structure's (NVT)."""
        symbols, cell, _ = structure_arrays(structure)
        output = retrieved.base.repository.get_object_content(OUTPUT_FILE, mode='r')
        energies, forces, stresses = read_md_steps(output, len(symbols))
        positions = read_xyz_positions(
            retrieved.base.repository.get_object_content(TRAJECTORY_FILE, mode='r'), len(symbols)
        )
        if len(positions) != len(energies):
            raise ValueError(
                f'the CP2K MD has {len(positions)} frames in {TRAJECTORY_FILE} and {len(energies)} energies'
            )
        return [
            Label(
                symbols=symbols,
                cell=cell,
                positions=positions[step],
                energy=energies[step] * _HARTREE_TO_EV,
                forces=forces[step] * _HARTREE_TO_EV / _BOHR_TO_ANGSTROM,
                virial=virial_from_pressure_gpa(stresses[step], cell) if stresses else None,
                pbc=all(structure.pbc),
            )
            for step in range(len(energies))
        ]

    def rejection_reason(self, node: orm.ProcessNode) -> str | None:
        """CP2K 2023.1 with smearing and k-points carries on after an SCF that did not converge, without the
        ABORT that aiida-cp2k looks for: the output says so, and the frame is excluded."""
        output = node.outputs.retrieved.base.repository.get_object_content(OUTPUT_FILE, mode='r')
        return SCF_UNCONVERGED if 'SCF run NOT converged' in output else None

    def wall_seconds(self, calculation: orm.CalcJobNode) -> float | None:
        output = retrieved_text(calculation, OUTPUT_FILE)
        if output is None:
            return None
        match = re.search(r'^\s*CP2K\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)', output, re.MULTILINE)
        return float(match[1]) if match else None
