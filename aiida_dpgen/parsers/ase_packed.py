"""Parser for `PackedAseCalculation`: every task's energy, forces and stress, all labels in one dataset."""

from __future__ import annotations

from aiida.engine import ExitCode
from aiida.orm import Dict

from aiida_dpgen.parsers.ase import ResultsParser, checked_results


class PackedAseParser(ResultsParser):
    """Every task of a `PackedAseCalculation` read as `AseSinglePointParser` reads one, all labels into one
    dataset; a task without a label is named in ``task_status`` with its reason, and the work chain labels it
    again alone."""

    def parse(self, **kwargs) -> ExitCode:
        from aiida_dpgen.data.dataset import LabeledDatasetData
        from aiida_dpgen.labelers.ase import AseLabeler
        from aiida_dpgen.labeling.frames import labels_to_systems

        results = self.read_results(kwargs.get('retrieved_temporary_folder'))
        if isinstance(results, ExitCode):
            return results
        tasks = results.get('tasks') if isinstance(results, dict) else None
        if not isinstance(tasks, dict):
            return self.exit_codes.ERROR_INVALID_RESULTS.format(error='no "tasks" in results.json')
        structures = self.node.inputs.structures
        statuses, labels, seconds = {}, [], {}
        for task in sorted(structures):
            result = tasks.get(task)
            if result is None:
                statuses[task] = 'no result: the script stopped before this task'
                continue
            if 'error' in result:
                statuses[task] = f'calculator error: {result["error"]}'
                continue
            try:
                labels.append(AseLabeler.label(structures[task], *checked_results(result, len(structures[task].sites))))
            except (ValueError, KeyError, TypeError) as exception:
                statuses[task] = f'invalid result: {exception!r}'
                continue
            statuses[task] = OK
            seconds[task] = result.get('wall_seconds')
        if labels:
            type_map = self._type_map(labels)
            self.out('output_dataset', LabeledDatasetData(labels_to_systems(labels, type_map), type_map=type_map))
        calculator = next((tasks[task].get('calculator') for task in seconds), None)
        self.out('output_parameters', Dict({'calculator': calculator, 'wall_seconds': seconds}))
        self.out('task_status', Dict(statuses))
        failed = {task: status for task, status in statuses.items() if status != OK}
        if failed:
            summary = '; '.join(sorted(set(failed.values())))
            return self.exit_codes.ERROR_TASKS_FAILED.format(count=len(failed), total=len(statuses), statuses=summary)
        return ExitCode(0)

    def _type_map(self, labels) -> list[str]:
        if 'type_map' in self.node.inputs:
            return self.node.inputs.type_map.get_list()
        return sorted({symbol for label in labels for symbol in label.symbols})


OK = 'ok'
