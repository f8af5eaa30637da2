"""TEST DOUBLE for the VASP executable (``vasp_std``): it is NOT VASP and runs no DFT.

VASP is licensed and cannot run in this repository's test environment, so the VASP labeler is tested through
the real aiida-vasp plugin (calculation, parser and workchain) against this stand-in. Run it in a VASP input
folder (INCAR, POSCAR, KPOINTS, POTCAR): it reads the structure, computes energy, forces and stress with ASE's
EMT calculator (Cu, Ag, Au, Ni, Pd, Pt, Al, H, C, N, O) and writes, in the formats VASP 6 uses,

* ``vasprun.xml``, ``OUTCAR``, ``OSZICAR``, ``CONTCAR`` and the standard output (which aiida-vasp stores as
  ``vasp_output``), complete enough for aiida-vasp's ``vasp.vasp`` parser, pymatgen/ASE readers and dpdata's
  ``vasp/outcar`` and ``vasp/xml`` formats;
* a line at the top of every file that says it was written by this test double.

What is and is not simulated:

* Single points only (``NSW = 0`` or ``IBRION = -1``); relaxations and MD exit with an error.
* Energy in eV, forces in eV/Angstrom, stress in kBar with VASP's sign (positive = compressive, i.e. minus the
  ASE stress). Stress is only written when VASP would compute it: ``ISIF >= 1`` (``ISIF`` defaults to 2, or 0
  for ``IBRION = 0``).
* The electronic loop: the double's fake SCF needs ``SCF_STEPS_TO_CONVERGE`` (2) iterations, or ``NELMIN`` if
  larger. With ``NELM`` at or below that, the loop stops at ``NELM`` without converging, as VASP does: the
  run still finishes, the energy is the last, unconverged iteration's (``SCF_ERROR_EV`` above EMT's), and the
  forces and stress are EMT's. Parsers see ``NELM`` iterations and report electronic non-convergence.
* No wavefunctions, charge density, eigenvalues or DOS: WAVECAR/CHGCAR are not written.
"""

from __future__ import annotations

import datetime
import itertools
import pathlib
import platform
import re
import sys
import time
from xml.sax.saxutils import escape

import numpy as np

TEST_DOUBLE_NOTE = 'TEST DOUBLE: written by aiida-dpgen tests/doubles/vasp/vasp_test_double.py (ASE EMT), NOT by VASP'
VASP_VERSION = '6.4.2'
SCF_STEPS_TO_CONVERGE = 2
SCF_ERROR_EV = 0.5
EMT_ELEMENTS = ('Cu', 'Ag', 'Au', 'Ni', 'Pd', 'Pt', 'Al', 'H', 'C', 'N', 'O')
DASHES = '-' * 104


class InputError(RuntimeError):
    """Inputs that the test double (or VASP) cannot run."""


# ----------------------------------------------------------------------------------------------------------- inputs
def read_incar(path: pathlib.Path) -> dict[str, str]:
    """INCAR tags (upper case) to their raw string values; ``#`` and ``!`` start comments, ``;`` separates tags."""
    tags = {}
    for raw in path.read_text().splitlines():
        line = re.split(r'[#!]', raw, maxsplit=1)[0]
        for statement in line.split(';'):
            if '=' in statement:
                key, value = statement.split('=', 1)
                tags[key.strip().upper()] = value.strip()
    return tags


def incar_int(tags: dict, key: str, default: int) -> int:
    return int(float(tags[key])) if key in tags else default


def incar_float(tags: dict, key: str, default: float) -> float:
    return float(tags[key].lower().replace('d', 'e')) if key in tags else default


def incar_bool(tags: dict, key: str, default: bool) -> bool:
    if key not in tags:
        return default
    return tags[key].strip('.').upper().startswith('T')


def text_tag(key: str, text: str) -> str:
    match = re.search(rf'\b{key}\s*=\s*(.*)', text)
    return match.group(1).strip() if match else ''


def number_tag(key: str, text: str) -> float:
    match = re.search(rf'\b{key}\s*=\s*([-+0-9.eE]+)', text)
    if match is None:
        raise InputError(f'POTCAR dataset without {key}')
    return float(match.group(1))


def read_potcar(path: pathlib.Path) -> list[dict]:
    """The header of each dataset in a (concatenated) POTCAR: title, symbol, element, ZVAL, POMASS, ENMAX."""
    if not path.is_file():
        raise InputError('POTCAR not found')
    datasets = []
    for chunk in path.read_text().split('End of Dataset'):
        titel = re.search(r'TITEL\s*=\s*(.+)', chunk)
        if titel is None:
            continue

        title = titel.group(1).strip()
        symbol = title.split()[1] if len(title.split()) > 1 else title
        datasets.append(
            {
                'title': title,
                'symbol': symbol,
                'element': symbol.split('_')[0].split('.')[0],
                'zval': number_tag('ZVAL', chunk),
                'pomass': number_tag('POMASS', chunk),
                'enmax': number_tag('ENMAX', chunk),
                'vrhfin': text_tag('VRHFIN', chunk),
                'lexch': text_tag('LEXCH', chunk),
            }
        )
    if not datasets:
        raise InputError('no dataset (TITEL) found in POTCAR')
    return datasets


def read_kpoints(path: pathlib.Path) -> dict:
    """Automatic (Gamma / Monkhorst-Pack) meshes and explicit lists; anything else falls back to Gamma only."""
    if not path.is_file():
        raise InputError('KPOINTS not found')
    lines = [line.strip() for line in path.read_text().splitlines()]
    try:
        count = int(lines[1].split()[0])
        style = lines[2][:1].upper()
        if count == 0 and style in 'GM':
            divisions = [int(value) for value in lines[3].split()[:3]]
            shift = [float(value) for value in lines[4].split()[:3]] if len(lines) > 4 and lines[4] else [0.0] * 3
            return {'mode': 'Gamma' if style == 'G' else 'Monkhorst-Pack', 'divisions': divisions, 'shift': shift}
        if count > 0:
            rows = [[float(value) for value in line.split()[:4]] for line in lines[3 : 3 + count]]
            points = np.array([row[:3] for row in rows])
            weights = np.array([row[3] if len(row) > 3 else 1.0 for row in rows])
            return {'mode': 'explicit', 'points': points, 'weights': weights, 'cartesian': style in 'CK'}
    except (IndexError, ValueError):
        pass
    return {'mode': 'Gamma', 'divisions': [1, 1, 1], 'shift': [0.0, 0.0, 0.0]}


def kpoint_list(kpoints: dict, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The full (unreduced) list of k-points in reciprocal coordinates and their normalised weights."""
    if kpoints['mode'] == 'explicit':
        points = kpoints['points']
        if kpoints['cartesian']:
            points = points @ cell.T  # 2pi/a Cartesian -> fractional
        weights = kpoints['weights'] / kpoints['weights'].sum()
        return points, weights
    axes = []
    for division, shift in zip(kpoints['divisions'], kpoints['shift'], strict=True):
        offset = 0.5 if kpoints['mode'] == 'Monkhorst-Pack' and division % 2 == 0 else 0.0
        values = (np.arange(division) + offset + shift) / division
        axes.append(values - np.round(values))
    points = np.array(list(itertools.product(*axes)))
    return points, np.full(len(points), 1.0 / len(points))


# ------------------------------------------------------------------------------------------------------- formatting
def species_blocks(symbols: list[str]) -> list[tuple[str, int]]:
    """Consecutive runs of equal symbols, as POSCAR's species and ions-per-type lines list them."""
    return [(symbol, len(list(group))) for symbol, group in itertools.groupby(symbols)]


def xml_value(value: str) -> tuple[str, str]:
    """(type attribute, text) of an INCAR value as vasprun.xml's <incar> section writes it."""
    text = value.strip()
    if text.strip('.').upper() in ('T', 'F', 'TRUE', 'FALSE'):
        return ' type="logical"', ' T  ' if text.strip('.').upper().startswith('T') else ' F  '
    try:
        return ' type="int"', f'{int(text):6d}'
    except ValueError:
        pass
    try:
        return '', f'{float(text.lower().replace("d", "e")):16.8f}'
    except ValueError:
        return ' type="string"', escape(text)


def vrow(values, fmt: str = '16.8f') -> str:
    return '<v>' + ''.join(f' {value:{fmt}}' for value in values) + ' </v>'


def varray(name: str, rows, indent: str, fmt: str = '16.8f') -> list[str]:
    return [f'{indent}<varray name="{name}" >', *[f'{indent} {vrow(row, fmt)}' for row in rows], f'{indent}</varray>']


def structure_xml(cell: np.ndarray, scaled: np.ndarray, indent: str, name: str | None = None) -> list[str]:
    label = f' name="{name}" ' if name else ''
    volume = abs(np.linalg.det(cell))
    return [
        f'{indent}<structure{label}>',
        f'{indent} <crystal>',
        *varray('basis', cell, indent + '  '),
        f'{indent}  <i name="volume">{volume:16.8f} </i>',
        *varray('rec_basis', np.linalg.inv(cell).T, indent + '  '),
        f'{indent} </crystal>',
        *varray('positions', scaled, indent + ' '),
        f'{indent}</structure>',
    ]


def energy_xml(energy: float, indent: str) -> list[str]:
    names = ('e_fr_energy', 'e_wo_entrp', 'e_0_energy')
    return [f'{indent}<energy>', *[f'{indent} <i name="{n}">{energy:16.8f} </i>' for n in names], f'{indent}</energy>']


# --------------------------------------------------------------------------------------------------------- the run
class Run:
    """One single-point 'calculation': inputs read from the folder, EMT labels, the fake electronic loop."""

    def __init__(self, folder: pathlib.Path):
        from ase.io import read

        self.folder = folder
        self.started = time.time()
        if not (folder / 'INCAR').is_file():
            raise InputError('INCAR not found')
        if not (folder / 'POSCAR').is_file():
            raise InputError('POSCAR not found')
        self.tags = read_incar(folder / 'INCAR')
        self.potcars = read_potcar(folder / 'POTCAR')
        self.atoms = read(folder / 'POSCAR', format='vasp')
        self.poscar_title = (folder / 'POSCAR').read_text().splitlines()[0].strip()
        if (folder / 'KPOINTS').is_file() or 'KSPACING' not in self.tags:
            self.kpoints = read_kpoints(folder / 'KPOINTS')
        else:  # KSPACING without KPOINTS: EMT needs no k-points, so list Gamma only
            self.kpoints = {'mode': 'Gamma', 'divisions': [1, 1, 1], 'shift': [0.0, 0.0, 0.0]}

        self.blocks = species_blocks(self.atoms.get_chemical_symbols())
        if [symbol for symbol, _ in self.blocks] != [potcar['element'] for potcar in self.potcars]:
            raise InputError(
                f'POSCAR species {[s for s, _ in self.blocks]} do not match the POTCAR datasets '
                f'{[p["element"] for p in self.potcars]} (order matters)'
            )
        unsupported = sorted({s for s, _ in self.blocks} - set(EMT_ELEMENTS))
        if unsupported:
            raise InputError(f'ASE EMT (used by this test double) does not support {unsupported}')

        self.nsw = incar_int(self.tags, 'NSW', 0)
        self.ibrion = incar_int(self.tags, 'IBRION', -1 if self.nsw in (0, 1) else 0)
        if self.nsw > 0 and self.ibrion >= 0:
            raise InputError('the VASP test double only runs single points (NSW = 0 or IBRION = -1)')
        self.isif = incar_int(self.tags, 'ISIF', 0 if self.ibrion == 0 else 2)
        self.nelm = incar_int(self.tags, 'NELM', 60)
        self.nelmin = incar_int(self.tags, 'NELMIN', 2)
        self.ediff = incar_float(self.tags, 'EDIFF', 1e-4)
        self.ismear = incar_int(self.tags, 'ISMEAR', 1)
        self.sigma = incar_float(self.tags, 'SIGMA', 0.2)
        self.encut = incar_float(self.tags, 'ENCUT', max(p['enmax'] for p in self.potcars))
        self.prec = self.tags.get('PREC', 'Normal')
        self.system = self.tags.get('SYSTEM', 'unknown system')
        self.nelect = incar_float(
            self.tags, 'NELECT', sum(p['zval'] * n for p, (_, n) in zip(self.potcars, self.blocks, strict=True))
        )
        self.nions = len(self.atoms)
        self.nbands = incar_int(
            self.tags, 'NBANDS', max(round((self.nelect + 2) / 2) + max(self.nions // 2, 3), int(0.6 * self.nelect))
        )
        self.cell = np.array(self.atoms.cell)
        self.volume = abs(np.linalg.det(self.cell))
        self.kpts, self.weights = kpoint_list(self.kpoints, self.cell)

    def compute(self) -> None:
        from ase.calculators.emt import EMT
        from ase.units import GPa

        self.atoms.calc = EMT()
        self.energy = float(self.atoms.get_potential_energy())
        self.forces = np.array(self.atoms.get_forces())
        self.stress_kbar = None
        if self.isif >= 1:
            # VASP prints stress in kBar with the opposite sign to ASE's (positive = the cell wants to expand).
            self.stress_kbar = -np.array(self.atoms.get_stress(voigt=False)) / (0.1 * GPa)

        needed = max(SCF_STEPS_TO_CONVERGE, self.nelmin)
        self.nscf = min(self.nelm, needed)
        self.electronic_converged = self.nscf < self.nelm
        errors = [SCF_ERROR_EV * 10.0 ** (-3 * step) for step in range(needed - 1)] + [0.0]
        self.scf_energies = [self.energy + errors[step] for step in range(self.nscf)]
        self.final_energy = self.scf_energies[-1]

    # ------------------------------------------------------------------------------------------------ output files
    def write_all(self) -> None:
        self.write_vasprun()
        self.write_outcar()
        self.write_oszicar()
        self.write_contcar()

    def write_stdout(self) -> None:
        out = sys.stdout
        out.write(f' {TEST_DOUBLE_NOTE}\n')
        out.write(' running    1 mpi-ranks, on    1 nodes\n')
        out.write(' distrk:  each k-point on    1 cores,    1 groups\n')
        out.write(' distr:  one band on    1 cores,    1 groups\n')
        out.write(f' vasp.{VASP_VERSION} (test double, ASE EMT) complex\n')
        for symbol, _ in self.blocks:
            out.write(f' POSCAR found type information on POSCAR {symbol}\n')
        out.write(f' POSCAR found :  {len(self.blocks)} types and {self.nions:7d} ions\n')
        out.write(' scaLAPACK will be used\n')
        out.write(' LDA part: xc-table for Pade appr. of Perdew\n')
        out.write(' POSCAR, INCAR and KPOINTS ok, starting setup\n')
        out.write(' entering main loop\n')
        out.write(self.oszicar_text())
        out.flush()

    def oszicar_text(self) -> str:
        lines = ['       N       E                     dE             d eps       ncg     rms          rms(c)']
        previous = 0.0
        for step, energy in enumerate(self.scf_energies, start=1):
            delta = energy - previous
            previous = energy
            lines.append(
                f'DAV: {step:3d}    {energy: .12E}   {delta: .5E}   {delta * 0.1: .5E}  {8 * self.nbands:5d}'
                f'   {abs(delta) ** 0.5 * 0.1: .3E}'
            )
        lines.append(f'   1 F= {self.final_energy: .8E} E0= {self.final_energy: .8E}  d E ={self.final_energy: .6E}')
        return '\n'.join(lines) + '\n'

    def write_oszicar(self) -> None:
        (self.folder / 'OSZICAR').write_text(f'# {TEST_DOUBLE_NOTE}\n' + self.oszicar_text())

    def write_contcar(self) -> None:
        lines = [f'{self.poscar_title} -- {TEST_DOUBLE_NOTE}', '   1.00000000000000']
        lines += [''.join(f'{value:22.16f}' for value in row) for row in self.cell]
        lines.append(''.join(f'   {symbol:<2s}' for symbol, _ in self.blocks))
        lines.append(''.join(f'{count:6d}' for _, count in self.blocks))
        lines.append('Direct')
        lines += [''.join(f'{value:20.16f}' for value in row) for row in self.atoms.get_scaled_positions(wrap=False)]
        lines.append('')
        lines += [''.join(f'{0.0:16.8E}' for _ in range(3)) for _ in range(self.nions)]
        (self.folder / 'CONTCAR').write_text('\n'.join(lines) + '\n')

    def write_vasprun(self) -> None:
        now = datetime.datetime.now()
        scaled = self.atoms.get_scaled_positions(wrap=False)
        x = ['<?xml version="1.0" encoding="ISO-8859-1"?>', f'<!-- {TEST_DOUBLE_NOTE} -->', '<modeling>']
        x += [
            ' <generator>',
            '  <i name="program" type="string">vasp </i>',
            f'  <i name="version" type="string">{VASP_VERSION}  </i>',
            f'  <i name="subversion" type="string">{TEST_DOUBLE_NOTE} </i>',
            f'  <i name="platform" type="string">{platform.system()} </i>',
            f'  <i name="date" type="string">{now:%Y %m %d} </i>',
            f'  <i name="time" type="string">{now:%H:%M:%S} </i>',
            ' </generator>',
            ' <incar>',
        ]
        for key, value in self.tags.items():
            kind, text = xml_value(value)
            x.append(f'  <i{kind} name="{key}">{text}</i>')
        x.append(' </incar>')

        x.append(' <kpoints>')
        if self.kpoints['mode'] != 'explicit':
            divisions = self.kpoints['divisions']
            x += [
                f'  <generation param="{self.kpoints["mode"]}">',
                '   <v type="int" name="divisions">' + ''.join(f'{d:8d}' for d in divisions) + ' </v>',
                '   <v name="usershift">' + ''.join(f'{s:16.8f}' for s in self.kpoints['shift']) + ' </v>',
                *[
                    f'   <v name="genvec{i + 1}">'
                    + ''.join(f'{v:16.8f}' for v in np.eye(3)[i] / divisions[i])
                    + ' </v>'
                    for i in range(3)
                ],
                '   <v name="shift">' + ''.join(f'{s:16.8f}' for s in self.kpoints['shift']) + ' </v>',
                '  </generation>',
            ]
        x += varray('kpointlist', self.kpts, '  ')
        x += varray('weights', self.weights[:, None], '  ')
        x.append(' </kpoints>')

        def item(name: str, value, kind: str = '') -> str:
            if kind == 'int':
                return f'<i type="int" name="{name}">{value:6d}</i>'
            if kind == 'logical':
                return f'<i type="logical" name="{name}"> {"T" if value else "F"}  </i>'
            if kind == 'string':
                return f'<i type="string" name="{name}">{escape(value)}</i>'
            return f'<i name="{name}">{value:16.8f}</i>'

        nedos = incar_int(self.tags, 'NEDOS', 301)
        x += [
            ' <parameters>',
            '  <separator name="general" >',
            '   ' + item('SYSTEM', self.system, 'string'),
            '  </separator>',
            '  <separator name="electronic" >',
            '   ' + item('PREC', self.prec.lower(), 'string'),
            '   ' + item('ENMAX', self.encut),
            '   ' + item('EDIFF', self.ediff),
            '   ' + item('IALGO', 38, 'int'),
            '   ' + item('NBANDS', self.nbands, 'int'),
            '   ' + item('NELECT', self.nelect),
            '   <separator name="electronic smearing" >',
            '    ' + item('ISMEAR', self.ismear, 'int'),
            '    ' + item('SIGMA', self.sigma),
            '   </separator>',
            '   <separator name="electronic startup" >',
            '    ' + item('ISTART', incar_int(self.tags, 'ISTART', 0), 'int'),
            '    ' + item('ICHARG', incar_int(self.tags, 'ICHARG', 2), 'int'),
            '   </separator>',
            '   <separator name="electronic spin" >',
            '    ' + item('ISPIN', incar_int(self.tags, 'ISPIN', 1), 'int'),
            '    ' + item('LNONCOLLINEAR', False, 'logical'),
            '   </separator>',
            '   <separator name="electronic convergence" >',
            '    ' + item('NELM', self.nelm, 'int'),
            '    ' + item('NELMDL', incar_int(self.tags, 'NELMDL', -5), 'int'),
            '    ' + item('NELMIN', self.nelmin, 'int'),
            '   </separator>',
            '  </separator>',
            '  <separator name="ionic" >',
            '   ' + item('NSW', self.nsw, 'int'),
            '   ' + item('IBRION', self.ibrion, 'int'),
            '   ' + item('ISIF', self.isif, 'int'),
            '   ' + item('PSTRESS', incar_float(self.tags, 'PSTRESS', 0.0)),
            '   ' + item('EDIFFG', incar_float(self.tags, 'EDIFFG', self.ediff * 10)),
            '   ' + item('POTIM', incar_float(self.tags, 'POTIM', 0.5)),
            '  </separator>',
            '  <separator name="symmetry" >',
            '   ' + item('ISYM', incar_int(self.tags, 'ISYM', 2), 'int'),
            '  </separator>',
            '  <separator name="dos" >',
            '   ' + item('NEDOS', nedos, 'int'),
            '  </separator>',
            '  <separator name="writing" >',
            '   ' + item('NWRITE', incar_int(self.tags, 'NWRITE', 2), 'int'),
            '   ' + item('LWAVE', incar_bool(self.tags, 'LWAVE', True), 'logical'),
            '   ' + item('LCHARG', incar_bool(self.tags, 'LCHARG', True), 'logical'),
            '  </separator>',
            ' </parameters>',
        ]

        x += [
            ' <atominfo>',
            f'  <atoms>{self.nions:8d} </atoms>',
            f'  <types>{len(self.blocks):8d} </types>',
            '  <array name="atoms" >',
            '   <dimension dim="1">ion</dimension>',
            '   <field type="string">element</field>',
            '   <field type="int">atomtype</field>',
            '   <set>',
        ]
        for type_index, (symbol, count) in enumerate(self.blocks, start=1):
            x += [f'    <rc><c>{symbol:<2s}</c><c>{type_index:4d}</c></rc>'] * count
        x += [
            '   </set>',
            '  </array>',
            '  <array name="atomtypes" >',
            '   <dimension dim="1">type</dimension>',
            '   <field type="int">atomspertype</field>',
            '   <field type="string">element</field>',
            '   <field>mass</field>',
            '   <field>valence</field>',
            '   <field type="string">pseudopotential</field>',
            '   <set>',
        ]
        for (symbol, count), potcar in zip(self.blocks, self.potcars, strict=True):
            x.append(
                f'    <rc><c>{count:4d}</c><c>{symbol:<2s}</c><c>{potcar["pomass"]:16.8f}</c>'
                f'<c>{potcar["zval"]:16.8f}</c><c>  {escape(potcar["title"]):<38s}</c></rc>'
            )
        x += ['   </set>', '  </array>', ' </atominfo>']
        x += structure_xml(self.cell, scaled, ' ', 'initialpos')

        x.append(' <calculation>')
        for energy in self.scf_energies:
            x += [
                '  <scstep>',
                '   <time name="dav">    0.00    0.00</time>',
                '   <time name="total">    0.00    0.00</time>',
            ]
            x += energy_xml(energy, '   ')
            x.append('  </scstep>')
        x += structure_xml(self.cell, scaled, '  ')
        x += varray('forces', self.forces, '  ')
        if self.stress_kbar is not None:
            x += varray('stress', self.stress_kbar, '  ')
        x += energy_xml(self.final_energy, '  ')
        x.append(f'  <time name="totalsc">{time.time() - self.started:8.2f}{time.time() - self.started:8.2f}</time>')
        x.append(' </calculation>')
        x += structure_xml(self.cell, scaled, ' ', 'finalpos')
        x.append('</modeling>')
        (self.folder / 'vasprun.xml').write_text('\n'.join(x) + '\n', encoding='iso-8859-1', errors='replace')

    def write_outcar(self) -> None:
        now = datetime.datetime.now()
        scaled = self.atoms.get_scaled_positions(wrap=False)
        reciprocal = np.linalg.inv(self.cell).T
        o = [
            f' vasp.{VASP_VERSION} (build {now:%b %d %Y}) complex',
            f' {TEST_DOUBLE_NOTE}',
            '  ',
            f' executed on             {platform.system():<12s} date {now:%Y.%m.%d  %H:%M:%S}',
            ' running    1 mpi-ranks, on    1 nodes',
            ' distrk:  each k-point on    1 cores,    1 groups',
            ' distr:  one band on    1 cores,    1 groups',
            '',
            '',
            DASHES,
            '',
            '',
            ' INCAR:',
        ]
        o += [f' POTCAR:    {potcar["title"]}' for potcar in self.potcars]
        o += [f' POTCAR:    {potcar["title"]}' for potcar in self.potcars]
        for potcar in self.potcars:
            o += [
                f'   VRHFIN ={potcar["vrhfin"]}',
                f'   LEXCH  = {potcar["lexch"]}',
                '',
                f'   TITEL  = {potcar["title"]}',
                f'   POMASS = {potcar["pomass"]:8.3f}; ZVAL   = {potcar["zval"]:8.3f}    mass and valenz',
                f'   ENMAX  = {potcar["enmax"]:8.3f}; ENMIN  = {0.75 * potcar["enmax"]:8.3f} eV',
                '',
            ]
        o += [
            '',
            f' POSCAR: {self.poscar_title}',
            '  positions in direct lattice',
            '  No initial velocities read in',
            '',
            DASHES,
            '',
            f' ions per type =  {"".join(f"{count:16d}" for _, count in self.blocks)}',
            '',
            ' Dimension of arrays:',
            f'   k-points           NKPTS = {len(self.kpts):6d}   k-points in BZ     NKDIM = {len(self.kpts):6d}'
            f'   number of bands    NBANDS= {self.nbands:6d}',
            f'   number of dos      NEDOS =    301   number of ions     NIONS = {self.nions:6d}',
            # A nominal grid size: the double has no plane waves, pymatgen's Outcar just needs the line.
            f'   total plane-waves  NPLWV = {int(np.prod(np.ceil(np.linalg.norm(self.cell, axis=1) * 6))):6d}',
            '',
            f' SYSTEM =  {self.system}',
            f' POSCAR =  {self.poscar_title}',
            '',
            ' Startparameter for this run:',
            f'   NWRITE = {incar_int(self.tags, "NWRITE", 2):6d}    write-flag & timer',
            f'   PREC   = {self.prec.lower():<6s}    normal or accurate (medium, high low for compatibility)',
            f'   ISTART = {incar_int(self.tags, "ISTART", 0):6d}    job   : 0-new  1-cont  2-samecut',
            f'   ICHARG = {incar_int(self.tags, "ICHARG", 2):6d}    charge: 1-file 2-atom 10-const',
            f'   ISPIN  = {incar_int(self.tags, "ISPIN", 1):6d}    spin polarized calculation?',
            ' Electronic Relaxation 1',
            f'   ENCUT  = {self.encut:6.1f} eV',
            f'   NELM   = {self.nelm:6d};   NELMIN={self.nelmin:3d}; NELMDL= -5     # of ELM steps',
            f'   EDIFF  = {self.ediff:.1E}   stopping-criterion for ELM',
            ' Ionic relaxation',
            f'   EDIFFG = {incar_float(self.tags, "EDIFFG", self.ediff * 10):.1E}   stopping-criterion for IOM',
            f'   NSW    = {self.nsw:6d}    number of steps for IOM',
            '   NBLOCK =      1;   KBLOCK =      1    inner block; outer block',
            f'   IBRION = {self.ibrion:6d}    ionic relax: 0-MD 1-quasi-New 2-CG',
            '   NFREE  =      0    steps in history (QN), initial steepest desc. (CG)',
            f'   ISIF   = {self.isif:6d}    stress and relaxation',
            f'   PSTRESS= {incar_float(self.tags, "PSTRESS", 0.0):6.1f} pullay stress',
            '',
            ' DOS related values:',
            f'   ISMEAR = {self.ismear:6d};   SIGMA  = {self.sigma:6.2f} broadening in eV -4-tet -1-fermi 0-gaus',
            '',
            ' Electronic relaxation 2 (details)',
            '   NELECT = ' + f'{self.nelect:12.4f}' + '    total number of electrons',
            '',
            DASHES,
            '',
            '  Lattice vectors:',
            '',
            ' direct lattice vectors                 reciprocal lattice vectors',
            *[
                ''.join(f'{v:13.9f}' for v in self.cell[k]) + '  ' + ''.join(f'{v:13.9f}' for v in reciprocal[k])
                for k in range(3)
            ],
            '',
            f' k-points in reciprocal lattice and weights: {self.kpoints["mode"]}',
            *[
                ''.join(f'{v:14.8f}' for v in point) + f'{weight:16.3f}'
                for point, weight in zip(self.kpts, self.weights, strict=True)
            ],
            '',
            ' position of ions in fractional coordinates (direct lattice)',
            *[''.join(f'{v:13.9f}' for v in row) for row in scaled],
            '',
            ' position of ions in cartesian coordinates  (Angst):',
            *[''.join(f'{v:13.9f}' for v in row) for row in self.atoms.positions],
            '',
            DASHES,
            '',
            '',
        ]
        previous = 0.0
        for step, energy in enumerate(self.scf_energies, start=1):
            o += [
                f'{"-" * 41} Iteration {1:4d}({step:4d})  {"-" * 39}',
                '',
                f'      LOOP:  cpu time{0.001:12.4f}: real time{0.001:12.4f}',
                '',
                f' total energy-change (2. order) :{energy - previous: .7E}  ({(energy - previous) * 0.1: .7E})',
                '',
                ' Free energy of the ion-electron system (eV)',
                '  ---------------------------------------------------',
                f'  EMT (test double)     = {energy:18.8f}',
                '  ---------------------------------------------------',
                f'  free energy    TOTEN  = {energy:18.8f} eV',
                '',
                f'  energy without entropy = {energy:18.8f}  energy(sigma->0) = {energy:18.8f}',
                '',
                '',
                DASHES,
                '',
            ]
            previous = energy
        if self.electronic_converged:
            o += [f'{"-" * 24} aborting loop because EDIFF is reached {"-" * 40}', '', '']
        else:
            # VASP 6 says nothing here when it stops at NELM: the loop just ends after NELM iterations.
            o += ['', '']
        if self.stress_kbar is not None:
            total = self.stress_kbar * self.volume / 1602.1766208
            voigt = [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0)]
            zero = ''.join(f'{0.0:12.5f}' for _ in range(6))
            o += [
                '  FORCE on cell =-STRESS in cart. coord.  units (eV):',
                '  Direction    XX          YY          ZZ          XY          YZ          ZX',
                '  ' + '-' * 86,
                '  EMT     ' + ''.join(f'{total[a, b]:12.5f}' for a, b in voigt),
                *[f'  {label:<8s}{zero}' for label in ('Alpha Z', 'Ewald', 'Hartree', 'E(xc)', 'Local')],
                *[f'  {label:<8s}{zero}' for label in ('n-local', 'augment', 'Kinetic', 'Fock')],
                '  ' + '-' * 85,
                '  Total   ' + ''.join(f'{total[a, b]:12.5f}' for a, b in voigt),
                '  in kB   ' + ''.join(f'{self.stress_kbar[a, b]:12.5f}' for a, b in voigt),
                f'  external pressure = {np.trace(self.stress_kbar) / 3:12.2f} kB  Pullay stress =        0.00 kB',
                '',
                '',
            ]
        o += [
            ' VOLUME and BASIS-vectors are now :',
            ' ' + '-' * 77,
            f'  energy-cutoff  : {self.encut:11.2f}',
            f'  volume of cell : {self.volume:11.2f}',
            '      direct lattice vectors                 reciprocal lattice vectors',
            *[
                '   ' + ''.join(f'{v:13.9f}' for v in self.cell[k]) + ''.join(f'{v:13.9f}' for v in reciprocal[k])
                for k in range(3)
            ],
            '',
            '  length of vectors',
            '   ' + ''.join(f'{v:13.9f}' for v in np.linalg.norm(self.cell, axis=1)),
            '',
            '',
            ' POSITION                                       TOTAL-FORCE (eV/Angst)',
            ' ' + '-' * 83,
            *[
                ''.join(f'{v:13.5f}' for v in position) + '   ' + ''.join(f'{v:14.6f}' for v in force)
                for position, force in zip(self.atoms.positions, self.forces, strict=True)
            ],
            ' ' + '-' * 83,
            '    total drift:                         ' + ''.join(f'{v:14.6f}' for v in self.forces.sum(axis=0)),
            '',
            '',
            DASHES,
            '',
            '',
            '',
            '  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)',
            '  ---------------------------------------------------',
            f'  free  energy   TOTEN  = {self.final_energy:18.8f} eV',
            '',
            f'  energy  without entropy= {self.final_energy:18.8f}  energy(sigma->0) = {self.final_energy:18.8f}',
            '',
            '',
            '',
            DASHES,
            '',
            f'     LOOP+:  cpu time{time.time() - self.started:12.4f}: real time{time.time() - self.started:12.4f}',
            '',
            '',
        ]
        elapsed = time.time() - self.started
        o += [
            ' General timing and accounting informations for this job:',
            ' ========================================================',
            '',
            f'                  Total CPU time used (sec):{elapsed:17.3f}',
            f'                            User time (sec):{elapsed:17.3f}',
            f'                          System time (sec):{0.0:17.3f}',
            f'                         Elapsed time (sec):{elapsed:17.3f}',
            '',
            f'                   Maximum memory used (kb):{0.0:17.0f}.',
            '                   Average memory used (kb):          N/A',
            '',
            '                          Minor page faults:            0',
            '                          Major page faults:            0',
            '                 Voluntary context switches:            0',
        ]
        (self.folder / 'OUTCAR').write_text('\n'.join(o) + '\n')


def main(folder: pathlib.Path | None = None) -> int:
    folder = pathlib.Path.cwd() if folder is None else folder
    try:
        run = Run(folder)
        run.compute()
    except (InputError, OSError, ValueError, KeyError) as error:
        sys.stdout.write(f' {TEST_DOUBLE_NOTE}\n vasp.{VASP_VERSION} (test double) ERROR: {error}\n')
        return 1
    run.write_stdout()
    run.write_all()
    return 0


if __name__ == '__main__':
    sys.exit(main())
