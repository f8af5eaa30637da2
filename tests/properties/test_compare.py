"""The Table-3 comparison and the settings check, without any calculation."""

from __future__ import annotations

import math

import pytest

from aiida_dpgen.properties.compare import compare, format_comparison, property_values
from aiida_dpgen.properties.settings import validate_settings


def results(lattice: float, vacancy: float, c11: float, hcp: float) -> dict:
    return {
        'ground_state': 'fcc',
        'lattice_constant': lattice,
        'prototypes': {
            'fcc': {'energy': -3.5, 'volume': lattice**3 / 4, 'energy_difference': 0.0},
            'hcp': {'energy': -3.5 + hcp, 'volume': 11.9, 'energy_difference': hcp, 'covera': 1.63},
        },
        'elastic': {'c11': c11, 'c12': 120.0, 'c44': 75.0, 'bulk_modulus_voigt': 140.0, 'shear_modulus_voigt': 50.0},
        'vacancy': {'energy': vacancy, 'atoms': 107},
    }


def test_rows_hold_the_reference_the_ensemble_mean_and_its_spread():
    reference = results(3.63, 1.2, 170.0, 0.01)
    models = [results(3.62, 1.0, 160.0, 0.02), results(3.64, 1.4, 180.0, 0.02)]
    rows = {row.name: row for row in compare(reference, models)}

    vacancy = rows['vacancy formation energy']
    assert (vacancy.reference, vacancy.mean, vacancy.unit, vacancy.models) == (1.2, pytest.approx(1.2), 'eV', 2)
    assert vacancy.spread == pytest.approx(math.sqrt(0.08))  # sample standard deviation of 1.0 and 1.4
    c11 = rows['C11']
    assert (c11.mean, c11.difference, c11.relative) == (170.0, 0.0, 0.0)
    hcp = rows['hcp E - E_fcc']
    assert hcp.difference == pytest.approx(0.01) and hcp.relative == pytest.approx(1.0)
    assert rows['fcc lattice constant'].unit == 'Å'


def test_a_single_model_has_no_spread_and_a_missing_reference_no_difference():
    (row, *_) = compare(None, [results(3.6, 1.1, 170.0, 0.0)])
    assert row.spread is None and row.reference is None and row.difference is None and row.mean == 3.6


def test_the_table_names_every_property_with_its_unit():
    rows = compare(results(3.63, 1.2, 170.0, 0.01), [results(3.62, 1.0, 160.0, 0.02)])
    table = format_comparison(rows, 'EMT', 'DP')
    lines = table.splitlines()
    assert [cell.strip() for cell in lines[0].split(' | ')] == [
        'property',
        'unit',
        'EMT',
        'DP (mean ± spread)',
        'difference',
    ]
    assert any(line.startswith('vacancy formation energy') and '-0.2 (-16.7%)' in line for line in lines)
    assert len(lines) == 2 + len(property_values(results(3.6, 1.0, 1.0, 0.0)))


@pytest.mark.parametrize(
    ('settings', 'message'),
    [
        ({'element': 'Xx'}, r"settings.element='Xx': expected a chemical symbol"),
        ({'element': 'Cu', 'prototype': ['fcc']}, r"settings: unknown key\(s\) \['prototype'\]"),
        ({'element': 'Cu', 'prototypes': ['fcc', 'bct']}, r"settings.prototypes=\['fcc', 'bct'\]: expected some of"),
        ({'element': 'Cu', 'properties': ['melting']}, r"settings.properties: unknown \['melting'\]"),
        ({'element': 'Cu', 'prototypes': ['bcc'], 'ground_state': 'fcc'}, r"ground_state='fcc' must be one of"),
        (
            {
                'element': 'Cu',
                'prototypes': ['hcp'],
                'ground_state': 'hcp',
                'properties': ['eos', 'vacancy', 'elastic'],
            },
            r"'elastic' is built for a ground state in \['bcc', 'fcc'\], not 'hcp'; remove 'elastic'",
        ),
        ({'element': 'Cu', 'vacancy': {'repeat': 1}}, r'settings.vacancy.repeat=1: expected 2 or more'),
        ({'element': 'Cu', 'stacking_fault': {'layers': 8}}, r'settings.stacking_fault.layers=8: expected a multiple'),
        ({'element': 'Cu', 'eos': {'start': 1.0, 'stop': 1.1, 'points': 7}}, r'settings.eos=.*expected 0 < start < 1'),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(settings, message):
    with pytest.raises(ValueError, match=message):
        validate_settings(settings)


def test_the_ground_state_energy_is_a_row_as_table_3_has_the_atomization_energy():
    rows = {row.name: row for row in compare(results(3.63, 1.2, 170.0, 0.01), [results(3.62, 1.0, 160.0, 0.02)])}

    assert (rows['fcc energy'].reference, rows['fcc energy'].unit) == (-3.5, 'eV/atom')
