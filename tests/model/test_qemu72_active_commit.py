"""The active commit (block-commit of the active layer) in the qemu-7.2 profile, without QEMU.

Every expected answer, event and graph is one FACTS.md §12.2-§12.4 records
(the test names the section); ``tests/conformance/test_qemu_facts_commit.py``
asserts them on qemu-storage-daemon, and ``blockcheck conform`` draws
active commits once the walk's guest writes are spent.

Scenario: A <- B <- C <- D <- E with 3 chunks and no guest writes; A holds
every chunk (value 1), B chunk 0 (2), C chunk 1 (3), D chunk 2 (4), E chunk
0 (5).  So the active commit E <- base C has two runs of chunks to copy
(chunk 0 from E, chunk 2 from D): the first as it starts, the second at
its first job-copy step; the step after that makes it READY.
"""

from __future__ import annotations

from typing import Any

import pytest

from blockcheck.checker.search import explore
from blockcheck.model import answers as A
from blockcheck.model.profiles import make_model
from blockcheck.model.qemu72 import CHUNK_BYTES, Qemu72Rules, JobStatus
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario
from blockcheck.model.state import BACKING, BLOCKERS, DATA, HEADERS, JOBS, J_STATUS, view
from blockcheck.properties.qemu72 import qemu72_properties
from tests.model.test_qemu72_commit import deletes
from tests.model.test_qemu72_forms import OK, call, err, run, status

A_, B, C, D, E = range(5)
WITH_COMMIT = (*DEFAULT_COMMANDS, "block-commit")
#: E <- base C: chunks 0 and 2, two runs.
LEN = 2 * CHUNK_BYTES
JOB = "commit-E"
COPY = {"step": "job-copy", "job": JOB}
FILTER = "@filter:commit-E"


@pytest.fixture(scope="module")
def model() -> Qemu72Model:
    return make_model(Scenario(profile="qemu-7.2", commands=WITH_COMMIT, chunks=3, guest_writes=0))


def active(base: str = "C", **extra: Any) -> dict:
    return call("block-commit", **{"job-id": JOB, "device": "E", "base-node": base, **extra})


def manual(base: str = "C") -> dict:
    return active(base, **{"auto-finalize": False, "auto-dismiss": False})


def block_event(name: str, offset: int = LEN, length: int = LEN) -> dict:
    return {"event": name, "data": {"device": JOB, "len": length, "offset": offset, "type": "commit"}}


def busy(node: str, job_type: str = "commit") -> dict:
    return err(f"Node '{node}' is busy: block device is in use by block job: {job_type}")


def hd(node: str, parent: str) -> dict:
    return err(f"Node '{node}' is busy: node is used as backing hd of '{parent}'")


def info(model: Qemu72Model, state: tuple) -> tuple:
    [job] = model.rules.query_block_jobs(state)
    return job["status"], job["len"], job["offset"], job["paused"], job["ready"]


def test_an_active_commit_copies_run_by_run_then_waits_in_ready(model):
    """FACTS §12.2: one run of adjacent chunks as it starts and per kick,
    READY at the kick after the last run; ``len`` counts the chunks above
    the base; the filter sits above E; E, D and C are held."""
    initial = model.init_states()[0]
    answers, events, state = run(model, active(), COPY, COPY)
    assert answers == [OK, OK, OK]
    assert events == [status(JOB, "created", "running"), [],
                      [*status(JOB, "ready"), block_event("BLOCK_JOB_READY")]]
    _, _, first = run(model, active())
    assert info(model, first) == ("running", LEN, CHUNK_BYTES, False, False)
    assert first[DATA][C] == (5, 3, 0)
    assert info(model, state) == ("ready", LEN, LEN, False, True)
    assert state[DATA][C] == (5, 3, 4)
    assert model.rules.graph(state) == {"filter:commit-E": "E", "E": "D", "D": "C", "C": "B", "B": "A", "A": None}
    assert [bool(b) for b in state[BLOCKERS]] == [False, False, True, True, True]
    # E reads as before; the base and D, through it, read E's and D's chunks
    assert view(state[BACKING], state[DATA], E) == view(initial[BACKING], initial[DATA], E)
    assert view(state[BACKING], state[DATA], C) == (5, 3, 4)
    # in READY the job copies no more and waits for the user
    assert run(model, active(), COPY, COPY, COPY)[0][3]["error"]["class"] == A.MODEL_LIMIT


def test_one_run_when_the_chunks_are_adjacent(model):
    """E <- base B: C's, D's and E's chunks are adjacent, so the start copies
    them all (FACTS §12.2: E <- A, 4 chunks at once)."""
    _, _, state = run(model, active("B"))
    assert info(model, state) == ("running", 3 * CHUNK_BYTES, 3 * CHUNK_BYTES, False, False)
    assert state[DATA][B] == (5, 3, 4)


COMPLETED = [*status(JOB, "waiting", "pending"), block_event("BLOCK_JOB_COMPLETED"), *status(JOB, "concluded", "null")]
CANCELLED = [*status(JOB, "aborting"), block_event("BLOCK_JOB_CANCELLED"), *status(JOB, "concluded", "null")]


@pytest.mark.parametrize("line, events", [
    (call("block-job-complete", device=JOB), COMPLETED),
    (call("job-complete", id=JOB), COMPLETED),
    (call("block-job-cancel", device=JOB), COMPLETED),  # a mirror completes without the pivot
    (call("block-job-cancel", device=JOB, force=True), CANCELLED),
    (call("job-cancel", id=JOB), CANCELLED),
])
def test_every_outcome_in_ready_leaves_the_chain_as_it_was(model, line, events):
    """FACTS §12.2 Outcomes: the events; the graph is the chain as before,
    no header changes, every node is free, and the base keeps the chunks."""
    initial = model.init_states()[0]
    answers, got, state = run(model, active(), COPY, COPY, line)
    assert answers[-1] == OK and got[-1] == events
    assert state[JOBS] == () and state[BLOCKERS] == (0,) * 5
    assert state[BACKING] == initial[BACKING] and state[HEADERS] == initial[HEADERS]
    assert state[DATA][C] == (5, 3, 4)


def test_a_cancel_before_ready_aborts_and_keeps_what_was_copied(model):
    """FACTS §12.2: block-job-cancel before READY: aborting, CANCELLED with
    the offset so far, concluded, null; chunk 0 stays in C."""
    answers, events, state = run(model, active(), call("block-job-cancel", device=JOB))
    assert answers[-1] == OK
    assert events[-1] == [*status(JOB, "aborting"), block_event("BLOCK_JOB_CANCELLED", CHUNK_BYTES),
                          *status(JOB, "concluded", "null")]
    assert state[JOBS] == () and state[DATA][C] == (5, 3, 0)


def test_verbs_in_ready_and_standby(model):
    """FACTS §12.2 Verbs in READY: pause gives STANDBY (paused and ready),
    a cancel without force is refused there, job-complete is answered with
    no event and completes on resume; with auto-finalize false the pivot
    waits for finalize, and the CONCLUDED job holds no node."""
    verb = lambda v, s: err(f"Job '{JOB}' in state '{s}' cannot accept command verb '{v}'")  # noqa: E731
    answers, events, state = run(
        model, manual(), call("block-job-complete", device=JOB), COPY, COPY,
        call("block-job-resume", device=JOB), call("block-job-finalize", id=JOB),
        call("block-job-dismiss", id=JOB), call("block-job-set-speed", device=JOB, speed=10),
        call("block-job-pause", device=JOB))
    assert answers == [OK, verb("complete", "running"), OK, OK, err("Can't resume a job that was not paused"),
                       verb("finalize", "ready"), verb("dismiss", "ready"), OK, OK]
    assert events[-1] == status(JOB, "standby")
    assert info(model, state) == ("standby", LEN, LEN, True, True)
    answers, events, state = run(
        model, manual(), COPY, COPY, call("block-job-pause", device=JOB),
        call("block-job-pause", device=JOB), call("block-job-cancel", device=JOB), call("job-complete", id=JOB),
        call("block-job-resume", device=JOB))
    assert answers[4:] == [err("Job is already paused"), err(f"The block job for device '{JOB}' is currently paused"),
                           OK, OK]
    assert events[6] == []
    assert events[7] == [*status(JOB, "ready", "waiting", "pending"),
                         {"event": "BLOCK_JOB_PENDING", "data": {"type": "commit", "id": JOB}}]
    assert [bool(b) for b in state[BLOCKERS]] == [False, False, True, True, True]  # held in PENDING
    answers, events, state = run(
        model, manual(), COPY, COPY, call("job-complete", id=JOB), call("block-job-finalize", id=JOB),
        call("blockdev-del", **{"node-name": "D"}))
    assert events[4] == [block_event("BLOCK_JOB_COMPLETED"), *status(JOB, "concluded")]
    assert answers[5] == hd("D", "E")
    assert state[BLOCKERS] == (0,) * 5 and state[JOBS][0][J_STATUS] == JobStatus.CONCLUDED


@pytest.mark.parametrize("cancel", [call("job-cancel", id=JOB), call("block-job-cancel", device=JOB, force=True)])
def test_a_forced_cancel_in_standby_resumes_then_aborts(model, cancel):
    """FACTS §12.2 Outcomes: ready, aborting, CANCELLED (offset = len), concluded, null."""
    answers, events, state = run(model, active(), COPY, COPY, call("job-pause", id=JOB), cancel)
    assert answers[-1] == OK
    assert events[-1] == [*status(JOB, "ready", "aborting"), block_event("BLOCK_JOB_CANCELLED"),
                          *status(JOB, "concluded", "null")]
    assert state[JOBS] == ()


def test_a_completed_active_commit_re_attached_nothing_onto_its_base(model):
    """A concluded active commit's base took no parent at the pivot, so a
    later commit's op blocker on it is the newest (review on
    qemu-storage-daemon): busy, not "used as backing hd"."""
    answers, _, _ = run(model, active(**{"auto-dismiss": False}), COPY, COPY, call("block-job-complete", device=JOB),
                        call("block-commit", **{"job-id": "commit-D", "device": "E", "top-node": "D",
                                                "base-node": "C", "auto-finalize": False}),
                        call("blockdev-snapshot-sync", **{"node-name": "C", "snapshot-file": "x", "format": "qcow2"}))
    assert answers[4:] == [OK, busy("C")]


def test_refusals_while_an_active_commit_runs(model):
    """FACTS §12.3, the active column (E <- base C)."""
    lines = [
        call("block-stream", **{"job-id": "s", "device": "E"}),
        call("block-stream", **{"job-id": "s", "device": "D"}),
        call("block-stream", **{"job-id": "s", "device": "C", "base-node": "A"}),
        call("block-stream", **{"job-id": "s", "device": FILTER}),
        call("block-stream", **{"job-id": "s", "device": FILTER, "base-node": "D"}),
        call("block-commit", **{"job-id": "c2", "device": "E"}),
        *deletes("E", "D", "C", "B", "A", FILTER),
        call("block_resize", **{"node-name": "C", "size": 0}),
        call("blockdev-snapshot-sync", **{"node-name": "D", "snapshot-file": "x", "format": "qcow2"}),
        call("blockdev-snapshot-sync", **{"node-name": "B", "snapshot-file": "x", "format": "qcow2"}),
        call("blockdev-snapshot", node=FILTER, overlay="T"),
        call("change-backing-file", device="E", **{"image-node-name": "D", "backing-file": "A.qcow2"}),
    ]
    answers, events, _ = run(model, active(), *lines)
    assert answers[1:] == [
        busy("E"), busy("D"), busy("C"), busy("#blockN"), busy("#blockN"),
        err("Need a root block node"),
        busy("E"), busy("D"), err("Node C is in use"), hd("B", "C"), hd("A", "B"), busy("#blockN"),
        err("Device '(null)' is in use"),
        busy("D"), hd("B", "C"), busy("#blockN"),
        err("Need a root block node"),
    ]
    assert all(e == [] for e in events[1:])
    # below the base the chain is free: stream B base-node A is accepted
    answers, _, _ = run(model, active(), call("block-stream", **{"job-id": "stream-B", "device": "B", "base-node": "A"}))
    assert answers[1] == OK


def test_an_active_commit_with_guest_writes_left_is_a_model_limit():
    """The guest's device moves to the base at the pivot, which the model
    does not follow: an active commit waits until the guest writes are spent."""
    model = make_model(Scenario(profile="qemu-7.2", commands=WITH_COMMIT, chunks=3, guest_writes=1))
    answers, _, _ = run(model, active())
    assert answers[0]["error"]["class"] == A.MODEL_LIMIT
    assert "guest writes" in answers[0]["error"]["desc"]
    answers, _, _ = run(model, {"step": "guest-write", "device": "drive0", "chunk": 1}, active())
    assert answers == [OK, OK]


def test_every_property_holds_with_active_commits_and_their_witnesses_are_reached():
    """The chain of 3 with commits: every property holds and the active
    commit's claims (commit-C) are not vacuous.  The guest writes once, so
    the active commit starts after that write."""
    model = make_model(Scenario(profile="qemu-7.2", chain_length=3, commands=WITH_COMMIT))
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert result.exit_code == 0
    assert {"jobs-end:commit-C", "cancel-runs-complete.live:commit-C"} <= {p.name for p in result.properties}
    assert all(p.witness_reached for p in result.properties)


class ActiveCommitKeepsItsNodes(Qemu72Rules):
    """An active commit that completes keeps its nodes until dismissed, as a stream does."""

    def _complete(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        if not self.is_active(job):
            return super()._complete(state, job, events)
        events.append(self._block_job_event("BLOCK_JOB_COMPLETED", job))
        return self._conclude(state, job, job, events)


class CancelInReadyAborts(Qemu72Rules):
    """block-job-cancel without force in READY aborts, as before READY."""

    def cancel(self, state: tuple, owner: int, force: bool):
        return super().cancel(state, owner, True)


class ActiveCommitEndsWithoutReady(Qemu72Rules):
    """An active commit ends its run after its last copy, as a commit below the active layer does."""

    def _mirror_advance(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        after = super()._mirror_advance(state, job, events)
        now = [j for j in after[JOBS] if j[0] == job[0]][0]
        if now[J_STATUS] != JobStatus.READY:
            return after
        del events[-2:]
        return self._run_ended(state, job, job, events)


class PauseInReadyEndsTheRun(Qemu72Rules):
    """block-job-pause in READY ends the run, as a complete would (review)."""

    def pause(self, state: tuple, owner: int):
        job = [j for j in state[JOBS] if j[0] == owner]
        if job and job[0][J_STATUS] == JobStatus.READY:
            events: list[dict] = []
            state = self._run_ended(state, job[0], job[0], events)
            return A.with_events(A.OK, events), state
        return super().pause(state, owner)


class NoCompleteInReady(Qemu72Rules):
    """block-job-complete is refused in READY, as for a stream."""

    def complete(self, state: tuple, owner: int):
        return A.cannot_complete(self.job_id(owner)), state


class SetSpeedRefusedInReady(Qemu72Rules):
    """block-job-set-speed is refused in READY (the verb table allows it)."""

    def set_speed(self, state: tuple, owner: int, speed: int):
        job = [j for j in state[JOBS] if j[0] == owner]
        if job and job[0][J_STATUS] == JobStatus.READY:
            return A.error("refused"), state
        return super().set_speed(state, owner, speed)


@pytest.mark.parametrize("rules, caught_by", [
    (ActiveCommitKeepsItsNodes, "no-leaked-blockers"),
    (CancelInReadyAborts, "cancel-runs-complete.abort"),
    (ActiveCommitEndsWithoutReady, "cancel-runs-complete"),
    (PauseInReadyEndsTheRun, "cancel-runs-complete"),
    (NoCompleteInReady, "jobs-end:commit-C"),
    (SetSpeedRefusedInReady, "ownership-and-reporting"),
])
def test_a_fault_in_the_active_commit_rules_is_caught(rules, caught_by):
    """Each active-commit branch of the properties fails on a model that breaks it."""
    scenario = Scenario(profile="qemu-7.2", chain_length=3, commands=WITH_COMMIT, guest_writes=0)
    model = make_model(scenario)
    model.rules = rules(scenario)
    model._executor = Executor72(model.rules)
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert caught_by in {p.name for p in result.violations}
