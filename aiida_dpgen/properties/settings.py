"""The settings of a property run, checked before any job: each bad key named with its value and the fix."""

from __future__ import annotations

from ase.data import atomic_numbers

from aiida_dpgen.properties.suite import BAND_PATHS, INTERSTITIAL_SITES, PROPERTIES, PROTOTYPES, SURFACES

KEYS = {
    'element': 'the chemical symbol, e.g. "Cu"',
    'ground_state': 'the prototype the defects, surfaces and phonons are built from: fcc or bcc',
    'volume_per_atom': 'Å³, the starting volume (default: ASE reference of the element)',
    'prototypes': f'equations of state of: {", ".join(PROTOTYPES)}',
    'properties': f'which of: {", ".join(PROPERTIES)}',
    'fmax': 'eV/Å, force threshold of every relaxation',
    'eos': '{"start": 0.9, "stop": 1.1, "points": 11}: volumes relative to the relaxed one',
    'elastic': '{"strain": 0.005}',
    'vacancy': '{"repeat": 3}: supercell of the conventional cell',
    'interstitial': '{"repeat": 3}',
    'surface': '{"layers": 9, "vacuum": 10.0}',
    'stacking_fault': '{"layers": 9}: (111) layers of the periodic cell (a multiple of 3)',
    'phonons': '{"supercell": 3, "points": 51}: supercell of the conventional cell, q-points per segment',
}
NEEDS_CUBIC_GROUND_STATE = {
    'elastic': {'fcc', 'bcc'},
    'interstitial': set(INTERSTITIAL_SITES),
    'surface': set(SURFACES),
    'phonons': set(BAND_PATHS),
    'stacking_fault': {'fcc'},
}


def validate_settings(settings: dict) -> None:
    """Raise a ``ValueError`` naming the first key that cannot work and how to fix it."""
    unknown = sorted(set(settings) - set(KEYS))
    if unknown:
        raise ValueError(f'settings: unknown key(s) {unknown}; valid keys: {", ".join(KEYS)}')
    element = settings.get('element')
    if element not in atomic_numbers:
        raise ValueError(f'settings.element={element!r}: expected a chemical symbol, e.g. "Cu"')
    prototypes = settings.get('prototypes', list(PROTOTYPES))
    wrong = sorted(set(prototypes) - set(PROTOTYPES))
    if wrong or not prototypes:
        raise ValueError(f'settings.prototypes={prototypes!r}: expected some of {list(PROTOTYPES)}')
    properties = settings.get('properties', list(PROPERTIES))
    wrong = sorted(set(properties) - set(PROPERTIES))
    if wrong:
        raise ValueError(f'settings.properties: unknown {wrong}; expected some of {list(PROPERTIES)}')
    ground = settings.get('ground_state', 'fcc')
    if ground not in prototypes:
        raise ValueError(f'settings.ground_state={ground!r} must be one of settings.prototypes {prototypes}')
    for name in properties:
        allowed = NEEDS_CUBIC_GROUND_STATE.get(name)
        if allowed is not None and ground not in allowed:
            raise ValueError(
                f'settings.properties: {name!r} is built for a ground state in {sorted(allowed)}, not {ground!r}; '
                f'remove {name!r} from settings.properties'
            )
    _validate_sizes(settings)


def _validate_sizes(settings: dict) -> None:
    fmax = settings.get('fmax', 1e-3)
    if not (isinstance(fmax, int | float) and 0 < fmax <= 0.1):
        raise ValueError(f'settings.fmax={fmax!r}: expected a force threshold in eV/Å, 0 < fmax <= 0.1')
    eos = settings.get('eos', {})
    if eos and not (0 < eos.get('start', 0.9) < 1 < eos.get('stop', 1.1) and eos.get('points', 11) >= 5):
        raise ValueError(f'settings.eos={eos}: expected 0 < start < 1 < stop and 5 or more points')
    for key in ('vacancy', 'interstitial'):
        repeat = settings.get(key, {}).get('repeat', 3)
        if not (isinstance(repeat, int) and repeat >= 2):
            raise ValueError(f"settings.{key}.repeat={repeat!r}: expected 2 or more (a 3x3x3 supercell is the paper's)")
    layers = settings.get('stacking_fault', {}).get('layers', 9)
    if not (isinstance(layers, int) and layers >= 6 and layers % 3 == 0):
        raise ValueError(f'settings.stacking_fault.layers={layers!r}: expected a multiple of 3, at least 6')
    supercell = settings.get('phonons', {}).get('supercell', 3)
    if not (isinstance(supercell, int) and supercell >= 1):
        raise ValueError(f'settings.phonons.supercell={supercell!r}: expected a positive integer')
