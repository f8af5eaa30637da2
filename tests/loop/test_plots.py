"""The report's plots render from iteration reports and learning curves alone."""

from __future__ import annotations

import numpy as np

from aiida_dpgen.exploration.selection import HISTOGRAM_EDGES
from aiida_dpgen.loop import plots

from .test_report import make_report


def reports():
    first, second = make_report(), make_report()
    histogram = np.zeros(len(HISTOGRAM_EDGES) - 1, dtype=int)
    histogram[20:30] = 5
    first['exploration']['max_devi_f_histogram'] = histogram.tolist()
    second['iteration'] = 2
    second['exploration']['max_devi_f_histogram'] = np.roll(histogram, -5).tolist()
    return [first, second]


def test_every_plot_is_written_as_a_png(tmp_path):
    curve = {'step': np.arange(0, 400, 50), 'rmse_f_trn': np.linspace(1.0, 0.1, 8)}
    written = [
        plots.plot_ratios(reports(), tmp_path / 'ratios.png'),
        plots.plot_deviation_histograms(reports(), tmp_path / 'deviations.png'),
        plots.plot_learning_curves({1: [curve, curve], 2: [curve]}, tmp_path / 'curves.png'),
        plots.plot_dataset_growth(reports(), 50, tmp_path / 'sub' / 'dataset.png'),
    ]
    for path in written:
        assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_an_empty_histogram_and_no_curves_still_render(tmp_path):
    report = make_report()  # its histogram has the wrong length: skipped, not drawn
    assert plots.plot_deviation_histograms([report], tmp_path / 'deviations.png').exists()
    assert plots.plot_learning_curves({}, tmp_path / 'curves.png').exists()
