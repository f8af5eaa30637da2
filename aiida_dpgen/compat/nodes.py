"""DP-GEN's input files as nodes: initial data as datasets, configurations as configuration sets, read with dpdata
as DP-GEN reads them. Used by ``aiida-dpgen run`` (:mod:`~aiida_dpgen.compat.build`) and the import of a DP-GEN
working directory (:mod:`~aiida_dpgen.compat.importer`)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import dpdata

from aiida_dpgen.compat.workdir import read_labeled_systems
from aiida_dpgen.data import ConfigurationsData, LabeledDatasetData


def load_datasets(init_data: Mapping[str, list[pathlib.Path]], type_map: list[str]) -> dict[str, LabeledDatasetData]:
    """One dataset per init_data_sys entry, from its DeePMD-kit system folders (deepmd/npy or deepmd/raw)."""
    return {
        name: LabeledDatasetData(
            [system for folder in folders for system in read_labeled_systems(folder, type_map)], type_map=type_map
        )
        for name, folders in init_data.items()
    }


def load_configurations(
    files: Mapping[str, list[pathlib.Path]], fmt: str, type_map: list[str]
) -> dict[str, ConfigurationsData]:
    """One configuration set per sys_configs entry, its files read by dpdata as ``fmt`` (DP-GEN's sys_format)."""
    configurations = {}
    for name, paths in files.items():
        systems = []
        for path in paths:
            try:
                systems.append(dpdata.System(str(path), fmt=fmt, type_map=type_map))
            except Exception as exception:
                raise ValueError(
                    f'{path}: dpdata cannot read it as sys_format={fmt!r} ({exception}); set param.sys_format'
                ) from exception
        configurations[name] = ConfigurationsData(systems, type_map=type_map)
    return configurations
