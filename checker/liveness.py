"""Leads-to under weak and strong fairness, on the explored graph.

Semantics are TLA+'s, with implicit stuttering: a behaviour may stop in any
state and repeat it forever.  ``p ~> q`` fails when some fair behaviour
reaches a ``p`` state and never reaches ``q`` from there on (``q`` holding in
the ``p`` state itself counts as reaching it).  Such a behaviour eventually
stays in the ``not q`` states and visits some set of them infinitely often;
that set is strongly connected (or one state, stuttering).  So the check is:

1. take the subgraph of ``not q`` states and split it into strongly
   connected components with networkx;
2. keep the *fair* ones (below), each single state being a candidate too;
3. the property fails iff a reachable ``p and not q`` state reaches a fair
   component through ``not q`` states.

A component C is fair for a WEAK class c (WF) when a c edge lies inside C or
c is disabled in some state of C: a behaviour circling through all of C then
takes c infinitely often or is not continuously enabled.  A STRONG class c
(SF) needs a c edge inside C or c disabled in every state of C; otherwise
the states where c is enabled are removed and what remains is split again
(Emerson and Lei's algorithm).  A failing weak class cannot be repaired by
removing states, so such a component is dropped whole.

As in TLA+, where ``WF_vars(A)`` speaks of ``<<A>>_vars`` steps, a step that
leaves the state unchanged is stuttering: it neither counts as taking its
class nor makes the class enabled.

The counterexample is a lasso: the stem from the ``p`` state to the fair
component, then a cycle inside the component that takes or passes what its
fairness needs, back to where it entered; or, when no fair class is enabled
in the entry state, stuttering there forever.
"""

from __future__ import annotations

import gc
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import networkx as nx

from .api import Fairness, Model, ModelDefinitionError
from .graph import StateGraph
from .property import Property
from .result import Step, Trace
from .traces import shortest_trace

Edge = tuple[int, int]
"""(action number, target id): one step of a path in a StateGraph."""


@dataclass(frozen=True)
class FairnessClasses:
    """Fairness of every action of a graph, by number.

    ``of_action[a]`` is the class index of action number ``a`` or -1 if the
    action is unfair; ``strong[c]`` tells whether class ``c`` is strong.
    """

    of_action: tuple[int, ...]
    strong: tuple[bool, ...]
    keys: tuple[Hashable, ...]

    @classmethod
    def of(cls, actions: Sequence[object], fairness: Callable[[object], tuple[Fairness, Hashable] | None]) -> FairnessClasses:
        """Classes numbered in the order their first action appears.

        >>> f = FairnessClasses.of(["a", "b", "c"], lambda x: None if x == "b" else (Fairness.WEAK, "p"))
        >>> f.of_action, f.strong
        ((0, -1, 0), (False,))
        """
        index: dict[tuple[Fairness, Hashable], int] = {}
        of_action = []
        for action in actions:
            declared = fairness(action)
            if declared is None:
                of_action.append(-1)
                continue
            of_action.append(index.setdefault(declared, len(index)))
        return cls(
            of_action=tuple(of_action),
            strong=tuple(kind is Fairness.STRONG for kind, _ in index),
            keys=tuple(key for _, key in index),
        )


@dataclass(frozen=True)
class Lasso:
    """A fair behaviour that never reaches the goal.

    It starts in state ``start`` (reached by a shortest path from an initial
    state), follows ``stem`` to the entry state of a fair component, then
    repeats ``cycle`` (which ends back at the entry) forever; an empty cycle
    means stuttering in the entry state.
    """

    start: int
    stem: tuple[Edge, ...]
    cycle: tuple[Edge, ...]


def find_lasso(graph: StateGraph, fair: FairnessClasses, trigger: Sequence[bool], goal: Sequence[bool]) -> Lasso | None:
    """A counterexample to ``trigger ~> goal``, or None if the property holds.

    The start is the trigger state of least id (BFS order) that has one, the
    stem a shortest path from it to a fair component.
    """
    pending = [u for u in range(len(graph)) if not goal[u]]
    first = next((u for u in pending if trigger[u]), None)
    if first is None:
        return None
    if not fair.keys:
        # Without fairness, stopping for good in the first trigger state is a
        # behaviour: nothing more to look at.
        return Lasso(start=first, stem=(), cycle=())
    inner, enabled = _restrict(graph, fair, goal, pending)
    if not enabled[first]:
        return Lasso(start=first, stem=(), cycle=())
    preds = _predecessors(pending, inner)
    components = _fair_components(pending, inner, preds, enabled, fair)
    component_of = {u: comp for comp in components for u in comp}
    start = _first_reaching(trigger, preds, component_of)
    if start is None:
        return None
    stem = _path(start, inner, lambda u: u in component_of, within=None)
    entry = stem[-1][1] if stem else start
    cycle = _fair_cycle(entry, component_of[entry], inner, enabled, fair)
    return Lasso(start=start, stem=tuple(stem), cycle=tuple(cycle))


def _restrict(graph: StateGraph, fair: FairnessClasses, goal: Sequence[bool], pending: list[int]) -> tuple[dict[int, list[Edge]], dict[int, frozenset[int]]]:
    """The edges between ``not goal`` states, and the classes enabled in each.

    Enabledness looks at every edge of the full graph (a class whose only
    step leads to a goal state is still enabled); self-loops are stuttering
    and count for neither.
    """
    of_action = fair.of_action
    offsets, targets, action_ids = graph.offsets, graph.targets, graph.action_ids
    inner: dict[int, list[Edge]] = {}
    enabled: dict[int, frozenset[int]] = {}
    for u in pending:
        lo, hi = offsets[u], offsets[u + 1]
        edges = [(a, v) for v, a in zip(targets[lo:hi], action_ids[lo:hi]) if v != u]
        inner[u] = [(a, v) for a, v in edges if not goal[v]]
        enabled[u] = frozenset(of_action[a] for a, _ in edges if of_action[a] >= 0)
    return inner, enabled


def _predecessors(pending: list[int], inner: dict[int, list[Edge]]) -> dict[int, list[int]]:
    preds: dict[int, list[int]] = {u: [] for u in pending}
    for u in pending:
        for _, v in inner[u]:
            preds[v].append(u)
    return preds


def _fair_components(
    pending: list[int],
    inner: dict[int, list[Edge]],
    preds: dict[int, list[int]],
    enabled: dict[int, frozenset[int]],
    fair: FairnessClasses,
) -> list[set[int]]:
    """The fair strongly connected components of the ``not goal`` subgraph.

    States on no cycle are single-state components, fair when no class is
    enabled in them; networkx splits only the rest, which keeps the DiGraph
    small for the mostly acyclic graphs of protocols that make progress.
    """
    core = _cyclic_core(pending, inner, preds)
    found = [{u} for u in pending if u not in core and not enabled[u]]
    subgraph = nx.DiGraph()
    subgraph.add_nodes_from(u for u in pending if u in core)
    subgraph.add_edges_from((u, v) for u in subgraph for _, v in inner[u] if v in core)
    work = [subgraph]
    while work:
        for comp in nx.strongly_connected_components(work.pop()):
            judged = _judge(comp, inner, enabled, fair)
            if judged is True:
                found.append(comp)
            elif judged:
                work.append(subgraph.subgraph(judged))
    return found


def _cyclic_core(pending: list[int], inner: dict[int, list[Edge]], preds: dict[int, list[int]]) -> set[int]:
    """The states that may lie on a cycle: states with no successor or no
    predecessor left are removed until none is."""
    out_degree = {u: len(inner[u]) for u in pending}
    in_degree = {u: len(preds[u]) for u in pending}
    core = set(pending)
    todo = [u for u in pending if not out_degree[u] or not in_degree[u]]
    while todo:
        u = todo.pop()
        if u not in core:
            continue
        core.discard(u)
        for _, v in inner[u]:
            in_degree[v] -= 1
            if v in core and not in_degree[v]:
                todo.append(v)
        for w in preds[u]:
            out_degree[w] -= 1
            if w in core and not out_degree[w]:
                todo.append(w)
    return core


def _judge(comp: set[int], inner: dict[int, list[Edge]], enabled: dict[int, frozenset[int]], fair: FairnessClasses) -> bool | set[int]:
    """True if ``comp`` is fair; else the states left to split again (maybe none)."""
    if len(comp) == 1:
        # One state: stuttering there is fair iff no class is enabled.
        return not enabled[next(iter(comp))]
    taken = {fair.of_action[act] for u in comp for act, v in inner[u] if v in comp}
    counts = Counter(c for u in comp for c in enabled[u])
    unmet = [c for c in counts if c not in taken]
    if any(not fair.strong[c] and counts[c] == len(comp) for c in unmet):
        return set()
    strong = [c for c in unmet if fair.strong[c]]
    if not strong:
        return True
    return {u for u in comp if enabled[u].isdisjoint(strong)}


def _first_reaching(trigger: Sequence[bool], preds: dict[int, list[int]], component_of: dict[int, set[int]]) -> int | None:
    """The least trigger state that reaches a fair component through ``not goal`` states."""
    reach = set(component_of)
    todo = list(reach)
    while todo:
        for u in preds[todo.pop()]:
            if u not in reach:
                reach.add(u)
                todo.append(u)
    return min((u for u in reach if trigger[u]), default=None)


def _path(source: int, inner: dict[int, list[Edge]], arrived: Callable[[int], bool], within: set[int] | None) -> list[Edge]:
    """A shortest path (edges) from ``source`` to a state where ``arrived`` holds.

    Breadth first through ``inner`` edges, staying in ``within`` if given;
    ties go to the model's action order.  Empty if ``source`` has arrived.
    """
    back: dict[int, tuple[int, int] | None] = {source: None}
    queue = deque([source])
    while queue:
        u = queue.popleft()
        if arrived(u):
            path = []
            while back[u] is not None:
                prev, act = back[u]
                path.append((act, u))
                u = prev
            path.reverse()
            return path
        for act, v in inner[u]:
            if v not in back and (within is None or v in within):
                back[v] = (u, act)
                queue.append(v)
    raise AssertionError("no path to a state that was computed to be reachable")


def _fair_cycle(entry: int, comp: set[int], inner: dict[int, list[Edge]], enabled: dict[int, frozenset[int]], fair: FairnessClasses) -> list[Edge]:
    """A cycle from ``entry`` back to it inside ``comp`` that is fair, or [] to stutter.

    For each class enabled somewhere in ``comp`` (in class order) it goes,
    unless the cycle so far already does, to the nearest state where a weak
    class is disabled or an edge of the class starts, and takes that edge.
    A strong class always needs its edge.  Then it returns to ``entry``.
    """
    if not enabled[entry]:
        return []
    of_action = fair.of_action
    edges: list[Edge] = []
    visited = {entry}
    taken: set[int] = set()
    here = entry
    needed = sorted({c for u in comp for c in enabled[u]})
    for c in needed:
        weak = not fair.strong[c]
        if c in taken or (weak and any(c not in enabled[u] for u in visited)):
            continue

        def arrived(u: int, c: int = c, weak: bool = weak) -> bool:
            return (weak and c not in enabled[u]) or any(of_action[a] == c and v in comp for a, v in inner[u])

        leg = _path(here, inner, arrived, within=comp)
        here = leg[-1][1] if leg else here
        if not weak or c in enabled[here]:
            leg.append(next((a, v) for a, v in inner[here] if of_action[a] == c and v in comp))
            here = leg[-1][1]
        for act, v in leg:
            visited.add(v)
            if of_action[act] >= 0:
                taken.add(of_action[act])
        edges += leg
    if here != entry:
        edges += _path(here, inner, lambda u: u == entry, within=comp)
    return edges


def check_leads_to(
    model: Model,
    graph: StateGraph,
    fair: FairnessClasses,
    prop: Property,
    fingerprints: Sequence[int],
    parents: Sequence[int],
) -> tuple[Trace | None, bool]:
    """The lasso counterexample to a leads-to property (or None), and whether its trigger ever held.

    ``eventually(q)`` is ``leads_to`` whose trigger is "is an initial state".
    The stem from an initial state to the trigger state is the shortest one,
    rebuilt from the search's parent links.
    """
    goal = _evaluate(model, prop, prop.pred, graph.states)
    if prop.trigger is None:
        trigger = [parents[u] < 0 for u in range(len(graph))]
    else:
        trigger = _evaluate(model, prop, prop.trigger, graph.states)
    with _collector_paused():
        lasso = find_lasso(graph, fair, trigger, goal)
    if lasso is None:
        return None, any(trigger)
    steps = shortest_trace(model, fingerprints, parents, lasso.start)
    steps += [Step(graph.actions[act], graph.states[v]) for act, v in lasso.stem]
    loop = len(steps) - 1
    if not lasso.cycle:
        return Trace(tuple(steps), loop=loop, stutter=True), True
    steps += [Step(graph.actions[act], graph.states[v]) for act, v in lasso.cycle[:-1]]
    return Trace(tuple(steps), loop=loop, loop_action=graph.actions[lasso.cycle[-1][0]]), True


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector.

    The analysis builds millions of long-lived tuples, lists and sets and no
    reference cycles; the collector would walk them over and over (measured:
    twice the time on 300,000 states).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _evaluate(model: Model, prop: Property, pred: Callable[[object], bool], states: Sequence[object]) -> list[bool]:
    values = []
    for state in states:
        try:
            values.append(bool(pred(state)))
        except Exception as exc:
            raise ModelDefinitionError(
                f"property {prop.name!r} raised {type(exc).__name__}: {exc} on state "
                f"{model.format_state(state)}; a predicate must return a bool for every reachable state"
            ) from exc
    return values
