"""Fingerprints: states that differ only by -1 and -2 are two states.

CPython hashes -1 as it hashes -2 (-1 is its C API's error return), inside
tuples and frozensets too, and models use both as sentinels.  The engine
tests below fail on an engine whose fingerprint is plain ``hash(state)``:
it counts 4 states of the 7 of ``SENTINELS``, 64 of the 125 of
``Slots(3)``, and misses every state holding -1 behind one holding -2.
"""

from __future__ import annotations

import enum
import itertools

import pytest

from blockcheck.checker.api import Model, ModelDefinitionError, check_hash_stable
from blockcheck.checker.property import always
from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore

from tests.checker.engine_support import TableModel, assert_real_trace, naive_count

#: Each -1 state is reached behind its -2 twin (action order), at the top
#: level, inside a tuple and inside a frozenset.
SENTINELS = TableModel(
    {
        (0, 0): [("remove", (1, -2)), ("clear", (1, -1))],
        (1, -2): [("nest", (2, (-2,)))],
        (1, -1): [("nest", (2, (-1,)))],
        (2, (-2,)): [("collect", (3, frozenset({-2})))],
        (2, (-1,)): [("collect", (3, frozenset({-1})))],
    },
    init=((0, 0),),
    terminal=frozenset({(3, frozenset({-2})), (3, frozenset({-1}))}),
)

VALUES = (-3, -2, -1, 0, 1)

#: The smallest int magnitude the model API refuses (checker.api.INT_LIMIT).
INT_LIMIT = 2**61 - 2


class Slots(Model):
    """``n`` slots, each set to any of VALUES in one step: 5**n states, all reachable."""

    name = "slots"
    action_names = ("set",)

    def __init__(self, n: int) -> None:
        self.n = n

    def init_states(self) -> list[tuple[int, ...]]:
        return [(0,) * self.n]

    def actions(self, state: tuple[int, ...]) -> list[tuple[str, int, int]]:
        return [("set", i, v) for i in range(self.n) for v in VALUES if v != state[i]]

    def next_state(self, state: tuple[int, ...], action: tuple[str, int, int]) -> tuple[int, ...]:
        _, i, v = action
        return state[:i] + (v,) + state[i + 1 :]


def test_python_hashes_minus_one_as_minus_two():
    """The fact the fingerprint works around; if CPython ever changes it, this says so."""
    assert hash(-1) == hash(-2)
    assert hash((0, -1)) == hash((0, -2))
    assert hash(((-1,),)) == hash(((-2,),))
    assert hash(frozenset({-1})) == hash(frozenset({-2}))


def test_twins_of_minus_two_are_counted():
    result = explore(SENTINELS, [])
    assert naive_count(SENTINELS) == 7
    assert result.stats.distinct == 7
    assert result.stats.coverage["clear"] == [1, 1]


@pytest.mark.parametrize("keep_graph", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_slot_counts_are_exact(n, keep_graph):
    model = Slots(n)
    result = explore(model, [], check_deadlock=False, keep_graph=keep_graph)
    assert result.stats.distinct == naive_count(model) == len(VALUES) ** n
    assert result.stats.generated == len(VALUES) ** n * n * (len(VALUES) - 1)
    if keep_graph:
        graph = result.graph
        assert len(graph.states) == len(VALUES) ** n
        for u, state in enumerate(graph.states):
            targets = {graph.states[v] for v, _ in graph.out_edges(u)}
            assert targets == {t for _, t in model.successors(state)}


def test_an_invariant_broken_only_behind_a_twin_is_found():
    """The -1 state is the only one violating; a lost fingerprint would make the invariant hold."""
    no_none = always("no-none", "no slot is -1 at the top level", lambda s: -1 not in s)
    result = explore(SENTINELS, [no_none])
    prop = result.by_name("no-none")
    assert prop.verdict is Verdict.VIOLATED
    assert [(s.action, s.state) for s in prop.trace.steps] == [(None, (0, 0)), (("clear", 1), (1, -1))]


def test_shortest_traces_follow_minus_one_not_its_twin():
    """Traces are rebuilt by fingerprint; each step must take the -1 successor, never the -2 one."""
    model = Slots(3)
    all_none = always("not-all-none", "some slot is not -1", lambda s: s != (-1, -1, -1))
    prop = explore(model, [all_none], check_deadlock=False).by_name("not-all-none")
    assert prop.verdict is Verdict.VIOLATED
    assert_real_trace(model, prop.trace)
    assert len(prop.trace.steps) == 4
    assert prop.trace.steps[-1].state == (-1, -1, -1)


@pytest.mark.parametrize("value", [INT_LIMIT, -INT_LIMIT, 2**61 - 1, 2**64])
def test_ints_beyond_the_hash_range_are_refused(value):
    with pytest.raises(ModelDefinitionError, match="2\\*\\*61 - 2 or more"):
        check_hash_stable((0, (1, value)))
    model = TableModel({}, init=((0, value),), terminal=frozenset({(0, value)}))
    with pytest.raises(ModelDefinitionError, match="split it into a tuple of smaller ints"):
        explore(model, [])


def test_ints_just_inside_the_hash_range_are_accepted():
    from blockcheck.checker.api import INT_LIMIT as limit

    assert limit == INT_LIMIT
    check_hash_stable((INT_LIMIT - 1, -(INT_LIMIT - 1), -1, -2))


# The fingerprint function itself.  Imported per test, so that the engine
# tests above also run (and fail) against an engine that predates it.


@pytest.fixture
def fp():
    from blockcheck.checker import fingerprint

    return fingerprint


class Colour(enum.IntEnum):
    NONE = -1
    RED = 0


def reference(value):
    """The definition, written out: a hash of the lanes, -1's lane being MINUS_ONE, a container's its fingerprint."""
    from blockcheck.checker.fingerprint import MINUS_ONE

    def lane(x):
        if isinstance(x, (tuple, frozenset)):
            return reference(x)
        return MINUS_ONE if x == -1 else x

    if isinstance(value, tuple):
        return hash(tuple(lane(x) for x in value))
    if isinstance(value, frozenset):
        return hash(frozenset(lane(x) for x in value))
    return hash(lane(value))


SAMPLES = [
    -1,
    -2,
    7,
    (),
    (0, -1),
    (0, -2),
    ((-1, 3), (-2,), 5),
    (frozenset({-1, 4}), frozenset()),
    frozenset({(-1,), (-2,)}),
    (Colour.NONE, Colour.RED, True),
    (2**60, -(2**60), 0.5),
]


@pytest.mark.parametrize("state", SAMPLES, ids=repr)
def test_fingerprint_follows_its_definition(fp, state):
    assert fp.fingerprint(state) == reference(state)
    assert fp.fingerprint(state) == fp.fingerprint(state)  # the second time from the memo


def test_equal_states_share_a_fingerprint(fp):
    same = [(1, -1), (1, -1.0), (1, Colour.NONE), (True, -1)]
    assert len(set(same)) == 1
    assert len({fp.fingerprint(s) for s in same}) == 1


def test_states_differing_by_minus_one_and_minus_two_differ(fp):
    pairs = [(-1, -2), ((0, -1), (0, -2)), (((-1,),), ((-2,),)), (frozenset({-1}), frozenset({-2})),
             ((frozenset({(-1, 0)}),), (frozenset({(-2, 0)}),))]
    for a, b in pairs:
        assert hash(a) == hash(b)
        assert fp.fingerprint(a) != fp.fingerprint(b)


def test_distinct_small_values_never_share_a_fingerprint(fp):
    values = [*VALUES, 2, INT_LIMIT - 1, -(INT_LIMIT - 1)]
    states = list(itertools.product(values, repeat=2))
    assert len({fp.fingerprint(s) for s in states}) == len(states)


def test_a_full_memo_starts_again_and_stays_right(fp, monkeypatch):
    monkeypatch.setattr(fp, "MEMO_LIMIT", 3)
    states = [((i, -1), (-1,), (i, -2)) for i in range(50)]
    first = [fp.fingerprint(s) for s in states]
    assert len(fp._MEMO) <= 3 + 4  # the limit, plus what one state adds after a clear
    fp.forget()
    assert [fp.fingerprint(s) for s in reversed(states)] == first[::-1]
    assert first == [reference(s) for s in states]


def test_an_unhashable_state_raises_type_error(fp):
    with pytest.raises(TypeError):
        fp.fingerprint((0, [1]))
    with pytest.raises(TypeError):
        fp.fingerprint([0])

