"""block-commit below the active layer in the qemu-7.2 profile, without QEMU.

Every expected answer, event and graph is one FACTS.md §12 records or one
qemu-storage-daemon gave (the test names the section); ``tests/conformance``
replays commits on QEMU itself, and ``blockcheck conform`` draws them.

Scenario: A <- B <- C <- D <- E with 2 chunks; A holds both chunks (value 1),
B chunk 0 (2), C chunk 1 (3), D chunk 0 (4), E chunk 1 (5).  So commit
E top D base B copies D's chunk 0 at its start and C's chunk 1 at its first
job-copy step, which ends its run.
"""

from __future__ import annotations

from typing import Any

import pytest

from blockcheck.checker.search import explore
from blockcheck.model import answers as A
from blockcheck.model.profiles import make_model
from blockcheck.model.qemu72 import CHUNK_BYTES, J_NODES, Kind, Qemu72Rules
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario
from blockcheck.model.state import BACKING, BLOCKERS, DATA, HEADERS, J_KIND, J_STATUS, JOBS, find_job, view
from blockcheck.properties.qemu72 import qemu72_properties
from tests.model.test_qemu72_forms import OK, call, err, run, status

A_, B, C, D, E = range(5)
LEN = 2 * CHUNK_BYTES
WITH_COMMIT = (*DEFAULT_COMMANDS, "block-commit")


@pytest.fixture(scope="module")
def model() -> Qemu72Model:
    return make_model(Scenario(profile="qemu-7.2", commands=WITH_COMMIT))


def commit(top_node: str | None, base_node: str | None, job: str | None = None, **extra: Any) -> dict:
    args = {"job-id": job if job is not None else f"commit-{top_node}", "device": "E", **extra}
    if top_node:
        args["top-node"] = top_node
    if base_node:
        args["base-node"] = base_node
    return call("block-commit", **args)


def manual(top: str, base: str, **extra: Any) -> dict:
    return commit(top, base, **{"auto-finalize": False, "auto-dismiss": False, **extra})


def block_event(name: str, job: str, offset: int) -> dict:
    return {"event": name, "data": {"device": job, "len": LEN, "offset": offset, "type": "commit"}}


COPY = {"step": "job-copy", "job": "commit-D"}


def deletes(*nodes: str) -> list[dict]:
    """blockdev-del of each node, in order."""
    return [call("blockdev-del", **{"node-name": node}) for node in nodes]


def busy(node: str, job_type: str = "commit") -> dict:
    return err(f"Node '{node}' is busy: block device is in use by block job: {job_type}")


def test_a_commit_runs_holds_its_nodes_and_finalizes_onto_its_base(model):
    """FACTS §12.1: events, progress, held nodes, the filter, the graph, data and headers."""
    answers, events, state = run(model, manual("D", "B"), COPY)
    assert answers == [OK, OK]
    assert events[0] == status("commit-D", "created", "running")
    assert events[1] == [*status("commit-D", "waiting", "pending"),
                         {"event": "BLOCK_JOB_PENDING", "data": {"type": "commit", "id": "commit-D"}}]
    # held: the device, the top and the nodes down to the base, and the base; the filter is not
    assert [bool(b) for b in state[BLOCKERS]] == [False, True, True, True, True]
    assert model.rules.graph(state) == {"E": "filter:commit-D", "filter:commit-D": "D", "D": "C", "C": "B",
                                        "B": "A", "A": None}
    assert state[DATA][B] == (4, 3)  # D's chunk 0, C's chunk 1: the upper layer wins
    job = state[JOBS][0]
    assert job[J_KIND] == Kind.COMMIT and job[J_STATUS] == 7  # pending
    [info] = model.rules.query_block_jobs(state)
    assert (info["type"], info["len"], info["offset"], info["status"]) == ("commit", LEN, LEN, "pending")
    before = view(state[BACKING], state[DATA], E)
    answers, events, after = run(model, manual("D", "B"), COPY, call("block-job-finalize", id="commit-D"))
    assert answers[-1] == OK
    assert events[-1] == [block_event("BLOCK_JOB_COMPLETED", "commit-D", LEN), *status("commit-D", "concluded")]
    # E backs onto B; D and C are cut out with their own links; no filter is left
    assert model.rules.graph(after) == {"E": "B", "D": "C", "C": "B", "B": "A", "A": None}
    assert after[HEADERS][E] == B and after[HEADERS][D] == C
    assert view(after[BACKING], after[DATA], E) == before
    # a finalized commit holds its nodes until dismissed
    answers, _, _ = run(model, manual("D", "B"), COPY, call("block-job-finalize", id="commit-D"),
                        call("blockdev-del", **{"node-name": "C"}), call("block-job-dismiss", id="commit-D"),
                        call("blockdev-del", **{"node-name": "D"}), call("blockdev-del", **{"node-name": "C"}))
    assert answers[3:] == [busy("C"), OK, OK, OK]


def test_refusals_while_a_commit_runs(model):
    """FACTS §12.3, non-active commit E top D base B."""
    lines = [
        call("block-stream", **{"job-id": "s", "device": "E"}),
        call("block-stream", **{"job-id": "s", "device": "D"}),
        call("block-stream", **{"job-id": "s", "device": "C"}),
        call("block-stream", **{"job-id": "s", "device": "B"}),
        call("block-stream", **{"job-id": "s", "device": "@filter:commit-D"}),
        call("block-commit", **{"job-id": "c2", "device": "E"}),
        *deletes("E", "D", "C", "B", "A", "@filter:commit-D"),
        call("block_resize", **{"node-name": "A", "size": 0}),
        call("blockdev-snapshot-sync", **{"node-name": "B", "snapshot-file": "x", "format": "qcow2"}),
        call("blockdev-snapshot-sync", **{"node-name": "@filter:commit-D", "snapshot-file": "x", "format": "qcow2"}),
        call("change-backing-file", device="E", **{"image-node-name": "C", "backing-file": "A.qcow2"}),
    ]
    answers, events, _ = run(model, manual("D", "B"), *lines)
    assert answers[1:] == [
        busy("E"), busy("D"), busy("C"), busy("B"),
        busy("D"),  # the filter is free, D is not
        err("Need a root block node"),
        busy("E"), err("Node D is in use"), busy("C"), err("Node B is in use"),
        err("Node 'A' is busy: node is used as backing hd of 'B'"),
        err("Node '#blockN' is busy: node is used as backing hd of 'E'"),
        err("Device '(null)' is in use"),
        busy("B"),
        err("Node '#blockN' is busy: node is used as backing hd of 'E'"),
        err("Need a root block node"),
    ]
    assert all(e == [] for e in events[1:])


def test_cancel_lets_go_of_every_node_at_once_and_keeps_the_copied_chunks(model):
    """FACTS §12.1 Cancel: CANCELLED with the chunks so far, no node held, the chain whole."""
    answers, events, state = run(model, manual("D", "B"), call("block-job-cancel", device="commit-D"),
                                 call("blockdev-del", **{"node-name": "D"}))
    assert answers == [OK, OK, err("Node 'D' is busy: node is used as backing hd of 'E'")]
    assert events[1] == [*status("commit-D", "aborting"),
                         block_event("BLOCK_JOB_CANCELLED", "commit-D", CHUNK_BYTES), *status("commit-D", "concluded")]
    assert state[BLOCKERS] == (0,) * 5
    assert model.rules.graph(state) == {"E": "D", "D": "C", "C": "B", "B": "A", "A": None}
    assert state[DATA][B] == (4, 0)  # the chunk copied before the cancel stays
    [info] = model.rules.query_block_jobs(state)
    assert info["error"] == "Operation canceled" and info["status"] == "concluded"
    # its ID stays taken until it is dismissed
    answers, _, _ = run(model, manual("D", "B"), call("block-job-cancel", device="commit-D"), manual("D", "B"))
    assert answers[2] == err("Job ID 'commit-D' already in use")


@pytest.mark.parametrize("line, answer, events", [
    (call("block-commit", device="nope", **{"job-id": "c", "top-node": "nope", "base-node": "nope"}),
     err("Device 'nope' not found", "DeviceNotFound"), []),
    (call("block-commit", device="D", **{"job-id": "c"}), err("Need a root block node"), []),
    (call("block-commit", device="E", top="D.qcow2", **{"job-id": "c", "top-node": "D"}),
     err("'top-node' and 'top' are mutually exclusive"), []),
    (call("block-commit", device="E", **{"job-id": "c", "top-node": "nope", "base": "x", "base-node": "B"}),
     err("Cannot find device='' nor node-name='nope'"), []),
    (call("block-commit", device="E", top="D.qcow2", **{"job-id": "c"}), err("Top image file D.qcow2 not found"), []),
    (commit("D", "B", job="c", base="B.qcow2"), err("'base-node' and 'base' are mutually exclusive"), []),
    (commit("D", "E", job="c"), err("'E' is not in this backing file chain"), []),
    (commit("D", None, job="c", base="B.qcow2"), err("Can't find 'B.qcow2' in the backing chain"), []),
    (commit("D", "D", job="c"), err("cannot commit an image into itself"), []),
    (commit(None, "E", job="c"), err("cannot commit an image into itself"), []),
    (commit("A", None, job="c"), err("cannot commit an image into itself"), []),
    (commit(None, "C", job="", speed=-1, **{"backing-file": "x"}),
     err("'backing-file' specified, but 'top' is the active layer"), []),
    (commit("D", "B", job=""), err("Invalid job ID ''"), []),
    (commit("D", "B", job="#x"), err("Invalid job ID '#x'"), []),
    (commit("D", "B", job="c", speed=-1), err("Parameter 'speed' expects a non-negative value"),
     status("c", "created", "null")),
    (commit("D", "B", job="c", **{"filter-node-name": "C"}), err("Duplicate nodes with node-name='C'"),
     status("c", "created", "null")),
    (commit(None, "C", job="c", **{"filter-node-name": "C"}), err("Duplicate nodes with node-name='C'"), []),
    (commit("D", "B", job="c", **{"filter-node-name": "#x"}), err("Invalid node-name: '#x'"),
     status("c", "created", "null")),
    (commit("D", "B", job="c", **{"filter-node-name": "f" * 32}), err("Node name too long"),
     status("c", "created", "null")),
])
def test_start_errors_in_qemus_order(model, line, answer, events):
    """FACTS §12.4: every start error, and the earlier of each pair of faults."""
    answers, got, _ = run(model, line)
    assert (answers[0], got[0]) == (answer, events)


def test_what_the_model_does_not_run_is_a_model_limit(model):
    """The active commit while the guest may still write (its device moves
    at the pivot), and the model's own names."""
    for line in (commit(None, "C"), commit("D", "B", job="c"), commit("D", "B", **{"backing-file": "B.qcow2"}),
                 commit("D", "B", **{"filter-node-name": "f"})):
        answers, _, _ = run(model, line)
        assert answers[0]["error"]["class"] == A.MODEL_LIMIT, line


def test_the_node_changes_left_out_answer_model_limit_by_name(model):
    """FACTS §12.5, §12.6: an overlay added above the active layer (by
    blockdev-add or blockdev-snapshot) and the deletion of the active layer
    are not modelled (the model keeps its active layer); each says so."""
    answers, _, _ = run(model, call("blockdev-add", driver="qcow2", **{"node-name": "F", "backing": "E", "file": "f"}),
                        call("blockdev-snapshot", node="E", overlay="F"), call("blockdev-del", **{"node-name": "E"}))
    assert [a["error"]["class"] for a in answers] == [A.MODEL_LIMIT] * 3
    assert [a["error"]["desc"] for a in answers] == [
        "the command blockdev-add is not modelled in the qemu-7.2 profile",
        "blockdev-snapshot when no job holds the node is not modelled in the qemu-7.2 profile",
        "blockdev-del of the active layer is not modelled in the qemu-7.2 profile"]


def test_a_stream_to_the_commits_top_cannot_freeze_the_link_into_its_filter(model):
    """FACTS §12.7: stream D base-node C while commit E top C runs."""
    answers, _, _ = run(model, manual("C", "B"), call("block-stream", **{"job-id": "stream-D", "device": "D",
                                                                        "base-node": "C"}))
    assert answers[1] == err("Cannot freeze 'backing' link to '#blockN'")


def test_a_bottom_stream_above_a_commit_follows_the_commits_finalize(model):
    """FACTS §12.7: stream D bottom D during commit E top C base B is
    accepted (it freezes no link); the commit's finalize moves D onto B,
    and the stream's finalize leaves D there, its header naming B."""
    stream = call("block-stream", **{"job-id": "stream-D", "device": "D", "bottom": "D",
                                     "auto-finalize": False, "auto-dismiss": False})
    # commit-C copies C's only chunk as it starts, which ends its run
    answers, _, state = run(model, manual("C", "B"), stream, call("block-job-finalize", id="commit-C"),
                            call("blockdev-del", **{"node-name": "B"}), call("blockdev-del", **{"node-name": "C"}),
                            call("block-job-finalize", id="stream-D"))
    # B's newest blocker is D's backing blocker, set when the finalize re-attached D
    assert answers == [OK, OK, OK, err("Node 'B' is busy: node is used as backing hd of 'D'"), busy("C"), OK]
    assert model.rules.graph(state) == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None, "filter:stream-D": None}
    assert state[HEADERS][D] == B


def test_every_property_holds_with_commits_and_each_commit_witness_is_reached():
    """The chain of 4 with commits: every property holds; the commit liveness
    claims are not vacuous.  The count is pinned: a change of the rules that
    changes it must say why.  22,108 before active commits; 41,751 with them
    (commit-D, once the guest's write is spent: its runs, READY, STANDBY,
    complete and the two cancels; a forced cancel forgets a complete sent
    in STANDBY, which QEMU shows nowhere)."""
    model = make_model(Scenario(profile="qemu-7.2", chain_length=4, commands=WITH_COMMIT))
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert result.exit_code == 0
    assert result.stats.distinct == 41751
    names = {p.name for p in result.properties}
    assert {"jobs-end:commit-B", "jobs-end:commit-C", "jobs-end:commit-D", "cancel-runs-complete.live:commit-C"} <= names
    assert all(p.witness_reached for p in result.properties)


class CommitKeepsBlockersOnCancel(Qemu72Rules):
    """A cancelled commit keeps its op blockers until dismissed, as a stream does."""

    def _unblock(self, state: tuple, job: tuple) -> tuple:
        if job[J_KIND] == Kind.COMMIT and find_job(state[JOBS], job[0]) is not None and job[J_STATUS] != 9:
            return state
        return super()._unblock(state, job)


class CommitMovesOnlyTheChainOverlay(Qemu72Rules):
    """A commit's finalize re-points the top's overlay in the chain, not every parent of the top."""

    def _complete(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        if job[J_KIND] != Kind.COMMIT:
            return super()._complete(state, job, events)
        overlay = self.overlay(state[BACKING], job[2])
        others = {p: b for p, b in enumerate(state[BACKING]) if b == job[2] and p != overlay}
        after = super()._complete(state, job, events)
        return (tuple(others.get(i, b) for i, b in enumerate(after[BACKING])),) + after[1:]


class CommitCopiesOnlyTheTop(Qemu72Rules):
    """A commit copies only what its top holds, not what lies between the top and the base."""

    def needs_copy(self, state: tuple, job: tuple, chunk: int) -> int:
        if job[J_KIND] == Kind.COMMIT:
            return state[DATA][job[2]][chunk]
        return super().needs_copy(state, job, chunk)


class CommitLeavesItsBaseFree(Qemu72Rules):
    """A commit does not hold its base."""

    def _start(self, state: tuple, job: tuple, blocked: list[int]) -> tuple:
        if job[J_KIND] == Kind.COMMIT:
            blocked = blocked[:-1]
        return super()._start(state, job, blocked)


class CommitFreezesNothing(Qemu72Rules):
    """A stream may freeze the link into a commit's filter."""

    def freeze_refusal(self, state: tuple, walk: list[str], bottom: int) -> A.Answer | None:
        return None


class CommitRecordsNoTop(Qemu72Rules):
    """A commit records the nodes below its top but not the top itself."""

    def _start(self, state: tuple, job: tuple, blocked: list[int]) -> tuple:
        if job[J_KIND] == Kind.COMMIT:
            job = job[:J_NODES] + (job[J_NODES] & ~(1 << job[2]),) + job[J_NODES + 1 :]
        return super()._start(state, job, blocked)


@pytest.mark.parametrize("rules, scenario, caught_by", [
    (CommitKeepsBlockersOnCancel, {"chain_length": 3}, "no-leaked-blockers"),
    (CommitMovesOnlyTheChainOverlay, {"chain_length": 4, "guest_writes": 0}, "chain-integrity"),
    # three chunks, so that the overlay of the top (the active layer) masks
    # neither the chunk the top holds nor the one below it
    (CommitCopiesOnlyTheTop, {"chain_length": 4, "chunks": 3, "max_jobs": 1, "guest_writes": 0}, "guest-view-unchanged"),
    (CommitLeavesItsBaseFree, {"chain_length": 3}, "blockers-checked-everywhere"),
    (CommitFreezesNothing, {"chain_length": 4, "guest_writes": 0}, "isolation"),
    (CommitRecordsNoTop, {"chain_length": 3}, "isolation.recorded-nodes"),
])
def test_a_fault_in_the_commit_rules_is_caught(rules, scenario, caught_by):
    """Each commit branch of the properties fails on a model that breaks it."""
    settings = {"chunks": 2, "qmp_forms": ("auto-finalize", "auto-dismiss", "bottom"), **scenario}
    scenario = Scenario(profile="qemu-7.2", commands=WITH_COMMIT, **settings)
    model = make_model(scenario)
    model.rules = rules(scenario)
    model._executor = Executor72(model.rules)
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert caught_by in {p.name for p in result.violations}


def test_names_after_a_cancel_a_filter_and_a_deletion(model):
    """Three answers a review checked on qemu-storage-daemon 7.2: a cancelled
    commit re-attached nothing, so a later job's blocker on its base is the
    newest; a filter named as top-node is printed by its name; a deleted
    node's name is free for a filter."""
    answers, _, _ = run(model, manual("D", "B"), call("job-cancel", id="commit-D"),
                        call("block-stream", **{"job-id": "stream-C", "device": "C", "base-node": "A"}),
                        call("blockdev-del", **{"node-name": "B"}))
    assert answers[1:] == [OK, OK, busy("B", "stream")]
    stream = call("block-stream", **{"job-id": "stream-D", "device": "D", "base-node": "B",
                                     "auto-finalize": False, "auto-dismiss": False})
    answers, _, _ = run(model, stream, call("job-cancel", id="stream-D"),
                        call("block-commit", device="E", **{"job-id": "c", "top-node": "@filter:stream-D"}))
    assert answers[2] == err("'#blockN' is not in this backing file chain")
    answers, _, _ = run(model, commit("D", "C"), {"step": "job-copy", "job": "commit-D"},
                        call("blockdev-del", **{"node-name": "D"}), commit("B", "A", **{"filter-node-name": "D"}))
    assert answers[:3] == [OK, OK, OK]
    assert answers[3]["error"]["class"] == A.MODEL_LIMIT  # not a duplicate: only the model's own name is modelled
