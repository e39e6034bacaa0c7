"""The qemu-7.2 profile's other QMP forms, without QEMU: hand-worked answers and events.

QEMU's defaults (auto-finalize, auto-dismiss), ``bottom``, a named filter,
the generic job-* verbs and query-jobs.  Every expected answer and event
sequence is one FACTS.md records (the section is named at each test);
``tests/conformance`` replays the same forms on qemu-storage-daemon.

Scenario: A <- B <- C <- D <- E with 4 chunks; A holds every chunk (value
1), B chunk 0 (2), C chunk 1 (3), D chunk 2 (4), E chunk 3 (5).  So stream D
base-node B copies C's chunk 1 at its start and has two chunks left to
skip, which ends its run at its first job-copy step.
"""

from __future__ import annotations

from typing import Any

import pytest

from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore
from blockcheck.model.profiles import make_model
from blockcheck.model.answers import OK as OK_ANSWER
from blockcheck.model.qemu72 import AUTO_DISMISS, AUTO_FINALIZE, CHUNK_BYTES, J_OPTS, JobStatus, Qemu72Rules
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.scenario import QMP_FORMS, Scenario, ScenarioError
from blockcheck.model.state import BACKING, BLOCKERS, J_STATUS, JOBS, NONE, find_job
from blockcheck.properties.qemu72 import qemu72_properties

A, B, C, D, E = range(5)
BUSY = "block device is in use by block job: stream"
OK = {"return": {}}
LEN = 4 * CHUNK_BYTES


@pytest.fixture(scope="module")
def model() -> Qemu72Model:
    return make_model(Scenario(profile="qemu-7.2", chunks=4, qmp_forms=tuple(QMP_FORMS)))


def run(model: Qemu72Model, *lines: dict) -> tuple[list[dict], list[list[dict]], tuple]:
    """Answers and events of a script from the initial state, and the state after it."""
    executor, state, answers, events = Executor72(model.rules), model.init_states()[0], [], []
    for line in lines:
        answer, state = executor.execute(state, line)
        answers.append(answer.to_json())
        events.append(list(answer.events))
    return answers, events, state


def stream(top: str, base: str | None = None, **extra: Any) -> dict:
    args = {"job-id": f"stream-{top}", "device": top, **extra}
    if base:
        args["base-node"] = base
    return {"execute": "block-stream", "arguments": args}


def manual(top: str, base: str | None = None, **extra: Any) -> dict:
    return stream(top, base, **{"auto-finalize": False, "auto-dismiss": False, **extra})


def copy(top: str) -> dict:
    return {"step": "job-copy", "job": f"stream-{top}"}


def call(name: str, **args: Any) -> dict:
    return {"execute": name, "arguments": args}


def err(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


def status(job: str, *statuses: str) -> list[dict]:
    return [{"event": "JOB_STATUS_CHANGE", "data": {"id": job, "status": s}} for s in statuses]


def block_event(name: str, job: str, offset: int = LEN) -> dict:
    return {"event": name, "data": {"device": job, "len": LEN, "offset": offset, "type": "stream"}}


def test_qemus_defaults_finalize_and_dismiss_by_themselves(model):
    """FACTS §1: created, running, waiting, pending, BLOCK_JOB_COMPLETED,
    concluded, null; no BLOCK_JOB_PENDING; the graph E->D->B->A after it."""
    answers, events, state = run(model, stream("D", "B"), copy("D"))
    assert answers == [OK, OK]
    assert events[0] == status("stream-D", "created", "running")
    assert events[1] == [*status("stream-D", "waiting", "pending"), block_event("BLOCK_JOB_COMPLETED", "stream-D"),
                         *status("stream-D", "concluded", "null")]
    assert state[JOBS] == () and not any(state[BLOCKERS])
    assert state[BACKING][D] == B


def test_manual_finalize_and_dismiss_events(model):
    """FACTS §5: the run ends in pending with BLOCK_JOB_PENDING; finalize gives
    BLOCK_JOB_COMPLETED and concluded; dismiss gives null."""
    answers, events, state = run(model, manual("D", "B"), copy("D"), call("block-job-finalize", id="stream-D"),
                                 call("job-dismiss", id="stream-D"))
    assert answers == [OK] * 4
    assert events[1] == [*status("stream-D", "waiting", "pending"),
                         {"event": "BLOCK_JOB_PENDING", "data": {"type": "stream", "id": "stream-D"}}]
    assert events[2] == [block_event("BLOCK_JOB_COMPLETED", "stream-D"), *status("stream-D", "concluded")]
    assert events[3] == status("stream-D", "null")
    assert state[JOBS] == () and state[BACKING][D] == B


@pytest.mark.parametrize("flags, left", [
    ({}, None),  # QEMU's defaults: gone at once
    ({"auto-dismiss": False}, "concluded"),
])
def test_cancel_while_running(model, flags, left):
    """FACTS §4: aborting, BLOCK_JOB_CANCELLED (offset copied so far),
    concluded (and null with auto-dismiss); the chain never changes."""
    answers, events, state = run(model, stream("D", "B", **flags), call("block-job-cancel", device="stream-D"))
    assert answers == [OK, OK]
    expected = [*status("stream-D", "aborting"), block_event("BLOCK_JOB_CANCELLED", "stream-D", 2 * CHUNK_BYTES),
                *status("stream-D", "concluded")]
    assert events[1] == expected + (status("stream-D", "null") if left is None else [])
    assert state[BACKING][D] == C
    assert [JobStatus(j[4]).name.lower() for j in state[JOBS]] == ([left] if left else [])
    assert bool(any(state[BLOCKERS])) == (left is not None)


def test_cancel_of_a_paused_job_resumes_it_first_and_job_cancel_needs_no_force(model):
    """FACTS §4: block-job-cancel of a user-paused job needs force and then
    gives running, aborting, ...; job-cancel needs no force."""
    pause = call("block-job-pause", device="stream-D")
    answers, events, _ = run(model, stream("D", "B"), pause, call("block-job-cancel", device="stream-D"),
                             call("block-job-cancel", device="stream-D", force=True))
    assert answers[1:] == [OK, err("The block job for device 'stream-D' is currently paused"), OK]
    assert events[1] == status("stream-D", "paused")
    assert events[3][:2] == status("stream-D", "running", "aborting")
    answers, events, state = run(model, stream("D", "B"), pause, call("job-cancel", id="stream-D"))
    assert answers[2] == OK and events[2][:2] == status("stream-D", "running", "aborting")
    assert state[JOBS] == ()


def test_job_verbs_find_jobs_by_id_and_say_job_not_found(model):
    """FACTS §5: the job-* verbs answer as block-job-* do, by ``id``; an
    unknown id is "Job not found" (block-job-*: DeviceNotActive)."""
    answers, _, _ = run(model, manual("D", "B"), call("job-pause", id="stream-D"), call("job-resume", id="stream-D"),
                        call("job-complete", id="stream-D"), call("job-finalize", id="nope"),
                        call("block-job-finalize", id="nope"), call("job-dismiss", id="stream-D"))
    assert answers == [OK, OK, OK,
                       err("Job 'stream-D' in state 'pending' cannot accept command verb 'complete'"),
                       err("Job not found"), err("Block job 'nope' not found", "DeviceNotActive"),
                       err("Job 'stream-D' in state 'pending' cannot accept command verb 'dismiss'")]


def test_query_jobs_and_query_block_jobs(model):
    """query-jobs: progress in bytes as query-block-jobs' offset and len, and a
    cancelled job's error; query-block-jobs shows the auto flags."""
    answers, _, _ = run(model, manual("D", "B"), call("query-jobs"), call("query-block-jobs"),
                        call("block-job-cancel", device="stream-D"), call("query-jobs"))
    job = {"id": "stream-D", "type": "stream", "status": "running", "current-progress": 2 * CHUNK_BYTES,
           "total-progress": LEN}
    assert answers[1] == {"return": [job]}
    assert answers[2]["return"][0]["auto-finalize"] is False and answers[2]["return"][0]["offset"] == 2 * CHUNK_BYTES
    assert answers[4] == {"return": [{**job, "status": "concluded", "error": "Operation canceled"}]}


def test_negative_speed_creates_the_job_and_frees_it(model):
    """FACTS §2: speed -1 is refused after the job was created: created, null."""
    answers, events, state = run(model, stream("D", "B", speed=-1))
    assert answers == [err("Parameter 'speed' expects a non-negative value")]
    assert events == [status("stream-D", "created", "null")] and state[JOBS] == ()


def test_bottom_names_the_lowest_node_streamed(model):
    """FACTS §2, §6: bottom C from D is base-node B; the argument clashes;
    bottom above the top; a stream E bottom D passes C's filter that a
    stream E base-node C cannot."""
    answers, _, state = run(model, stream("D", bottom="C"), copy("D"))
    assert answers == [OK, OK] and state[BACKING][D] == B
    answers, _, _ = run(
        model,
        stream("D", "B", bottom="C"),
        call("block-stream", **{"job-id": "stream-D", "device": "D", "base": "B.qcow2", "bottom": "C"}),
        stream("D", bottom="E"),
        stream("D", bottom="nope"),
        stream("D", bottom="C", **{"backing-file": "B.qcow2"}),
        manual("C", "A"),
        stream("E", "C"),
        stream("D", bottom="@filter:stream-C"),
        manual("E", bottom="D"),
    )
    assert answers == [
        err("'bottom' and 'base-node' cannot be specified at the same time"),
        err("'base' and 'bottom' cannot be specified at the same time"),
        err("Node 'E' is not in a chain starting from 'D'"),
        err("Cannot find device='' nor node-name='nope'"),
        err("backing file specified, but streaming the entire chain"),
        OK,
        err(f"Node '#blockN' is busy: {BUSY}"),
        err("Node '#blockN' is a filter, use a non-filter node as 'bottom'"),
        OK,
    ]


def test_a_named_filter_is_named_in_answers(model):
    """FACTS §7: busy(sf) and ``Node sf is in use`` for a filter named sf;
    FACTS §2: a name another node has is refused."""
    named = {"filter-node-name": "stream-D-cor"}
    answers, _, _ = run(model, stream("D", "B", **named), stream("E"), call("blockdev-del", **{"node-name": "stream-D-cor"}),
                        stream("B", "A", **{"filter-node-name": "C"}), stream("B", "A", **{"filter-node-name": "cor"}))
    assert answers[:4] == [OK, err(f"Node 'stream-D-cor' is busy: {BUSY}"), err("Node stream-D-cor is in use"),
                           err("Could not create node: Duplicate nodes with node-name='C'")]
    # a free name other than the model's own for that job: the model cannot say
    assert answers[4]["error"]["class"] == "ModelLimit"
    # FACTS §11.5: malformed and too long names
    answers, _, _ = run(model, stream("B", "A", **{"filter-node-name": "1x"}), stream("B", "A", **{"filter-node-name": "x" * 32}))
    assert answers == [err("Could not create node: Invalid node-name: '1x'"), err("Could not create node: Node name too long")]


def test_every_form_keeps_every_property_on_a_small_chain():
    """All forms on a 4-node chain: every property holds, with its witness."""
    model = make_model(Scenario(profile="qemu-7.2", chain_length=4, qmp_forms=tuple(QMP_FORMS)))
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert {p.name: p.verdict for p in result.properties} == {p.name: Verdict.HOLDS for p in result.properties}


def test_forms_are_validated():
    with pytest.raises(ScenarioError, match="unknown QMP form 'nope'; choose from auto-finalize"):
        Scenario(profile="qemu-7.2", qmp_forms=("nope",))


# -- the rephrased properties can fail: one fault in the new forms each ------------------
class LeakyAutoDismiss(Qemu72Rules):
    """Auto-dismiss frees the job but leaves its op blockers behind."""

    def _unblock(self, state: tuple, job: tuple) -> tuple:
        return state if job[J_OPTS] & AUTO_DISMISS else super()._unblock(state, job)


class CancelFinalizes(Qemu72Rules):
    """A cancel with auto-dismiss completes the job instead of aborting it."""

    def cancel(self, state: tuple, top: int, force: bool) -> tuple:
        job = find_job(state[JOBS], top)
        if job is not None and job[J_OPTS] & AUTO_DISMISS and job[J_STATUS] == JobStatus.RUNNING:
            return OK_ANSWER, self._complete(state, job, [])
        return super().cancel(state, top, force)


class PauseDismisses(Qemu72Rules):
    """A pause of an auto-dismiss job frees it."""

    def pause(self, state: tuple, top: int) -> tuple:
        answer, after = super().pause(state, top)
        job = find_job(after[JOBS], top)
        if answer.ok and job[J_OPTS] & AUTO_DISMISS:
            return answer, self._with_job(self._unblock(after, job), job, None)
        return answer, after


class EarlyAutoFinalize(Qemu72Rules):
    """Auto-finalize finalizes the job at its start, before it copied everything."""

    def stream(self, state: tuple, top: int, base: int, opts: int = 0, bottom: int = NONE) -> tuple:
        answer, after = super().stream(state, top, base, opts, bottom)
        job = find_job(after[JOBS], top)
        if answer.ok and job is not None and opts & AUTO_FINALIZE and job[J_STATUS] == JobStatus.RUNNING:
            return answer, self._complete(after, job, [])
        return answer, after


@pytest.mark.parametrize("rules, caught_by", [
    (LeakyAutoDismiss, "no-leaked-blockers"),
    (CancelFinalizes, "cancel-runs-complete.abort"),
    (PauseDismisses, "cancel-runs-complete"),
    (EarlyAutoFinalize, "chain-integrity"),
])
def test_a_fault_in_the_new_forms_is_caught(rules, caught_by):
    scenario = Scenario(profile="qemu-7.2", chain_length=3, chunks=2, qmp_forms=("auto-finalize", "auto-dismiss"))
    model = make_model(scenario)
    model.rules = rules(scenario)
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert caught_by in {p.name for p in result.violations}


def test_protocol_nodes_are_named_as_not_modelled(model):
    """Each layer X sits on X-file (the conformance chain); QEMU answers for
    those nodes (FACTS §11.4: bottom D-file is not in D's chain), the model
    says it does not model them, by name, instead of calling them unknown."""
    answers, _, _ = run(model, stream("D", bottom="D-file"), call("blockdev-del", **{"node-name": "C-file"}))
    assert answers == [err("the protocol node 'D-file' is not modelled in the qemu-7.2 profile", "ModelLimit"),
                       err("the protocol node 'C-file' is not modelled in the qemu-7.2 profile", "ModelLimit")]


# -- blockdev-del of a free node (FACTS §1, §3) ---------------------------------------------
def test_blockdev_del_of_a_node_the_stream_cut_out(model):
    """FACTS §1: after stream D base-node B, C is a node of its own, and
    blockdev-del C succeeds; QEMU then knows no C."""
    del_c = call("blockdev-del", **{"node-name": "C"})
    answers, _, state = run(model, manual("D", "B"), del_c, copy("D"), call("job-finalize", id="stream-D"), del_c,
                            call("job-dismiss", id="stream-D"), del_c, del_c, stream("C"),
                            call("blockdev-del", **{"node-name": "B"}), call("blockdev-del", **{"node-name": "E"}))
    assert answers == [OK, err(f"Node 'C' is busy: {BUSY}"), OK, OK, err(f"Node 'C' is busy: {BUSY}"), OK, OK,
                       err("Failed to find node with node-name='C'"), err("Cannot find device='C' nor node-name='C'"),
                       err("Node 'B' is busy: node is used as backing hd of 'D'"),
                       err("blockdev-del of the active layer is not modelled in the qemu-7.2 profile", "ModelLimit")]
    assert model.rules.graph(state) == {"A": None, "B": "A", "D": "B", "E": "D"}


class DelIgnoresJobs(Executor72):
    """blockdev-del skips the job's op blocker."""

    def _blockdev_del(self, state: tuple, name: str) -> tuple:
        label = self.label(state, name)
        if label is not None and not label.startswith("filter:") and self.node(label) != self.rules.root \
                and not self._backing_blocker(state, label):
            return self.rules.blockdev_del(state, self.node(label))
        return super()._blockdev_del(state, name)


def test_a_blockdev_del_that_ignores_jobs_is_caught():
    scenario = Scenario(profile="qemu-7.2", chain_length=3, chunks=2, qmp_forms=(),
                        commands=("block-stream", "blockdev-del"))
    model = make_model(scenario)
    model._executor = DelIgnoresJobs(model.rules)
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert {"isolation", "chain-integrity"} <= {p.name for p in result.violations}
