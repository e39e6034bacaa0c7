"""The BFS engine: counts, shortest traces, verdicts, bounds, errors, coverage."""

from __future__ import annotations

from collections import deque

import pytest

from blockcheck.checker.api import ModelDefinitionError
from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.property import always, sometimes, transition
from blockcheck.checker.result import StopReason, Verdict
from blockcheck.checker.search import explore, replay_actions
from examples.clock import Clock
from examples.philosophers import Philosophers
from examples.two_phase import TwoPhase

from tests.checker.engine_support import TableModel, assert_real_trace


def bfs_distances(model):
    """Steps from the nearest initial state to every reachable state, the naive way."""
    dist = {s: 0 for s in model.init_states()}
    queue = deque(dist)
    while queue:
        s = queue.popleft()
        for a in model.actions(s):
            t = model.next_state(s, a)
            if t not in dist:
                dist[t] = dist[s] + 1
                queue.append(t)
    return dist


@pytest.mark.parametrize("n, states", [(3, 288), (5, 8_832), (7, 296_448)])
def test_two_phase_golden_counts(n, states):
    model = TwoPhase(n)
    result = explore(model, model.properties())
    assert result.stats.distinct == states
    assert result.stop is StopReason.EXHAUSTED
    assert [p.verdict for p in result.properties] == [Verdict.HOLDS] * 3
    assert result.exit_code == ExitCode.OK


def test_counts_match_a_naive_search():
    model = Philosophers(4)
    dist = bfs_distances(model)
    result = explore(model, [], check_deadlock=False)
    assert result.stats.distinct == len(dist)
    assert result.stats.depth == max(dist.values())
    assert result.stats.generated == sum(len(model.actions(s)) for s in dist)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_philosophers_deadlock_after_n_left_forks(n):
    model = Philosophers(n)
    result = explore(model, model.properties())
    assert result.exit_code == ExitCode.DEADLOCK
    assert result.stop is StopReason.VIOLATION
    trace = result.deadlock
    # Each step moves one philosopher and the deadlock needs all N holding a
    # fork, so N steps is the least; BFS takes the first in action order.
    assert len(trace) == n + 1
    assert trace.actions == [("take_left", i) for i in range(n)]
    assert trace.steps[-1].state == (1,) * n
    assert_real_trace(model, trace)
    assert list(model.successors(trace.steps[-1].state)) == []


def test_philosophers_state_counts_are_pinned():
    counts = {n: explore(Philosophers(n), [], check_deadlock=False).stats.distinct for n in (2, 3, 4, 5)}
    assert counts == {2: 6, 3: 14, 4: 34, 5: 82}


def test_deadlock_detection_can_be_turned_off():
    model = Philosophers(3)
    result = explore(model, model.properties(), check_deadlock=False)
    assert result.deadlock is None
    assert result.exit_code == ExitCode.OK


def test_terminal_states_are_not_deadlocks():
    table = {0: [("go", 1)], 1: []}
    assert explore(TableModel(table), []).exit_code == ExitCode.DEADLOCK
    assert explore(TableModel(table, terminal=frozenset({1})), []).exit_code == ExitCode.OK


def test_invariant_violation_has_a_shortest_trace():
    model = Clock(alarm=3)
    result = explore(model, model.properties())
    prop = result.by_name("quiet-nights")
    assert prop.verdict is Verdict.VIOLATED
    assert result.exit_code == ExitCode.INVARIANT
    assert result.stop is StopReason.VIOLATION
    assert [s.state for s in prop.trace.steps] == [(0, 0), (1, 0), (2, 0), (3, 0), (3, 1)]
    assert prop.trace.actions == [("tick",)] * 3 + [("ring",)]
    # The search stopped before any other check saw the ringing state.
    assert result.by_name("alarm-rings").verdict is Verdict.UNCHECKED
    assert len(prop.trace) == bfs_distances(model)[(3, 1)] + 1


def test_invariant_violated_in_an_initial_state():
    result = explore(Clock(), [always("never", "never true", lambda s: False)])
    assert len(result.by_name("never").trace) == 1
    assert result.exit_code == ExitCode.INVARIANT


def test_transition_property_violation():
    model = Clock()
    result = explore(model, [model.hour_advances()])
    prop = result.by_name("hour-advances")
    assert prop.verdict is Verdict.VIOLATED
    assert result.exit_code == ExitCode.LIVENESS
    assert len(prop.trace) == 25
    assert (prop.trace.steps[-2].state, prop.trace.steps[-1].state) == ((23, 0), (0, 0))
    assert_real_trace(model, prop.trace)


def test_continue_reports_every_violation_with_its_own_shortest_trace():
    model = Clock(alarm=3)
    props = [
        *model.properties(),
        model.hour_advances(),
        always("before-five", "the hour stays below 5", lambda s: s[0] < 5),
    ]
    result = explore(model, props, stop_at_first=False)
    assert result.stop is StopReason.EXHAUSTED
    assert result.stats.distinct == 25
    verdicts = {p.name: (p.verdict, p.trace and len(p.trace)) for p in result.properties}
    assert verdicts == {
        "quiet-nights": (Verdict.VIOLATED, 5),
        "alarm-rings": (Verdict.HOLDS, None),
        "hour-advances": (Verdict.VIOLATED, 25),
        "before-five": (Verdict.VIOLATED, 6),
    }
    assert result.exit_code == ExitCode.INVARIANT


def test_stop_at_first_leaves_other_properties_unchecked():
    model = Clock(alarm=3)
    props = [model.hour_advances(), *model.properties()]
    result = explore(model, props)
    assert result.by_name("quiet-nights").verdict is Verdict.VIOLATED
    assert result.by_name("hour-advances").verdict is Verdict.UNCHECKED
    assert result.stats.distinct < 25


def test_vacuous_witness_and_sometimes():
    model = Clock(alarm=25)
    result = explore(model, model.properties())
    assert result.by_name("quiet-nights").verdict is Verdict.VACUOUS
    assert result.by_name("quiet-nights").witness_reached is False
    assert result.by_name("alarm-rings").verdict is Verdict.VACUOUS
    assert result.exit_code == ExitCode.VACUOUS
    assert result.stats.never_enabled == ["ring"]


def test_reached_witness_gives_holds():
    model = Clock(alarm=7)
    result = explore(model, model.properties())
    assert result.by_name("quiet-nights").verdict is Verdict.HOLDS
    assert result.by_name("quiet-nights").witness_reached is True
    assert result.by_name("alarm-rings").witness_reached is True
    assert result.exit_code == ExitCode.OK


def test_max_states_is_exact_and_never_a_pass():
    model = TwoPhase(3)
    result = explore(model, model.properties(), max_states=100)
    assert result.stats.distinct == 100
    assert result.stop is StopReason.MAX_STATES
    assert result.by_name("tc-consistent").verdict is Verdict.INCOMPLETE
    assert result.exit_code == ExitCode.BOUND


def test_max_depth_explores_exactly_the_states_within_it():
    model = TwoPhase(3)
    dist = bfs_distances(model)
    for bound in (0, 1, 4):
        result = explore(model, model.properties(), max_depth=bound)
        assert result.stats.distinct == sum(1 for d in dist.values() if d <= bound)
        assert result.stats.depth == bound
        assert result.stop is StopReason.MAX_DEPTH
        assert result.exit_code == ExitCode.BOUND
        assert result.by_name("type-ok").verdict is Verdict.INCOMPLETE


def test_max_depth_at_the_diameter_completes():
    model = Clock()
    assert explore(model, model.properties(), max_depth=23).stop is StopReason.EXHAUSTED
    assert explore(model, model.properties(), max_depth=22).stop is StopReason.MAX_DEPTH


def test_deadlock_at_the_depth_bound_is_still_found():
    result = explore(Philosophers(3), [], max_depth=3)
    assert result.deadlock is not None and len(result.deadlock) == 4


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="max_states"):
        explore(Clock(), [], max_states=0)
    with pytest.raises(ValueError, match="max_depth"):
        explore(Clock(), [], max_depth=-1)


def test_coverage_counts_per_action():
    model = Clock(alarm=7)
    stats = explore(model, []).stats
    assert stats.coverage == {"tick": [23, 25], "ring": [1, 1]}
    assert stats.generated == 26
    assert stats.never_enabled == []
    assert stats.queue_left == 0


def test_coverage_of_two_phase_adds_up():
    stats = explore(TwoPhase(3), []).stats
    assert sum(found for found, _ in stats.coverage.values()) == stats.distinct - 1
    assert sum(gen for _, gen in stats.coverage.values()) == stats.generated


class Interrupting(Clock):
    """A clock whose successors raise KeyboardInterrupt at 5 o'clock, as Ctrl-C would."""

    def successors(self, state):
        if state[0] == 5:
            raise KeyboardInterrupt
        return super().successors(state)


def test_ctrl_c_returns_partial_statistics():
    model = Interrupting()
    result = explore(model, model.properties(), keep_graph=True)
    assert result.stop is StopReason.INTERRUPTED
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.stats.distinct == 6
    assert result.stats.queue_left == 1
    assert result.by_name("quiet-nights").verdict is Verdict.INCOMPLETE
    assert result.graph is None


class StringStates(Clock):
    def init_states(self):
        return [("midnight", 0)]


class Raising(Clock):
    def successors(self, state):
        if state[0] == 2:
            raise ZeroDivisionError("oops")
        return super().successors(state)


def test_model_errors_are_model_definition_errors():
    with pytest.raises(ModelDefinitionError, match="str"):
        explore(StringStates(), [])
    with pytest.raises(ModelDefinitionError, match="ZeroDivisionError: oops"):
        explore(Raising(), [])
    with pytest.raises(ModelDefinitionError, match="no state"):
        explore(TableModel({}, init=()), [])


def test_a_raising_predicate_names_the_property_and_the_state():
    model = Clock()
    bad = always("bad-pred", "divides by the hour", lambda s: 1 / s[0] > 0)
    with pytest.raises(ModelDefinitionError, match=r"'bad-pred' raised ZeroDivisionError.*\(0, 0\)"):
        explore(model, [bad])
    late = sometimes("late", "raises at noon", lambda s: 1 / (s[0] - 12) == 5)
    with pytest.raises(ModelDefinitionError, match=r"'late' raised ZeroDivisionError.*\(12, 0\)"):
        explore(model, [late])
    edge = transition("edge", "raises on ring", lambda b, a, c: {"tick": True}[a[0]])
    with pytest.raises(ModelDefinitionError, match=r"'edge' raised KeyError.*\(7, 0\) --\('ring',\)-->"):
        explore(model, [edge])


def test_duplicate_property_names_are_refused():
    p = always("same", "one", lambda s: True)
    with pytest.raises(ModelDefinitionError, match="same"):
        explore(Clock(), [p, p])


def test_same_inputs_same_results():
    model = Clock(alarm=3)
    props = [*model.properties(), model.hour_advances()]
    a = explore(model, props, stop_at_first=False)
    b = explore(model, props, stop_at_first=False)
    assert a.properties == b.properties
    assert (a.stats.distinct, a.stats.generated, a.stats.coverage) == (b.stats.distinct, b.stats.generated, b.stats.coverage)


def test_replay_actions():
    model = Clock(alarm=1)
    assert replay_actions(model, (0, 0), [("tick",), ("ring",), ("tick",)]) == [(0, 0), (1, 0), (1, 1), (2, 0)]
    with pytest.raises(ValueError, match=r"step 2: \('ring',\) is not enabled in \(2, 0\)"):
        replay_actions(model, (1, 0), [("tick",), ("ring",)])


def test_generator_successors_are_accepted():
    class Generating(Clock):
        def successors(self, state):
            yield from super().successors(state)

    assert explore(Generating(), []).stats.distinct == 25
