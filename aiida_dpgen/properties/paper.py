"""The paper's Table 3 for copper and how a model's errors against its own reference compare with it.

Table 3 (Zhang et al. 2020) gives DFT's and DP's values of the equilibrium properties; the DP-versus-DFT
difference is the accuracy the paper's loop reached. A loop validated against another reference (EMT here, on a
2-core machine) is judged by the same yardstick: its model ensemble's error against that reference, property by
property, at or below the paper's error for the same property.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from aiida_dpgen.properties.compare import Row


@dataclasses.dataclass(frozen=True)
class PaperValue:
    """One row of Table 3: DFT and DP, in the units of :func:`aiida_dpgen.properties.compare.property_values`."""

    symbol: str
    dft: float
    dp: float

    @property
    def error(self) -> float:
        return abs(self.dp - self.dft)


TABLE3 = {
    'fcc energy': PaperValue('E_am', -3.712, -3.7098),
    'fcc volume': PaperValue('V_0', 12.00, 12.004),
    'vacancy formation energy': PaperValue('E_vf', 1.020, 0.99),
    'octahedral interstitial formation energy': PaperValue('E_if(oh)', 3.616, 3.472),
    'tetrahedral interstitial formation energy': PaperValue('E_if(th)', 3.999, 4.149),
    'C11': PaperValue('C11', 171.74, 173.0),
    'C12': PaperValue('C12', 118.91, 122.0),
    'C44': PaperValue('C44', 81.59, 75.7),
    'B (Voigt)': PaperValue('B_V', 136.52, 139.0),
    'G (Voigt)': PaperValue('G_V', 58.32, 55.8),
    '(111) intrinsic stacking fault energy': PaperValue('gamma_sf', 0.03808, 0.036),  # 38.08 and 36 mJ/m²
}
"""Table 3's rows by the comparison's row name. The atomization energy's error is the fcc energy's: both sides
subtract the same isolated-atom energy."""


@dataclasses.dataclass(frozen=True)
class Judged:
    """A comparison row with the paper's DP-versus-DFT error for the same property, where Table 3 has one."""

    row: Row
    paper: PaperValue | None

    @property
    def error(self) -> float | None:
        return None if self.row.difference is None else abs(self.row.difference)

    @property
    def paper_error(self) -> float | None:
        return None if self.paper is None else self.paper.error

    @property
    def paper_relative_error(self) -> float | None:
        return None if self.paper is None else self.paper.error / abs(self.paper.dft)

    @property
    def meets(self) -> bool | None:
        """Whether the error is at or below the paper's (None: no error, or not in Table 3)."""
        if self.error is None or self.paper is None:
            return None
        return self.error <= self.paper.error

    def as_dict(self) -> dict:
        return {**self.row.as_dict(), 'paper_error': self.paper_error, 'meets': self.meets}


def judge(rows: Sequence[Row]) -> list[Judged]:
    """Every row, paired with its Table 3 entry where there is one."""
    return [Judged(row, TABLE3.get(row.name)) for row in rows]


def tally(judged: Sequence[Judged]) -> str:
    """How many of the Table 3 properties are at or below the paper's error, as one line."""
    compared = [entry for entry in judged if entry.meets is not None]
    return (
        f"{sum(entry.meets for entry in compared)} of {len(compared)} Table 3 properties at or below the paper's "
        'DP-versus-DFT error'
    )


def _number(value: float | None, digits: int = 4) -> str:
    return '-' if value is None else f'{value:.{digits}g}'


def format_judged(judged: Sequence[Judged], reference_name: str = 'reference') -> str:
    """A Markdown table: property, unit, reference, model mean ± spread, error (relative), the paper's
    DP-versus-DFT error (relative), and whether the error is at or below the paper's."""
    header = (
        'property',
        'unit',
        reference_name,
        'model (mean ± spread)',
        'error',
        'paper DP-DFT error (Table 3)',
        'at or below',
    )
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for entry in judged:
        row = entry.row
        model = _number(row.mean) + ('' if row.spread is None else f' ± {_number(row.spread, 2)}')
        error = _number(entry.error, 3)
        if row.relative is not None:
            error += f' ({abs(row.relative):.2%})'
        paper = '-' if entry.paper is None else f'{_number(entry.paper_error, 3)} ({entry.paper_relative_error:.2%})'
        verdict = {True: 'yes', False: 'no', None: '-'}[entry.meets]
        values = (row.name, row.unit, _number(row.reference), model, error, paper, verdict)
        lines.append('| ' + ' | '.join(values) + ' |')
    return '\n'.join(lines)
