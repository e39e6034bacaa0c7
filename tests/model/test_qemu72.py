"""The qemu-7.2 profile without QEMU: golden count, hand-worked answers, properties.

Default scenario: A <- B <- C <- D <- E, 2 chunks; A holds both chunks
(value 1), B chunk 0 (2), C chunk 1 (3), D chunk 0 (4), E chunk 1 (5).
"""

from __future__ import annotations

import pytest
from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore
from blockcheck.model.profiles import PROFILES, make_model
from blockcheck.model.qemu72 import JobStatus
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.scenario import Scenario, ScenarioError
from blockcheck.model.state import BACKING, BLOCKERS, CHANGES_LEFT, DATA, HEADERS, JOBS, NONE, OTHER
from blockcheck.properties.block import FAMILIES
from blockcheck.properties.qemu72 import qemu72_properties

A, B, C, D, E = range(5)
BUSY = "block device is in use by block job: stream"


@pytest.fixture(scope="module")
def model() -> Qemu72Model:
    return make_model(Scenario(profile="qemu-7.2"))


def run(model: Qemu72Model, *lines: dict) -> tuple[list[dict], tuple]:
    """Answers of a script from the initial state, and the state after it."""
    executor, state, answers = Executor72(model.rules), model.init_states()[0], []
    for line in lines:
        answer, state = executor.execute(state, line)
        answers.append(answer.to_json())
    return answers, state


def stream(top: str, base: str | None = None, **extra) -> dict:
    args = {"job-id": f"stream-{top}", "device": top, "auto-finalize": False, "auto-dismiss": False, **extra}
    if base:
        args["base-node"] = base
    return {"execute": "block-stream", "arguments": args}


def verb(name: str, top: str, **extra) -> dict:
    key = "id" if name in ("finalize", "dismiss") else "device"
    return {"execute": f"block-job-{name}", "arguments": {key: f"stream-{top}", **extra}}


def err(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


OK = {"return": {}}


def test_registry_builds_each_profile():
    assert set(PROFILES) == {"seed", "qemu-7.2"}
    assert isinstance(make_model(Scenario(profile="qemu-7.2")), Qemu72Model)
    with pytest.raises(ScenarioError, match="unknown profile 'nope'"):
        make_model(Scenario(profile="nope"))
    assert "block-commit" in make_model(Scenario(profile="qemu-7.2", commands=("block-stream", "block-commit"))).action_names


@pytest.mark.parametrize("forms, states", [
    # the streams of the first qemu-7.2 model: manual finalize and dismiss, base-node
    ((), 4805),
    # the default: QEMU's own defaults and bottom as well; bottom adds paths, not states,
    # at two jobs (C/A then E bottom D reaches what E/C then C/A reaches)
    (("auto-finalize", "auto-dismiss", "bottom"), 13427),
    pytest.param(("auto-finalize", "auto-dismiss"), 13427, marks=pytest.mark.bench),
])
def test_golden_state_count_and_every_property_holds_with_its_witness(forms, states):
    model = make_model(Scenario(profile="qemu-7.2", qmp_forms=forms))
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    assert result.stats.distinct == states
    assert result.deadlock is None
    assert {p.name: p.verdict for p in result.properties} == {
        p.name: Verdict.HOLDS for p in result.properties
    }
    assert {p.group for p in qemu72_properties(model)} == set(FAMILIES)


def test_stream_into_intermediate_waits_in_pending_then_finalize_moves_the_link(model):
    answers, state = run(model, stream("D", "B"))
    assert answers == [OK]
    # C's chunk 1 is copied at once; D holds chunk 0 itself, so the run is over
    assert state[DATA][D] == (4, 3)
    assert [(j[0], JobStatus(j[4])) for j in state[JOBS]] == [(D, JobStatus.PENDING)]
    assert model.rules.graph(state) == {"A": None, "B": "A", "C": "B", "D": "C", "filter:stream-D": "D",
                                        "E": "filter:stream-D"}
    answers, state = run(model, stream("D", "B"), verb("finalize", "D"))
    assert state[BACKING][D] == B and state[BACKING][C] == B  # C stays a node, pointing at B
    assert model.rules.graph(state)["filter:stream-D"] is None
    # the concluded job still blocks D and the cut-out C, until dismissed
    assert run(model, stream("D", "B"), verb("finalize", "D"), stream("C"))[0][-1] == err(f"Node 'C' is busy: {BUSY}")
    _, state = run(model, stream("D", "B"), verb("finalize", "D"), verb("dismiss", "D"))
    assert state[JOBS] == () and not any(state[BLOCKERS])


def test_a_job_on_the_walk_refuses_with_the_node_or_its_filter(model):
    answers, _ = run(model, stream("D", "B"), stream("E", "D"), stream("E"), stream("C", "A"), stream("B", "A"))
    assert answers == [OK, err(f"Node '#blockN' is busy: {BUSY}"), err(f"Node '#blockN' is busy: {BUSY}"),
                       err(f"Node 'C' is busy: {BUSY}"), OK]


def test_start_errors_in_qemus_order(model):
    answers, _ = run(
        model,
        stream("D", "B", **{"job-id": ""}),
        stream("D", "D"),
        stream("D", "E"),
        stream("D", "nope"),
        stream("nope"),
        {"execute": "block-stream", "arguments": {"job-id": "s", "device": "D", "base": "B.qcow2"}},
        {"execute": "block-stream", "arguments": {"job-id": "s", "device": "D", "base": "B.qcow2", "base-node": "B"}},
        stream("D", **{"backing-file": "x"}),
        stream("D", "B", speed=-1),
    )
    assert answers == [
        err("Invalid job ID ''"),
        err("Node 'D' is not a backing image of 'D'"),
        err("Node 'E' is not a backing image of 'D'"),
        err("Cannot find device='' nor node-name='nope'"),
        err("Cannot find device='nope' nor node-name='nope'"),
        err("Can't find 'B.qcow2' in the backing chain"),
        err("'base' and 'base-node' cannot be specified at the same time"),
        err("backing file specified, but streaming the entire chain"),
        err("Parameter 'speed' expects a non-negative value"),
    ]


def test_verbs_by_status(model):
    """FACTS §5's table, for the statuses the model reaches."""

    def verb_error(status: str, name: str) -> dict:
        return err(f"Job 'stream-E' in state '{status}' cannot accept command verb '{name}'")

    # E <- base A: B's chunk 0 is copied at once, then the job sleeps (running)
    running = [stream("E", "A")]
    paused = [*running, verb("pause", "E")]
    pending = [*running, {"step": "job-copy", "job": "stream-E"}]
    concluded = [*pending, verb("finalize", "E")]
    expected = {
        "running": [OK, err("Can't resume a job that was not paused"), verb_error("running", "complete"),
                    verb_error("running", "finalize"), verb_error("running", "dismiss")],
        "paused": [err("Job is already paused"), OK, verb_error("paused", "complete"),
                   verb_error("paused", "finalize"), verb_error("paused", "dismiss")],
        "pending": [verb_error("pending", "pause"), err("Can't resume a job that was not paused"),
                    verb_error("pending", "complete"), OK, verb_error("pending", "dismiss")],
        "concluded": [verb_error("concluded", "pause"), err("Can't resume a job that was not paused"),
                      verb_error("concluded", "complete"), verb_error("concluded", "finalize"), OK],
    }
    for status, prefix in (("running", running), ("paused", paused), ("pending", pending), ("concluded", concluded)):
        answers = [run(model, *prefix, verb(name, "E"))[0][-1]
                   for name in ("pause", "resume", "complete", "finalize", "dismiss")]
        assert answers == expected[status], status
    assert run(model, *paused, verb("cancel", "E"))[0][-1] == err(
        "The block job for device 'stream-E' is currently paused")
    assert run(model, verb("cancel", "E"))[0][-1] == err("Block job 'stream-E' not found", "DeviceNotActive")


def test_cancel_in_pending_aborts_and_keeps_the_chain(model):
    _, state = run(model, stream("E", "A"), {"step": "job-copy", "job": "stream-E"}, verb("cancel", "E"))
    assert state[BACKING] == model.init_states()[0][BACKING]
    assert JobStatus(state[JOBS][0][4]) == JobStatus.CONCLUDED
    assert state[DATA][E] == (4, 5)  # D's chunk 0, copied before the cancel, stays


def test_resume_wakes_the_job_for_one_more_chunk():
    model = make_model(Scenario(profile="qemu-7.2", chunks=4))
    _, state = run(model, stream("E", "A"), verb("pause", "E"))
    assert state[JOBS][0][5] == 1
    _, state = run(model, stream("E", "A"), verb("pause", "E"), verb("resume", "E"))
    assert state[JOBS][0][5] == 2 and JobStatus(state[JOBS][0][4]) == JobStatus.RUNNING


def test_format_state_shows_the_filter(model):
    _, state = run(model, stream("D", "B"))
    assert model.format_state(state) == "E -> filter:stream-D -> D* -> C* -> B -> A | stream-D pending 2/2"


def cbf(device, image, backing="x.qcow2") -> dict:
    return {"execute": "change-backing-file",
            "arguments": {"device": device, "image-node-name": image, "backing-file": backing}}


NEED_ROOT = err("Need a root block node")
MODEL_LIMIT = "ModelLimit"


def test_change_backing_file_refusals_in_qemus_order(model):
    """FACTS §8: QAPI, device (lookup, root), image (lookup, has a backing
    file), same chain; the accepted rewrite is modelled (below)."""
    answers, _ = run(
        model,
        {"execute": "change-backing-file", "arguments": {}},
        {"execute": "change-backing-file", "arguments": {"device": "E", "backing-file": "x"}},
        {"execute": "change-backing-file", "arguments": {"device": "E", "image-node-name": "C"}},
        cbf(5, "C"),
        cbf("E", None),
        {"execute": "change-backing-file", "arguments": {**cbf("E", "C")["arguments"], "extra": 1}},
        cbf("nope", "nope2"),
        cbf("D", "nope"),
        cbf("E", "nope"),
        cbf("E", "A"),
    )
    assert answers == [
        err("Parameter 'device' is missing"),
        err("Parameter 'image-node-name' is missing"),
        err("Parameter 'backing-file' is missing"),
        err("Invalid parameter type for 'device', expected: string"),
        err("Invalid parameter type for 'image-node-name', expected: string"),
        err("Parameter 'extra' is unexpected"),
        err("Cannot find device='nope' nor node-name='nope'"),
        NEED_ROOT,
        err("Cannot find device='' nor node-name='nope'"),
        err("not allowing backing file change on an image without a backing file"),
    ]
    for line in (cbf("E", "C"), cbf("E", "E")):
        assert run(model, line)[0][0] == OK
    two_extra = {"execute": "change-backing-file", "arguments": {**cbf("E", "C")["arguments"], "a": 1, "b": 2}}
    assert run(model, two_extra)[0][0]["error"]["class"] == MODEL_LIMIT


def test_job_held_nodes_are_not_roots(model):
    """FACTS §9: the top of a stream on the root has no graph parent but is
    held; a finalized job's cut-out C and its detached filter stay held
    until dismiss, and C is a root afterwards."""
    _, state = run(model, stream("E", "C"))
    assert model.rules.graph(state)["E"] == "D" and not model.rules.is_root(state, "E")
    held_e = [cbf("E", "D"), cbf("E", "nope"),
              {"execute": "block-commit", "arguments": {"device": "E", "base-node": "A", "job-id": "c"}},
              {"execute": "blockdev-mirror", "arguments": {"device": "E", "target": "T", "sync": "full"}},
              {"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "E", "name": "x"}}]
    assert run(model, stream("E", "C"), *held_e)[0][1:] == [NEED_ROOT] * len(held_e)

    finalized = [stream("D", "B"), verb("finalize", "D")]
    on_c = [cbf("C", "C"), cbf("@filter:stream-D", "C"),
            {"execute": "block-commit", "arguments": {"device": "C", "base-node": "A", "job-id": "c"}},
            {"execute": "blockdev-mirror", "arguments": {"device": "@filter:stream-D", "target": "T", "sync": "full"}},
            {"execute": "drive-mirror", "arguments": {"device": "C", "target": "M.qcow2", "sync": "full"}}]
    answers, state = run(model, *finalized, *on_c, cbf("E", "C"),
                         {"execute": "blockdev-del", "arguments": {"node-name": "@filter:stream-D"}})
    assert answers[2:] == [NEED_ROOT] * len(on_c) + [
        err("'E' and image file are not in the same chain"), err(f"Node '#blockN' is busy: {BUSY}")]
    answers, state = run(model, *finalized, verb("dismiss", "D"), cbf("C", "nope"), cbf("C", "D"))
    assert model.rules.is_root(state, "C")
    assert answers[3:] == [err("Cannot find device='' nor node-name='nope'"),
                           err("'C' and image file are not in the same chain")]


def test_change_backing_file_on_a_filter(model):
    """A live filter cannot take a backing string; a concluded job's filter
    as image-node-name makes QEMU 7.2 abort, so the model does not answer."""
    answers, _ = run(model, stream("D", "B"), cbf("E", "@filter:stream-D", "f.qcow2"))
    assert answers[1] == err("Could not change backing file to 'f.qcow2': Operation not supported")
    answers, _ = run(model, stream("D", "B"), verb("cancel", "D"), cbf("E", "@filter:stream-D"))
    assert answers[2]["error"]["class"] == MODEL_LIMIT
    assert "aborts" in answers[2]["error"]["desc"]


def test_a_re_pointed_link_out_of_the_chain_is_the_newest_backing_parent(model):
    """After stream D <- base B and stream E <- base A, B has two parents out
    of the chain: C (its link from the chain's building) and D (re-pointed
    by the first stream's finalize, so newer).  QEMU names D (a conform
    walk found it)."""
    defaults = lambda top, base: {"execute": "block-stream",  # noqa: E731
                                  "arguments": {"job-id": f"stream-{top}", "device": top, "base-node": base}}
    answers, _ = run(model, defaults("D", "B"), {"step": "job-copy", "job": "stream-D"}, defaults("E", "A"),
                     {"step": "job-copy", "job": "stream-E"}, {"execute": "blockdev-del", "arguments": {"node-name": "B"}})
    assert answers[-1] == err("Node 'B' is busy: node is used as backing hd of 'D'")


def test_backing_blocker_of_the_base_for_snapshots_and_del(model):
    """The base B is not held, but its backing parent blocks external
    snapshots and deletion; a backup of it is accepted (FACTS §10)."""
    answers, _ = run(model, stream("D", "B"),
                     {"execute": "blockdev-snapshot", "arguments": {"node": "B", "overlay": "T"}},
                     {"execute": "blockdev-snapshot-sync", "arguments": {"node-name": "B", "snapshot-file": "S.qcow2"}},
                     {"execute": "blockdev-del", "arguments": {"node-name": "B"}},
                     {"execute": "drive-backup", "arguments": {"device": "C", "target": "b.qcow2", "sync": "full"}},
                     {"execute": "block-commit", "arguments": {"device": "nope", "job-id": "c"}})
    used = err("Node 'B' is busy: node is used as backing hd of 'C'")
    assert answers[1:] == [used, used, used, err(f"Node 'C' is busy: {BUSY}"),
                           err("Device 'nope' not found", "DeviceNotFound")]
    backup_b = {"execute": "blockdev-backup", "arguments": {"device": "B", "target": "T", "sync": "full"}}
    assert run(model, stream("D", "B"), backup_b)[0][1]["error"]["class"] == MODEL_LIMIT


# -- change-backing-file accepted (FACTS §8) ------------------------------------------
CBF_COMMANDS = ("block-stream", "block-job-cancel", "block-job-pause", "block-job-resume", "change-backing-file")


def test_change_backing_file_rewrites_a_held_intermediates_header_not_its_link(model):
    """FACTS §8: while stream-D <- base B holds C, device E image C is
    accepted; C's header names A, C's live link stays B, data and jobs stay."""
    answers, before = run(model, stream("D", "B"))
    answers, state = run(model, stream("D", "B"), cbf("E", "C", "A.qcow2"))
    assert answers[1] == OK
    assert state[HEADERS][C] == A and state[BACKING][C] == B
    assert state[HEADERS][:C] + state[HEADERS][C + 1 :] == before[HEADERS][:C] + before[HEADERS][C + 1 :]
    assert (state[BACKING], state[DATA], state[JOBS]) == (before[BACKING], before[DATA], before[JOBS])
    assert state[CHANGES_LEFT] == before[CHANGES_LEFT] - 1
    assert model.rules.graph(state) == model.rules.graph(before)
    assert model.format_state(state) == "E -> filter:stream-D -> D* -> C*(disk: A.qcow2) -> B -> A | stream-D pending 2/2"
    assert model.state_to_json(state)["headers"]["C"] == "A.qcow2"


def test_finalize_overwrites_a_users_header_and_cancel_writes_none(model):
    """FACTS §8 "What a user can lose": finalize writes the base into the
    top's header, over the user's string; a cancel writes no header."""
    _, state = run(model, stream("D", "B"), cbf("E", "D", "A.qcow2"), verb("finalize", "D"))
    assert state[HEADERS][D] == B and state[BACKING][D] == B
    _, state = run(model, stream("D", "B"), cbf("E", "D", "A.qcow2"), verb("cancel", "D"), verb("dismiss", "D"))
    assert state[HEADERS][D] == A and state[BACKING][D] == C
    _, state = run(model, stream("D", "B"), verb("cancel", "D"))
    assert state[HEADERS] == model.init_states()[0][HEADERS]
    _, state = run(model, stream("D"), verb("finalize", "D"))  # no base: no backing string
    assert state[HEADERS][D] == NONE


def test_change_backing_file_targets_and_the_bound():
    """``""`` removes the string, another string names no chain file; the
    scenario's bound answers ModelLimit only after QEMU's checks."""
    m = make_model(Scenario(profile="qemu-7.2", header_changes=2))
    _, state = run(m, cbf("E", "C", ""), cbf("E", "D", "elsewhere.qcow2"))
    assert state[HEADERS][C] == NONE and state[HEADERS][D] == OTHER and state[CHANGES_LEFT] == 0
    answers, _ = run(m, cbf("E", "C", ""), cbf("E", "D", "B.qcow2"), cbf("E", "A"), cbf("E", "B"))
    assert answers[2] == err("not allowing backing file change on an image without a backing file")
    assert answers[3]["error"]["class"] == MODEL_LIMIT and "2 header change(s)" in answers[3]["error"]["desc"]


def test_change_backing_file_is_a_graph_command_when_enabled():
    """Candidates through the root: every chain node and every node below it
    but the one its header names already (B's names A)."""
    m = make_model(Scenario(profile="qemu-7.2", chain_length=3, commands=CBF_COMMANDS))
    state = m.init_states()[0]
    assert [a for a in m.candidates(state) if a[0] == "change-backing-file"] == [
        ("change-backing-file", 2, 0)]
    assert m.action_to_json(("change-backing-file", 2, 0)) == cbf("C", "C", "A.qcow2")
    assert m.next_state(state, ("change-backing-file", 2, 0))[HEADERS] == (NONE, A, A)
    assert not [a for a in model_default_candidates() if a[0] == "change-backing-file"]


def model_default_candidates() -> list[tuple]:
    m = make_model(Scenario(profile="qemu-7.2"))
    return list(m.candidates(m.init_states()[0]))


def test_change_backing_file_finding_isolation_and_guarded_ops():
    """With change-backing-file enabled, the faithful 7.2 rules violate
    isolation (a held node's header rewritten) and isolation.guarded-ops, and
    nothing else."""
    m = make_model(Scenario(profile="qemu-7.2", chain_length=4, commands=CBF_COMMANDS))
    result = explore(m, qemu72_properties(m), stop_at_first=False, quiet=True)
    assert {p.name for p in result.violations} == {"isolation", "isolation.guarded-ops"}
    iso = next(p for p in result.violations if p.name == "isolation")
    assert [s.action[0] for s in iso.trace.steps[1:]] == ["block-stream", "change-backing-file"]
