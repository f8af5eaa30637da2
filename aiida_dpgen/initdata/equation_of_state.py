"""The equilibrium volume from energies at a few volumes: the labeler-agnostic way to relax a crystal's lattice.

Every labeler gives single-point energies, so a cubic crystal is relaxed by labeling it at a few lattice
scales and fitting the Birch-Murnaghan equation of state, ``E = a + b x + c x**2 + d x**3`` with
``x = V**(-2/3)`` (a linear least-squares fit). Its minimum is the relaxed volume.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from aiida_dpgen.labeling.frames import EV_PER_ANGSTROM3_IN_GPA


@dataclasses.dataclass(frozen=True)
class EquationOfState:
    """The fitted minimum: volume (Å³, of the cell the energies are for), energy (eV), bulk modulus (GPa)."""

    volume: float
    energy: float
    bulk_modulus: float


def birch_murnaghan_fit(volumes, energies) -> EquationOfState:
    """Fit ``energies`` (eV) at ``volumes`` (Å³); at least five points, and the minimum inside their range."""
    volumes, energies = np.asarray(volumes, dtype=float), np.asarray(energies, dtype=float)
    if volumes.shape != energies.shape or volumes.ndim != 1:
        raise ValueError(
            f'volumes and energies: expected two lists of the same length, got {volumes.shape}, {energies.shape}'
        )
    if len(volumes) < 5 or not np.all(np.isfinite(energies)) or np.any(volumes <= 0):
        raise ValueError(f'equation of state: need at least 5 finite energies at positive volumes, got {len(volumes)}')
    polynomial = np.polynomial.Polynomial.fit(volumes ** (-2 / 3), energies, 3).convert()
    derivative = polynomial.deriv()
    roots = [root.real for root in derivative.roots() if abs(root.imag) < 1e-12 and root.real > 0]
    minima = [root for root in roots if polynomial.deriv(2)(root) > 0]
    x_range = (volumes.max() ** (-2 / 3), volumes.min() ** (-2 / 3))
    inside = [root for root in minima if x_range[0] <= root <= x_range[1]]
    if not inside:
        raise ValueError(
            f'equation of state: no energy minimum between {volumes.min():.3f} and {volumes.max():.3f} Å³; '
            'widen the scale range around the expected lattice constant'
        )
    x0 = inside[0]
    volume = x0 ** (-3 / 2)
    # B = V d2E/dV2 at the minimum, with dE/dx = 0 there: d2E/dV2 = E''(x) (dx/dV)**2
    dx_dv = -2 / 3 * volume ** (-5 / 3)
    bulk_modulus = volume * polynomial.deriv(2)(x0) * dx_dv**2 * EV_PER_ANGSTROM3_IN_GPA
    return EquationOfState(volume=float(volume), energy=float(polynomial(x0)), bulk_modulus=float(bulk_modulus))
