"""The report node of one iteration of the concurrent-learning loop."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict

from aiida_dpgen.loop.report import iteration_report


@calcfunction
def summarize_iteration(
    context: Dict,
    training: Dict,
    statistics: Dict,
    task_summary: Dict,
    labeling: Dict | None = None,
) -> Dict:
    """Condense an iteration's outputs into its report (see :func:`aiida_dpgen.loop.report.iteration_report`).

    ``context`` holds what the loop decided and measured: iteration and stage index, the stage and trust
    levels, whether the ensemble was retrained, the labeled frames before and after it (over every dataset the
    next ensemble trains on), and each step's cost.
    """
    settings = context.get_dict()
    report = iteration_report(
        iteration=settings['iteration'],
        stage_index=settings['stage_index'],
        stage=settings['stage'],
        selection=settings['selection'],
        training=training.get_dict(),
        exploration=statistics.get_dict(),
        task_summary=task_summary.get_dict(),
        labeling=labeling.get_dict() if labeling is not None else None,
        dataset_frames=settings['dataset_frames'],
        previous_dataset_frames=settings['previous_dataset_frames'],
        cost=settings['cost'],
        trained=settings['trained'],
    )
    return Dict(report)
