"""A DP-GEN working directory with real frozen models, imported and continued by DpgenWorkChain (dp, LAMMPS, EMT).

The directory holds one complete iteration in DP-GEN's layout: two models trained by `dp` (their training
inputs deleted, so the import reads the models with DeePMD-kit), one exploration task, three EMT-labeled
frames in 02.fp. The continuing run must take that iteration over, not recompute it, and train its next
ensemble on the imported data.
"""

from __future__ import annotations

import pathlib

from ase.build import bulk
from ase.io import write
from click.testing import CliRunner

from aiida_dpgen.cli import cli
from aiida_dpgen.compat.importer import import_dpgen_run
from aiida_dpgen.data.dataset import combined
from aiida_dpgen.utils.systems import frame_keys
from aiida_dpgen.workflows.runner import run_get_node

from ..compat.test_workdir import write_iteration, write_record
from .test_dpgen import SELECTION, STAGE, codes, loop_builder, train_nodes  # noqa: F401 (codes: a fixture)


def write_dpgen_run(root: pathlib.Path, models: list[pathlib.Path], initial, labels) -> dict:
    """One complete DP-GEN iteration on 8-atom fcc Cu: 11 frames explored, 5 candidates, 3 sent to labeling."""
    initial.export(root / 'data' / 'init')
    (root / 'confs').mkdir()
    write(root / 'confs' / 'POSCAR', bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1)), format='vasp')
    write_iteration(
        root,
        0,
        models=[
            {'model': path, 'lcurve': path.parent / f'train_{number + 1}' / 'lcurve.out', 'training_input': False}
            for number, path in enumerate(models)
        ],
        deviations={0: [(6, 5, 0)]},
        fp_tasks={0: 3},
    )
    labels.export(root / 'iter.000000' / '02.fp' / 'data.000')
    write_record(root, complete=1)
    job = {'sys_idx': [0], **{key: STAGE[key] for key in ('temps', 'ensemble', 'nsteps', 'trj_freq')}}
    return {
        'type_map': ['Cu'],
        'init_data_prefix': 'data',
        'init_data_sys': ['init'],
        'sys_configs': [['confs/POSCAR']],
        'model_devi_f_trust_lo': SELECTION['f_trust_lo'],
        'model_devi_f_trust_hi': SELECTION['f_trust_hi'],
        'model_devi_skip': 0,
        'model_devi_jobs': [job, {**job, 'temps': [600.0]}],
        'fp_task_max': SELECTION['fp_task_max'],
        'fp_style': 'vasp',
    }


def test_an_imported_dpgen_run_continues_with_restart_from(codes, trained_models, emt_cu_dataset, tmp_path):  # noqa: F811
    initial, labels = emt_cu_dataset(nframes=10), emt_cu_dataset(nframes=3, seed=5)
    param = write_dpgen_run(tmp_path / 'dpgen', trained_models, initial, labels)

    imported = import_dpgen_run(tmp_path / 'dpgen', param, system_names=['fcc'])

    iteration = imported['restart_from']['iter_000']
    report = iteration['report'].get_dict()
    exploration = report['exploration']
    assert [exploration[key] for key in ('frames', 'accurate', 'candidate', 'failed', 'chosen')] == [11, 6, 5, 0, 3]
    assert report['labeling']['labeled'] == 3
    assert iteration['labels'].nframes == labels.nframes, "the iteration's labels, not a copy of the data before"
    model = iteration['models']['model_0']
    assert (model.rcut, model.descriptor, model.sel, model.training_steps) == (4.0, 'se_e2_a', [40], 200)

    builder = loop_builder(codes, imported['datasets']['init_000'], [STAGE, {**STAGE, 'temps': [600.0]}])
    builder.datasets = imported['datasets']
    builder.configurations = imported['configurations']
    builder.restart_from = imported['restart_from']
    results, node = run_get_node(builder)

    assert node.is_finished_ok, node.exit_message
    assert sorted(results['iterations']) == ['iter_000', 'iter_001']
    reused = results['iterations']['iter_000']
    assert reused['report'].uuid == iteration['report'].uuid
    assert reused['labels'].uuid == iteration['labels'].uuid
    assert {key: model.uuid for key, model in reused['models'].items()} == {
        key: model.uuid for key, model in iteration['models'].items()
    }
    # only the new iteration ran, and its ensemble learned from the imported data
    assert [child.process_label for child in node.called if child.process_label.endswith('WorkChain')] == [
        'TrainWorkChain',
        'ExploreWorkChain',
        'LabelWorkChain',
    ]
    trained_on = train_nodes(node)[0].called[0].inputs.dp.datasets
    assert {name: trained_on[name].uuid for name in trained_on} == {
        'init_000': imported['datasets']['init_000'].uuid,
        'iter_000': iteration['labels'].uuid,
    }
    new = results['iterations']['iter_001']['report'].get_dict()
    assert new['stage_index'] == 1 and new['stage']['temps'] == [600.0]
    final = combined(dict(results['datasets']))
    assert final.nframes == initial.nframes + labels.nframes + new['dataset']['added'] == new['dataset']['frames']
    kept = {system.formula: set(frame_keys(system).tolist()) for system in final.to_dpdata()}
    for system in iteration['labels'].to_dpdata():
        assert set(frame_keys(system).tolist()) <= kept[system.formula]

    shown = CliRunner().invoke(cli, ['report', str(node.pk)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    rows = [line.split() for line in shown.output.splitlines() if line.split()[:1] in (['0'], ['1'])]
    assert [row[:4] for row in rows[:2]] == [['0', '0', '1', '11'], ['1', '1', '1', '11']]
