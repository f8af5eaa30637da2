"""PNG plots of a property run (matplotlib, no display): equations of state and phonon bands, every model
against the reference."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import numpy as np

from aiida_dpgen.loop.plots import pyplot, save_figure


def _style(name: str) -> dict:
    return {'color': 'black', 'linewidth': 2, 'label': name} if name == 'reference' else {'alpha': 0.7, 'label': name}


def plot_equations_of_state(curves: Mapping[str, Mapping[str, np.ndarray]], path: pathlib.Path) -> pathlib.Path:
    """Energy per atom against volume per atom, one panel per prototype, each potential a line."""
    plt = pyplot()
    prototypes = sorted({key[4:-8] for arrays in curves.values() for key in arrays if key.endswith('_volumes')})
    columns = min(3, max(1, len(prototypes)))
    rows = -(-len(prototypes) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for axis, prototype in zip(axes.flat, prototypes, strict=False):
        for name, arrays in sorted(curves.items()):
            if f'eos_{prototype}_volumes' in arrays:
                axis.plot(arrays[f'eos_{prototype}_volumes'], arrays[f'eos_{prototype}_energies'], **_style(name))
        axis.set(title=prototype, xlabel='volume (Å³/atom)', ylabel='energy (eV/atom)')
    for axis in list(axes.flat)[len(prototypes) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize='small')
    return save_figure(figure, path)


def plot_phonon_bands(
    curves: Mapping[str, Mapping[str, np.ndarray]], labels: list[str], path: pathlib.Path
) -> pathlib.Path:
    """Phonon bands along the high-symmetry path, each potential in its own colour."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    for index, (name, arrays) in enumerate(sorted(curves.items())):
        if 'phonon_frequencies' not in arrays:
            continue
        style = _style(name)
        color = style.pop('color', f'C{index}')
        lines = axis.plot(arrays['phonon_distances'], arrays['phonon_frequencies'], color=color, **style)
        for line in lines[1:]:
            line.set_label('_')
        ticks = arrays['phonon_ticks']
    axis.set_xticks(ticks, labels)
    for tick in ticks:
        axis.axvline(tick, color='grey', linewidth=0.5)
    axis.set(ylabel='frequency (THz)', xlim=(ticks[0], ticks[-1]), title='Phonon bands')
    axis.legend(fontsize='small')
    return save_figure(figure, path)
