"""Run a workflow in this interpreter (``verdi run``) with each parent woken as soon as its child terminates.

A runner without a broker connection, which is what ``aiida.engine.run`` creates, learns that a child finished
only by polling the child's node every ``runner.poll.interval`` seconds: whole seconds, 1 at the least
(``verdi presto``'s value), 0 (a busy loop) on test profiles. Each level of nesting then waits half a second on
average at every step that waits for children, and a loop iteration waits at three levels. Polling faster costs
a database read per child per poll: an exploration of 30 jobs at 0.1 s would read 600 times a second.

Here the children run in the same event loop, so their futures say when they terminate; the runner then does
what AiiDA does when a broadcast arrives: it checks the node once (its usual polling, which also stays the
fallback) and calls the parent back. Under the daemon, broadcasts do this and this module is not used.
"""

from __future__ import annotations

from aiida.engine.runners import Runner
from aiida.manage import get_manager

from aiida_dpgen.utils.console import expected_messages_silenced


class InterpreterRunner(Runner):
    """A runner without a broker that wakes parents through their in-interpreter children's futures."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._running_here: dict[int, object] = {}

    def instantiate_process(self, process, **inputs):
        instance = super().instantiate_process(process, **inputs)
        pk = instance.node.pk
        self._running_here[pk] = instance
        instance.future().add_done_callback(lambda _: self._running_here.pop(pk, None))
        return instance

    def call_on_process_finish(self, pk: int, callback) -> None:
        instance = self._running_here.get(pk)
        if instance is None:
            super().call_on_process_finish(pk, callback)
            return
        instance.future().add_done_callback(lambda _: Runner.call_on_process_finish(self, pk, callback))


def run_get_node(process, inputs: dict | None = None, **kwargs):
    """``aiida.engine.run_get_node`` on an `InterpreterRunner` (same arguments, same ``(results, node)``), with
    the messages that say nothing is wrong kept off the console (:mod:`aiida_dpgen.utils.console`)."""
    manager = get_manager()
    profile = manager.get_profile()
    poll_interval = 0.0 if profile.is_test_profile else manager.get_option('runner.poll.interval')
    runner = InterpreterRunner(poll_interval=poll_interval, communicator=None)
    with expected_messages_silenced():
        return runner.run_get_node(process, inputs, **kwargs)
