"""The property run of a PropertiesWorkChain, or of the DpgenWorkChain that ran one on its final models."""

from __future__ import annotations

from aiida import orm

from aiida_dpgen.properties.compare import Row


def properties_node(identifier: str) -> orm.WorkflowNode:
    """The PropertiesWorkChain of ``identifier`` (pk or UUID): itself, or the one a DpgenWorkChain called."""
    try:
        node = orm.load_node(identifier)
    except Exception as exception:
        raise ValueError(f'{identifier}: no such node ({exception})') from None
    if node.process_label == 'DpgenWorkChain':
        called = [child for child in node.called if child.process_label == 'PropertiesWorkChain']
        if not called:
            raise ValueError(f'DpgenWorkChain<{node.pk}> ran no property tests (its input `properties` was not given)')
        node = max(called, key=lambda child: child.pk)
    if node.process_label != 'PropertiesWorkChain':
        raise ValueError(f'{node.process_label}<{node.pk}> is neither a PropertiesWorkChain nor a DpgenWorkChain')
    return node


def comparison_rows(node: orm.WorkflowNode) -> list[Row]:
    if 'comparison' not in node.outputs:
        return []
    fields = ('name', 'unit', 'reference', 'mean', 'spread', 'models')
    return [Row(**{key: row[key] for key in fields}) for row in node.outputs.comparison['rows']]


def curves(node: orm.WorkflowNode) -> dict[str, dict]:
    """Per potential (``reference`` and the model names) its curves as arrays."""
    if 'curves' not in node.outputs:
        return {}
    return {
        name: {array: data.get_array(array) for array in data.get_arraynames()}
        for name, data in node.outputs.curves.items()
    }


def band_labels(node: orm.WorkflowNode) -> list[str]:
    for properties in node.outputs.properties.values() if 'properties' in node.outputs else []:
        if 'phonons' in properties.get_dict():
            return list(properties['phonons']['labels'])
    return []


def suite_warnings(node: orm.WorkflowNode) -> dict[str, list[str]]:
    """Per potential, what makes some of its values less certain: prototypes whose relaxation did not reach
    ``fmax``, equations of state whose fit failed or whose minimum lies outside the sampled volumes."""
    if 'properties' not in node.outputs:
        return {}
    found = {}
    for name, properties in node.outputs.properties.items():
        messages = []
        for prototype, entry in properties.get_dict().get('prototypes', {}).items():
            if not entry.get('relaxed', True):
                messages.append(f'the relaxation of {prototype} did not reach settings.fmax')
            eos = entry.get('eos', {})
            if eos.get('fit_error'):
                messages.append(f'the {prototype} equation of state has no fit: {eos["fit_error"]}')
            elif eos.get('minimum_inside') is False:
                messages.append(
                    f'the {prototype} equation of state has its minimum outside the sampled volumes (the relaxed '
                    'stress and the energies disagree; for a first-principles reference raise the cutoff)'
                )
        if messages:
            found[name] = messages
    return found


def reference_name(node: orm.WorkflowNode) -> str:
    """How the table names the reference: the ASE calculator's class, or the labeler's engine and protocol."""
    reference = node.inputs.reference
    if 'calculator' in reference:
        return reference.calculator['calculator'].rpartition(':')[2]
    if 'labeler' in reference:
        from aiida_dpgen.labelers.base import labeler_from_specification

        labeler = labeler_from_specification(reference.labeler.get_dict())
        return f'{labeler.engine} ({labeler.protocol_name})'
    return 'reference'
