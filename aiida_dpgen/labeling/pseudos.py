"""Install a pseudopotential family for the Quantum ESPRESSO labeler without a network connection.

aiida-quantumespresso's protocols expect an aiida-pseudo family (SSSP by default, which ``aiida-pseudo
install`` downloads). Here the family is made from UPF files on disk: by default the PBE files Debian's
``quantum-espresso-data`` ships in ``/usr/share/espresso/pseudo``, one per element, or files you name.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import tempfile
from collections.abc import Mapping

DEBIAN_PSEUDO_DIRECTORY = pathlib.Path('/usr/share/espresso/pseudo')
DEFAULT_FAMILY_LABEL = 'dpgen/espresso-debian/PBE'

# PAW before ultrasoft before norm-conserving; then pslibrary files, newest version first
_KIND_PREFERENCE = (('kjpaw', 0), ('rrkjus', 1), ('van', 1))
_PBE_FILE = re.compile(r'^(?P<element>[A-Z][a-z]?)\.pbe-(?P<flavour>[^.]*(?:\.\d+)*)\.UPF$', re.IGNORECASE)


def _preference(filename: str) -> tuple:
    flavour = _PBE_FILE.match(filename)['flavour'].lower()
    kind = next((rank for key, rank in _KIND_PREFERENCE if key in flavour), 2)
    version = re.search(r'psl\.([\d.]+)', flavour)
    version = tuple(int(part) for part in version[1].split('.') if part) if version else ()
    return (kind, not version, tuple(-part for part in version), filename)


def select_pbe_files(directory: str | pathlib.Path = DEBIAN_PSEUDO_DIRECTORY) -> dict[str, pathlib.Path]:
    """One scalar-relativistic PBE UPF file per element found in ``directory`` (``El.pbe-*.UPF``), preferring
    PAW, then ultrasoft, then norm-conserving, then the newest pslibrary version."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise ValueError(
            f"pseudopotential directory {str(directory)!r} does not exist; install Debian's quantum-espresso-data "
            '(scripts/install-engines.sh does) or name the files with --file El=path'
        )
    candidates: dict[str, list[str]] = {}
    for path in directory.iterdir():
        match = _PBE_FILE.match(path.name)
        if match:
            candidates.setdefault(match['element'], []).append(path.name)
    return {element: directory / min(names, key=_preference) for element, names in sorted(candidates.items())}


def install_pseudo_family(
    label: str = DEFAULT_FAMILY_LABEL,
    files: Mapping[str, str | pathlib.Path] | None = None,
    directory: str | pathlib.Path = DEBIAN_PSEUDO_DIRECTORY,
):
    """The UPF ``PseudoPotentialFamily`` ``label``, created if missing from ``files`` (element -> UPF path) or, without
    ``files``, from :func:`select_pbe_files` of ``directory``. An existing family is returned as it is."""
    from aiida.common.exceptions import NotExistent
    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import PseudoPotentialFamily

    try:
        return PseudoPotentialFamily.collection.get(label=label)
    except NotExistent:
        pass
    selected = {element: pathlib.Path(path) for element, path in (files or select_pbe_files(directory)).items()}
    missing = [f'{element}={path}' for element, path in selected.items() if not path.is_file()]
    if missing:
        raise ValueError(f'pseudopotential files not found: {missing}')
    if not selected:
        raise ValueError(f'no PBE UPF files in {str(directory)!r}; name the files with --file El=path')
    with tempfile.TemporaryDirectory() as scratch:
        for element, path in selected.items():
            shutil.copyfile(path, pathlib.Path(scratch) / f'{element}.upf')
        family = PseudoPotentialFamily.create_from_folder(pathlib.Path(scratch), label, pseudo_type=UpfData)
    family.description = 'PBE pseudopotentials: ' + ', '.join(f'{el}: {path.name}' for el, path in selected.items())
    return family
