"""QEMU 7.2's other QMP forms, replayed on qemu-storage-daemon: every step must agree.

QEMU's defaults (auto-finalize, auto-dismiss) and their mixtures, ``bottom``,
a named filter, the job-* verbs and query-jobs.  The replay compares each
line's answer and job events, the graph and the job list (with the auto
flags and query-jobs' error) after it, and the data at the end (see
blockcheck.conformance.replay); each test also states what its scenario is
about, so a model and a QEMU that agreed on something else would fail.

Scenario as in test_replay.py: A <- B <- C <- D <- E with 4 chunks; A holds
every chunk, B chunk 0, C chunk 1, D chunk 2, E chunk 3.  Stream D base B
copies C's chunk 1 at its start and ends its run at its first job-copy.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from blockcheck.conformance.cli import random_walk
from blockcheck.conformance.replay import ReplayReport, replay
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.scenario import DEFAULT_COMMANDS, QMP_FORMS, Scenario

pytestmark = pytest.mark.qemu

MODEL = Qemu72Model(Scenario(profile="qemu-7.2", chunks=4, qmp_forms=tuple(QMP_FORMS)))
BUSY = "block device is in use by block job: stream"
OK = {"return": {}}


def stream(top: str, base: str | None = None, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"job-id": f"stream-{top}", "device": top, **extra}
    if base:
        args["base-node"] = base
    return {"execute": "block-stream", "arguments": args}


def manual(top: str, base: str | None = None, **extra: Any) -> dict[str, Any]:
    return stream(top, base, **{"auto-finalize": False, "auto-dismiss": False, **extra})


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"execute": name, "arguments": args}


def copy(top: str) -> dict[str, Any]:
    return {"step": "job-copy", "job": f"stream-{top}"}


def err(desc: str) -> dict[str, Any]:
    return {"error": {"class": "GenericError", "desc": desc}}


def agreed(lines: list[dict[str, Any]]) -> ReplayReport:
    report = replay(MODEL, lines)
    assert report.agrees, report.to_markdown()
    return report


def statuses(step: Any) -> list[str]:
    return [e["data"]["status"] for e in step.qemu_events if e["event"] == "JOB_STATUS_CHANGE"]


@pytest.mark.parametrize("flags, after_run", [
    ({}, []),
    ({"auto-dismiss": False}, ["concluded"]),
    ({"auto-finalize": False}, ["pending"]),
])
def test_defaults_and_their_mixtures_end_the_job_by_themselves(flags, after_run):
    lines = [stream("D", "B", **flags), copy("D")]
    if "auto-dismiss" in flags:
        lines.append(call("job-dismiss", id="stream-D"))
    if "auto-finalize" in flags:
        lines.append(call("block-job-finalize", id="stream-D"))
    r = agreed(lines)
    assert statuses(r.steps[0]) == ["created", "running"]
    ended = r.steps[1]
    assert [j["status"] for j in ended.qemu_jobs.values()] == after_run
    assert statuses(ended)[:2] == ["waiting", "pending"]
    # every job is gone at the end and D reads through B
    assert r.steps[-1].qemu_jobs == {} and r.steps[-1].qemu_graph["D"] == "B"


@pytest.mark.parametrize("flags", [{}, {"auto-dismiss": False}])
def test_cancel_with_and_without_auto_dismiss(flags):
    r = agreed([stream("D", "B", **flags), call("block-job-cancel", device="stream-D")])
    assert statuses(r.steps[1]) == ["aborting", "concluded"] + ([] if flags else ["null"])
    assert r.steps[1].qemu_graph["D"] == "C"


def test_job_verbs_and_query_jobs():
    r = agreed([
        manual("D", "B"),
        call("job-pause", id="stream-D"),
        call("query-jobs"),
        call("job-cancel", id="stream-D"),  # no force needed on a paused job
        call("query-jobs"),
        call("query-block-jobs"),
        call("job-pause", id="nope"),
        call("job-dismiss", id="stream-D"),
    ])
    assert r.steps[2].qemu_answer["return"][0]["status"] == "paused"
    assert statuses(r.steps[3])[:2] == ["running", "aborting"]
    assert r.steps[4].qemu_answer["return"][0]["error"] == "Operation canceled"
    assert r.steps[6].qemu_answer == err("Job not found")


def test_bottom_and_its_refusals():
    r = agreed([
        stream("D", "B", bottom="C"),
        stream("D", bottom="E"),
        stream("D", bottom="C", **{"backing-file": "B.qcow2"}),
        manual("C", "A"),
        stream("E", "C"),
        stream("D", bottom="@filter:stream-C"),
        manual("E", bottom="D"),
        copy("C"), copy("E"),
        call("block-job-finalize", id="stream-E"), call("block-job-finalize", id="stream-C"),
        call("block-job-dismiss", id="stream-E"), call("block-job-dismiss", id="stream-C"),
    ])
    answers = [s.qemu_answer for s in r.steps[:7]]
    assert answers == [
        err("'bottom' and 'base-node' cannot be specified at the same time"),
        err("Node 'E' is not in a chain starting from 'D'"),
        err("backing file specified, but streaming the entire chain"),
        OK,
        err(f"Node '#blockN' is busy: {BUSY}"),
        err("Node '#blockN' is a filter, use a non-filter node as 'bottom'"),
        OK,
    ]
    # E finalized first points at C's filter; once C's job drops it, at C
    assert r.steps[9].qemu_graph["E"] == "filter:stream-C"
    assert r.steps[-1].qemu_graph == {"E": "C", "D": "C", "C": "A", "B": "A", "A": None}


def test_a_named_filter():
    named = {"filter-node-name": "stream-D-cor"}
    r = agreed([
        manual("D", "B", **named),
        stream("E"),
        call("blockdev-del", **{"node-name": "stream-D-cor"}),
        manual("B", "A", **{"filter-node-name": "C"}),
        call("block-job-cancel", device="stream-D"),
        call("block-job-dismiss", id="stream-D"),
    ])
    assert [s.qemu_answer for s in r.steps[1:4]] == [
        err(f"Node 'stream-D-cor' is busy: {BUSY}"),
        err("Node stream-D-cor is in use"),
        err("Could not create node: Duplicate nodes with node-name='C'"),
    ]


def test_random_walks_in_every_form_agree():
    for i in range(2):  # blockcheck conform and bench/bench_conform.py draw many more
        agreed(random_walk(MODEL, random.Random(f"forms:{i}"), 12))


def test_blockdev_del_of_a_node_the_stream_cut_out():
    """FACTS §1: C, cut out by stream D base-node B, can be deleted; QEMU then knows no C."""
    del_c = call("blockdev-del", **{"node-name": "C"})
    r = agreed([stream("D", "B"), del_c, copy("D"), del_c, del_c, stream("C"), call("blockdev-del", **{"node-name": "B"})])
    assert [s.qemu_answer for s in r.steps] == [
        OK, err(f"Node 'C' is busy: {BUSY}"), OK, OK, err("Failed to find node with node-name='C'"),
        err("Cannot find device='C' nor node-name='C'"), err("Node 'B' is busy: node is used as backing hd of 'D'")]
    assert "C" not in r.steps[3].qemu_graph


def test_walks_that_delete_nodes_agree():
    model = Qemu72Model(Scenario(profile="qemu-7.2", chunks=4, qmp_forms=tuple(QMP_FORMS),
                                 commands=(*DEFAULT_COMMANDS, "blockdev-del")))
    walks = [random_walk(model, random.Random(f"del:{i}"), 12) for i in range(2)]
    assert any(line.get("execute") == "blockdev-del" for walk in walks for line in walk)
    for lines in walks:
        report = replay(model, lines)
        assert report.agrees, report.to_markdown()


def test_a_concluded_jobs_top_names_its_overlay_first():
    """Found by conform's walks: once a job drops its filter (finalized or
    cancelled), E's backing link is attached to the top D again, and its
    blocker, now the newest, is the one blockdev-del and the snapshot
    commands name; the cut-out C has only the job's."""
    snapshot = call("blockdev-snapshot-sync", **{"node-name": "D", "snapshot-file": "S.qcow2",
                                                 "snapshot-node-name": "S", "format": "qcow2"})
    r = agreed([manual("D", "B"), call("blockdev-del", **{"node-name": "D"}), snapshot,
                call("block-job-cancel", device="stream-D"),
                call("blockdev-del", **{"node-name": "D"}), snapshot, call("blockdev-del", **{"node-name": "C"}),
                call("job-dismiss", id="stream-D")])
    assert [s.qemu_answer for s in r.steps[1:7]] == [
        err(f"Node 'D' is busy: {BUSY}"), err(f"Node 'D' is busy: {BUSY}"), OK,
        err("Node 'D' is busy: node is used as backing hd of 'E'"),
        err("Node 'D' is busy: node is used as backing hd of 'E'"),
        err(f"Node 'C' is busy: {BUSY}")]
