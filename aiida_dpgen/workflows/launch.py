"""Launch each child process at most once, even when a step runs again after its daemon worker died.

AiiDA saves a work chain's checkpoint after each outline step. A worker killed (SIGKILL, lost machine) after a
step launched children but before the checkpoint leaves those children running, and the next worker runs the
step again from the previous checkpoint. Launching again would run every job of the step twice; instead the
step adopts the child it launched before, found by its call link label. Every launching step in this package
sets a call link label that no other step of the same work chain uses.

What a replay cannot undo: calcfunctions run in the interrupted step run again (they are cheap and
deterministic, and only the second result is used), and a child stored but not yet sent to the broker when
the worker died never starts (``verdi process repair`` sends it).
"""

from __future__ import annotations

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessBuilder


def launched_children(node: orm.WorkflowNode) -> dict[str, orm.ProcessNode]:
    """The processes ``node`` called so far, by call link label (the latest one where a label repeats)."""
    outgoing = node.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all()
    return {link.link_label: link.node for link in sorted(outgoing, key=lambda link: link.node.pk)}


def call_link_label(process, inputs: dict) -> str:
    """The call link label a launch sets, from the builder or the ``metadata`` of the inputs."""
    metadata = process.metadata if isinstance(process, ProcessBuilder) else inputs.get('metadata', {})
    label = metadata.get('call_link_label') if metadata else None
    if not label or label == 'CALL':
        raise ValueError('a child launched at most once needs its own metadata.call_link_label')
    return label


def submit_once(workchain, launched: dict[str, orm.ProcessNode], process, **inputs) -> orm.ProcessNode:
    """``workchain.submit(process, **inputs)`` unless ``launched`` (see `launched_children`, read once at the
    start of the step) already holds a child with the same call link label: that child is returned instead."""
    label = call_link_label(process, inputs)
    child = launched.get(label)
    if child is None:
        return workchain.submit(process, **inputs)
    return adopt(workchain, child, label)


def adopt(workchain, child: orm.ProcessNode, label: str) -> orm.ProcessNode:
    """Say in the work chain's report that ``child`` is waited for instead of launched again."""
    workchain.report(
        f'{child.process_label}<{child.pk}> was launched as {label} before this step was interrupted: '
        'waiting for it instead of launching it again'
    )
    return child
