"""The reference models: TwoPhase against the TLA+ text, and every model's two successor paths."""

from __future__ import annotations

import doctest
import importlib
from collections import deque

import pytest

from blockcheck.checker.api import Fairness, Model
from blockcheck.checker.search import explore
from examples.clock import Clock
from examples.philosophers import Philosophers
from examples.two_phase import TwoPhase
from examples.worker import Worker

# -- TwoPhase.tla, transliterated action by action ---------------------------


def tla_init(n):
    return ("working",) * n, "init", frozenset(), frozenset()


def tla_next(n, state):
    """TPNext in the spec's order, as (action, state) with the spec's values."""
    rm_state, tm_state, tm_prepared, msgs = state
    out = []

    def rm_set(rm, value):
        return rm_state[:rm] + (value,) + rm_state[rm + 1:]

    if tm_state == "init" and tm_prepared == frozenset(range(n)):
        out.append((("TMCommit",), (rm_state, "done", tm_prepared, msgs | {("Commit",)})))
    if tm_state == "init":
        out.append((("TMAbort",), (rm_state, "done", tm_prepared, msgs | {("Abort",)})))
    for rm in range(n):
        if tm_state == "init" and ("Prepared", rm) in msgs:
            out.append((("TMRcvPrepared", rm), (rm_state, tm_state, tm_prepared | {rm}, msgs)))
        if rm_state[rm] == "working":
            out.append((("RMPrepare", rm), (rm_set(rm, "prepared"), tm_state, tm_prepared, msgs | {("Prepared", rm)})))
            out.append((("RMChooseToAbort", rm), (rm_set(rm, "aborted"), tm_state, tm_prepared, msgs)))
        if ("Commit",) in msgs:
            out.append((("RMRcvCommitMsg", rm), (rm_set(rm, "committed"), tm_state, tm_prepared, msgs)))
        if ("Abort",) in msgs:
            out.append((("RMRcvAbortMsg", rm), (rm_set(rm, "aborted"), tm_state, tm_prepared, msgs)))
    return out


def tla_consistent(state):
    rm_state = state[0]
    return not ("committed" in rm_state and "aborted" in rm_state)


def spec_values(model, packed):
    v = model.decode(packed)
    return v["rmState"], v["tmState"], frozenset(v["tmPrepared"]), frozenset(v["msgs"])


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_two_phase_is_the_tla_spec_step_by_step(n):
    model = TwoPhase(n)
    assert spec_values(model, model.init_states()[0]) == tla_init(n)
    graph = explore(model, [], keep_graph=True).graph
    reference = {tla_init(n)}
    queue = deque(reference)
    while queue:
        for _, t in tla_next(n, queue.popleft()):
            if t not in reference:
                reference.add(t)
                queue.append(t)
    decoded = [spec_values(model, s) for s in graph.states]
    assert len(set(decoded)) == len(decoded) == len(reference)
    assert set(decoded) == reference
    for packed, values in zip(graph.states, decoded):
        ours = [(a, spec_values(model, t)) for a, t in model.successors(packed)]
        assert ours == tla_next(n, values)
        assert model.consistent(packed) == tla_consistent(values)
        assert model.type_ok(packed)


def test_two_phase_rejects_sizes_that_do_not_fit_a_fingerprint():
    with pytest.raises(ValueError):
        TwoPhase(15)


def test_two_phase_consistency_invariant_can_fail():
    model = TwoPhase(2)
    # RM 0 committed (2) and RM 1 aborted (3): unreachable, so only this test
    # shows that the bit trick can say no.
    assert not model.consistent(2 | 3 << 2)
    assert model.consistent(2 | 2 << 2)
    assert model.consistent(3 | 3 << 2)


@pytest.mark.parametrize(
    "model",
    [TwoPhase(3), Philosophers(4), Worker(), Worker({"finish": Fairness.WEAK}, gated=True), Clock(7), Clock(25)],
    ids=lambda m: m.name,
)
def test_successors_agree_with_actions_and_next_state(model: Model):
    graph = explore(model, [], keep_graph=True, check_deadlock=False).graph
    for state in graph.states:
        assert list(model.successors(state)) == [(a, model.next_state(state, a)) for a in model.actions(state)]


@pytest.mark.parametrize("name", ["two_phase", "philosophers", "worker", "clock"])
def test_example_doctests(name):
    module = importlib.import_module(f"examples.{name}")
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("name", ["graph", "traces", "liveness", "progress", "api", "property", "fingerprint"])
def test_checker_doctests(name):
    module = importlib.import_module(f"blockcheck.checker.{name}")
    assert doctest.testmod(module).failed == 0
