"""qemu-7.2 model traces replayed on QEMU 7.2: every step must agree.

Each test is a script of model lines (QMP commands and job steps); the
replay runs it on the model and on qemu-storage-daemon and compares the
answers, the graph and the job list after every step and the data of every
layer at the end (see blockcheck.conformance.replay).  Besides "they agree",
each test states the answer or chain the scenario is about, so a model and
a QEMU that agreed on something else would still fail.

Scenario: A <- B <- C <- D <- E with 4 chunks; the model's data: A holds
every chunk (value 1), B chunk 0 (2), C chunk 1 (3), D chunk 2 (4), E chunk
3 (5).  The tables of refusals (FACTS §3, §8-§10) are each replayed in one
script, so every answer the model gives for them is compared with QEMU's.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from blockcheck.conformance.cli import counterexamples, random_walk, run_conform
from blockcheck.conformance.replay import ReplayReport, Replayer, replay
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario

pytestmark = pytest.mark.qemu

MODEL = Qemu72Model(Scenario(profile="qemu-7.2", chunks=4))
BUSY = "block device is in use by block job: stream"
FULL = {"E": "D", "D": "C", "C": "B", "B": "A", "A": None}


def stream(top: str, base: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"job-id": f"stream-{top}", "device": top}
    if base:
        args["base-node"] = base
    return {"execute": "block-stream", "arguments": {**args, "auto-finalize": False, "auto-dismiss": False}}


def verb(name: str, top: str, **extra: Any) -> dict[str, Any]:
    key = "id" if name in ("finalize", "dismiss") else "device"
    return {"execute": f"block-job-{name}", "arguments": {key: f"stream-{top}", **extra}}


def copy(top: str) -> dict[str, Any]:
    return {"step": "job-copy", "job": f"stream-{top}"}


def err(desc: str) -> dict[str, Any]:
    return {"error": {"class": "GenericError", "desc": desc}}


def busy(node: str) -> dict[str, Any]:
    return err(f"Node '{node}' is busy: {BUSY}")


def agreed(lines: list[dict[str, Any]], **kw: Any) -> ReplayReport:
    report = replay(MODEL, lines, **kw)
    assert report.agrees, report.to_markdown()
    return report


def test_stream_into_intermediate_node_and_the_chain_afterwards():
    r = agreed([stream("D", "B"), copy("D"), verb("finalize", "D"), verb("dismiss", "D")])
    # before finalize the filter sits between E and D
    assert r.steps[1].qemu_graph == {**FULL, "E": "filter:stream-D", "filter:stream-D": "D"}
    assert r.steps[1].qemu_jobs == {"stream-D": {"status": "pending", "offset": 4 * 512 * 1024, "len": 4 * 512 * 1024,
                                                 "auto-finalize": False, "auto-dismiss": False, "error": None}}
    # afterwards D -> B, and C, cut out, is still a node pointing at B
    assert r.steps[-1].qemu_graph == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert r.qemu_data["D"] == [0, 3, 4, 0]  # C's chunk 1 copied; B's chunk 0 is below the base
    assert r.qemu_views == r.model_views


def cbf(device: Any, image: Any, backing: str = "x.qcow2") -> dict[str, Any]:
    return {"execute": "change-backing-file",
            "arguments": {"device": device, "image-node-name": image, "backing-file": backing}}


NEED_ROOT = err("Need a root block node")
NO_BACKING = err("not allowing backing file change on an image without a backing file")
USED_BY_C = err("Node 'B' is busy: node is used as backing hd of 'C'")
DRIVE_MIRROR = {"target": "DM.qcow2", "format": "qcow2", "sync": "full", "job-id": "m"}
DRIVE_BACKUP = {"target": "DB.qcow2", "format": "qcow2", "sync": "full", "job-id": "b"}

#: (line, QEMU's answer) while stream-D <- base B runs (FACTS §3, §8-§10); T
#: is an extra empty image, a target for mirror/backup/snapshot.
FILTER = "@filter:stream-D"
REFUSED = [
    (stream("D", "C"), busy("D")),
    (stream("C", "A"), busy("C")),
    (stream("C"), busy("C")),
    (stream("E", "A"), busy("#blockN")),
    (stream("E", "D"), busy("#blockN")),
    (stream("E"), busy("#blockN")),
    ({"execute": "block-stream", "arguments": {"job-id": "s2", "device": FILTER}}, busy("#blockN")),
    ({"execute": "block-commit", "arguments": {"device": "E", "top-node": "C", "base-node": "A", "job-id": "c"}}, busy("C")),
    ({"execute": "block-commit", "arguments": {"device": "E", "top-node": "D", "base-node": "B", "job-id": "c"}}, busy("D")),
    ({"execute": "block-commit", "arguments": {"device": "E", "top-node": "B", "base-node": "A", "job-id": "c"}}, busy("C")),
    ({"execute": "block-commit", "arguments": {"device": "E", "base-node": "C", "job-id": "c"}}, busy("#blockN")),
    ({"execute": "block-commit", "arguments": {"device": "D", "base-node": "C", "job-id": "c"}}, err("Need a root block node")),
    ({"execute": "blockdev-del", "arguments": {"node-name": "C"}}, busy("C")),
    ({"execute": "blockdev-del", "arguments": {"node-name": "D"}}, busy("D")),
    ({"execute": "blockdev-del", "arguments": {"node-name": FILTER}}, err("Node #blockN is in use")),
    ({"execute": "blockdev-del", "arguments": {"node-name": "B"}}, err("Node 'B' is busy: node is used as backing hd of 'C'")),
    ({"execute": "block_resize", "arguments": {"node-name": "C", "size": 1 << 22}}, err("Device '(null)' is in use")),
    ({"execute": "block_resize", "arguments": {"node-name": FILTER, "size": 1 << 22}}, err("Device '(null)' is in use")),
    ({"execute": "block_resize", "arguments": {"node-name": "B", "size": 1 << 22}}, err("Device '(null)' is in use")),
    ({"execute": "blockdev-mirror", "arguments": {"device": "D", "target": "T", "sync": "full", "job-id": "m"}}, err("Need a root block node")),
    ({"execute": "blockdev-mirror", "arguments": {"device": FILTER, "target": "T", "sync": "full", "job-id": "m"}}, err("Need a root block node")),
    ({"execute": "blockdev-backup", "arguments": {"device": "C", "target": "T", "sync": "full", "job-id": "b"}}, busy("C")),
    ({"execute": "blockdev-snapshot-sync", "arguments": {"node-name": FILTER, "snapshot-file": "S.qcow2", "snapshot-node-name": "S", "format": "qcow2"}}, busy("#blockN")),
    ({"execute": "blockdev-snapshot", "arguments": {"node": "D", "overlay": "T"}}, busy("D")),
    ({"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "C", "name": "x"}}, err("Need a root block node")),
    ({"execute": "change-backing-file", "arguments": {"device": FILTER, "image-node-name": "D", "backing-file": "x.qcow2"}}, err("Need a root block node")),
    # FACTS §8: change-backing-file's refusals, in QEMU's order
    ({"execute": "change-backing-file", "arguments": {}}, err("Parameter 'device' is missing")),
    ({"execute": "change-backing-file", "arguments": {"device": "E", "backing-file": "x"}}, err("Parameter 'image-node-name' is missing")),
    ({"execute": "change-backing-file", "arguments": {"device": "E", "image-node-name": "C"}}, err("Parameter 'backing-file' is missing")),
    (cbf("E", 5), err("Invalid parameter type for 'image-node-name', expected: string")),
    ({"execute": "change-backing-file", "arguments": {**cbf("E", "C")["arguments"], "extra": 1}}, err("Parameter 'extra' is unexpected")),
    (cbf("nope", "C"), err("Cannot find device='nope' nor node-name='nope'")),
    (cbf("D", "nope"), NEED_ROOT),
    (cbf("C", "C"), NEED_ROOT),
    (cbf("B", "C"), NEED_ROOT),
    (cbf("E", "nope"), err("Cannot find device='' nor node-name='nope'")),
    (cbf("E", "A"), NO_BACKING),
    (cbf("E", FILTER, "f.qcow2"), err("Could not change backing file to 'f.qcow2': Operation not supported")),
    # FACTS §9, §10: root checks, and the other guarded commands by source role
    ({"execute": "block-commit", "arguments": {"device": FILTER, "base-node": "A", "job-id": "c"}}, NEED_ROOT),
    ({"execute": "block-commit", "arguments": {"device": "C", "base-node": "A", "job-id": "c"}}, NEED_ROOT),
    ({"execute": "block-commit", "arguments": {"device": "B", "base-node": "A", "job-id": "c"}}, NEED_ROOT),
    ({"execute": "block-commit", "arguments": {"device": "nope", "base-node": "A", "job-id": "c"}},
     {"error": {"class": "DeviceNotFound", "desc": "Device 'nope' not found"}}),
    ({"execute": "blockdev-mirror", "arguments": {"device": "B", "target": "T", "sync": "full", "job-id": "m"}}, NEED_ROOT),
    ({"execute": "drive-mirror", "arguments": {"device": "C", **DRIVE_MIRROR}}, NEED_ROOT),
    ({"execute": "drive-mirror", "arguments": {"device": FILTER, **DRIVE_MIRROR}}, NEED_ROOT),
    ({"execute": "drive-mirror", "arguments": {"device": "B", **DRIVE_MIRROR}}, NEED_ROOT),
    ({"execute": "drive-backup", "arguments": {"device": "D", **DRIVE_BACKUP}}, busy("D")),
    ({"execute": "drive-backup", "arguments": {"device": FILTER, **DRIVE_BACKUP}}, busy("#blockN")),
    ({"execute": "blockdev-backup", "arguments": {"device": FILTER, "target": "T", "sync": "full", "job-id": "b"}}, busy("#blockN")),
    ({"execute": "blockdev-snapshot", "arguments": {"node": "B", "overlay": "T"}}, USED_BY_C),
    ({"execute": "blockdev-snapshot-sync", "arguments": {"node-name": "B", "snapshot-file": "S.qcow2", "snapshot-node-name": "S", "format": "qcow2"}}, USED_BY_C),
]


def test_every_command_a_running_stream_refuses():
    lines = [stream("D", "B"), *(line for line, _ in REFUSED), verb("cancel", "D"), verb("dismiss", "D")]
    r = agreed(lines, extra_images=["T"])
    assert r.steps[0].qemu_jobs["stream-D"]["status"] == "running"
    for step, (_, answer) in zip(r.steps[1:], REFUSED):
        assert step.outcome == "compared" and step.qemu_answer == answer, step
    # the refused backup/snapshots drained the job: the model followed it to PENDING
    assert any(step.drain_steps for step in r.steps)
    assert r.steps[-1].qemu_graph == FULL


def answers_of(r: ReplayReport) -> list[Any]:
    """QEMU's answer to each line, None where the model said ModelLimit
    (the line was not sent)."""
    return [step.qemu_answer if step.outcome == "compared" else None for step in r.steps]


def test_a_stream_on_the_root_makes_it_no_root():
    """FACTS §9: E is the held top of stream-E; root checks refuse it, op
    blockers answer busy(E).  After dismiss E is a root again."""
    held_e = [
        (cbf("E", "D"), NEED_ROOT),
        (cbf("E", "nope"), NEED_ROOT),
        (cbf("@filter:stream-E", "D"), NEED_ROOT),
        ({"execute": "block-commit", "arguments": {"device": "E", "base-node": "A", "job-id": "c"}}, NEED_ROOT),
        ({"execute": "block-commit", "arguments": {"device": "E", "top-node": "D", "base-node": "A", "job-id": "c"}}, NEED_ROOT),
        ({"execute": "blockdev-mirror", "arguments": {"device": "E", "target": "T", "sync": "full", "job-id": "m"}}, NEED_ROOT),
        ({"execute": "drive-mirror", "arguments": {"device": "E", **DRIVE_MIRROR}}, NEED_ROOT),
        ({"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "E", "name": "x"}}, NEED_ROOT),
        ({"execute": "blockdev-backup", "arguments": {"device": "E", "target": "T", "sync": "full", "job-id": "b"}}, busy("E")),
        ({"execute": "blockdev-snapshot", "arguments": {"node": "E", "overlay": "T"}}, busy("E")),
        ({"execute": "blockdev-del", "arguments": {"node-name": "E"}}, busy("E")),
        ({"execute": "block_resize", "arguments": {"node-name": "E", "size": 1 << 22}}, err("Device '(null)' is in use")),
    ]
    after = [(cbf("E", "nope"), err("Cannot find device='' nor node-name='nope'")),
             (cbf("E", "X"), err("Cannot find device='' nor node-name='X'"))]
    lines = [stream("E", "C"), *(line for line, _ in held_e), verb("cancel", "E"), verb("dismiss", "E"),
             *(line for line, _ in after)]
    r = agreed(lines, extra_images=["T"])
    answers = answers_of(r)
    assert answers[1 : 1 + len(held_e)] == [answer for _, answer in held_e]
    assert answers[-len(after) :] == [answer for _, answer in after]


#: After stream-D <- base B concluded, not dismissed (FACTS §9): the same by
#: either end; then what differs by the end, before and after dismiss.
CONCLUDED = [
    (cbf("C", "C"), NEED_ROOT),
    (cbf(FILTER, "C"), NEED_ROOT),
    ({"execute": "block-commit", "arguments": {"device": "C", "base-node": "A", "job-id": "c"}}, NEED_ROOT),
    ({"execute": "block-commit", "arguments": {"device": FILTER, "base-node": "A", "job-id": "c"}}, NEED_ROOT),
    ({"execute": "blockdev-mirror", "arguments": {"device": "C", "target": "T", "sync": "full", "job-id": "m"}}, NEED_ROOT),
    ({"execute": "blockdev-mirror", "arguments": {"device": FILTER, "target": "T", "sync": "full", "job-id": "m"}}, NEED_ROOT),
    ({"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "C", "name": "x"}}, NEED_ROOT),
    ({"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": FILTER, "name": "x"}}, NEED_ROOT),
    ({"execute": "blockdev-del", "arguments": {"node-name": FILTER}}, busy("#blockN")),
    ({"execute": "blockdev-del", "arguments": {"node-name": "C"}}, busy("C")),
    # QEMU 7.2 aborts on this one: the model does not answer, so it is not sent
    (cbf("E", FILTER), None),
]
BY_END = {
    "finalize": ([(cbf("E", "C"), err("'E' and image file are not in the same chain"))],
                 [(cbf("C", "nope"), err("Cannot find device='' nor node-name='nope'")),
                  (cbf("C", "D"), err("'C' and image file are not in the same chain")),
                  (cbf("C", "A"), NO_BACKING)]),
    "cancel": ([(cbf("E", "C"), {"return": {}})],  # accepted: C's header now names no chain file
               [(cbf("C", "nope"), NEED_ROOT),
                ({"execute": "blockdev-mirror", "arguments": {"device": "C", "target": "T", "sync": "full", "job-id": "m"}}, NEED_ROOT)]),
}


@pytest.mark.parametrize("end", list(BY_END))
def test_a_concluded_jobs_nodes_are_no_roots_until_dismissed(end):
    ending = [copy("D"), verb("finalize", "D")] if end == "finalize" else [verb("cancel", "D")]
    before, after = BY_END[end]
    concluded = CONCLUDED + before
    live_del = [({"execute": "blockdev-del", "arguments": {"node-name": FILTER}}, err("Node #blockN is in use"))]
    lines = [stream("D", "B"), *(line for line, _ in live_del), *ending, *(line for line, _ in concluded),
             verb("dismiss", "D"), *(line for line, _ in after)]
    r = agreed(lines, extra_images=["T"])
    answers = answers_of(r)
    assert answers[1] == live_del[0][1]
    start = 2 + len(ending)
    assert answers[start : start + len(concluded)] == [answer for _, answer in concluded]
    assert answers[-len(after) :] == [answer for _, answer in after]
    assert r.steps[-1].qemu_graph == ({**FULL, "D": "B"} if end == "finalize" else FULL)


def test_cancel_while_running_keeps_the_chain_and_the_copied_data():
    # stream E <- base A copies B's chunk 0 at once, then sleeps
    # (the guest writes first: its export ends with its last write, and that drains the job)
    r = agreed([{"step": "guest-write", "device": "drive0", "chunk": 1}, stream("E", "A"),
                verb("cancel", "E"), verb("pause", "E"), verb("dismiss", "E")])
    assert r.steps[2].qemu_jobs["stream-E"] == {"status": "concluded", "offset": 512 * 1024, "len": 4 * 512 * 1024,
                                                "auto-finalize": False, "auto-dismiss": False, "error": "Operation canceled"}
    assert r.steps[3].qemu_answer == err("Job 'stream-E' in state 'concluded' cannot accept command verb 'pause'")
    assert r.steps[-1].qemu_graph == FULL
    assert r.qemu_data["E"] == [2, 10, 0, 5]


def test_cancel_while_paused_needs_force():
    r = agreed([stream("E", "A"), verb("pause", "E"), verb("cancel", "E"), verb("cancel", "E", force=True),
                verb("dismiss", "E")])
    assert r.steps[1].qemu_jobs["stream-E"]["status"] == "paused"
    assert r.steps[2].qemu_answer == err("The block job for device 'stream-E' is currently paused")
    assert r.steps[3].qemu_jobs["stream-E"]["status"] == "concluded"
    assert r.steps[-1].qemu_graph == FULL


def test_cancel_while_pending_changes_no_link():
    # three copies (chunks 0-2 come from B, C, D), then a wake skips chunk 3
    r = agreed([stream("E", "A"), copy("E"), copy("E"), copy("E"), verb("cancel", "E"), verb("finalize", "E"),
                verb("dismiss", "E")])
    assert r.steps[2].qemu_jobs["stream-E"]["status"] == "running"
    assert r.steps[3].qemu_jobs["stream-E"]["status"] == "pending"
    assert r.steps[5].qemu_answer == err("Job 'stream-E' in state 'concluded' cannot accept command verb 'finalize'")
    assert r.steps[-1].qemu_graph == FULL
    assert r.qemu_data["E"] == [2, 3, 4, 5]  # every chunk was copied before the cancel


def test_two_streams_that_touch_upper_first_run_to_the_end():
    # E <- base C holds E, D; C <- base A starts at E's base (FACTS §6)
    r = agreed([stream("E", "C"), stream("C", "A"), copy("E"), copy("C"),
                verb("finalize", "C"), verb("finalize", "E"), verb("dismiss", "C"), verb("dismiss", "E")])
    assert r.steps[1].qemu_answer == {"return": {}}
    assert r.steps[1].qemu_graph == {"filter:stream-E": "E", "E": "D", "D": "filter:stream-C",
                                     "filter:stream-C": "C", "C": "B", "B": "A", "A": None}
    assert r.steps[-1].qemu_graph == {"E": "C", "D": "C", "C": "A", "B": "A", "A": None}
    assert r.qemu_views == r.model_views


@pytest.mark.parametrize("first, second, answer", [
    (("C", "A"), ("E", "C"), busy("#blockN")),  # touching, lower first: its filter is on the walk
    (("D", "B"), ("E", "A"), busy("#blockN")),
    (("D", "B"), ("C", "A"), busy("C")),
    (("C", "A"), ("D", "B"), busy("#blockN")),
    (("E", "C"), ("D", "A"), busy("D")),
    (("E", "A"), ("C", "A"), busy("C")),
])
def test_two_streams_that_overlap_are_refused(first, second, answer):
    r = agreed([stream(*first), stream(*second), verb("cancel", first[0]), verb("dismiss", first[0])])
    assert r.steps[1].qemu_answer == answer
    assert r.steps[-1].qemu_graph == FULL


def test_random_walks_agree():
    walks = [random_walk(MODEL, random.Random(i), 10) for i in range(5)]
    for lines in walks:
        agreed(lines)


def test_run_conform_reports_agreement(tmp_path, capsys):
    """Three walks in every QMP form; the counterexample search is
    test_run_conform_walks_with_change_backing_file's (the default
    scenario has none, and searching it in every form takes a minute)."""
    assert run_conform(3, 7, tmp_path, with_counterexamples=False) == 0
    assert "3/3 traces agree" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


# -- change-backing-file accepted (FACTS §8): the header changes, the link does not ------------
CBF_MODEL = Qemu72Model(Scenario(profile="qemu-7.2", chunks=4, header_changes=2))
OK = {"return": {}}


def test_change_backing_file_of_held_nodes_then_finalize_overwrites_the_tops_header():
    """stream-D <- base A holds C and D.  C's header is pointed at A: QEMU
    accepts, the read-only C is reopened twice, and both drains wake the
    job, which copies C's chunk then ends; D's (read-write) at B: no drain.
    The live graph never changes; finalize writes A's json: filename into
    D's header over the user's B."""
    r = replay(CBF_MODEL, [stream("D", "A"), cbf("E", "C", "A.qcow2"), cbf("E", "D", "B.qcow2"),
                           verb("finalize", "D"), verb("dismiss", "D")])
    assert r.agrees, r.to_markdown()
    start, on_c, on_d, finalize = r.steps[:4]
    assert on_c.qemu_answer == OK and on_c.drain_steps == ["stream-D", "stream-D"]
    assert on_c.qemu_headers["C"] == "A" and on_c.qemu_graph == start.qemu_graph and on_c.qemu_graph["C"] == "B"
    assert on_d.qemu_answer == OK and not on_d.drain_steps
    assert on_d.qemu_headers["D"] == "B" and on_d.qemu_graph == on_c.qemu_graph
    assert finalize.qemu_headers["D"] == "A" and finalize.qemu_graph["D"] == "A"
    assert r.qemu_headers == {"A": None, "B": "A", "C": "A", "D": "A", "E": "D"}


def test_change_backing_file_to_nothing_and_a_cancel_writes_no_header():
    r = replay(CBF_MODEL, [cbf("E", "C", ""), stream("D", "B"), cbf("E", "D", "A.qcow2"),
                           verb("cancel", "D"), verb("dismiss", "D")])
    assert r.agrees, r.to_markdown()
    assert r.steps[0].qemu_answer == OK and r.steps[0].qemu_headers["C"] is None
    assert r.steps[-1].qemu_graph == FULL
    assert r.qemu_headers == {"A": None, "B": "A", "C": None, "D": "A", "E": "D"}


#: The finding needs none of the other QMP forms; without them the search for it takes a third of the time.
CBF_SCENARIO = Scenario(profile="qemu-7.2", commands=(*DEFAULT_COMMANDS, "change-backing-file"), qmp_forms=())


def test_conform_replays_the_change_backing_file_finding():
    """The model's shortest counterexample of isolation, with change-backing-file
    enabled, on qsd: QEMU accepts the rewrite of the held node's header, the
    header read back names the new file, the live graph stays, and the
    model and QEMU agree at every step."""
    model = Qemu72Model(CBF_SCENARIO)
    found = dict(counterexamples(model))
    assert set(found) == {"isolation", "isolation.guarded-ops"}
    lines = found["isolation"]
    rewrite = lines[-1]
    assert [line.get("execute") for line in lines] == ["block-stream", "change-backing-file"]
    report = Replayer(model).run(lines)
    assert report.agrees, report.to_markdown()
    step = report.steps[-1]
    image, target = rewrite["arguments"]["image-node-name"], rewrite["arguments"]["backing-file"]
    _, started = Executor72(model.rules).execute(model.init_states()[0], lines[0])
    assert model.rules.blocked(started, image)  # the job holds the image
    assert step.outcome == "compared" and step.qemu_answer == OK == step.model_answer
    assert step.qemu_headers[image] == target.removesuffix(".qcow2") == step.model_headers[image]
    assert step.qemu_graph == report.steps[0].qemu_graph == step.model_graph
    assert report.qemu_headers[image] == target.removesuffix(".qcow2")


def test_run_conform_walks_with_change_backing_file(tmp_path, capsys):
    """Walks draw change-backing-file too; the counterexamples (the finding) replay."""
    scenario = Scenario(profile="qemu-7.2", chain_length=4, commands=(*DEFAULT_COMMANDS, "change-backing-file"))
    walks = [random_walk(Qemu72Model(scenario), random.Random(f"7:{i}"), 8) for i in range(2)]
    assert any(line.get("execute") == "change-backing-file" for walk in walks for line in walk)
    assert run_conform(2, 7, tmp_path, steps=8, scenario=scenario) == 0
    assert "4/4 traces agree" in capsys.readouterr().out


#: Active commits need the guest's writes spent (the model does not follow
#: the guest's device through the pivot): one write, then the commit.
ACTIVE_MODEL = Qemu72Model(Scenario(profile="qemu-7.2", chunks=4, commands=(*DEFAULT_COMMANDS, "block-commit")))
WRITE_0 = {"step": "guest-write", "device": "drive0", "chunk": 0}


def active_commit(base: str, **extra: Any) -> dict[str, Any]:
    return {"execute": "block-commit", "arguments": {"job-id": "commit-E", "device": "E", "base-node": base, **extra}}


def commit_verb(name: str, **extra: Any) -> dict[str, Any]:
    key = "id" if name.startswith("job-") or name in ("block-job-finalize", "block-job-dismiss") else "device"
    return {"execute": name, "arguments": {key: "commit-E", **extra}}


def test_an_active_commit_runs_run_by_run_to_ready_standby_and_complete():
    """FACTS §12.2: E <- base C after the guest wrote chunk 0 has two runs
    (chunk 0; chunks 2-3); READY at the kick after them; a complete in
    STANDBY acts at the resume; the pivot at finalize moves nothing."""
    copy_e = {"step": "job-copy", "job": "commit-E"}
    report = replay(ACTIVE_MODEL, [
        WRITE_0, active_commit("C", **{"auto-finalize": False, "auto-dismiss": False}), copy_e, copy_e,
        commit_verb("block-job-pause"), commit_verb("job-complete"), commit_verb("block-job-resume"),
        commit_verb("block-job-finalize"), commit_verb("block-job-dismiss")])
    assert report.agrees, report.to_markdown()
    offsets = [report.steps[i].qemu_jobs["commit-E"]["offset"] // (512 * 1024) for i in (1, 2, 3)]
    assert offsets == [1, 3, 3]
    assert [report.steps[i].qemu_jobs["commit-E"]["status"] for i in (3, 4, 5, 6, 7)] == [
        "ready", "standby", "standby", "pending", "concluded"]
    assert report.steps[1].qemu_graph == {"filter:commit-E": "E", **FULL}
    assert report.steps[-1].qemu_graph == FULL
    assert report.qemu_data["C"] == [10, 3, 4, 5]


@pytest.mark.parametrize("cancel, outcome", [
    (commit_verb("block-job-cancel"), "BLOCK_JOB_COMPLETED"),  # completes without the pivot
    (commit_verb("block-job-cancel", force=True), "BLOCK_JOB_CANCELLED"),
    (commit_verb("job-cancel"), "BLOCK_JOB_CANCELLED"),
])
def test_a_cancel_in_ready(cancel, outcome):
    """FACTS §12.2 Outcomes: E <- base B copies its one run at once; in
    READY a cancel without force completes, a forced one aborts; either
    way the chain is as before and B keeps the chunks."""
    report = agreed_active([WRITE_0, active_commit("B"), {"step": "job-copy", "job": "commit-E"}, cancel])
    assert [e["event"] for e in report.steps[-1].qemu_events if e["event"].startswith("BLOCK_JOB")] == [outcome]
    assert report.steps[-1].qemu_graph == FULL and report.steps[-1].qemu_jobs == {}
    assert report.qemu_data["B"] == [10, 3, 4, 5]


def test_what_an_active_commit_refuses_and_what_it_lets_through():
    """FACTS §12.3, the active column: E, D, C and the filter are held, C
    (the target) carries a BlockBackend, B below the base is free."""
    lines = [
        {"execute": "block-stream", "arguments": {"job-id": "s", "device": "D"}},
        {"execute": "block-stream", "arguments": {"job-id": "s", "device": "@filter:commit-E"}},
        {"execute": "blockdev-del", "arguments": {"node-name": "C"}},
        {"execute": "blockdev-del", "arguments": {"node-name": "B"}},
        {"execute": "block-commit", "arguments": {"job-id": "c2", "device": "E"}},
        {"execute": "block-stream", "arguments": {"job-id": "stream-B", "device": "B", "base-node": "A"}},
    ]
    report = agreed_active([WRITE_0, active_commit("C"), *lines, commit_verb("job-cancel")])
    assert [s.qemu_answer for s in report.steps[2:8]] == [
        err("Node 'D' is busy: block device is in use by block job: commit"),
        err("Node '#blockN' is busy: block device is in use by block job: commit"),
        err("Node C is in use"),
        err("Node 'B' is busy: node is used as backing hd of 'C'"),
        err("Need a root block node"),
        {"return": {}},
    ]


def agreed_active(lines: list[dict[str, Any]]) -> ReplayReport:
    report = replay(ACTIVE_MODEL, lines)
    assert report.agrees, report.to_markdown()
    return report


def test_the_guest_leaves_with_its_last_write_so_the_pivot_moves_no_export():
    """The replay ends the guest's NBD export with its last write, as the
    model's guest leaves then; otherwise the pivot would move the export
    onto C, and a stream through C would meet a permission conflict (the
    review replayed it) that the model does not follow."""
    copy_e = {"step": "job-copy", "job": "commit-E"}
    stream_d = {"execute": "block-stream", "arguments": {"job-id": "stream-D", "device": "D", "base-node": "B"}}
    report = agreed_active([WRITE_0, active_commit("C"), copy_e, copy_e, commit_verb("block-job-complete"), stream_d])
    assert report.steps[-1].qemu_answer == {"return": {}}
