"""Leads-to and eventually under weak and strong fairness, with real lassos."""

from __future__ import annotations

from itertools import combinations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from blockcheck.checker.api import Fairness
from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.property import eventually, leads_to
from blockcheck.checker.result import StopReason, Verdict
from blockcheck.checker.search import explore
from examples.two_phase import TwoPhase
from examples.worker import Worker
from tests.checker.engine_support import TableModel, assert_fair_lasso

WEAK, STRONG = Fairness.WEAK, Fairness.STRONG


def check(model, **kwargs):
    return explore(model, model.properties(), stop_at_first=False, **kwargs)


def test_fails_without_fairness_by_stuttering():
    model = Worker()
    result = check(model)
    prop = result.by_name("finishes")
    assert prop.verdict is Verdict.VIOLATED
    assert result.exit_code == ExitCode.LIVENESS
    assert prop.trace.stutter and prop.trace.loop == 0
    assert [s.state for s in prop.trace.steps] == [(0, 0)]
    assert_fair_lasso(model, prop.trace, model.properties()[0])


def test_weak_fairness_makes_it_hold():
    result = check(Worker({"finish": WEAK}))
    assert [p.verdict for p in result.properties] == [Verdict.HOLDS, Verdict.HOLDS]
    assert result.exit_code == ExitCode.OK


def test_weak_fairness_is_not_enough_for_an_intermittent_action():
    model = Worker({"finish": WEAK, "tick": WEAK}, gated=True)
    result = check(model)
    for prop, declared in zip(result.properties, model.properties()):
        assert prop.verdict is Verdict.VIOLATED
        assert not prop.trace.stutter, "stuttering is unfair when tick is weakly fair"
        assert_fair_lasso(model, prop.trace, declared)
    finishes = result.by_name("finishes").trace
    assert [s.state for s in finishes.steps] == [(0, 0), (0, 1)]
    assert (finishes.loop, finishes.loop_action) == (0, ("tick",))


def test_strong_fairness_makes_the_intermittent_action_happen():
    result = check(Worker({"finish": STRONG, "tick": WEAK}, gated=True))
    assert [p.verdict for p in result.properties] == [Verdict.HOLDS, Verdict.HOLDS]


def test_leads_to_starts_from_the_first_trigger_state():
    model = Worker({"finish": WEAK}, gated=True)
    result = check(model)
    trace = result.by_name("tick-leads-to-done").trace
    # The clock reads 1 after one tick; there finish is disabled and nothing
    # fair is enabled, so the behaviour may stop.
    assert [s.state for s in trace.steps] == [(0, 0), (0, 1)]
    assert trace.stutter and trace.loop == 1
    assert_fair_lasso(model, trace, model.properties()[1])


def test_a_never_triggered_leads_to_is_vacuous():
    model = Worker()
    never = leads_to("never", "a trigger that never holds", lambda s: s[0] == 7, lambda s: True)
    result = explore(model, [never])
    assert result.by_name("never").verdict is Verdict.VACUOUS
    assert result.exit_code == ExitCode.VACUOUS


def test_liveness_keeps_the_graph():
    result = check(Worker())
    assert result.graph is not None and len(result.graph) == 4


def test_liveness_is_not_checked_on_a_bounded_search():
    result = check(Worker(), max_states=2)
    assert result.stop is StopReason.MAX_STATES
    assert result.by_name("finishes").verdict is Verdict.INCOMPLETE
    assert result.exit_code == ExitCode.BOUND


def test_stop_at_first_checks_liveness_until_the_first_violation():
    model = Worker()
    result = explore(model, model.properties())
    assert [p.verdict for p in result.properties] == [Verdict.VIOLATED, Verdict.UNCHECKED]


def test_the_cycle_visits_the_states_that_make_it_fair():
    # 0 -> 1 -> 2 -> 0 is the only way round; "a" is enabled in 0 and 1
    # (to the goal 3) but not in 2, so only a cycle through 2 is fair.
    table = {0: [("b", 1), ("a", 3)], 1: [("b", 2), ("a", 3)], 2: [("b", 0)], 3: []}
    model = TableModel(table, fairness={"a": WEAK, "b": WEAK}, terminal=frozenset({3}))
    prop = eventually("reach-3", "state 3 is reached", lambda s: s == 3)
    result = explore(model, [prop])
    trace = result.by_name("reach-3").trace
    assert [s.state for s in trace.steps] == [0, 1, 2]
    assert trace.loop == 0
    assert_fair_lasso(model, trace, prop)


def test_two_phase_tm_decides_under_weak_fairness():
    model = TwoPhase(3)
    tm_done = eventually("tm-decides", "the TM eventually commits or aborts", lambda s: s & model.tm_done)
    unfair = explore(model, [tm_done])
    assert unfair.by_name("tm-decides").verdict is Verdict.VIOLATED

    class FairTM(TwoPhase):
        def fairness(self, action):
            return (Fairness.WEAK, "tm") if action[0].startswith("TM") else None

    fair = FairTM(3)
    result = explore(fair, [tm_done])
    assert result.by_name("tm-decides").verdict is Verdict.HOLDS
    assert result.stats.distinct == 288


# -- against a brute-force oracle on random graphs ----------------------------


def oracle(model, states, graph, trigger, goal) -> bool:
    """True iff ``trigger ~> goal`` fails, by trying every set of states as the infinitely visited set."""
    pending = [u for u in states if not goal(u)]
    inner = nx.DiGraph()
    inner.add_nodes_from(pending)
    inner.add_edges_from((u, v) for u, v in graph.edges() if u != v and u in inner and v in inner)

    def classes(u, inside=None):
        return {model.fairness(a) for a, v in model.successors(u) if v != u and (inside is None or v in inside)} - {None}

    def fair(group):
        if len(group) > 1 and not nx.is_strongly_connected(inner.subgraph(group)):
            return False
        taken = set().union(*(classes(u, inside=group) for u in group)) if len(group) > 1 else set()
        enabled = [classes(u) for u in group]
        for c in set().union(*enabled) - taken:
            always_on = all(c in e for e in enabled)
            if c[0] is WEAK and always_on or c[0] is STRONG:
                return False
        return True

    fair_states = {u for k in range(1, len(pending) + 1) for g in combinations(pending, k) if fair(set(g)) for u in g}
    return any(trigger(u) and any(nx.has_path(inner, u, f) for f in fair_states) for u in pending)


@st.composite
def random_models(draw):
    n = draw(st.integers(1, 6))
    table = {
        u: draw(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, n - 1)), max_size=3))
        for u in range(n)
    }
    fairness = {a: draw(st.sampled_from([None, WEAK, STRONG])) for a in "abc"}
    goal = draw(st.frozensets(st.integers(0, n - 1)))
    trigger = draw(st.none() | st.frozensets(st.integers(0, n - 1)))
    return TableModel(table, fairness={a: f for a, f in fairness.items() if f}), goal, trigger


@settings(max_examples=300, deadline=None)
@given(random_models())
def test_matches_the_oracle_on_random_graphs(case):
    model, goal, trigger = case
    if trigger is None:
        prop = eventually("live", "eventually goal", lambda s: s in goal)
    else:
        prop = leads_to("live", "trigger leads to goal", lambda s: s in trigger, lambda s: s in goal)
    result = explore(model, [prop], check_deadlock=False, keep_graph=True)
    graph = result.graph.to_networkx()
    states = [graph.nodes[i]["state"] for i in graph]
    relabelled = nx.relabel_nodes(graph, {i: graph.nodes[i]["state"] for i in graph})
    is_trigger = (lambda s: s == 0) if trigger is None else prop.trigger
    expected = oracle(model, states, relabelled, is_trigger, prop.pred)
    verdict = result.by_name("live").verdict
    assert (verdict is Verdict.VIOLATED) == expected
    if expected:
        assert_fair_lasso(model, result.by_name("live").trace, prop)
