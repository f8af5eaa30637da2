"""The ``aiida-dpgen`` command line: the group (:mod:`.root`) and its commands, one module per command group."""

from aiida_dpgen.cli import dpgen, engines, provenance, results  # noqa: F401 (registers the commands)
from aiida_dpgen.cli.root import cli

__all__ = ['cli']
