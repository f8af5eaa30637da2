"""Read DeePMD-kit's learning curve (``lcurve.out``) and judge whether training diverged."""

from __future__ import annotations

import io

import numpy as np

DIVERGENCE_GROWTH_FACTOR = 100.0
"""Training counts as diverged when its total training RMSE ends this many times above where it began."""


def parse_lcurve(text: str) -> dict[str, np.ndarray]:
    """Columns of ``lcurve.out`` by header name (``step``, ``rmse_trn``, ``rmse_f_val``, ..., ``lr``)."""
    header = next((line for line in text.splitlines() if line.startswith('#') and 'step' in line), None)
    if header is None:
        raise ValueError('lcurve.out has no header line with column names (expected "# step rmse_trn ... lr")')
    names = header.lstrip('#').split()
    if not any(line.strip() and not line.startswith('#') for line in text.splitlines()):
        return {name: np.empty(0) for name in names}
    table = np.loadtxt(io.StringIO(text), comments='#', ndmin=2)
    if table.shape[1] != len(names):
        raise ValueError(f'lcurve.out has {table.shape[1]} columns but its header names {len(names)}: {names}')
    columns = {name: table[:, index] for index, name in enumerate(names)}
    columns['step'] = columns['step'].astype(int)
    return columns


def rmse_columns(curve: dict[str, np.ndarray]) -> list[str]:
    return [name for name in curve if name.startswith('rmse')]


def divergence(curve: dict[str, np.ndarray]) -> str | None:
    """Why the run counts as diverged, or None.

    A column that is NaN throughout only means there is no reference data for it (DeePMD-kit prints NaN
    for, e.g., virials that the data lacks); NaN or infinity appearing in a column that has numbers
    elsewhere, or a total training RMSE that grew by :data:`DIVERGENCE_GROWTH_FACTOR`, means the loss blew up.
    """
    for name in rmse_columns(curve):
        values = curve[name]
        finite = np.isfinite(values)
        if finite.any() and not finite.all():
            step = int(curve['step'][np.argmin(finite)])
            return f'{name} became {values[np.argmin(finite)]} at step {step}'
    total = curve.get('rmse_trn')
    if total is None or len(total) < 2 or not np.isfinite(total[[0, -1]]).all():
        return None
    if total[-1] > DIVERGENCE_GROWTH_FACTOR * total[0]:
        return f'rmse_trn grew from {total[0]:.3g} to {total[-1]:.3g}, over {DIVERGENCE_GROWTH_FACTOR:g} times'
    return None


def final_metrics(curve: dict[str, np.ndarray]) -> dict:
    """The last row of the learning curve as plain numbers; NaN (no reference data) becomes None."""
    if len(curve['step']) == 0:
        return {}
    metrics = {}
    for name, values in curve.items():
        value = values[-1].item()
        metrics[name] = None if isinstance(value, float) and not np.isfinite(value) else value
    return metrics
