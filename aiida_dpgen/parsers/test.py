"""Parser for `DpTestCalculation`: per-system and average errors from the ``dp test`` log."""

from __future__ import annotations

from aiida.engine import ExitCode
from aiida.orm import Dict
from aiida.parsers import Parser

from aiida_dpgen.calculations.test import DpTestCalculation
from aiida_dpgen.training.dptest import parse_dp_test_log


class DpTestParser(Parser):
    def parse(self, **kwargs) -> ExitCode:
        files = self.retrieved.base.repository.list_object_names()
        if 'test.log' not in files:
            return self.exit_codes.ERROR_NO_LOG
        try:
            metrics = parse_dp_test_log(self.retrieved.base.repository.get_object_content('test.log', mode='r'))
        except ValueError as exception:
            return self.exit_codes.ERROR_INVALID_LOG.format(error=str(exception))
        prefix = f'{DpTestCalculation.DATA_FOLDER}/'
        metrics['systems'] = {path.removeprefix(prefix): values for path, values in metrics['systems'].items()}
        self.out('metrics', Dict(metrics))
        return ExitCode(0)
