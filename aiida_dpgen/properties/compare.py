"""A potential's properties against a reference's, as the paper's Table 3: one row per property with the
reference value, the model ensemble's mean and spread, and the difference."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    unit: str
    reference: float | None
    mean: float | None
    spread: float | None
    models: int

    @property
    def difference(self) -> float | None:
        return None if self.reference is None or self.mean is None else self.mean - self.reference

    @property
    def relative(self) -> float | None:
        difference = self.difference
        if difference is None or not self.reference:
            return None
        return difference / abs(self.reference)

    def as_dict(self) -> dict:
        return {
            **dataclasses.asdict(self),
            'difference': self.difference,
            'relative': self.relative,
        }


def property_values(results: dict) -> dict[str, tuple[float, str]]:
    """The scalar properties of one suite's results by row name, with their units."""
    values: dict[str, tuple[float, str]] = {}
    ground = results.get('ground_state', 'fcc')
    if 'lattice_constant' in results:
        values[f'{ground} lattice constant'] = (results['lattice_constant'], 'Å')
    if ground in results.get('prototypes', {}):
        values[f'{ground} energy'] = (results['prototypes'][ground]['energy'], 'eV/atom')
    for name, entry in results.get('prototypes', {}).items():
        values[f'{name} E - E_{ground}'] = (entry['energy_difference'], 'eV/atom')
        values[f'{name} volume'] = (entry['volume'], 'Å³/atom')
        if 'eos' in entry:
            values[f'{name} bulk modulus (EOS)'] = (entry['eos']['bulk_modulus'], 'GPa')
        if 'covera' in entry:
            values[f'{name} c/a'] = (entry['covera'], '')
    for key, label in (
        ('c11', 'C11'),
        ('c12', 'C12'),
        ('c44', 'C44'),
        ('bulk_modulus_voigt', 'B (Voigt)'),
        ('shear_modulus_voigt', 'G (Voigt)'),
    ):
        if key in results.get('elastic', {}):
            values[label] = (results['elastic'][key], 'GPa')
    if 'vacancy' in results:
        values['vacancy formation energy'] = (results['vacancy']['energy'], 'eV')
    for site, energy in results.get('interstitial', {}).items():
        values[f'{site} interstitial formation energy'] = (energy, 'eV')
    for miller, energy in results.get('surface', {}).items():
        values[f'({miller}) surface energy'] = (energy, 'J/m²')
    if 'stacking_fault' in results:
        values['(111) intrinsic stacking fault energy'] = (results['stacking_fault'], 'J/m²')
    if 'phonons' in results:
        values['highest phonon frequency'] = (results['phonons']['max_frequency'], 'THz')
    return values


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def compare(reference: dict | None, models: Sequence[dict]) -> list[Row]:
    """One row per property found in the reference or any model: the ensemble's mean and (sample) standard
    deviation over the models that have it, as the paper's Table A.2 reports the spread."""
    reference_values = property_values(reference) if reference else {}
    model_values = [property_values(model) for model in models]
    names = list(reference_values)
    for values in model_values:
        names.extend(name for name in values if name not in names)
    rows = []
    for name in names:
        unit = reference_values.get(name, next((v[name] for v in model_values if name in v), (None, '')))[1]
        samples = [values[name][0] for values in model_values if name in values and _finite(values[name][0])]
        mean = sum(samples) / len(samples) if samples else None
        spread = None
        if len(samples) > 1:
            spread = math.sqrt(sum((value - mean) ** 2 for value in samples) / (len(samples) - 1))
        reference_value = reference_values.get(name, (None, unit))[0]
        rows.append(Row(name, unit, reference_value, mean, spread, len(samples)))
    return rows


def _number(value: float | None, digits: int = 4) -> str:
    return '-' if value is None else f'{value:.{digits}g}'


def format_comparison(rows: Sequence[Row], reference_name: str = 'reference', model_name: str = 'model') -> str:
    """The rows as a plain-text table: property, unit, reference, model mean ± spread, difference (%)."""
    header = ('property', 'unit', reference_name, f'{model_name} (mean ± spread)', 'difference')
    lines = []
    for row in rows:
        model = _number(row.mean) + ('' if row.spread is None else f' ± {_number(row.spread, 2)}')
        difference = _number(row.difference, 3)
        if row.relative is not None:
            difference += f' ({row.relative:+.1%})'
        lines.append((row.name, row.unit, _number(row.reference), model, difference))
    widths = [max(len(str(line[column])) for line in [header, *lines]) for column in range(len(header))]
    text = [' | '.join(str(value).ljust(width) for value, width in zip(header, widths, strict=True))]
    text.append('-+-'.join('-' * width for width in widths))
    text.extend(
        ' | '.join(str(value).ljust(width) for value, width in zip(line, widths, strict=True)) for line in lines
    )
    return '\n'.join(text)
