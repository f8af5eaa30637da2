"""Gather a DpgenWorkChain's iteration reports and learning curves from the provenance graph."""

from __future__ import annotations

from aiida import orm


def dpgen_node(identifier) -> orm.WorkChainNode:
    """The DpgenWorkChain node with this pk or UUID; a clear error for anything else."""
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        node = orm.load_node(identifier)
    except (NotExistent, MultipleObjectsError) as exception:
        raise ValueError(f'node {identifier}: {exception}; give the pk or UUID of a DpgenWorkChain') from exception
    label = getattr(node, 'process_label', None)
    if label != 'DpgenWorkChain':
        raise ValueError(f'node {identifier}: a {label or type(node).__name__}, not a DpgenWorkChain')
    return node


def iteration_reports(node: orm.WorkChainNode) -> list[dict]:
    iterations = node.outputs.iterations if 'iterations' in node.outputs else {}
    return [iterations[name]['report'].get_dict() for name in sorted(iterations)]


def initial_frames(node: orm.WorkChainNode) -> int:
    return sum(dataset.nframes for dataset in node.inputs.datasets.values())


def learning_curves(node: orm.WorkChainNode) -> dict[int, list[dict]]:
    """Per iteration whose ensemble was trained in it, every model's learning curve (column -> array)."""
    iterations = node.outputs.iterations if 'iterations' in node.outputs else {}
    curves = {}
    for name in sorted(iterations):
        report = iterations[name]['report'].get_dict()
        if not report['training'].get('trained', True):
            continue
        models = iterations[name]['models']
        arrays = []
        for key in sorted(models):
            creator = models[key].creator
            if creator is not None and 'learning_curve' in creator.outputs:
                curve = creator.outputs.learning_curve
                arrays.append({array: curve.get_array(array) for array in curve.get_arraynames()})
        curves[report['iteration']] = arrays
    return curves
