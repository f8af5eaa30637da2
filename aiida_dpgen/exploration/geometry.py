"""Geometry screens of candidate frames before labeling: frames a DFT code would fail on or waste hours on.

Plain numpy. Each screen gives the reason a frame is not labeled, so the report can count frames by reason:

* ``atoms too close``: two atoms closer than the distance of their pair of elements (``min_distance``, in Å,
  a number for every pair or a dictionary ``{"Cu-Cu": 1.8, "H-O": 0.7, "*": 0.5}``);
* ``skewed box`` (dpgen2's ``box_skewness``): in the cell's standard form (``a`` along x, ``b`` in the xy plane)
  a tilt larger than ``tan(max_tilt_angle)`` times the height it leans over;
* ``box length ratio`` (dpgen2's ``box_length``): one of the standard form's diagonal lengths more than
  ``max_length_ratio`` times another;
* ``volume per atom``: outside ``volume_per_atom`` = [lowest, highest] Å^3 (an NPT run of young models can blow
  a cell up: a 2-atom Cu cell at 62 Å^3/atom, against 11.8 at equilibrium, failed pw.x's SCF three times);
* ``bad box`` (DP-GEN's ``fp_skip_bad_box``, as ``{"length_ratio": 5, "height_ratio": 5}``): on the cell in its
  standard form, as the LAMMPS dump holds it, a ratio above its limit: ``length_ratio`` the longest over the
  shortest cell vector, ``height_ratio`` the longest vector over the smallest distance between opposite
  faces, ``wrap_ratio`` the largest of ``|b_x / a_x|``, ``|c_y / b_y|``, ``|c_x / a_x|``, ``tilt_ratio`` the
  largest of ``|b_x / b_y|``, ``|c_y / c_z|``, ``|c_x / c_z|``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

ATOMS_TOO_CLOSE = 'atoms too close'
SKEWED_BOX = 'skewed box'
BOX_LENGTH_RATIO = 'box length ratio'
VOLUME_PER_ATOM = 'volume per atom'
BAD_BOX = 'bad box'
REASONS = (ATOMS_TOO_CLOSE, SKEWED_BOX, BOX_LENGTH_RATIO, VOLUME_PER_ATOM, BAD_BOX)
BAD_BOX_RATIOS = ('length_ratio', 'height_ratio', 'wrap_ratio', 'tilt_ratio')
ANY_PAIR = '*'

SCREEN_KEYS = {
    'min_distance': 'closest allowed distance of two atoms (Å): a number, or {"A-B": distance, "*": default}',
    'max_tilt_angle': 'largest tilt of a cell vector from the standard form, in degrees (dpgen2 box_skewness theta)',
    'max_length_ratio': 'largest ratio of two cell lengths in the standard form (dpgen2 box_length length_ratio)',
    'volume_per_atom': '[lowest, highest] volume per atom (Å^3) of a frame worth labeling',
    'bad_box': 'DP-GEN fp_skip_bad_box limits, {"length_ratio": 5, "height_ratio": 5} (also wrap_ratio, tilt_ratio)',
}


def pair_name(first: str, second: str) -> str:
    return '-'.join(sorted((first, second)))


@dataclasses.dataclass(frozen=True)
class GeometryScreens:
    """The screens of one run; ``None`` switches a screen off."""

    min_distance: dict[str, float] = dataclasses.field(default_factory=lambda: {ANY_PAIR: 0.5})
    max_tilt_angle: float | None = None
    max_length_ratio: float | None = None
    volume_per_atom: tuple[float, float] | None = None
    bad_box: dict[str, float] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, settings: dict) -> GeometryScreens:
        """Validate a screens dictionary (keys: :data:`SCREEN_KEYS`); errors name the key, the value and the fix."""
        unknown = sorted(set(settings) - set(SCREEN_KEYS))
        if unknown:
            raise ValueError(f'screens: unknown keys {unknown}; valid keys: {", ".join(SCREEN_KEYS)}')
        pairs = _pair_distances(settings.get('min_distance', 0.5))
        angle = settings.get('max_tilt_angle')
        if angle is not None and not (isinstance(angle, int | float) and 0 < angle < 90):
            raise ValueError(f'screens.max_tilt_angle={angle!r}: expected degrees between 0 and 90 (dpgen2 uses 60)')
        ratio = settings.get('max_length_ratio')
        if ratio is not None and not (isinstance(ratio, int | float) and ratio >= 1):
            raise ValueError(f'screens.max_length_ratio={ratio!r}: expected a ratio >= 1 (dpgen2 uses 5)')
        volume = settings.get('volume_per_atom')
        if volume is not None:
            if not (isinstance(volume, list | tuple) and len(volume) == 2 and 0 <= volume[0] < volume[1]):
                raise ValueError(
                    f'screens.volume_per_atom={volume!r}: expected [lowest, highest] in Å^3, lowest < highest, '
                    'e.g. [6, 30] for Cu (11.8 at equilibrium)'
                )
            volume = (float(volume[0]), float(volume[1]))
        bad_box = _bad_box_limits(settings.get('bad_box', {}))
        return cls(
            min_distance=pairs,
            max_tilt_angle=angle,
            max_length_ratio=ratio,
            volume_per_atom=volume,
            bad_box=bad_box,
        )

    def rejection(self, cell: np.ndarray, positions: np.ndarray, symbols, pbc: bool = True) -> str | None:
        """Why this frame is not worth labeling (one of :data:`REASONS`, with the numbers), ``None`` if it is."""
        cell = np.asarray(cell, dtype=float)
        if pbc:
            volume = abs(float(np.linalg.det(cell))) / len(symbols)
            if self.volume_per_atom and not self.volume_per_atom[0] <= volume <= self.volume_per_atom[1]:
                low, high = self.volume_per_atom
                return f'{VOLUME_PER_ATOM}: {volume:.2f} Å^3, outside [{low:g}, {high:g}]'
            standard = standard_form(cell)
            if self.max_length_ratio is not None:
                lengths = np.abs(np.diag(standard))
                if lengths.max() > self.max_length_ratio * lengths.min():
                    return f'{BOX_LENGTH_RATIO}: {lengths.max() / lengths.min():.2f} > {self.max_length_ratio:g}'
            if self.max_tilt_angle is not None:
                tilt = max_tilt_angle(standard)
                if tilt > self.max_tilt_angle:
                    return f'{SKEWED_BOX}: tilt {tilt:.1f}° > {self.max_tilt_angle:g}°'
            ratios = bad_box_ratios(standard)
            for name, limit in self.bad_box.items():
                if ratios[name] > limit:
                    return f'{BAD_BOX}: {name} {ratios[name]:.2f} > {limit:g}'
        closest = closest_by_pair(cell, positions, symbols, pbc)
        for pair, distance in sorted(closest.items()):
            allowed = self.min_distance.get(pair, self.min_distance[ANY_PAIR])
            if distance < allowed:
                return f'{ATOMS_TOO_CLOSE}: {pair} {distance:.3f} Å < {allowed:g} Å'
        return None


def _pair_distances(distance) -> dict[str, float]:
    if isinstance(distance, int | float) and not isinstance(distance, bool):
        distance = {ANY_PAIR: distance}
    if not isinstance(distance, dict) or not distance:
        raise ValueError(f'screens.min_distance={distance!r}: expected a number or {SCREEN_KEYS["min_distance"]}')
    pairs = {}
    for name, value in distance.items():
        elements = name.split('-')
        if not (name == ANY_PAIR or (len(elements) == 2 and all(elements))):
            raise ValueError(f'screens.min_distance: {name!r} is not a pair of elements like "Cu-Cu" or "*"')
        if not isinstance(value, int | float) or value < 0:
            raise ValueError(f'screens.min_distance[{name!r}]={value!r}: expected a distance >= 0 Å')
        pairs[name if name == ANY_PAIR else pair_name(*elements)] = float(value)
    pairs.setdefault(ANY_PAIR, 0.0)
    return pairs


def _bad_box_limits(bad_box) -> dict[str, float]:
    if not isinstance(bad_box, dict) or set(bad_box) - set(BAD_BOX_RATIOS):
        raise ValueError(f'screens.bad_box={bad_box!r}: expected limits of {", ".join(BAD_BOX_RATIOS)}')
    for name, limit in bad_box.items():
        if not isinstance(limit, int | float) or isinstance(limit, bool) or limit <= 0:
            raise ValueError(f'screens.bad_box.{name}={limit!r}: expected a positive ratio')
    return {name: float(limit) for name, limit in bad_box.items()}


def standard_form(cell: np.ndarray) -> np.ndarray:
    """The lower-triangular cell with the same lengths and angles (``a`` along x, ``b`` in the xy plane), as
    LAMMPS and ASE's ``Cell.standard_form`` write it."""
    a, b, c = (np.linalg.norm(vector) for vector in cell)
    cos_alpha = float(np.dot(cell[1], cell[2]) / (b * c))
    cos_beta = float(np.dot(cell[0], cell[2]) / (a * c))
    cos_gamma = float(np.dot(cell[0], cell[1]) / (a * b))
    b_x, b_y = b * cos_gamma, b * math.sqrt(max(0.0, 1 - cos_gamma**2))
    c_x = c * cos_beta
    c_y = (b * c * cos_alpha - b_x * c_x) / b_y
    c_z = math.sqrt(max(0.0, c**2 - c_x**2 - c_y**2))
    return np.array([[a, 0, 0], [b_x, b_y, 0], [c_x, c_y, c_z]])


def max_tilt_angle(standard: np.ndarray) -> float:
    """The largest of the angles whose tangents are ``|b_x| / b_y``, ``|c_x| / c_z`` and ``|c_y| / c_z``: dpgen2
    refuses a box where one exceeds its ``theta``."""
    ratios = (abs(standard[1, 0]) / standard[1, 1], abs(standard[2, 0]) / standard[2, 2])
    ratios += (abs(standard[2, 1]) / standard[2, 2],)
    return math.degrees(math.atan(max(ratios)))


def bad_box_ratios(standard: np.ndarray) -> dict[str, float]:
    """DP-GEN's ``fp_skip_bad_box`` ratios of a cell in its standard form."""
    lengths = np.linalg.norm(standard, axis=1)
    volume = abs(float(np.linalg.det(standard)))
    heights = [volume / np.linalg.norm(np.cross(standard[i], standard[j])) for i, j in ((0, 1), (1, 2), (2, 0))]
    (a_x, _, _), (b_x, b_y, _), (c_x, c_y, c_z) = standard
    return {
        'length_ratio': float(lengths.max() / lengths.min()),
        'height_ratio': float(lengths.max() / min(heights)),
        'wrap_ratio': float(max(abs(b_x / a_x), abs(c_y / b_y), abs(c_x / a_x))),
        'tilt_ratio': float(max(abs(b_x / b_y), abs(c_y / c_z), abs(c_x / c_z))),
    }


def image_distances(cell: np.ndarray, positions: np.ndarray, pbc: bool = True) -> np.ndarray:
    """The distance from each atom to each other one (Å), the nearest of their periodic images in the 26
    neighbouring cells (an atom's own images included; ``inf`` for an atom to itself in its cell)."""
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    if pbc:
        fractional = positions @ np.linalg.inv(cell)
        positions = (fractional - np.floor(fractional)) @ cell
    # images in the 26 neighbouring cells bound the closest distance for any cell that is not extremely skewed
    offsets = itertools.product((-1, 0, 1), repeat=3) if pbc else [(0, 0, 0)]
    closest = np.full((len(positions), len(positions)), np.inf)
    for offset in offsets:
        shift = np.array(offset, dtype=float) @ cell
        distances = np.linalg.norm(positions[:, None, :] - positions[None, :, :] - shift, axis=-1)
        if not any(offset):
            np.fill_diagonal(distances, np.inf)
        closest = np.minimum(closest, distances)
    return closest


def closest_by_pair(cell: np.ndarray, positions: np.ndarray, symbols, pbc: bool = True) -> dict[str, float]:
    """The smallest distance of each pair of elements present (``"Cu-Cu"``, ``"H-O"``), periodic images of the 26
    neighbouring cells included."""
    symbols = np.asarray(symbols)
    closest = image_distances(cell, positions, pbc)
    result: dict[str, float] = {}
    elements = sorted(set(symbols.tolist()))
    for first, second in itertools.combinations_with_replacement(elements, 2):
        block = closest[np.ix_(symbols == first, symbols == second)]
        if block.size and np.isfinite(block.min()):
            result[pair_name(first, second)] = float(block.min())
    return result
