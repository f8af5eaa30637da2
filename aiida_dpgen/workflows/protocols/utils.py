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
    the same across training, exploration and labeling.
    """

    _protocol_file: str

    @classmethod
    def get_default_protocol(cls) -> str:
        return default_protocol(cls._protocol_file)

    @classmethod
    def get_available_protocols(cls) -> dict[str, dict]:
        return {
            name: {'description': spec['description']} for name, spec in _load(cls._protocol_file)['protocols'].items()
        }

    @classmethod
    def get_protocol_inputs(cls, protocol: str | None = None, overrides: Mapping | None = None) -> dict:
        """The default inputs, updated by the named protocol's, updated by ``overrides``."""
        content = _load(cls._protocol_file)
        protocol = protocol or content['default_protocol']
        if protocol not in content['protocols']:
            raise ValueError(f'protocol={protocol!r} does not exist; choose one of {sorted(content["protocols"])}')
        protocol_inputs = {key: value for key, value in content['protocols'][protocol].items() if key != 'description'}
        inputs = recursive_merge(content['default_inputs'], protocol_inputs)
        return recursive_merge(inputs, overrides or {})
