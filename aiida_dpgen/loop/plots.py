"""PNG plots of a loop's progress from its iteration reports and learning curves (matplotlib, no display)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

from aiida_dpgen.exploration.selection import HISTOGRAM_EDGES


def pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def plot_ratios(reports: Sequence[Mapping], path: pathlib.Path) -> pathlib.Path:
    """Accurate, candidate and failed ratio per iteration: the loop converges as the candidates vanish."""
    plt = pyplot()
    iterations = [report['iteration'] for report in reports]
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, marker in (('accurate', 'o'), ('candidate', 's'), ('failed', 'x')):
        axes.plot(
            iterations, [100 * report['exploration'][f'{name}_ratio'] for report in reports], marker=marker, label=name
        )
    axes.set(xlabel='iteration', ylabel='frames (%)', ylim=(0, 100), title='Exploration outcome per iteration')
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend()
    return save_figure(figure, path)


def plot_deviation_histograms(reports: Sequence[Mapping], path: pathlib.Path) -> pathlib.Path:
    """The distribution of max_devi_f per iteration on a log axis, with the trust levels drawn."""
    plt = pyplot()
    edges = HISTOGRAM_EDGES[1:-1]  # the finite log-spaced bins
    centers = np.sqrt(edges[:-1] * edges[1:])
    figure, axes = plt.subplots(figsize=(6, 4))
    for report in reports:
        counts = np.asarray(report['exploration']['max_devi_f_histogram'], dtype=float)
        if counts.size != len(HISTOGRAM_EDGES) - 1 or counts.sum() == 0:
            continue
        axes.step(centers, counts[1:-1] / counts.sum(), where='mid', label=f'iteration {report["iteration"]}')
    levels = reports[-1]['trust_levels'] if reports else {}
    for key, style in (('f_trust_lo', '--'), ('f_trust_hi', ':')):
        if isinstance(levels.get(key), int | float):
            axes.axvline(levels[key], color='black', linestyle=style, label=f'{key} = {levels[key]} eV/Å')
    axes.set(xscale='log', xlabel='max force deviation (eV/Å)', ylabel='fraction of frames', title='Model deviation')
    axes.legend(fontsize='small')
    return save_figure(figure, path)


def plot_learning_curves(curves: Mapping[int, Sequence[Mapping]], path: pathlib.Path) -> pathlib.Path:
    """Training force RMSE against step for every model, one colour per iteration."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for number, (iteration, models) in enumerate(sorted(curves.items())):
        for index, curve in enumerate(models):
            if 'rmse_f_trn' not in curve:
                continue
            label = f'iteration {iteration}' if index == 0 else None
            colour = colours[number % len(colours)]
            axes.plot(curve['step'], curve['rmse_f_trn'], color=colour, alpha=0.7, label=label)
    axes.set(yscale='log', xlabel='training step', ylabel='force RMSE, training (eV/Å)', title='Learning curves')
    if curves:
        axes.legend(fontsize='small')
    return save_figure(figure, path)


def plot_dataset_growth(reports: Sequence[Mapping], initial_frames: int, path: pathlib.Path) -> pathlib.Path:
    """Labeled frames after each iteration, starting from the initial data."""
    plt = pyplot()
    iterations = [-1, *(report['iteration'] for report in reports)]
    frames = [initial_frames, *(report['dataset']['frames'] for report in reports)]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(iterations, frames, marker='o')
    axes.set(xlabel='iteration (-1: initial data)', ylabel='labeled frames', title='Training data')
    axes.xaxis.get_major_locator().set_params(integer=True)
    return save_figure(figure, path)


def save_figure(figure, path: pathlib.Path) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot().close(figure)
    return path
