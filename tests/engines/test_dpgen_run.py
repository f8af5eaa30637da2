"""`aiida-dpgen run param.json machine.json` end to end: a DP-GEN Cu run with pw.x labels, on a Shell computer.

The inputs are written the way a DP-GEN user has them (deepmd/npy initial data, POSCAR configurations,
Debian's Cu UPF file, dpdispatcher's machine.json with LocalContext + Shell); the command creates the
computer and the codes, runs one iteration with real dp, LAMMPS and pw.x, and the labels come from pw.x.
"""

from __future__ import annotations

import json
import math
import re

import dpdata
from aiida import orm
from ase.build import bulk
from click.testing import CliRunner

from aiida_dpgen.cli import cli
from aiida_dpgen.labeling.pseudos import select_pbe_files
from aiida_dpgen.workflows.train import TrainWorkChain

from ..compat.dpgen_examples import write_labeled
from .conftest import require


def dpgen_inputs(root):
    cell = bulk('Cu', 'fcc', a=3.61, cubic=True)
    frames = []
    for index in range(6):
        atoms = cell.copy()
        atoms.rattle(0.05, seed=index)
        frames.append(atoms)
    write_labeled(frames, root / 'init' / 'deepmd', ['Cu'])
    for index in range(2):
        folder = root / 'confs' / f'{index:06d}'
        folder.mkdir(parents=True)
        dpdata.System(cell, fmt='ase/structure', type_map=['Cu']).to('vasp/poscar', str(folder / 'POSCAR'))
    parameters = TrainWorkChain.get_protocol_inputs('fast')['base']['dp']['parameters']
    parameters['model']['descriptor']['seed'] = 1  # as DP-GEN users write it; aiida-dpgen sets its own
    parameters['training']['stop_batch'] = parameters['training'].pop('numb_steps')
    upf = select_pbe_files()['Cu']
    param = {
        'type_map': ['Cu'],
        'mass_map': [63.546],
        'init_data_prefix': str(root / 'init'),
        'init_data_sys': ['deepmd'],
        'sys_configs_prefix': str(root),
        'sys_configs': [['confs/*/POSCAR']],
        'numb_models': 2,
        'default_training_param': parameters,
        'model_devi_dt': 0.002,
        'model_devi_skip': 0,
        'model_devi_f_trust_lo': 0.0,
        'model_devi_f_trust_hi': 10.0,
        'model_devi_clean_traj': True,
        'model_devi_jobs': [
            {'sys_idx': [0], 'temps': [300], 'press': [1.0], 'trj_freq': 10, 'nsteps': 50, 'ensemble': 'nvt'}
        ],
        'fp_style': 'pwscf',
        'shuffle_poscar': False,
        'fp_task_max': 1,
        'fp_task_min': 1,
        'ratio_failed': 0.5,
        'fp_pp_path': str(upf.parent),
        'fp_pp_files': [upf.name],
        'user_fp_params': {
            'control': {'calculation': 'scf', 'tprnfor': True, 'tstress': True, 'pseudo_dir': './'},
            'system': {'ecutwfc': 30, 'ecutrho': 240, 'occupations': 'smearing', 'smearing': 'mv', 'degauss': 0.02},
            'electrons': {'conv_thr': 1e-6},
            'kspacing': 0.6,
        },
    }
    step = {
        'machine': {'batch_type': 'Shell', 'context_type': 'LocalContext', 'remote_root': str(root / 'work')},
        'resources': {'number_node': 1, 'cpu_per_node': 1, 'group_size': 2},
    }
    machine = {
        'api_version': '1.0',
        'train': {**step, 'command': require('dp')},
        'model_devi': {**step, 'command': require('lmp')},
        'fp': {**step, 'command': f'{require("pw.x")} < input'},
    }
    (root / 'param.json').write_text(json.dumps(param, indent=2))
    (root / 'machine.json').write_text(json.dumps(machine, indent=2))
    return root / 'param.json', root / 'machine.json'


def test_a_dpgen_run_runs_and_its_labels_come_from_pw(tmp_path, aiida_profile):
    param, machine = dpgen_inputs(tmp_path)
    result = CliRunner().invoke(cli, ['run', str(param), str(machine), '--protocol', 'fast'], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    finished = re.search(r'DpgenWorkChain<(\d+)> finished, exit status 0', result.output)
    assert finished, result.output
    node = orm.load_node(int(finished[1]))

    report = node.outputs.iterations.iter_000.report.get_dict()
    assert report['exploration']['frames'] == 2 * (50 // 10 + 1)
    assert report['dataset'] == {'frames': 6 + 1, 'added': 1}, 'one candidate (fp_task_max 1) labeled and added'
    assert (report['labeling']['engine'], report['labeling']['labeled']) == ('quantumespresso', 1)
    calculations = [descendant for descendant in node.called_descendants if isinstance(descendant, orm.CalcJobNode)]
    (computer,) = {calculation.computer.pk: calculation.computer for calculation in calculations}.values()
    assert computer.label.startswith('dpgen-localhost-direct'), 'the computer machine.json describes, made by the run'
    assert (computer.transport_type, computer.scheduler_type) == ('core.local', 'core.direct')
    assert computer.get_workdir() == str(tmp_path / 'work')
    plugins = sorted({calculation.process_type for calculation in calculations})
    assert plugins == [
        'aiida.calculations:dpgen.lammps',
        'aiida.calculations:dpgen.train',
        'aiida.calculations:quantumespresso.pw',
    ]
    pw = next(calculation for calculation in calculations if calculation.process_type.endswith('quantumespresso.pw'))
    assert pw.inputs.parameters['SYSTEM']['ecutwfc'] == 30
    assert pw.inputs.kpoints.get_kpoints_mesh()[0] == [math.ceil(2 * math.pi / 3.61 / 0.6)] * 3, 'kspacing'
    masses = next(c for c in calculations if c.process_type.endswith('dpgen.lammps')).inputs.stage['masses']
    assert masses == [63.546]
