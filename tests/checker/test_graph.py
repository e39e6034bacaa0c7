"""The state graph kept by the search and its networkx view."""

from __future__ import annotations

from blockcheck.checker.graph import StateGraph, build_graph
from blockcheck.checker.search import explore
from examples.clock import Clock
from examples.two_phase import TwoPhase


def test_graph_holds_every_state_and_edge_of_two_phase():
    model = TwoPhase(3)
    result = explore(model, [], keep_graph=True)
    graph = result.graph
    assert len(graph) == 288
    assert graph.edge_count == result.stats.generated == 1145
    for src, dst, action in graph.edges():
        assert (action, graph.states[dst]) in model.successors(graph.states[src])
    assert graph.states[0] == model.init_states()[0]


def test_ids_are_bfs_order():
    graph = explore(Clock(), [], keep_graph=True).graph
    assert graph.states[:3] == [(0, 0), (1, 0), (2, 0)]
    depths = {0: 0}
    for src, dst, _ in graph.edges():
        depths.setdefault(dst, depths[src] + 1)
    assert list(depths.values()) == sorted(depths.values())


def test_to_networkx_keeps_states_and_parallel_actions():
    graph = StateGraph(["s", "t"], offsets=[0, 3, 3], targets=[1, 1, 0], action_ids=[0, 1, 0], actions=["a", "b"])
    nxg = graph.to_networkx()
    assert nxg.nodes[0]["state"] == "s"
    assert nxg.edges[0, 1]["action"] == "a"
    assert nxg.edges[0, 1]["actions"] == ["a", "b"]
    assert nxg.number_of_edges() == 2
    assert list(graph.out_edges(1)) == []


def test_graph_is_not_kept_by_default():
    assert explore(Clock(), []).graph is None


def test_edges_beyond_max_depth_are_dropped():
    result = explore(Clock(), [], keep_graph=True, max_depth=2)
    graph = result.graph
    assert len(graph) == 3
    assert list(graph.edges()) == [(0, 1, ("tick",)), (1, 2, ("tick",))]


def test_build_graph_translates_fingerprints():
    graph = build_graph(["x", "y"], [hash("x"), hash("y")], offsets=[0], target_fps=[hash("y"), hash("x")],
                        action_ids=[0, 0], actions=["go"])
    assert list(graph.edges()) == [(0, 1, "go"), (0, 0, "go")]
