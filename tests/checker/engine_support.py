"""Small models and checks shared by the engine's tests."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from blockcheck.checker.api import Fairness, Model
from blockcheck.checker.property import Property
from blockcheck.checker.result import Trace


class TableModel(Model):
    """A model given as a table: state -> [(action name, next state)], states are ints."""

    def __init__(self, table: dict[int, list[tuple[str, int]]], init: tuple[int, ...] = (0,),
                 fairness: dict[str, Fairness] | None = None, terminal: frozenset[int] = frozenset()) -> None:
        self.table = table
        self.init = init
        self.fair = fairness or {}
        self.terminal = terminal
        self.name = "table"
        self.action_names = tuple(sorted({a for edges in table.values() for a, _ in edges}))

    def init_states(self) -> list[int]:
        return list(self.init)

    def actions(self, state: int) -> list[tuple[str, int]]:
        return [(name, i) for i, (name, _) in enumerate(self.table.get(state, []))]

    def next_state(self, state: int, action: tuple[str, int]) -> int:
        return self.table[state][action[1]][1]

    def fairness(self, action: tuple[str, int]) -> tuple[Fairness, Hashable] | None:
        kind = self.fair.get(action[0])
        return None if kind is None else (kind, action[0])

    def is_terminal(self, state: int) -> bool:
        return state in self.terminal


def naive_count(model: Model) -> int:
    """Reachable states counted by a set of the states themselves (exact: it compares with ==)."""
    seen = set(model.init_states())
    queue = deque(seen)
    while queue:
        for _, t in model.successors(queue.popleft()):
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return len(seen)


def assert_real_trace(model: Model, trace: Trace) -> None:
    """Every step of ``trace`` is a transition of ``model`` from an initial state."""
    steps = trace.steps
    assert steps[0].action is None
    assert steps[0].state in model.init_states()
    for before, step in zip(steps, steps[1:]):
        assert (step.action, step.state) in list(model.successors(before.state)), step


def assert_fair_lasso(model: Model, trace: Trace, prop: Property) -> None:
    """``trace`` is a real lasso that never reaches the goal after a trigger state, and is fair.

    Fairness is judged on the cycle alone, as TLA+ does for a lasso: a weak
    class must be taken on the cycle or disabled in one of its states; a
    strong class must be taken or disabled in all of them.  Steps that
    leave the state unchanged count for nothing.
    """
    assert_real_trace(model, trace)
    steps = trace.steps
    last = steps[-1].state
    if trace.stutter:
        assert trace.loop == len(steps) - 1
        cycle_states, cycle_actions = [last], []
    else:
        assert 0 <= trace.loop < len(steps) - 1
        assert (trace.loop_action, steps[trace.loop].state) in list(model.successors(last))
        cycle_states = [s.state for s in steps[trace.loop:]]
        cycle_actions = [s.action for s in steps[trace.loop + 1:]] + [trace.loop_action]
        transitions = zip(cycle_states, cycle_actions, cycle_states[1:] + cycle_states[:1])
        assert all(before != after for before, _, after in transitions), "a lasso's cycle never stutters"
    starts = [i for i, s in enumerate(steps) if (i == 0 if prop.trigger is None else prop.trigger(s.state))]
    assert any(not any(prop.pred(s.state) for s in steps[k:]) for k in starts), "the goal is reached after the trigger"

    def enabled(state: Hashable) -> set:
        return {model.fairness(a) for a, t in model.successors(state) if t != state} - {None}

    taken = {model.fairness(a) for a in cycle_actions} - {None}
    everywhere = set.intersection(*(enabled(s) for s in cycle_states))
    somewhere = set.union(*(enabled(s) for s in cycle_states))
    for kind, key in somewhere - taken:
        if kind is Fairness.WEAK:
            assert (kind, key) not in everywhere, f"weak {key} is enabled all along the cycle and never taken"
        else:
            raise AssertionError(f"strong {key} is enabled on the cycle and never taken")
