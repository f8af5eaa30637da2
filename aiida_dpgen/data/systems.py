"""Base class for nodes that hold one or more dpdata systems in the node's repository."""

from __future__ import annotations

import pathlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence

import dpdata
from aiida.orm import Data

from aiida_dpgen.utils import systems as systems_utils

REPOSITORY_FOLDER = 'systems'
"""Folder in the node repository with one deepmd/npy directory per system, named by its formula."""

STORAGE_FORMAT = 'deepmd/npy'


class DpdataSystemsData(Data):
    """Frames of one or more atomic systems, stored as DeePMD-kit's ``deepmd/npy`` directories.

    Frames with the same chemical formula form one system (as in :class:`dpdata.MultiSystems`), atom types
    are indices into ``type_map``. The repository layout, ``systems/<formula>/{type.raw, type_map.raw,
    set.000/*.npy}``, is what DeePMD-kit reads for training, so a training job can use it as it is.

    Everything is validated before the node is built: a node of this type is never half-built.
    """

    _require_labels: bool = False

    def __init__(
        self,
        systems: dpdata.System | dpdata.MultiSystems | Iterable[dpdata.System],
        type_map: Sequence[str],
        **kwargs,
    ):
        """Validate ``systems`` against ``type_map`` and store them.

        :param systems: a dpdata System, LabeledSystem, MultiSystems, or an iterable of systems.
        :param type_map: element symbols; the index of an element is its atom type in the stored data.
        :raises ValueError: naming the system, the field and the expectation, for zero frames, missing
            labels, inconsistent atom counts, or elements not in ``type_map``.
        """
        grouped = systems_utils.normalise(systems, type_map, require_labels=self._require_labels)
        super().__init__(**kwargs)
        self._store_systems(grouped)

    def _store_systems(self, grouped: dpdata.MultiSystems) -> None:
        summaries = []
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            for formula in sorted(grouped.systems):
                system = grouped.systems[formula]
                system.to(STORAGE_FORMAT, str(root / formula))
                summaries.append(
                    {
                        'name': formula,
                        'formula': system.formula,
                        'natoms': system.get_natoms(),
                        'nframes': system.get_nframes(),
                        'labels': systems_utils.label_fields(system),
                        'nopbc': bool(system.nopbc),
                    }
                )
            self.base.repository.put_object_from_tree(str(root), REPOSITORY_FOLDER)

        self.base.attributes.set('type_map', list(grouped.atom_names))
        self.base.attributes.set('format', STORAGE_FORMAT)
        self.base.attributes.set('systems', summaries)
        self.base.attributes.set('nsystems', len(summaries))
        self.base.attributes.set('nframes', sum(summary['nframes'] for summary in summaries))
        common = [f for f in systems_utils.LABEL_FIELDS if all(f in s['labels'] for s in summaries)]
        self.base.attributes.set('labels', common)

    @classmethod
    def from_dpdata(
        cls,
        systems: dpdata.System | dpdata.MultiSystems | Iterable[dpdata.System],
        type_map: Sequence[str],
    ):
        """Build a node from dpdata systems (any format dpdata reads: OUTCAR, pw.x output, extxyz, ...)."""
        return cls(systems, type_map=type_map)

    @classmethod
    def from_file(cls, path: str | pathlib.Path, fmt: str, type_map: Sequence[str]):
        """Build a node from a file or directory that dpdata reads with format ``fmt``."""
        reader = dpdata.LabeledSystem if cls._require_labels else dpdata.System
        return cls(reader(str(path), fmt=fmt, type_map=list(type_map)), type_map=type_map)

    @property
    def type_map(self) -> list[str]:
        """Element symbols; an atom's type is its index in this list."""
        return self.base.attributes.get('type_map')

    @property
    def systems(self) -> list[dict]:
        """Per system: name, formula, natoms, nframes, labels, nopbc."""
        return self.base.attributes.get('systems')

    @property
    def elements(self) -> list[str]:
        """Elements with at least one atom in some system, in type-map order."""
        present = {
            element
            for summary in self.systems
            for element, count in re.findall(r'([A-Z][a-z]?)(\d+)', summary['formula'])
            if int(count) > 0
        }
        return [element for element in self.type_map if element in present]

    @property
    def system_names(self) -> list[str]:
        return [summary['name'] for summary in self.systems]

    @property
    def nframes(self) -> int:
        """Total number of frames over all systems."""
        return self.base.attributes.get('nframes')

    @property
    def labels(self) -> list[str]:
        """Label fields present in every system (a subset of energies, forces, virials)."""
        return self.base.attributes.get('labels')

    def copy_to(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the stored deepmd/npy directories below ``path`` (one folder per system); return ``path``."""
        path = pathlib.Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.base.repository.copy_tree(path, REPOSITORY_FOLDER)
        return path

    def to_dpdata(self) -> dpdata.MultiSystems:
        """The stored frames as a :class:`dpdata.MultiSystems` (labeled systems for labeled nodes)."""
        reader = dpdata.LabeledSystem if self._require_labels else dpdata.System
        multisystems = dpdata.MultiSystems(type_map=list(self.type_map))
        with tempfile.TemporaryDirectory() as tmp:
            root = self.copy_to(tmp)
            for name in self.system_names:
                multisystems.append(reader(str(root / name), fmt=STORAGE_FORMAT, type_map=list(self.type_map)))
        return multisystems

    def export(self, path: str | pathlib.Path, fmt: str = STORAGE_FORMAT, overwrite: bool = False) -> list[str]:
        """Write the frames to ``path`` in dpdata format ``fmt``; return the paths written.

        Multi-system formats (``deepmd/npy``, ``deepmd/hdf5``, ``extxyz``, ...) are written as dpdata
        writes them. Single-structure formats (``vasp/poscar``, ``lammps/lmp``, ...) give one file per
        frame, ``path/<system>/<frame index>.<extension>``.
        """
        from dpdata.format import Format

        path = pathlib.Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f'export path {str(path)!r} exists; pass overwrite=True to replace it')
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

        formats = Format.get_formats()
        if fmt not in formats:
            raise ValueError(f'fmt={fmt!r} is not a dpdata format; choose one of {sorted(formats)}')

        multisystems = self.to_dpdata()
        writer = formats[fmt]
        if writer.to_multi_systems is not Format.to_multi_systems or fmt in ('deepmd/npy', 'deepmd/raw'):
            multisystems.to(fmt, str(path))
            return sorted(str(p) for p in ([path] if path.is_file() else path.iterdir()))

        written = []
        extension = fmt.rsplit('/', maxsplit=1)[-1]
        for system in multisystems:
            folder = path / system.formula
            folder.mkdir(parents=True, exist_ok=True)
            for frame in range(system.get_nframes()):
                target = folder / f'{frame:06d}.{extension}'
                system.to(fmt, str(target), frame_idx=frame)
                written.append(str(target))
        return written
