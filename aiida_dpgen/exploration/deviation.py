"""Read DeePMD-kit's ``model_devi.out`` fast, exactly, and in bounded memory.

The LAMMPS plugin writes fixed-width lines: ``%12d`` for the step, then six `` %18.6e`` columns
(max/min/avg virial deviation, max/min/avg force deviation). At the paper's scale (25 million frames in
thousands of files) parsing this text is the cost of selection, so a file is parsed as a 2-D array of
bytes: digits are taken from fixed positions with numpy, the integer mantissa is combined with its
decimal exponent by one division or multiplication by an exactly representable power of ten, which
rounds exactly like ``strtod``. Rows that do not fit the layout (``nan``, three-digit exponents, other
writers) are parsed with ``float`` one by one, and a file without a fixed layout falls back to
``numpy.loadtxt``; all paths give the same numbers.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

COLUMNS = ('step', 'max_devi_v', 'min_devi_v', 'avg_devi_v', 'max_devi_f', 'min_devi_f', 'avg_devi_f')
STEP, MAX_DEVI_V, MIN_DEVI_V, AVG_DEVI_V, MAX_DEVI_F, MIN_DEVI_F, AVG_DEVI_F = range(7)

_DIGIT_ZERO = ord('0')
_EXACT_POWERS = 10.0 ** np.arange(23)
"""10**0 .. 10**22 are exact in float64, so one multiplication or division by them rounds like strtod."""


def write_model_devi(path: str | os.PathLike, table: np.ndarray) -> None:
    """Write ``table`` (n x 7: step and six deviations) in the layout the LAMMPS plugin writes."""
    header = f'{"step":>11}' + ''.join(f'{name:>19}' for name in COLUMNS[1:])
    np.savetxt(path, table, fmt=['%12d'] + ['%18.6e'] * 6, header=header, comments='#')


SELECTION_COLUMNS = ('step', 'max_devi_v', 'max_devi_f')
"""What selection needs; reading only these is about twice as fast as reading all seven."""


def read_model_devi(source: str | os.PathLike | bytes, columns: tuple[str, ...] = COLUMNS) -> np.ndarray:
    """The rows of a ``model_devi.out`` as a float64 array, one column per name in ``columns`` (default all 7).

    When a step appears more than once (some LAMMPS fixes evaluate a step again), only its last row is
    kept, as DP-GEN does. An empty file gives an array with zero rows.
    """
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown or 'step' not in columns:
        raise ValueError(f'columns={columns}: expected names from {COLUMNS}, including "step"')
    data = source if isinstance(source, bytes) else _read_bytes(source)
    wanted = [COLUMNS.index(name) for name in columns]
    table = _parse(data, wanted)
    return keep_last_per_step(table, columns.index('step'))


def _read_bytes(path) -> bytes:
    return Path(path).read_bytes()


def keep_last_per_step(table: np.ndarray, step_column: int = STEP) -> np.ndarray:
    if len(table) < 2 or np.all(np.diff(table[:, step_column]) > 0):
        return table
    _, reversed_first = np.unique(table[::-1, step_column], return_index=True)
    return table[np.sort(len(table) - 1 - reversed_first)]


def _parse(data: bytes, wanted: list[int]) -> np.ndarray:
    start = 0
    while data.startswith(b'#', start):
        newline = data.find(b'\n', start)
        if newline < 0:
            return np.empty((0, len(wanted)))
        start = newline + 1
    if not data[start : start + 4096].strip() and not data[start:].strip():
        return np.empty((0, len(wanted)))
    if not data.endswith(b'\n'):
        data += b'\n'
    width = data.find(b'\n', start) - start + 1
    if width > 1 and (len(data) - start) % width == 0:
        rows = np.frombuffer(data, dtype=np.uint8, offset=start).reshape(-1, width)
        layout = _layout(rows[0, :-1].tobytes())
        if layout is not None and np.all(rows[:, -1] == ord('\n')):
            if _fits_word_layout(layout):
                return _parse_words(rows, layout, wanted)
            return _parse_fixed_width(rows, layout, wanted)
    return _parse_general(data[start:])[:, wanted]


def _layout(line: bytes) -> list[tuple[int, int]] | None:
    """(end, digits after the point) per column from the first row, or None if the row is not 7 fields."""
    fields, position = [], 0
    for token in line.split():
        begin = line.index(token, position)
        position = begin + len(token)
        fields.append((position, token))
    if len(fields) != len(COLUMNS):
        return None
    layout = [(fields[0][0], 0)]
    for end, token in fields[1:]:
        mantissa, _, exponent = token.partition(b'e')
        if b'.' not in mantissa or len(exponent) != 3 or exponent[:1] not in (b'+', b'-'):
            return None
        layout.append((end, len(mantissa) - mantissa.index(b'.') - 1))
    return layout


def _parse_fixed_width(rows: np.ndarray, layout: list[tuple[int, int]], wanted: list[int]) -> np.ndarray:
    """Parse every row with the first row's layout; rows that differ are parsed one by one.

    The six float fields have one width, so the float part of the rows is viewed as (rows, 6, width) and
    each digit position is a plain slice of that view: no gathers, no copies of the text.
    """
    step_end = layout[0][0]
    ends = [end for end, _ in layout[1:]]
    field_width = ends[0] - step_end
    precision = layout[1][1]
    uniform = all(end - step_end == (index + 1) * field_width for index, end in enumerate(ends))
    if not uniform or any(p != precision for _, p in layout[1:]) or field_width < precision + 7:
        return _parse_general(rows.tobytes())[:, wanted]

    nrows = len(rows)
    fields = rows[:, step_end : step_end + len(ends) * field_width].reshape(nrows, len(ends), field_width)
    float_columns = [column - 1 for column in wanted if column != STEP]
    if float_columns != list(range(len(ends))):
        fields = fields[:, float_columns, :]
    point = field_width - 5 - precision
    zero = np.uint8(_DIGIT_ZERO)

    lead = fields[:, :, point - 1] - zero
    decimals = fields[:, :, point + 1 : point + 1 + precision] - zero
    exponent_tens = fields[:, :, field_width - 2] - zero
    exponent_ones = fields[:, :, field_width - 1] - zero
    exponent_negative = fields[:, :, field_width - 3] == ord('-')
    negative = fields[:, :, point - 2] == ord('-')

    mantissa = lead * 10.0**precision + decimals @ (10.0 ** np.arange(precision - 1, -1, -1))
    exponent = exponent_tens.astype(np.int16) * 10 + exponent_ones
    exponent = np.where(exponent_negative, -exponent, exponent) - precision
    power = _EXACT_POWERS[np.minimum(np.abs(exponent), 22)]
    values = np.where(exponent >= 0, mantissa * power, mantissa / power)
    if negative.any():
        values = np.where(negative, -values, values)

    steps, step_is_digit = _parse_steps(rows, step_end)

    # Validity, first for the whole file with a few reductions (the common case), per row only if needed.
    checks = (
        lambda: (lead > 9) | np.any(decimals > 9, axis=2) | (exponent_tens > 9) | (exponent_ones > 9),
        lambda: fields[:, :, point] != ord('.'),
        lambda: fields[:, :, field_width - 4] != ord('e'),
        lambda: ~exponent_negative & (fields[:, :, field_width - 3] != ord('+')),
        lambda: ~negative & (fields[:, :, point - 2] != ord(' ')),
        lambda: np.abs(exponent) > 22,
    )
    whole_file_fine = (
        max(lead.max(), decimals.max(), exponent_tens.max(), exponent_ones.max()) <= 9
        and np.all(fields[:, :, point] == ord('.'))
        and np.all(fields[:, :, field_width - 4] == ord('e'))
        and np.all(exponent_negative | (fields[:, :, field_width - 3] == ord('+')))
        and np.all(negative | (fields[:, :, point - 2] == ord(' ')))
        and np.abs(exponent).max() <= 22
        and np.all(step_is_digit[:, -1])
        and np.all(step_is_digit | (rows[:, :step_end] == ord(' ')))
    )
    irregular = np.zeros(nrows, dtype=bool)
    if not whole_file_fine:
        for check in checks:
            irregular |= check().any(axis=1)
        irregular |= ~np.all(step_is_digit | (rows[:, :step_end] == ord(' ')), axis=1) | ~step_is_digit[:, -1]

    table = np.empty((nrows, len(wanted)))
    float_position = 0
    for position, column in enumerate(wanted):
        if column == STEP:
            table[:, position] = steps
        else:
            table[:, position] = values[:, float_position]
            float_position += 1
    return _reparse_irregular_rows(table, rows, irregular, wanted) if irregular.any() else table


_U64 = np.uint64
_LOW_NIBBLES = _U64(0x0F0F0F0F0F0F0F0F)
_HIGH_NIBBLES = _U64(0xF0F0F0F0F0F0F0F0)
_SIXES = _U64(0x0606060606060606)
_SIXTEENS = _U64(0x1010101010101010)
_ZEROS = _U64(0x3030303030303030)
_ZERO_POINT_ZEROS = _U64(0x3030303030302E30)
"""ASCII '0' in every byte; the same with '.' in the second byte (``d.dddddd`` read little-endian)."""
_SPACE = ord(' ')


def _fits_word_layout(layout: list[tuple[int, int]]) -> bool:
    """The LAMMPS plugin's layout (``%12d`` and `` %18.6e``): a field's ``d.dddddd`` is one 8-byte word."""
    step_end, first_end = layout[0][0], layout[1][0]
    width = first_end - step_end
    return (
        step_end >= 8
        and width >= 14
        and all(precision == 6 for _, precision in layout[1:])
        and all(end - step_end == (index + 1) * width for index, (end, _) in enumerate(layout[1:]))
    )


def _eight_digits(words: np.ndarray) -> np.ndarray:
    """The integer that 8 ASCII digits read as a little-endian uint64 spell (spaces count as 0), in three
    multiplications (SWAR): pairs of digits, then pairs of pairs, then the two halves."""
    with np.errstate(over='ignore'):
        words = ((words & _LOW_NIBBLES) * _U64(2561)) >> _U64(8)
        words = ((words & _U64(0x00FF00FF00FF00FF)) * _U64(6553601)) >> _U64(16)
        return ((words & _U64(0x0000FFFF0000FFFF)) * _U64(42949672960001)) >> _U64(32)


def _all_digits(offsets: np.ndarray) -> np.ndarray:
    """Per word, whether every byte of ``word ^ '0'*8`` is a digit value 0..9."""
    return ((offsets & _HIGH_NIBBLES) == 0) & (((offsets + _SIXES) & _SIXTEENS) == 0)


def _word(block: np.ndarray, dtype: str = '<u8') -> np.ndarray:
    return np.ascontiguousarray(block).view(dtype)[:, 0]


def _parse_words(rows: np.ndarray, layout: list[tuple[int, int]], wanted: list[int]) -> np.ndarray:
    """Parse the LAMMPS plugin's layout eight bytes at a time.

    A value's ``d.dddddd`` is read as one uint64 and turned into its 7-digit mantissa with three
    multiplications; the step's last eight characters likewise. Every byte is checked on the same words
    (digits where digits belong, '.', 'e', signs, spaces); rows that fail are parsed with ``float``.
    Exactly the numbers of :func:`_parse_fixed_width`, at about twice its speed.
    """
    step_end, width = layout[0][0], layout[1][0] - layout[0][0]
    nrows = len(rows)
    table = np.empty((nrows, len(wanted)))
    irregular = np.zeros(nrows, dtype=bool)

    steps_block = rows[:, step_end - 8 : step_end]
    offsets = _word(steps_block) ^ _ZEROS
    spaces = (offsets >> _U64(4)) & _U64(0x0101010101010101)  # 1 in each byte that held a space
    steps_fine = (
        ((offsets & _U64(0xE0E0E0E0E0E0E0E0)) == 0)
        & ((offsets & _LOW_NIBBLES & (spaces * _U64(15))) == 0)
        & ((((offsets & _LOW_NIBBLES) + _SIXES) & _SIXTEENS) == 0)
        & ((spaces >> _U64(56)) == 0)
    )
    irregular |= ~steps_fine
    if step_end > 8:
        irregular |= np.any(rows[:, : step_end - 8] != _SPACE, axis=1)

    for position, column in enumerate(wanted):
        if column == STEP:
            table[:, position] = _eight_digits(offsets)
            continue
        field = rows[:, step_end + (column - 1) * width : step_end + column * width]
        point = width - 11
        digits = _word(field[:, point - 1 : point + 7]) ^ _ZERO_POINT_ZEROS
        exponent_bytes = field[:, width - 4 :]
        sign = field[:, point - 2]
        exponent_sign = exponent_bytes[:, 1]
        tens = exponent_bytes[:, 2] - np.uint8(_DIGIT_ZERO)
        ones = exponent_bytes[:, 3] - np.uint8(_DIGIT_ZERO)
        irregular |= ~_all_digits(digits)
        irregular |= (exponent_bytes[:, 0] != ord('e')) | (tens > 9) | (ones > 9)
        irregular |= (exponent_sign != ord('+')) & (exponent_sign != ord('-'))
        irregular |= (sign != _SPACE) & (sign != ord('-'))

        lead = digits & _U64(0xFF)
        mantissa = (_eight_digits(digits) - lead * _U64(9_000_000)).astype(np.float64)
        exponent = tens.astype(np.int16) * 10 + ones
        exponent = np.where(exponent_sign == ord('-'), -exponent, exponent) - 6
        irregular |= np.abs(exponent) > 22
        power = _EXACT_POWERS[np.minimum(np.abs(exponent), 22)]
        values = np.where(exponent >= 0, mantissa * power, mantissa / power)
        table[:, position] = np.where(sign == ord('-'), -values, values)
    return _reparse_irregular_rows(table, rows, irregular, wanted) if irregular.any() else table


def _parse_steps(rows: np.ndarray, step_end: int) -> tuple[np.ndarray, np.ndarray]:
    """The right-aligned integer steps, and which of their bytes are digits."""
    step_digits = rows[:, :step_end] - np.uint8(_DIGIT_ZERO)
    step_is_digit = step_digits <= 9
    return np.where(step_is_digit, step_digits, 0) @ 10.0 ** np.arange(step_end - 1, -1, -1), step_is_digit


def _reparse_irregular_rows(table: np.ndarray, rows: np.ndarray, irregular: np.ndarray, wanted: list[int]):
    """Parse the rows that broke the layout (nan, long exponents) with ``float``; drop comment and blank rows."""
    keep = np.ones(len(rows), dtype=bool)
    for index in np.flatnonzero(irregular):
        line = rows[index, :-1].tobytes()
        if line.lstrip().startswith(b'#') or not line.strip():
            keep[index] = False
        else:
            tokens = line.split()
            table[index] = [float(tokens[column]) for column in wanted]
    return table[keep]


def _parse_general(body: bytes) -> np.ndarray:
    table = np.loadtxt(io.BytesIO(body), ndmin=2)
    if table.shape[1] != len(COLUMNS):
        raise ValueError(f'model_devi.out has {table.shape[1]} columns; expected {len(COLUMNS)}: {COLUMNS}')
    return table


def iter_model_devi_files(paths, columns: tuple[str, ...] = COLUMNS) -> Iterator[tuple[str, np.ndarray]]:
    """``(path, table)`` for each file in turn: one file in memory at a time."""
    for path in paths:
        yield str(path), read_model_devi(path, columns)
