"""The iterations of a loop as its outputs hold them: ``iterations.iter_NNN`` with a report, the models and,
where it labeled any, the iteration's new labels. Plain functions over mappings of nodes (anything with
``type_map`` and ``nframes``), shared by the loop, ``restart_from`` and the import of a DP-GEN run."""

from __future__ import annotations

ITERATION_PREFIX = 'iter_'
ITERATION_OUTPUTS = ('report', 'models')
"""What every ``iterations.iter_NNN`` holds; ``labels`` (the iteration's new labels) only where it labeled any."""
ITERATION_LABELS = 'labels'


def validate_restart_from(iterations: dict | None, type_map: list[str]) -> str | None:
    for name, iteration in sorted((iterations or {}).items()):
        missing = [key for key in ITERATION_OUTPUTS if key not in iteration]
        if not name.startswith(ITERATION_PREFIX) or missing:
            return (
                f'restart_from.{name}: expected iter_NNN with {", ".join(ITERATION_OUTPUTS)} and, where it labeled, '
                f"{ITERATION_LABELS} (missing {missing}); pass a previous run's outputs.iterations, e.g. with "
                'DpgenWorkChain.get_builder_restart_from(node)'
            )
        labels = iteration.get(ITERATION_LABELS)
        if labels is not None and list(labels.type_map) != type_map:
            return f'restart_from.{name}.{ITERATION_LABELS}: type_map={list(labels.type_map)}, expected {type_map}'
    return None


def models_trained_on(iterations: dict, datasets: list[str]) -> list[str]:
    """The datasets the last of ``iterations``' ensembles was trained on: all of ``datasets`` but the last
    iteration's own labels, which came after its models (an iteration that labeled nothing kept its ensemble)."""
    last = iterations[sorted(iterations)[-1]] if iterations else {}
    latest = sorted(iterations)[-1] if ITERATION_LABELS in last else None
    return sorted(name for name in datasets if name != latest)


def validate_initial_datasets(datasets: dict) -> str | None:
    if not datasets:
        return 'datasets: no initial data; give at least one LabeledDatasetData (e.g. from InitDataWorkChain)'
    reserved = sorted(name for name in datasets if name.startswith(ITERATION_PREFIX))
    if reserved:
        return (
            f'datasets: the names {reserved} are taken by the labels of the iterations (iter_NNN); '
            "give the initial data other names, e.g. 'init'"
        )
    empty = sorted(name for name, node in datasets.items() if node.nframes == 0)
    if empty:
        return f'datasets: {empty} have no frames; the first ensemble needs labeled frames to train on'
    return None
