#!/usr/bin/env python
"""TEST DOUBLE for the Gaussian 16 executable ``g16``: it is NOT Gaussian.

Gaussian is licensed software that cannot run in the test environment, so the tests of the Gaussian labeler run
the real aiida-gaussian plugin (``GaussianCalculation`` and its cclib-based parser) against this script instead.

It is invoked the way aiida-gaussian invokes ``g16``: ``g16 < aiida.inp > aiida.out`` (the input on stdin, the log
on stdout). ``g16 input.gjf [output.log]`` works too. It reads the Gaussian input (link 0 lines, route section,
title, charge and multiplicity, Cartesian coordinates), computes the energy and forces with ASE's EMT potential
(elements H, C, N, O, Al, Ni, Cu, Pd, Ag, Pt, Au; crude for molecules, but deterministic), and writes a log in the
format of Gaussian 16 that cclib (hence aiida-gaussian) and ``dpdata`` (format ``gaussian/log``) read:

* energies are written in Hartree and forces in Hartree/Bohr, converted with dpdata's own unit constants, so
  ``dpdata.LabeledSystem(log, fmt='gaussian/log')`` gives back EMT's energy (eV) and forces (eV/Angstrom);
* the method and basis set of the route only label the ``SCF Done`` line; they do not change any number;
* the SCF "converges" in ``SCF_CYCLES_TO_CONVERGE`` (3) cycles. With ``scf=(maxcycle=N)`` and ``N`` smaller than
  that, the log ends the way Gaussian's does after a failed SCF (``Convergence failure -- run terminated.`` and
  ``Error termination via Lnk1e``), and the exit status is 1, as with Gaussian;
* an impossible charge/multiplicity, an element EMT lacks, or a job type other than a single point (``opt``,
  ``freq``, ...) also end in ``Error termination``.

The first lines of the log say that it was written by this test double.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import re
import sys
import time

import numpy as np
from ase import Atoms
from ase.calculators.emt import EMT
from ase.data import atomic_numbers
from dpdata.unit import EnergyConversion, ForceConversion

HARTREE_TO_EV = EnergyConversion('hartree', 'eV').value()
HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM = ForceConversion('hartree/bohr', 'eV/angstrom').value()

SCF_CYCLES_TO_CONVERGE = 3
DEFAULT_MAXCYCLE = 128
DEFAULT_CONVER = 8
UNSUPPORTED_JOB_TYPES = ('opt', 'freq', 'irc', 'scan', 'stable', 'td', 'nmr', 'polar', 'admp', 'bomd')
GAUSSIAN_ROOT = '/test-double/g16'

DASHES_COORDS = ' ' + '-' * 69
DASHES_FORCES = ' ' + '-' * 67


class InputError(Exception):
    """Something in the input that the real Gaussian would also stop at (or that this double cannot mimic)."""

    def __init__(self, message: str, link: str = 'l101.exe'):
        super().__init__(message)
        self.link = link


def gaussian_date(moment: datetime.datetime) -> str:
    """``Wed Jun 26 13:48:14 2019``, as Gaussian prints dates."""
    return f'{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S %Y}'


def d_format(value: float) -> str:
    """A number in Fortran's D exponent format, e.g. ``1.00D-08``."""
    return f'{value:.2E}'.replace('E', 'D')


def parse_input(text: str) -> dict:
    """Split a Gaussian input into link 0 lines, route, title, charge, multiplicity, symbols and positions."""
    lines = text.splitlines()
    index = 0
    link0 = []
    while index < len(lines) and not lines[index].strip().startswith('#'):
        if lines[index].strip().startswith('%'):
            link0.append(lines[index].strip())
        index += 1
    if index == len(lines):
        raise InputError('QPErr --- A syntax error was detected in the input line: no route section (#).')

    route = []
    while index < len(lines) and lines[index].strip():
        route.append(lines[index].strip())
        index += 1
    index += 1

    title = []
    while index < len(lines) and lines[index].strip():
        title.append(lines[index].strip())
        index += 1
    index += 1

    if index >= len(lines) or len(lines[index].split()) < 2:
        raise InputError('End of file reading charge and multiplicity (no molecule specification).')
    charge, multiplicity = (int(value) for value in lines[index].split()[:2])
    index += 1

    symbols, positions = [], []
    while index < len(lines) and lines[index].strip():
        tokens = lines[index].replace(',', ' ').split()
        match = re.match(r'([A-Za-z]{1,2})', tokens[0])
        if match is None or len(tokens) < 4:
            raise InputError(f'Unrecognised atom line (only Cartesian coordinates are mimicked): {lines[index]!r}')
        symbol = match.group(1).capitalize()
        if symbol not in atomic_numbers or symbol == 'X':
            raise InputError(f'Atomic symbol {tokens[0]!r} not recognised.')
        symbols.append(symbol)
        positions.append([float(value) for value in tokens[-3:]])
        index += 1
    if not symbols:
        raise InputError(
            'No atoms in the molecule specification (reading the geometry from a checkpoint file is '
            'not mimicked by this test double).'
        )

    return {
        'link0': link0,
        'route': ' '.join(route),
        'title': title or [''],
        'charge': charge,
        'multiplicity': multiplicity,
        'symbols': symbols,
        'positions': np.array(positions, dtype=float),
    }


def parse_route(route: str) -> dict:
    """The keywords of the route section that the double acts on."""
    body = re.sub(r'^#[npt]?\s*', '', route.lower())
    names = {re.split(r'[=(]', token)[0] for token in re.sub(r'\([^)]*\)', '', body).replace(',', ' ').split()}

    scf = re.search(r'\bscf\s*=?\s*(?:\(([^)]*)\)|([^\s(]+))', body)
    scf_options = (scf.group(1) or scf.group(2) or '') if scf else ''
    maxcycle = re.search(r'maxcyc\w*\s*=\s*(\d+)', scf_options)
    conver = re.search(r'conver\s*=\s*(\d+)', scf_options)

    method, basis = 'HF', 'STO-3G'
    for token in route.split()[1:]:
        if '/' in token and '=' not in token and '(' not in token:
            method, basis = token.split('/', 1)
            break

    return {
        'force': 'force' in names,
        'nosymm': bool(names & {'nosymm', 'nosymmetry'}) or re.search(r'symm\w*\s*=\s*\(?\s*none', body) is not None,
        'unsupported': sorted(names & set(UNSUPPORTED_JOB_TYPES)),
        'maxcycle': int(maxcycle.group(1)) if maxcycle else DEFAULT_MAXCYCLE,
        'conver': int(conver.group(1)) if conver else DEFAULT_CONVER,
        'method': method,
        'basis': basis,
    }


class LogWriter:
    """Collects the lines of the Gaussian-format log."""

    def __init__(self):
        self.lines: list[str] = []
        self.start = time.time()

    def __call__(self, *lines: str) -> None:
        self.lines.extend(lines)

    def leave_link(self, link: int) -> None:
        now = gaussian_date(datetime.datetime.now())
        self(f' Leave Link {link:4d} at {now}, MaxMem=   134217728 cpu:               0.0 elap:               0.0')

    def timings(self) -> None:
        seconds = time.time() - self.start
        self(
            f' Job cpu time:       0 days  0 hours  0 minutes {seconds:4.1f} seconds.',
            f' Elapsed time:       0 days  0 hours  0 minutes {seconds:4.1f} seconds.',
            ' File lengths (MBytes):  RWF=      5 Int=      0 D2E=      0 Chk=      1 Scr=      1',
        )

    def error_termination(self, link: str, message: str) -> None:
        self(
            f' {message}',
            f' Error termination via Lnk1e in {GAUSSIAN_ROOT}/{link} at {gaussian_date(datetime.datetime.now())}.',
        )
        self.timings()

    def text(self) -> str:
        return '\n'.join(self.lines) + '\n'


def write_header(log: LogWriter, input_name: str) -> None:
    script = pathlib.Path(__file__).resolve()
    log(
        ' ******************************************************************************',
        ' TEST DOUBLE -- THIS IS NOT A GAUSSIAN OUTPUT.',
        f' Written by {script.name} (aiida-dpgen test suite) in the format of',
        ' a Gaussian 16 log. Energies and forces are from the EMT potential of ASE;',
        ' the method and basis set of the route section change no number below.',
        ' ******************************************************************************',
        ' Entering Gaussian System, Link 0=g16',
        *([f' Input={input_name}'] if input_name else []),
        ' Initial command:',
        f' {script} "{pathlib.Path.cwd()}/Gau-{os.getpid()}.inp" -scrdir="{pathlib.Path.cwd()}/"',
        f' Entering Link 1 = {script} PID=  {os.getpid():8d}.',
        '  ',
        ' Copyright (c) 1988-2019, Gaussian, Inc.  All Rights Reserved.',
        '  ',
        ' Cite this work as:',
        ' Gaussian 16, Revision C.01,',
        ' M. J. Frisch, et al., Gaussian, Inc., Wallingford CT, 2016.',
        ' ',
        ' ******************************************',
        ' Gaussian 16:  ES64L-G16RevC.01  3-Jul-2019',
        f'                {datetime.date.today():%d-%b-%Y}',
        ' ******************************************',
    )


def write_route_and_molecule(log: LogWriter, job: dict, options: dict) -> None:
    for line in job['link0']:
        log(f' {line}')
        nproc = re.match(r'%nproc(?:shared)?\s*=\s*(\d+)', line, re.IGNORECASE)
        if nproc:
            log(f' Will use up to {int(nproc.group(1)):4d} processors via shared memory.')
    rule = ' ' + '-' * (len(job['route']) + 1)
    log(rule, f' {job["route"]}', rule)
    overlays = [' 1/38=1,57=2/1;', ' 2/12=2,17=6,18=5,40=1/2;', ' 3/6=3,11=2,25=1,30=1,71=1,74=-5/1,2,3;', ' 4//1;']
    overlays += [' 5/5=2,38=5/2;', ' 6/7=2,8=2,9=2,10=2,28=1/1;']
    overlays += [' 7/29=1/1,2,3,16;', ' 1//3;'] if options['force'] else []
    log(*overlays, ' 99/5=1,9=1/99;')
    log.leave_link(1)
    title_rule = ' ' + '-' * max(len(line) for line in job['title'])
    log(title_rule, *(f' {line}' for line in job['title']), title_rule)
    log(' Symbolic Z-matrix:', f' Charge = {job["charge"]:2d} Multiplicity = {job["multiplicity"]}')
    for symbol, (x, y, z) in zip(job['symbols'], job['positions'], strict=True):
        log(f' {symbol:<20s}{x:10.5f}{y:10.5f}{z:10.5f} ')
    log(' ')
    log(f' NAtoms={len(job["symbols"]):5d} NQM={len(job["symbols"]):8d} NQMF=       0 NMMI=      0 NMMIF=      0')
    log.leave_link(101)


def write_orientation(log: LogWriter, header: str, job: dict) -> None:
    log(
        header,
        DASHES_COORDS,
        ' Center     Atomic      Atomic             Coordinates (Angstroms)',
        ' Number     Number       Type             X           Y           Z',
        DASHES_COORDS,
    )
    for index, (symbol, (x, y, z)) in enumerate(zip(job['symbols'], job['positions'], strict=True), start=1):
        log(f'{index:7d}{atomic_numbers[symbol]:11d}{0:12d}    {x:12.6f}{y:12.6f}{z:12.6f}')
    log(DASHES_COORDS)


def write_geometry(log: LogWriter, job: dict, options: dict) -> None:
    log(' (Enter /test-double/g16/l202.exe)')
    write_orientation(log, '                          Input orientation:                          ', job)
    formula = Atoms(job['symbols']).get_chemical_formula(mode='hill')
    log(f' Stoichiometry    {formula}')
    if options['nosymm']:
        log(' Symmetry turned off by external request.')
    else:
        log(
            ' Framework group  C1[X(' + formula + ')]',
            ' Full point group                 C1      NOp   1',
            ' Largest Abelian subgroup         C1      NOp   1',
            ' Largest concise Abelian subgroup C1      NOp   1',
        )
        # A test double does not reorient: the "standard orientation" is the input orientation.
        write_orientation(log, '                         Standard orientation:                         ', job)
    log.leave_link(202)


def electron_counts(job: dict) -> tuple[int, int]:
    electrons = sum(atomic_numbers[symbol] for symbol in job['symbols']) - job['charge']
    unpaired = job['multiplicity'] - 1
    if job['multiplicity'] < 1 or electrons < unpaired or (electrons - unpaired) % 2:
        raise InputError(
            f'The combination of multiplicity {job["multiplicity"]} and {electrons:4d} electrons is impossible.',
            link='l301.exe',
        )
    return (electrons + unpaired) // 2, (electrons - unpaired) // 2


def emt_energy_and_forces(job: dict) -> tuple[float, np.ndarray]:
    atoms = Atoms(job['symbols'], positions=job['positions'], pbc=False)
    atoms.calc = EMT()
    try:
        return float(atoms.get_potential_energy()), atoms.get_forces()
    except NotImplementedError as exception:
        raise InputError(f'TEST DOUBLE: no EMT parameters for this system: {exception}', link='l502.exe') from None


def run(text: str, input_name: str) -> tuple[str, int]:
    """The log for the Gaussian input ``text`` and the exit status of ``g16``."""
    log = LogWriter()
    write_header(log, input_name)
    try:
        job = parse_input(text)
        options = parse_route(job['route'])
        write_route_and_molecule(log, job, options)
        if options['unsupported']:
            raise InputError(
                f'TEST DOUBLE: only single points (with or without force) are mimicked, not {options["unsupported"]}.'
            )
        write_geometry(log, job, options)
        alpha, beta = electron_counts(job)
        energy_ev, forces_ev = emt_energy_and_forces(job)
    except InputError as error:
        log.error_termination(error.link, str(error))
        return log.text(), 1
    except ValueError as error:
        log.error_termination('l101.exe', f'Error reading the input: {error}')
        return log.text(), 1

    energy = energy_ev / HARTREE_TO_EV
    forces = forces_ev / HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    prefix = 'R' if job['multiplicity'] == 1 else 'U'
    label = f'E({prefix}{options["method"].upper()})'

    log(
        ' (Enter /test-double/g16/l301.exe)',
        f' Standard basis: {options["basis"].upper()} (6D, 7F)',
        f' {alpha:5d} alpha electrons {beta:8d} beta electrons',
        f' NAtoms={len(job["symbols"]):6d} NActive={len(job["symbols"]):6d} NUniq={len(job["symbols"]):6d} '
        'SFac= 1.00D+00 NAtFMM=   60 NAOKFM=F Big=F',
    )
    log.leave_link(301)

    target = 10.0 ** -options['conver']
    log(
        ' (Enter /test-double/g16/l502.exe)',
        ' Closed shell SCF:' if prefix == 'R' else ' Open shell SCF:',
        f' Requested convergence on RMS density matrix={d_format(target)} within {options["maxcycle"]:3d} cycles.',
        f' Requested convergence on MAX density matrix={d_format(100 * target)}.',
        f' Requested convergence on             energy={d_format(100 * target)}.',
        ' No special actions if energy rises.',
    )
    cycles = max(1, min(SCF_CYCLES_TO_CONVERGE, options['maxcycle']))
    previous = None
    for cycle in range(1, cycles + 1):
        # Density and energy errors shrink a hundredfold a cycle; the converged cycle has EMT's energy exactly.
        rms = 0.5 * target * 100.0 ** (SCF_CYCLES_TO_CONVERGE - cycle)
        cycle_energy = energy + 10 * (rms - 0.5 * target)
        log('', f' Cycle {cycle:3d}  Pass 1  IDiag  1:')
        if previous is None:
            log(f' E= {cycle_energy:.14f}')
            log(f' RMSDP={d_format(rms)} MaxDP={d_format(10 * rms)}              OVMax= {d_format(20 * rms)}')
        else:
            delta = cycle_energy - previous
            log(f' E= {cycle_energy:.14f}     Delta-E= {delta:20.12f} Rises=F Damp=F')
            log(f' RMSDP={d_format(rms)} MaxDP={d_format(10 * rms)} DE={d_format(delta)} OVMax= {d_format(20 * rms)}')
        previous = cycle_energy
    log('')

    converged = cycles >= SCF_CYCLES_TO_CONVERGE
    if not converged:
        log(' >>>>>>>>>> Convergence criterion not met.')
    log(
        f' SCF Done:  {label} = {previous:17.9f}     A.U. after {cycles + (0 if converged else 1):4d} cycles',
        f'            NFock={cycles:3d}  Conv={d_format(rms)}     -V/T= 2.0000',
    )
    if prefix == 'U':
        spin = (job['multiplicity'] - 1) / 2
        log(f' <Sx>= 0.0000 <Sy>= 0.0000 <Sz>= {spin:.4f} <S**2>= {spin * (spin + 1):.4f} S= {spin:.4f}')
    if not converged:
        log.error_termination('l502.exe', 'Convergence failure -- run terminated.')
        return log.text(), 1
    log.leave_link(502)

    if options['force']:
        log(' (Enter /test-double/g16/l716.exe)')
        if not options['nosymm']:
            log(' ***** Axes restored to original set *****')
        log(
            DASHES_FORCES,
            ' Center     Atomic                   Forces (Hartrees/Bohr)',
            ' Number     Number              X              Y              Z',
            DASHES_FORCES,
        )
        for index, (symbol, (fx, fy, fz)) in enumerate(zip(job['symbols'], forces, strict=True), start=1):
            log(f'{index:7d}{atomic_numbers[symbol]:9d}{"":7s}{fx:15.9f}{fy:15.9f}{fz:15.9f}')
        log(
            DASHES_FORCES,
            f' Cartesian Forces:  Max {np.abs(forces).max():15.9f} RMS {np.sqrt(np.mean(forces**2)):15.9f}',
        )
        log.leave_link(716)

    log(
        '',
        ' TEST DOUBLE: no Gaussian was run; the numbers above are EMT numbers in Gaussian units.',
    )
    log.timings()
    log(f' Normal termination of Gaussian 16 at {gaussian_date(datetime.datetime.now())}.')
    return log.text(), 0


def main(argv: list[str]) -> int:
    if argv:
        input_path = pathlib.Path(argv[0])
        text = input_path.read_text()
        output = pathlib.Path(argv[1]) if len(argv) > 1 else input_path.with_suffix('.log')
        log, status = run(text, input_path.name)
        output.write_text(log)
        return status
    log, status = run(sys.stdin.read(), '')
    sys.stdout.write(log)
    sys.stdout.flush()
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
