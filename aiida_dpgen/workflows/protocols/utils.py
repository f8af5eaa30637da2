"""Load protocol YAML files and merge user overrides into them."""

from __future__ import annotations

import copy
import functools
import pathlib
from collections.abc import Mapping

import yaml

PROTOCOL_DIRECTORY = pathlib.Path(__file__).parent


def recursive_merge(base: Mapping, overrides: Mapping) -> dict:
    """``base`` updated by ``overrides``; nested mappings merge key by key, anything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = recursive_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@functools.cache
def _load(name: str) -> dict:
    with (PROTOCOL_DIRECTORY / f'{name}.yaml').open() as handle:
        return yaml.safe_load(handle)


def protocol_names(protocol_file: str) -> list[str]:
    """The protocols ``protocols/<protocol_file>.yaml`` defines, in its order."""
    return list(_load(protocol_file)['protocols'])


def default_protocol(protocol_file: str) -> str:
    return _load(protocol_file)['default_protocol']


class ProtocolMixin:
    """Gives a workchain ``get_protocol_inputs`` from ``protocols/<_protocol_file>.yaml``.

    The YAML has ``default_inputs``, ``default_protocol`` and ``protocols`` (each with a ``description``
    and the inputs that differ from the defaults); the names ``fast``, ``balanced`` and ``stringent`` mean
    the same across training, exploration and labeling. A workchain with ``_protocol_variants`` (variant
    name -> file) has one such file per variant, e.g. one per model architecture; ``variant=None`` is
    ``_protocol_file``.
    """

    _protocol_file: str
    _protocol_variants: Mapping[str, str] = {}

    @classmethod
    def protocol_file(cls, variant: str | None = None) -> str:
        if variant is None:
            return cls._protocol_file
        if variant not in cls._protocol_variants:
            raise ValueError(
                f'{variant!r} has no protocols for {cls.__name__}; choose one of {sorted(cls._protocol_variants)}'
            )
        return cls._protocol_variants[variant]

    @classmethod
    def get_default_protocol(cls, variant: str | None = None) -> str:
        return default_protocol(cls.protocol_file(variant))

    @classmethod
    def get_available_protocols(cls, variant: str | None = None) -> dict[str, dict]:
        protocols = _load(cls.protocol_file(variant))['protocols']
        return {name: {'description': spec['description']} for name, spec in protocols.items()}

    @classmethod
    def get_protocol_inputs(
        cls, protocol: str | None = None, overrides: Mapping | None = None, variant: str | None = None
    ) -> dict:
        """The default inputs, updated by the named protocol's, updated by ``overrides``."""
        content = _load(cls.protocol_file(variant))
        protocol = protocol or content['default_protocol']
        if protocol not in content['protocols']:
            raise ValueError(f'protocol={protocol!r} does not exist; choose one of {sorted(content["protocols"])}')
        protocol_inputs = {key: value for key, value in content['protocols'][protocol].items() if key != 'description'}
        inputs = recursive_merge(content['default_inputs'], protocol_inputs)
        return recursive_merge(inputs, overrides or {})
