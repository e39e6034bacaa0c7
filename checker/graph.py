"""The explored state graph, stored compactly and handed to networkx on demand.

The search records edges as it expands states, in compressed sparse row
form: one offset per expanded state into flat arrays of target ids and
action numbers.  Arrays of machine ints cost 12 bytes an edge, where a
networkx DiGraph grown during the search costs kilobytes a state and ten
times the time, so the DiGraph is built only when asked for, from these
arrays.

State ids are BFS order: the initial states first, in the model's order,
then each state's new successors in the model's action order.

>>> g = StateGraph(["a", "b"], offsets=[0, 2, 3], targets=[1, 0, 0], action_ids=[0, 1, 0], actions=["go", "stay"])
>>> list(g.edges())
[(0, 1, 'go'), (0, 0, 'stay'), (1, 0, 'go')]
>>> sorted(g.to_networkx().edges(data="action"))
[(0, 0, 'stay'), (0, 1, 'go'), (1, 0, 'go')]
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

import networkx as nx


class StateGraph:
    """States by id and their out-edges (target id, action).

    ``offsets`` has one entry more than there are states: the out-edges of
    state ``i`` are the positions ``offsets[i]`` to ``offsets[i + 1]`` of
    ``targets`` (target ids) and ``action_ids`` (indexes into ``actions``),
    in the model's action order.  Edges that go back to the same state are
    kept.  A state the search did not expand (a bound was hit) has no
    out-edges.
    """

    def __init__(
        self,
        states: Sequence[Any],
        offsets: Sequence[int],
        targets: Sequence[int],
        action_ids: Sequence[int],
        actions: Sequence[Any],
    ) -> None:
        if len(offsets) != len(states) + 1:
            raise ValueError(f"{len(states)} states need {len(states) + 1} offsets, not {len(offsets)}")
        self.states = states
        self.offsets = offsets
        self.targets = targets
        self.action_ids = action_ids
        self.actions = actions

    def __len__(self) -> int:
        return len(self.states)

    @property
    def edge_count(self) -> int:
        return len(self.targets)

    def out_edges(self, ident: int) -> Iterator[tuple[int, int]]:
        """Pairs (target id, action number) leaving state ``ident``."""
        lo, hi = self.offsets[ident], self.offsets[ident + 1]
        return zip(self.targets[lo:hi], self.action_ids[lo:hi])

    def edges(self) -> Iterator[tuple[int, int, Any]]:
        """Every edge as (source id, target id, action), sources in id order."""
        actions = self.actions
        for src in range(len(self.states)):
            for dst, act in self.out_edges(src):
                yield src, dst, actions[act]

    def to_networkx(self) -> nx.DiGraph:
        """The graph as an ``nx.DiGraph``.

        Nodes are state ids with the attribute ``state``.  Each edge has
        ``action``, the first action (in the model's order) that leads from
        its source to its target, and ``actions``, the list of all of them:
        a DiGraph holds one edge per ordered pair, and two actions with the
        same effect are common (a message received twice, a no-op retry).
        """
        graph = nx.DiGraph()
        graph.add_nodes_from((i, {"state": s}) for i, s in enumerate(self.states))
        for src, dst, action in self.edges():
            data = graph.get_edge_data(src, dst)
            if data is None:
                graph.add_edge(src, dst, action=action, actions=[action])
            else:
                data["actions"].append(action)
        return graph


def build_graph(
    states: list[Any],
    fingerprints: Sequence[int],
    offsets: array,
    target_fps: array,
    action_ids: array,
    actions: list[Any],
) -> StateGraph:
    """Turn what the search recorded (targets as fingerprints) into a StateGraph.

    The search stores fingerprints because the id of a target it has seen
    before would cost a dict lookup per edge; the translation happens here
    once, in C loops.  States the search never expanded get no out-edges,
    and edges to states it never added (beyond max_depth) are dropped.
    """
    ids = {fp: i for i, fp in enumerate(fingerprints)}
    offsets = array("q", offsets)
    offsets.extend([len(target_fps)] * (len(states) + 1 - len(offsets)))
    targets = array("q", map(ids.get, target_fps, repeat(-1)))
    if -1 in targets:
        offsets, targets, action_ids = _drop_missing(offsets, targets, action_ids)
    return StateGraph(states, offsets, targets, action_ids, actions)


def _drop_missing(offsets: array, targets: array, action_ids: array) -> tuple[array, array, array]:
    """The same edges without those whose target is -1 (not in the graph)."""
    new_offsets, new_targets, new_actions = array("q", [0]), array("q"), array("i")
    for i in range(len(offsets) - 1):
        for k in range(offsets[i], offsets[i + 1]):
            if targets[k] >= 0:
                new_targets.append(targets[k])
                new_actions.append(action_ids[k])
        new_offsets.append(len(new_targets))
    return new_offsets, new_targets, new_actions
