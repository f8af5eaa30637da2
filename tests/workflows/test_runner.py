from __future__ import annotations

import pytest
from aiida.engine import ToContext, WorkChain
from aiida.engine.runners import Runner
from aiida.orm import Int

from aiida_dpgen.workflows.runner import InterpreterRunner, run_get_node


class Child(WorkChain):
    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.double)
        spec.input('value', valid_type=Int)
        spec.output('value', valid_type=Int)

    def double(self):
        self.out('value', Int(2 * self.inputs.value.value).store())


class Parent(WorkChain):
    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.launch, cls.collect)
        spec.output('total', valid_type=Int)

    def launch(self):
        return ToContext(**{f'child_{index}': self.submit(Child, value=Int(index)) for index in range(3)})

    def collect(self):
        total = sum(self.ctx[f'child_{index}'].outputs.value.value for index in range(3))
        self.out('total', Int(total).store())


def polls_seen(runner_class, monkeypatch) -> list[bool]:
    """Run Parent on a fresh ``runner_class`` and return, for every poll of a child, whether it had terminated."""
    seen = []
    original = Runner._poll_process

    def recording_poll(self, node, callback):
        seen.append(node.is_terminated)
        return original(self, node, callback)

    monkeypatch.setattr(Runner, '_poll_process', recording_poll)
    results, node = runner_class(poll_interval=0.05, communicator=None).run_get_node(Parent)
    assert node.is_finished_ok
    assert results['total'].value == 0 + 2 + 4
    return seen


@pytest.mark.usefixtures('aiida_profile')
def test_parent_is_woken_by_its_children_terminating_not_by_polling(monkeypatch):
    assert polls_seen(InterpreterRunner, monkeypatch) == [True, True, True]


@pytest.mark.usefixtures('aiida_profile')
def test_plain_runner_polls_children_that_are_still_running(monkeypatch):
    """The control: AiiDA's own runner without a broker finds its children running and polls again."""
    assert False in polls_seen(Runner, monkeypatch)


@pytest.mark.usefixtures('aiida_profile')
def test_run_get_node_returns_results_and_node():
    results, node = run_get_node(Child, value=Int(21))
    assert node.is_finished_ok
    assert results['value'].value == 42
