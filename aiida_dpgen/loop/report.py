"""One iteration of the loop in numbers, and the table that shows them: plain functions.

:func:`iteration_report` condenses what the iteration's steps returned (the training summary, the exploration
statistics and task outcomes, the labeling summary, the dataset size, the cost of each step) into the report
stored for the iteration; :func:`format_table` prints the reports of a run as the per-iteration table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

STEPS = ('train', 'explore', 'label')


SYSTEM_KEYS = (
    'frames',
    'accurate_ratio',
    'candidate_ratio',
    'failed_ratio',
    'chosen',
    'tapered_task_max',
    'f_trust_lo_adapted',
    'pool',
)
"""What the report keeps of each system's selection: its ratios, the candidates chosen and, where the labeling
taper lowered the cap, the cap it gave."""


def iteration_report(
    *,
    iteration: int,
    stage_index: int,
    stage: Mapping,
    selection: Mapping,
    training: Mapping,
    exploration: Mapping,
    task_summary: Mapping,
    labeling: Mapping | None,
    dataset_frames: int,
    previous_dataset_frames: int,
    cost: Mapping,
    trained: bool = True,
) -> dict:
    """The report of one iteration; every count comes from a step's own output."""
    overall = exploration['overall']
    spread = training.get('spread', {})
    return {
        'iteration': iteration,
        'stage_index': stage_index,
        'stage': {
            key: stage[key] for key in ('systems', 'ensemble', 'temps', 'press', 'nsteps', 'trj_freq') if key in stage
        },
        'trust_levels': {key: value for key, value in selection.items() if 'trust' in key},
        'candidate_choice': selection.get('candidate_choice', 'uniform'),
        **({'adaptive_lower': selection['adaptive_lower']} if 'adaptive_lower' in selection else {}),
        'training': {
            'trained': trained,
            'models': len(training.get('models', {})),
            'rmse_f_trn': spread.get('rmse_f_trn', {}),
            'rmse_e_trn': spread.get('rmse_e_trn', {}),
            'rmse_f_val': spread.get('rmse_f_val', {}),
        },
        'exploration': {
            'tasks': task_summary.get('tasks', 0),
            'lost_atoms': task_summary.get('lost_atoms', 0),
            'frames': overall['frames'],
            **{name: overall[name] for name in ('accurate', 'candidate', 'failed')},
            **{f'{name}_ratio': overall[f'{name}_ratio'] for name in ('accurate', 'candidate', 'failed')},
            'chosen': overall.get('chosen', 0),
            'systems': {
                name: {key: row[key] for key in SYSTEM_KEYS if key in row}
                for name, row in exploration.get('systems', {}).items()
            },
            'max_devi_f_histogram': overall.get('max_devi_f_histogram', []),
        },
        'labeling': {
            'submitted': labeling.get('submitted', 0) if labeling else 0,
            'labeled': labeling.get('labeled', 0) if labeling else 0,
            'excluded': labeling.get('excluded', 0) if labeling else 0,
            'duplicates': labeling.get('duplicates', 0) if labeling else 0,
            'excluded_by_reason': dict(labeling.get('excluded_by_reason', {})) if labeling else {},
            'engine': labeling.get('engine') if labeling else None,
        },
        'dataset': {'frames': dataset_frames, 'added': dataset_frames - previous_dataset_frames},
        'cost': {step: dict(cost.get(step, {'wall_seconds': 0.0, 'core_hours': 0.0})) for step in STEPS},
    }


YOUNG_MODELS_FAILED_RATIO = 0.5
"""Above this failed ratio, an iteration without candidates is a sign of models too young for the stage."""


def no_candidates_warning(overall: Mapping) -> str | None:
    """Why an iteration labels nothing, when that is not convergence: most frames failed (deviation at or above
    the upper level), so nothing is learned and the stage repeats with the same models; None otherwise."""
    if overall.get('candidate', 0) or overall.get('chosen', 0):
        return None
    failed = overall.get('failed_ratio', 0.0)
    if failed < YOUNG_MODELS_FAILED_RATIO:
        return None
    return (
        f'no candidates: {failed:.1%} of the frames failed (force deviation at or above f_trust_hi), so nothing is '
        'labeled and the models stay as they are; they are too young for this stage: label more in the earlier '
        'stages (fp_task_max, more iterations), train longer, or raise f_trust_hi'
    )


HEADER = (
    f'{"iter":>4} {"stage":>5} {"tasks":>6} {"frames":>8} {"accurate":>9} {"candidate":>10} {"failed":>7} '
    f'{"labeled":>8} {"excluded":>9} {"dataset":>8} {"rmse_f":>8} {"spread":>7} {"wall_s":>8} {"core_h":>7}'
)


def format_row(report: Mapping) -> str:
    exploration, labeling, training = report['exploration'], report['labeling'], report['training']
    rmse = training['rmse_f_trn'] or {}
    cost = report['cost']
    wall = sum(cost[step]['wall_seconds'] for step in STEPS)
    core_hours = sum(cost[step]['core_hours'] for step in STEPS)
    rmse_mean = rmse.get('mean')
    rmse_std = rmse.get('std')
    return (
        f'{report["iteration"]:>4} {report["stage_index"]:>5} {exploration["tasks"]:>6} {exploration["frames"]:>8} '
        f'{exploration["accurate_ratio"]:>9.1%} {exploration["candidate_ratio"]:>10.1%} '
        f'{exploration["failed_ratio"]:>7.1%} {labeling["labeled"]:>8} {labeling["excluded"]:>9} '
        f'{report["dataset"]["frames"]:>8} {_number(rmse_mean):>8} {_number(rmse_std):>7} {wall:>8.1f} '
        f'{core_hours:>7.3f}'
    )


def format_table(reports: Sequence[Mapping]) -> str:
    """The per-iteration table; rmse_f and spread: the ensemble's final training force RMSE (eV/Å), mean and
    standard deviation over the models."""
    return '\n'.join([HEADER, *(format_row(report) for report in reports)])


def format_costs(reports: Sequence[Mapping]) -> str:
    """Wall time and core-hours per step and iteration."""
    lines = [f'{"iter":>4} ' + ' '.join(f'{step + " wall_s":>14} {step + " core_h":>14}' for step in STEPS)]
    for report in reports:
        cells = ' '.join(
            f'{report["cost"][step]["wall_seconds"]:>14.1f} {report["cost"][step]["core_hours"]:>14.4f}'
            for step in STEPS
        )
        lines.append(f'{report["iteration"]:>4} {cells}')
    return '\n'.join(lines)


def _number(value) -> str:
    return '-' if value is None else f'{value:.4f}'
