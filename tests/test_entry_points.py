"""The plugin's entry points resolve, and `verdi plugin list` shows the data types."""

from __future__ import annotations

import pytest
from aiida.cmdline.commands.cmd_plugin import plugin_list
from aiida.plugins import DataFactory

from aiida_dpgen.data import ConfigurationsData, DeepPotentialData, LabeledDatasetData


@pytest.mark.parametrize(
    ('entry_point', 'cls'),
    [
        ('dpgen.dataset', LabeledDatasetData),
        ('dpgen.configurations', ConfigurationsData),
        ('dpgen.model', DeepPotentialData),
    ],
)
def test_data_entry_points_resolve(entry_point, cls):
    assert DataFactory(entry_point) is cls


def test_verdi_plugin_list_shows_the_data_types(aiida_profile):
    from click.testing import CliRunner

    result = CliRunner().invoke(plugin_list, ['aiida.data'])
    assert result.exit_code == 0, result.output
    for entry_point in ('dpgen.dataset', 'dpgen.configurations', 'dpgen.model'):
        assert entry_point in result.output
