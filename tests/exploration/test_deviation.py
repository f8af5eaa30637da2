"""model_devi.out reading: exact values, any size, odd rows, the file LAMMPS really writes."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from aiida_dpgen.exploration.deviation import COLUMNS, read_model_devi, write_model_devi

LAMMPS_FILE = pathlib.Path(__file__).parents[1] / 'fixtures' / 'model_devi' / 'lammps_32_cu.out'


def same(a, b):
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def test_the_file_lammps_writes_reads_exactly_as_loadtxt():
    table = read_model_devi(LAMMPS_FILE)
    assert table.shape == (21, len(COLUMNS))
    assert same(table, np.loadtxt(LAMMPS_FILE))
    np.testing.assert_array_equal(table[:, 0], np.arange(0, 201, 10))


def test_values_equal_strtod_including_tiny_huge_nan_and_threshold_values(tmp_path):
    rng = np.random.default_rng(0)
    table = np.column_stack([np.arange(2000) * 10, 10 ** rng.uniform(-30, 5, (2000, 6))])
    table[3, 4], table[4, 1], table[5, 4], table[6, 4] = np.nan, 1e-120, 0.05, 0.2
    write_model_devi(tmp_path / 'model_devi.out', table)

    assert same(read_model_devi(tmp_path / 'model_devi.out'), np.loadtxt(tmp_path / 'model_devi.out'))
    assert read_model_devi(tmp_path / 'model_devi.out')[5, 4] == 0.05


def test_empty_header_only_and_single_row_files(tmp_path):
    (tmp_path / 'empty').write_bytes(b'')
    (tmp_path / 'header').write_text('#       step         max_devi_v\n')
    write_model_devi(tmp_path / 'one', np.array([[10, 0.1, 0.01, 0.05, 0.3, 0.02, 0.1]]))
    assert read_model_devi(tmp_path / 'empty').shape == (0, 7)
    assert read_model_devi(tmp_path / 'header').shape == (0, 7)
    assert read_model_devi(tmp_path / 'one').tolist() == [[10, 0.1, 0.01, 0.05, 0.3, 0.02, 0.1]]


def test_a_repeated_step_keeps_its_last_row_as_dpgen_does(tmp_path):
    table = np.array(
        [[0, 1, 1, 1, 0.1, 0, 0], [10, 1, 1, 1, 0.2, 0, 0], [10, 1, 1, 1, 0.3, 0, 0], [20, 1, 1, 1, 0.4, 0, 0]]
    )
    write_model_devi(tmp_path / 'm.out', table)
    assert read_model_devi(tmp_path / 'm.out')[:, 4].tolist() == [0.1, 0.3, 0.4]


def test_files_of_other_writers_fall_back_to_general_parsing(tmp_path):
    (tmp_path / 'm.out').write_text('# step ...\n0 0.1 0.0 0.05 0.3 0.01 0.2\n10 1e-3 0 2e-3 0.04 0.01 0.02\n')
    assert read_model_devi(tmp_path / 'm.out')[:, 4].tolist() == [0.3, 0.04]
    (tmp_path / 'bad').write_text('0 0.1 0.2\n')
    with pytest.raises(ValueError, match='has 3 columns; expected 7'):
        read_model_devi(tmp_path / 'bad')


def test_a_truncated_last_line_of_a_killed_run_is_still_read(tmp_path):
    table = np.column_stack([np.arange(5) * 10, np.full((5, 6), 0.1)])
    write_model_devi(tmp_path / 'm.out', table)
    text = (tmp_path / 'm.out').read_bytes()
    (tmp_path / 'm.out').write_bytes(text.rstrip(b'\n'))
    assert read_model_devi(tmp_path / 'm.out').shape == (5, 7)


def test_only_the_selection_columns_can_be_read(tmp_path):
    rng = np.random.default_rng(4)
    table = np.column_stack([np.arange(50) * 10, 10 ** rng.uniform(-3, 0, (50, 6))])
    table[7, 4] = np.nan
    write_model_devi(tmp_path / 'm.out', table)
    full = read_model_devi(tmp_path / 'm.out')
    selected = read_model_devi(tmp_path / 'm.out', ('step', 'max_devi_v', 'max_devi_f'))
    assert same(selected, full[:, [0, 1, 4]])
    with pytest.raises(ValueError, match='expected names from'):
        read_model_devi(tmp_path / 'm.out', ('max_devi_f',))


@pytest.mark.parametrize('fmt', ['%20.8e', '%14.4e', '%18.6e'])
def test_other_precisions_negative_values_and_huge_steps_read_exactly(tmp_path, fmt):
    rng = np.random.default_rng(7)
    steps = np.array([0, 10, 99_999_999, 100_000_000, 123_456_789_012])
    table = np.column_stack([steps, rng.uniform(-1, 1, (5, 6)) * 10 ** rng.uniform(-8, 3, (5, 6))])
    np.savetxt(tmp_path / 'm.out', table, fmt=['%12d'] + [fmt] * 6, header='step ...')
    assert same(read_model_devi(tmp_path / 'm.out'), np.loadtxt(tmp_path / 'm.out'))


def test_a_comment_line_in_the_middle_is_skipped(tmp_path):
    table = np.column_stack([np.arange(4) * 10, np.full((4, 6), 0.125)])
    write_model_devi(tmp_path / 'm.out', table)
    lines = (tmp_path / 'm.out').read_text().splitlines(keepends=True)
    comment = '#' + ' ' * (len(lines[1]) - 2) + '\n'  # as wide as a data row, so the layout still fits
    (tmp_path / 'm.out').write_text(''.join([*lines[:3], comment, *lines[3:]]))
    assert read_model_devi(tmp_path / 'm.out')[:, 0].tolist() == [0, 10, 20, 30]
