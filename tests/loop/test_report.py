"""The per-iteration report and its table, from the steps' own outputs."""

from __future__ import annotations

import pytest

from aiida_dpgen.loop.report import HEADER, format_costs, format_table, iteration_report, no_candidates_warning

OVERALL = {
    'frames': 200,
    'accurate': 150,
    'candidate': 40,
    'failed': 10,
    'accurate_ratio': 0.75,
    'candidate_ratio': 0.2,
    'failed_ratio': 0.05,
    'chosen': 8,
    'max_devi_f_histogram': [0, 3, 5],
}


def make_report(labeling=True, selection=None, systems=None):
    return iteration_report(
        iteration=1,
        stage_index=0,
        stage={'systems': ['fcc'], 'ensemble': 'npt', 'temps': [50.0], 'press': [1.0], 'nsteps': 100, 'trj_freq': 10},
        selection=selection or {'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'fp_task_max': 8},
        training={'models': {'model_0': {}, 'model_1': {}}, 'spread': {'rmse_f_trn': {'mean': 0.031, 'std': 0.002}}},
        exploration={'systems': systems or {'fcc': OVERALL}, 'overall': OVERALL},
        task_summary={'tasks': 4, 'completed': 4, 'lost_atoms': 0},
        labeling={'submitted': 8, 'labeled': 7, 'excluded': 1, 'excluded_by_reason': {'scf': 1}} if labeling else None,
        dataset_frames=57,
        previous_dataset_frames=50,
        cost={
            'train': {'wall_seconds': 10.0, 'core_hours': 0.01},
            'explore': {'wall_seconds': 5.0, 'core_hours': 0.002},
        },
    )


def test_report_counts_come_from_the_steps_and_the_dataset_growth():
    report = make_report()
    assert report['exploration']['tasks'] == 4
    assert (report['exploration']['candidate'], report['exploration']['chosen']) == (40, 8)
    assert report['labeling']['labeled'] == 7 and report['labeling']['excluded_by_reason'] == {'scf': 1}
    assert report['dataset'] == {'frames': 57, 'added': 7}
    assert report['trust_levels'] == {'f_trust_lo': 0.05, 'f_trust_hi': 0.2}
    assert report['training']['models'] == 2
    assert report['cost']['label'] == {'wall_seconds': 0.0, 'core_hours': 0.0}


def test_the_report_names_the_candidate_choice_and_a_tapered_cap():
    report = make_report()
    assert report['candidate_choice'] == 'uniform'
    assert 'tapered_task_max' not in report['exploration']['systems']['fcc']
    tapered = make_report(
        selection={'f_trust_lo': 0.05, 'f_trust_hi': 0.2, 'candidate_choice': 'inv_pop_f:4'},
        systems={'fcc': {**OVERALL, 'tapered_task_max': 3}},
    )
    assert tapered['candidate_choice'] == 'inv_pop_f:4'
    assert tapered['exploration']['systems']['fcc']['tapered_task_max'] == 3


def test_an_iteration_without_candidates_reports_zero_labels():
    report = make_report(labeling=False)
    assert report['labeling']['labeled'] == 0 and report['labeling']['engine'] is None


def test_table_has_one_row_per_iteration_with_ratios_and_totals():
    lines = format_table([make_report()]).splitlines()
    assert lines[0] == HEADER
    cells = lines[1].split()
    assert cells[:7] == ['1', '0', '4', '200', '75.0%', '20.0%', '5.0%']
    assert cells[7:12] == ['7', '1', '57', '0.0310', '0.0020']
    assert cells[12:] == ['15.0', '0.012']
    assert format_costs([make_report()]).splitlines()[1].split()[:3] == ['1', '10.0', '0.0100']


@pytest.mark.parametrize(
    ('overall', 'warned'),
    [
        ({'candidate': 0, 'chosen': 0, 'failed_ratio': 0.984}, True),  # models too young for the stage
        ({'candidate': 0, 'chosen': 0, 'failed_ratio': 0.01}, False),  # converged: accurate, not failed
        ({'candidate': 3, 'chosen': 3, 'failed_ratio': 0.9}, False),  # something to label
    ],
)
def test_an_iteration_without_candidates_says_why_when_most_frames_failed(overall, warned):
    warning = no_candidates_warning(overall)

    assert (warning is not None) == warned
    if warned:
        assert warning.startswith('no candidates: 98.4% of the frames failed')
        assert 'raise f_trust_hi' in warning
