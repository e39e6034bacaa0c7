"""QEMU 7.2's own answers about block-stream, recorded as tests.

These are the project's ground truth: every expected answer here was
observed from qemu-storage-daemon 7.2 (Debian 1:7.2+dfsg-7+deb12u18) and is
asserted exactly (error class and description, event order, graph shape,
data).

Set-up for every test unless it says otherwise: the qcow2 chain
A <- B <- C <- D <- E (E active), every node added with ``blockdev-add``
under its letter (protocol nodes ``A-file`` ..), A..D read-only, E
read-write, no device names (qemu-storage-daemon has no guest devices).
One cluster = one 512 KiB stream chunk.  Automatic node names are
normalised to ``#blockN``.
"""

from __future__ import annotations

import re
import signal

import pytest

from blockcheck.conformance import (
    CHUNK,
    HarnessError,
    QemuChain,
    default_alloc,
    expected_view,
)

pytestmark = pytest.mark.qemu

N = 8
#: C holds 1, 3, 5, 7 and D holds 2, 6, so the stream D <- base B copies
#: exactly chunks 1, 3, 5 and 7 of C: one at start and one per step.
LAYOUT = {
    "A": {c: 0xA0 + c for c in range(N)},
    "B": {0: 0xB0, 3: 0xB3},
    "C": {1: 0xC1, 3: 0xC3, 5: 0xC5, 7: 0xC7},
    "D": {2: 0xD2, 6: 0xD6},
    "E": {7: 0xE7},
}
CHAIN = "ABCDE"
VIEWS = {n: expected_view(CHAIN[: i + 1][::-1], LAYOUT, N) for i, n in enumerate(CHAIN)}
FULL_CHAIN = {"E": "D", "D": "C", "C": "B", "B": "A", "A": None}
MiB = 1024 * 1024

#: For tests that must keep a stream running through many commands: C holds
#: every chunk but 0, so the stream D <- base B copies 15 chunks.
BUSY_N = 16
BUSY_LAYOUT = {
    "A": {c: 0xA0 for c in range(BUSY_N)},
    "B": {0: 0xB0},
    "C": {c: 0xC0 for c in range(1, BUSY_N)},
    "D": {},
    "E": {},
}

OK = {"return": {}}
IN_USE = "block device is in use by block job: stream"


def err(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


def busy(node: str) -> dict:
    return err(f"Node '{node}' is busy: {IN_USE}")


def stream(top: str, base: str | None = None, job: str | None = "s", **kw) -> dict:
    args: dict = {"device": top}
    if job is not None:
        args["job-id"] = job
    if base is not None:
        args["base-node"] = base
    args.update(kw)
    return args


def chain_(make_chain, layout=LAYOUT, n=N, **kw) -> QemuChain:
    return make_chain(alloc=layout, clusters=n, **kw)


# ==========================================================================
# 1. block-stream into an intermediate node


def test_1_stream_into_intermediate_succeeds_and_shortens_the_chain(make_chain):
    q = chain_(make_chain)
    assert q.views() == VIEWS
    assert q.execute("block-stream", stream("D", "B")) == OK
    q.wait_status("s", "gone")
    assert q.take_events() == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "waiting", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "pending", "id": "s"}},
        {"event": "BLOCK_JOB_COMPLETED", "data": {
            "device": "s", "len": N * CHUNK, "offset": N * CHUNK, "speed": 0,
            "type": "stream"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "s"}},
    ]
    # D's backing is now B.  C is out of every chain but still a node: it
    # was added by blockdev-add, so the monitor owns it; its own backing
    # link to B stays.
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    nodes = {n["node-name"]: n for n in q.nodes()}
    assert set(nodes) == {"A", "A-file", "B", "B-file", "C", "C-file",
                          "D", "D-file", "E", "E-file"}
    assert nodes["D"]["ro"] is True          # reopened read-only again
    assert nodes["C"]["image"]["backing-filename"] == "B.qcow2"
    # without backing-file, D's new backing string is B's filename, which is
    # a json: pseudo-filename because B was opened with an explicit backing
    d_backing = nodes["D"]["image"]["backing-filename"]
    assert d_backing.startswith('json:{"backing": {"driver": "qcow2", "file": '
                                '{"driver": "file", "filename": ')
    assert d_backing.endswith('/B.qcow2"}}')
    # nothing any node reads has changed, C included
    assert q.views() == VIEWS
    # the detached C can be deleted; B cannot.  B now has two backing
    # parents; the message names the newest one (D).
    assert q.execute("blockdev-del", {"node-name": "B"}) == err(
        "Node 'B' is busy: node is used as backing hd of 'D'")
    assert q.execute("blockdev-del", {"node-name": "C"}) == OK
    assert q.graph() == {"E": "D", "D": "B", "B": "A", "A": None}
    assert q.execute("blockdev-del", {"node-name": "B"}) == err(
        "Node 'B' is busy: node is used as backing hd of 'D'")
    q.stop()
    allocs = q.layer_allocs()
    # C's chunks that D did not hold were copied into D; nothing else changed
    assert allocs["D"] == {1: 0xC1, 2: 0xD2, 3: 0xC3, 5: 0xC5, 6: 0xD6, 7: 0xC7}
    assert {k: v for k, v in allocs.items() if k != "D"} == {
        k: v for k, v in LAYOUT.items() if k != "D"}
    assert q.disk_backing("D") == d_backing


def test_1_backing_file_argument_is_written_into_the_header(make_chain):
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "B", **{"backing-file": "B.qcow2"})) == OK
    q.wait_status("s", "gone")
    assert {n["node-name"]: n["image"].get("backing-filename")
            for n in q.nodes()}["D"] == "B.qcow2"
    q.stop()
    assert q.disk_backing("D") == "B.qcow2"


def test_1_stream_progress_and_allocation_step_by_step(make_chain):
    """Offsets count skipped chunks too; the graph changes only at finalize."""
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "B", speed=1, **{"auto-finalize": False})) == OK
    seen = [q.settle("s")["offset"]]
    for _ in range(3):
        j = q.step("s")
        seen.append((j["offset"], j["status"]))
    assert seen == [2 * CHUNK, (4 * CHUNK, "running"), (6 * CHUNK, "running"),
                    (8 * CHUNK, "pending")]
    assert q.graph() == {"#blockN": "D", "E": "#blockN", **{
        k: v for k, v in FULL_CHAIN.items() if k != "E"}}
    assert q.views() == VIEWS
    assert q.execute("block-job-finalize", {"id": "s"}) == OK
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.views() == VIEWS


def test_1_reading_a_view_drains_and_advances_a_throttled_stream(make_chain):
    """The harness's NBD export of a node the job uses drains it: the job
    shows paused/running pairs and copies more chunks."""
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "B", speed=1, **{"auto-finalize": False})) == OK
    q.settle("s")
    q.take_events()
    assert q.view("D") == VIEWS["D"]
    j = q.settle("s")
    assert j["offset"] > 2 * CHUNK
    assert {e["data"]["status"] for e in q.take_events()} >= {"paused", "running"}


# ==========================================================================
# 2. start-up errors


@pytest.mark.parametrize("args, answer", [
    # no job-id and no device name: the default id is the (empty) device name
    (stream("D", "B", job=None), err("Invalid job ID ''")),
    (stream("D", job=None), err("Invalid job ID ''")),
    (stream("E", job=None), err("Invalid job ID ''")),
    (stream("D", "B", job=""), err("Invalid job ID ''")),
    (stream("D", "B", job="#x"), err("Invalid job ID '#x'")),
    (stream("D", "D"), err("Node 'D' is not a backing image of 'D'")),
    (stream("D", "E"), err("Node 'E' is not a backing image of 'D'")),
    (stream("D", "nope"), err("Cannot find device='' nor node-name='nope'")),
    (stream("nope"), err("Cannot find device='nope' nor node-name='nope'")),
    # 'base' is looked up by file name; nodes opened by blockdev-add with an
    # explicit backing have json: file names, so a plain name is not found
    ({"device": "D", "base": "B.qcow2", "job-id": "s"},
     err("Can't find 'B.qcow2' in the backing chain")),
    ({"device": "D", "base": "B.qcow2", "base-node": "B", "job-id": "s"},
     err("'base' and 'base-node' cannot be specified at the same time")),
    ({"device": "D", "bottom": "C", "base-node": "B", "job-id": "s"},
     err("'bottom' and 'base-node' cannot be specified at the same time")),
    ({"device": "D", "bottom": "E", "job-id": "s"},
     err("Node 'E' is not in a chain starting from 'D'")),
    ({"device": "D", "backing-file": "x", "job-id": "s"},
     err("backing file specified, but streaming the entire chain")),
    (stream("D", "B", **{"filter-node-name": "C"}),
     err("Could not create node: Duplicate nodes with node-name='C'")),
])
def test_2_stream_start_errors(make_chain, args, answer):
    q = chain_(make_chain)
    assert q.execute("block-stream", args) == answer
    assert q.jobs() == [] and q.graph() == FULL_CHAIN


def test_2_export_gives_no_device_name(make_chain):
    """An NBD export of E gives E an anonymous BlockBackend only."""
    q = chain_(make_chain, export_top=True)
    assert q.execute("query-block") == {"return": []}
    assert q.execute("block-stream", stream("E", "C", job=None)) == err("Invalid job ID ''")


def test_2_negative_speed_fails_after_the_job_was_created(make_chain):
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "B", speed=-1)) == err(
        "Parameter 'speed' expects a non-negative value")
    assert q.take_events() == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "s"}},
    ]
    assert q.jobs() == [] and q.graph() == FULL_CHAIN


def test_2_duplicate_job_id_is_checked_after_blockers_and_reopen(make_chain):
    q = chain_(make_chain, layout=BUSY_LAYOUT, n=BUSY_N)
    assert q.execute("block-stream", stream("D", "B", speed=1)) == OK
    q.settle("s")
    q.take_events()
    # the op-blocker walk comes first ...
    assert q.execute("block-stream", stream("C", "A")) == busy("C")
    q.pump(0.1)
    assert q.take_events() == []
    # ... then the read-only top B is reopened read-write (2 drains of s),
    # then the id is checked, then B is reopened read-only (2 more drains)
    assert q.execute("block-stream", stream("B", "A")) == err("Job ID 's' already in use")
    q.pump(0.1)  # room for an unexpected extra event to show up
    assert q.take_events(at_least=8) == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": st, "id": "s"}}
        for _ in range(4) for st in ("paused", "running")]


def test_2_nothing_to_stream_completes_at_once_with_len_0(make_chain):
    """D <- base C: no intermediate.  The job ends at once with offset and
    len 0; D's backing stays C, but its header is rewritten (to C's json:
    filename)."""
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "C")) == OK
    q.wait_status("s", "gone")
    assert [e for e in q.events if e["event"] == "BLOCK_JOB_COMPLETED"] == [
        {"event": "BLOCK_JOB_COMPLETED", "data": {
            "device": "s", "len": 0, "offset": 0, "speed": 0, "type": "stream"}}]
    assert q.statuses("s") == ["created", "running", "waiting", "pending", "concluded", "null"]
    assert q.graph() == FULL_CHAIN and q.views() == VIEWS
    backing = {n["node-name"]: n["image"].get("backing-filename") for n in q.nodes()}["D"]
    assert backing.startswith("json:{") and backing.endswith('/C.qcow2"}}')


def test_2_stream_without_base_pulls_in_the_whole_chain(make_chain):
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D")) == OK
    q.wait_status("s", "gone")
    assert q.graph() == {"E": "D", "D": None, "C": "B", "B": "A", "A": None}
    assert q.views() == VIEWS
    q.stop()
    assert q.layer_alloc("D") == dict(enumerate(VIEWS["D"]))
    assert q.disk_backing("D") is None


# ==========================================================================
# 3. what a running stream D <- base B refuses, and what it lets through

#: (command, arguments, answer, drains): "FILTER" stands for the stream's
#: copy-on-read filter, "TMP" for the temporary directory.  ``drains`` is
#: how many paused/running pairs the refused command caused on the stream
#: (each such drain lets a throttled stream copy one more chunk).
REFUSED = [
    ("block-stream", stream("D", "B", job="s2"), busy("D"), 0),
    ("block-stream", stream("D", job="s2"), busy("D"), 0),
    ("block-stream", stream("D", "C", job="s2"), busy("D"), 0),
    ("block-stream", stream("C", "A", job="s2"), busy("C"), 0),
    ("block-stream", stream("C", job="s2"), busy("C"), 0),
    ("block-stream", stream("E", "A", job="s2"), busy("#blockN"), 0),
    ("block-stream", stream("E", "B", job="s2"), busy("#blockN"), 0),
    ("block-stream", stream("E", "C", job="s2"), busy("#blockN"), 0),
    # E <- base D: the job's filter sits between E and D
    ("block-stream", stream("E", "D", job="s2"), busy("#blockN"), 0),
    ("block-stream", stream("E", job="s2"), busy("#blockN"), 0),
    ("block-stream", stream("FILTER", "B", job="s2"), busy("#blockN"), 0),
    ("block-stream", stream("FILTER", job="s2"), busy("#blockN"), 0),
    ("block-commit", {"device": "E", "top-node": "C", "base-node": "B", "job-id": "c"},
     busy("C"), 0),
    ("block-commit", {"device": "E", "top-node": "C", "base-node": "A", "job-id": "c"},
     busy("C"), 0),
    ("block-commit", {"device": "E", "top-node": "D", "base-node": "C", "job-id": "c"},
     busy("D"), 0),
    ("block-commit", {"device": "E", "top-node": "D", "base-node": "B", "job-id": "c"},
     busy("D"), 0),
    # commit B into A must rewrite C's backing string: C is refused
    ("block-commit", {"device": "E", "top-node": "B", "base-node": "A", "job-id": "c"},
     busy("C"), 0),
    ("block-commit", {"device": "E", "base-node": "D", "job-id": "c"}, busy("#blockN"), 0),
    ("block-commit", {"device": "E", "base-node": "C", "job-id": "c"}, busy("#blockN"), 0),
    ("block-commit", {"device": "E", "top-node": "E", "base-node": "D", "job-id": "c"},
     busy("#blockN"), 0),
    ("block-commit", {"device": "E", "top-node": "FILTER", "base-node": "D", "job-id": "c"},
     busy("#blockN"), 0),
    ("block-commit", {"device": "D", "base-node": "C", "job-id": "c"},
     err("Need a root block node"), 0),
    ("blockdev-del", {"node-name": "C"}, busy("C"), 0),
    ("blockdev-del", {"node-name": "D"}, busy("D"), 0),
    ("blockdev-del", {"node-name": "FILTER"}, err("Node #blockN is in use"), 0),
    ("blockdev-del", {"node-name": "B"}, err("Node 'B' is busy: node is used as backing hd of 'C'"),
     0),
    ("block_resize", {"node-name": "C", "size": 2 * BUSY_N * CHUNK},
     err("Device '(null)' is in use"), 0),
    ("block_resize", {"node-name": "D", "size": 2 * BUSY_N * CHUNK},
     err("Device '(null)' is in use"), 0),
    ("block_resize", {"node-name": "FILTER", "size": 2 * BUSY_N * CHUNK},
     err("Device '(null)' is in use"), 0),
    ("block_resize", {"node-name": "B", "size": 2 * BUSY_N * CHUNK},
     err("Device '(null)' is in use"), 0),
    ("blockdev-mirror", {"device": "C", "target": "T", "sync": "full", "job-id": "m"},
     err("Need a root block node"), 0),
    ("blockdev-mirror", {"device": "D", "target": "T", "sync": "full", "job-id": "m"},
     err("Need a root block node"), 0),
    ("blockdev-mirror", {"device": "FILTER", "target": "T", "sync": "full", "job-id": "m"},
     err("Need a root block node"), 0),
    ("blockdev-backup", {"device": "C", "target": "T", "sync": "full", "job-id": "b"},
     busy("C"), 2),
    ("blockdev-backup", {"device": "D", "target": "T", "sync": "full", "job-id": "b"},
     busy("D"), 2),
    ("blockdev-snapshot-sync", {"node-name": "D", "snapshot-file": "TMP/S.qcow2",
                                "snapshot-node-name": "S", "format": "qcow2"}, busy("D"), 2),
    ("blockdev-snapshot-sync", {"node-name": "C", "snapshot-file": "TMP/S.qcow2",
                                "snapshot-node-name": "S", "format": "qcow2"}, busy("C"), 2),
    ("blockdev-snapshot-sync", {"node-name": "FILTER", "snapshot-file": "TMP/S.qcow2",
                                "snapshot-node-name": "S", "format": "qcow2"},
     busy("#blockN"), 2),
    ("blockdev-snapshot", {"node": "D", "overlay": "T"}, busy("D"), 2),
    ("blockdev-snapshot", {"node": "C", "overlay": "T"}, busy("C"), 2),
    ("blockdev-snapshot", {"node": "FILTER", "overlay": "T"}, busy("#blockN"), 2),
    ("blockdev-snapshot-internal-sync", {"device": "C", "name": "x"},
     err("Need a root block node"), 1),
    ("blockdev-snapshot-internal-sync", {"device": "D", "name": "x"},
     err("Need a root block node"), 1),
    ("change-backing-file", {"device": "FILTER", "image-node-name": "D",
                             "backing-file": "x.qcow2"}, err("Need a root block node"), 0),
]


def _running_stream(make_chain, **kw) -> tuple[QemuChain, str]:
    q = chain_(make_chain, layout=BUSY_LAYOUT, n=BUSY_N, **kw)
    assert q.add_image("T") == OK
    assert q.execute("block-stream", stream("D", "B", speed=1)) == OK
    assert q.settle("s")["offset"] == 2 * CHUNK
    q.take_events()
    return q, q.filter_of("s")


def _subst(obj, filt: str, tmp: str):
    if isinstance(obj, str):
        return obj.replace("FILTER", filt).replace("TMP", tmp)
    if isinstance(obj, dict):
        return {k: _subst(v, filt, tmp) for k, v in obj.items()}
    return obj


@pytest.mark.parametrize("cmd, args, answer, drains", REFUSED,
                         ids=[f"{c}-{i}" for i, (c, *_r) in enumerate(REFUSED)])
def test_3_refused_while_stream_runs(make_chain, cmd, args, answer, drains):
    q, filt = _running_stream(make_chain)
    graph = q.graph()
    assert graph == {"#blockN": "D", "E": "#blockN", "D": "C", "C": "B", "B": "A",
                     "A": None, "T": None}
    assert q.execute(cmd, _subst(args, filt, q.tmpdir)) == answer
    q.pump(0.1)  # room for an unexpected extra event to show up
    assert q.take_events(at_least=2 * drains) == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": st, "id": "s"}}
        for _ in range(drains) for st in ("paused", "running")]
    j = q.settle("s")
    assert (j["status"], j["offset"]) == ("running", (2 + drains) * CHUNK)
    assert q.graph() == graph and [x["id"] for x in q.jobs()] == ["s"]


def test_3_filter_name_in_messages_is_the_given_filter_node_name(make_chain):
    q = chain_(make_chain, layout=BUSY_LAYOUT, n=BUSY_N)
    assert q.execute("block-stream", stream("D", "B", speed=1, **{"filter-node-name": "sf"})) == OK
    assert q.execute("block-stream", stream("E", "A", job="s2")) == busy("sf")
    assert q.execute("blockdev-del", {"node-name": "sf"}) == err("Node sf is in use")


def test_3_accepted_stream_into_the_base_of_the_running_job(make_chain):
    """B is the base of s: not blocked.  B <- base A has no intermediate, so
    the job has nothing to copy and completes at once (the RO->RW reopen of
    B drains s twice, and so does the RW->RO reopen at the end)."""
    q, _ = _running_stream(make_chain)
    assert q.execute("block-stream", stream("B", "A", job="s2")) == OK
    q.wait_status("s2", "gone")
    assert q.statuses("s2") == ["created", "running", "waiting", "pending", "concluded", "null"]
    assert q.job("s")["status"] == "running"
    assert q.graph() == {"#blockN": "D", "E": "#blockN", "D": "C", "C": "B", "B": "A",
                         "A": None, "T": None}


def test_3_accepted_stream_from_the_active_layer_with_the_filter_as_base(make_chain):
    """E <- base-node <the filter of s> is accepted: nothing lies between E
    and its base, so it has nothing to copy and completes at once; E's
    backing stays the filter until s finishes and drops it."""
    q, filt = _running_stream(make_chain)
    assert q.execute("block-stream", stream("E", filt, job="s2", speed=1)) == OK
    q.wait_status("s2", "gone")
    assert q.statuses("s2") == ["created", "running", "waiting", "pending", "concluded", "null"]
    assert q.graph(raw=True)["E"] == filt
    q.finish("s")
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None, "T": None}


def test_3_accepted_mirror_resize_del_of_the_active_layer(make_chain):
    q, filt = _running_stream(make_chain)
    assert q.execute("blockdev-mirror", {"device": "E", "target": "T", "sync": "full",
                                         "job-id": "m", "speed": 1}) == OK
    assert q.execute("block-job-cancel", {"device": "m"}) == OK
    q.wait_status("m", "gone")
    assert q.execute("block_resize", {"node-name": "E", "size": 2 * BUSY_N * CHUNK}) == OK
    assert q.execute("blockdev-del", {"node-name": "E"}) == OK
    assert q.graph() == {"#blockN": "D", "D": "C", "C": "B", "B": "A", "A": None, "T": None}
    assert q.job("s")["status"] == "running"
    q.finish("s")
    assert q.graph() == {"D": "B", "C": "B", "B": "A", "A": None, "T": None}


def test_3_accepted_change_backing_file_of_job_nodes(make_chain):
    """change-backing-file checks the op blocker of the root (``device``),
    not of ``image-node-name``: it rewrites the header of job nodes.  With
    read-only C/D each call reopens the node (two drains of the stream)."""
    q, _ = _running_stream(make_chain)
    for node in ("C", "D", "B"):
        assert q.execute("change-backing-file", {"device": "E", "image-node-name": node,
                                                 "backing-file": f"{node}-x.qcow2"}) == OK
    backing = {n["node-name"]: n["image"].get("backing-filename") for n in q.nodes()}
    assert (backing["B"], backing["C"], backing["D"]) == ("B-x.qcow2", "C-x.qcow2",
                                                         "D-x.qcow2")
    assert q.job("s")["status"] == "running"
    assert q.execute("change-backing-file", {"device": "D", "image-node-name": "C",
                                             "backing-file": "x"}) == err(
        "Need a root block node")


def test_3_accepted_overlay_on_the_top_of_the_job(make_chain):
    q, filt = _running_stream(make_chain)
    assert q.add_image("X", backing="D") == OK
    assert q.add_image("Y", backing="C") == OK
    assert q.add_image("Z", backing=filt) == OK
    g = q.graph()
    assert (g["X"], g["Y"], g["Z"]) == ("D", "C", "#blockN")
    assert q.execute("blockdev-snapshot", {"node": "E", "overlay": "T"}) == OK
    assert q.graph()["T"] == "E"
    assert q.job("s")["status"] == "running"


# ==========================================================================
# 4. cancel


def _stream_started(make_chain, **kw) -> QemuChain:
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "B", speed=1, **kw)) == OK
    assert q.settle("s")["offset"] == 2 * CHUNK
    return q


def _after_cancel_unchanged(q: QemuChain, copied: dict[int, int]) -> None:
    assert q.graph() == FULL_CHAIN
    assert q.views() == VIEWS
    q.stop()
    assert q.layer_alloc("D") == {**LAYOUT["D"], **copied}
    assert q.disk_backing("D") == "C.qcow2"


def test_4_cancel_while_running(make_chain):
    q = _stream_started(make_chain)
    assert q.execute("block-job-cancel", {"device": "s"}) == OK
    q.wait_status("s", "gone")
    assert q.take_events() == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "aborting", "id": "s"}},
        {"event": "BLOCK_JOB_CANCELLED", "data": {
            "device": "s", "len": N * CHUNK, "offset": 2 * CHUNK, "speed": 1,
            "type": "stream"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "s"}},
    ]
    _after_cancel_unchanged(q, {1: 0xC1})


def test_4_cancel_while_user_paused(make_chain):
    q = _stream_started(make_chain)
    assert q.execute("block-job-pause", {"device": "s"}) == OK
    q.wait_status("s", "paused")
    assert q.execute("block-job-cancel", {"device": "s"}) == err(
        "The block job for device 's' is currently paused")
    assert q.execute("block-job-cancel", {"device": "s", "force": True}) == OK
    q.wait_status("s", "gone")
    assert q.statuses("s") == ["created", "running", "paused", "running", "aborting",
                               "concluded", "null"]
    assert [e["event"] for e in q.events if e["event"] != "JOB_STATUS_CHANGE"] == [
        "BLOCK_JOB_CANCELLED"]
    _after_cancel_unchanged(q, {1: 0xC1})


def test_4_job_cancel_ignores_the_user_pause(make_chain):
    q = _stream_started(make_chain)
    assert q.execute("job-pause", {"id": "s"}) == OK
    q.wait_status("s", "paused")
    assert q.execute("job-cancel", {"id": "s"}) == OK
    q.wait_status("s", "gone")
    assert q.statuses("s")[-4:] == ["running", "aborting", "concluded", "null"]


def test_4_cancel_while_pending_undoes_nothing_but_changes_no_chain(make_chain):
    q = _stream_started(make_chain, **{"auto-finalize": False})
    assert q.finish("s")["status"] == "pending"
    assert q.execute("block-job-cancel", {"device": "s"}) == OK
    q.wait_status("s", "gone")
    assert q.take_events() == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "waiting", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "pending", "id": "s"}},
        {"event": "BLOCK_JOB_PENDING", "data": {"type": "stream", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "aborting", "id": "s"}},
        {"event": "BLOCK_JOB_CANCELLED", "data": {
            "device": "s", "len": N * CHUNK, "offset": N * CHUNK, "speed": 0,
            "type": "stream"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "s"}},
    ]
    # every chunk was copied into D, but D still backs onto C
    _after_cancel_unchanged(q, {1: 0xC1, 3: 0xC3, 5: 0xC5, 7: 0xC7})


def test_4_cancelled_job_keeps_its_nodes_until_dismissed(make_chain):
    q = _stream_started(make_chain, **{"auto-dismiss": False})
    assert q.execute("block-job-cancel", {"device": "s"}) == OK
    q.wait_status("s", "concluded")
    assert q.graph() == {"#blockN": None, **FULL_CHAIN}
    assert q.job_nodes("s") == {"main node": ["#blockN"], "active node": ["D"],
                                "intermediate node": ["C"]}
    assert q.execute("blockdev-del", {"node-name": "C"}) == busy("C")
    assert q.execute("block-job-dismiss", {"id": "s"}) == OK
    assert q.graph() == FULL_CHAIN
    assert q.statuses("s") == ["created", "running", "aborting", "concluded", "null"]


# ==========================================================================
# 5. the job state machine


def test_5_statuses_with_manual_finalize_and_dismiss(make_chain):
    q = _stream_started(make_chain, **{"auto-finalize": False, "auto-dismiss": False})
    assert q.job("s") == {
        "id": "s", "type": "stream", "status": "running", "offset": 2 * CHUNK,
        "len": N * CHUNK, "speed": 1, "busy": False, "paused": False, "ready": False,
        "io-status": "ok", "auto-finalize": False, "auto-dismiss": False}
    assert q.finish("s")["status"] == "pending"
    # PENDING: the graph has not changed yet
    assert q.graph() == {"#blockN": "D", "E": "#blockN", **{
        k: v for k, v in FULL_CHAIN.items() if k != "E"}}
    assert q.execute("block-job-finalize", {"id": "s"}) == OK
    # CONCLUDED: graph changed, filter detached but still held by the job
    assert q.graph() == {"#blockN": None, "E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.execute("blockdev-del", {"node-name": "C"}) == busy("C")
    assert q.execute("block-job-dismiss", {"id": "s"}) == OK
    assert q.take_events() == [
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "waiting", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "pending", "id": "s"}},
        {"event": "BLOCK_JOB_PENDING", "data": {"type": "stream", "id": "s"}},
        {"event": "BLOCK_JOB_COMPLETED", "data": {
            "device": "s", "len": N * CHUNK, "offset": N * CHUNK, "speed": 0,
            "type": "stream"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "s"}},
        {"event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "s"}},
    ]
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.execute("blockdev-del", {"node-name": "C"}) == OK


def _verb_error(status: str, verb: str) -> dict:
    return err(f"Job 's' in state '{status}' cannot accept command verb '{verb}'")


NOT_PAUSED = err("Can't resume a job that was not paused")
VERB_CMDS = {
    "cancel": ("block-job-cancel", {"device": "s"}),
    "cancel-force": ("block-job-cancel", {"device": "s", "force": True}),
    "pause": ("block-job-pause", {"device": "s"}),
    "resume": ("block-job-resume", {"device": "s"}),
    "set-speed": ("block-job-set-speed", {"device": "s", "speed": 5}),
    "set-speed-negative": ("block-job-set-speed", {"device": "s", "speed": -1}),
    "complete": ("block-job-complete", {"device": "s"}),
    "finalize": ("block-job-finalize", {"id": "s"}),
    "dismiss": ("block-job-dismiss", {"id": "s"}),
    "job-cancel": ("job-cancel", {"id": "s"}),
    "job-pause": ("job-pause", {"id": "s"}),
    "job-resume": ("job-resume", {"id": "s"}),
    "job-complete": ("job-complete", {"id": "s"}),
    "job-finalize": ("job-finalize", {"id": "s"}),
    "job-dismiss": ("job-dismiss", {"id": "s"}),
}
NEG = err("Parameter 'speed' expects a non-negative value")
#: status -> verb -> (answer, status afterwards)
VERB_TABLE = {
    "running": {
        "cancel": (OK, "concluded"), "cancel-force": (OK, "concluded"),
        "pause": (OK, "paused"), "resume": (NOT_PAUSED, "running"),
        "set-speed": (OK, "running"), "set-speed-negative": (NEG, "running"),
        "complete": (_verb_error("running", "complete"), "running"),
        "finalize": (_verb_error("running", "finalize"), "running"),
        "dismiss": (_verb_error("running", "dismiss"), "running"),
        "job-cancel": (OK, "concluded"), "job-pause": (OK, "paused"),
        "job-resume": (NOT_PAUSED, "running"),
        "job-complete": (_verb_error("running", "complete"), "running"),
        "job-finalize": (_verb_error("running", "finalize"), "running"),
        "job-dismiss": (_verb_error("running", "dismiss"), "running"),
    },
    "paused": {
        "cancel": (err("The block job for device 's' is currently paused"), "paused"),
        "cancel-force": (OK, "concluded"),
        "pause": (err("Job is already paused"), "paused"), "resume": (OK, "running"),
        "set-speed": (OK, "paused"), "set-speed-negative": (NEG, "paused"),
        "complete": (_verb_error("paused", "complete"), "paused"),
        "finalize": (_verb_error("paused", "finalize"), "paused"),
        "dismiss": (_verb_error("paused", "dismiss"), "paused"),
        "job-cancel": (OK, "concluded"), "job-pause": (err("Job is already paused"), "paused"),
        "job-resume": (OK, "running"),
        "job-complete": (_verb_error("paused", "complete"), "paused"),
        "job-finalize": (_verb_error("paused", "finalize"), "paused"),
        "job-dismiss": (_verb_error("paused", "dismiss"), "paused"),
    },
    "pending": {
        "cancel": (OK, "concluded"), "cancel-force": (OK, "concluded"),
        "pause": (_verb_error("pending", "pause"), "pending"),
        "resume": (NOT_PAUSED, "pending"),
        "set-speed": (_verb_error("pending", "set-speed"), "pending"),
        "set-speed-negative": (_verb_error("pending", "set-speed"), "pending"),
        "complete": (_verb_error("pending", "complete"), "pending"),
        "finalize": (OK, "concluded"),
        "dismiss": (_verb_error("pending", "dismiss"), "pending"),
        "job-cancel": (OK, "concluded"),
        "job-pause": (_verb_error("pending", "pause"), "pending"),
        "job-resume": (NOT_PAUSED, "pending"),
        "job-complete": (_verb_error("pending", "complete"), "pending"),
        "job-finalize": (OK, "concluded"),
        "job-dismiss": (_verb_error("pending", "dismiss"), "pending"),
    },
    "concluded": {
        "cancel": (_verb_error("concluded", "cancel"), "concluded"),
        "cancel-force": (_verb_error("concluded", "cancel"), "concluded"),
        "pause": (_verb_error("concluded", "pause"), "concluded"),
        "resume": (NOT_PAUSED, "concluded"),
        "set-speed": (_verb_error("concluded", "set-speed"), "concluded"),
        "set-speed-negative": (_verb_error("concluded", "set-speed"), "concluded"),
        "complete": (_verb_error("concluded", "complete"), "concluded"),
        "finalize": (_verb_error("concluded", "finalize"), "concluded"),
        "dismiss": (OK, "gone"),
        "job-cancel": (_verb_error("concluded", "cancel"), "concluded"),
        "job-pause": (_verb_error("concluded", "pause"), "concluded"),
        "job-resume": (NOT_PAUSED, "concluded"),
        "job-complete": (_verb_error("concluded", "complete"), "concluded"),
        "job-finalize": (_verb_error("concluded", "finalize"), "concluded"),
        "job-dismiss": (OK, "gone"),
    },
}


def _to_status(q: QemuChain, status: str) -> None:
    if status == "paused":
        q.ok("block-job-pause", {"device": "s"})
        q.wait_status("s", "paused")
    elif status in ("pending", "concluded"):
        assert q.finish("s")["status"] == "pending"
        if status == "concluded":
            q.ok("block-job-finalize", {"id": "s"})
            q.wait_status("s", "concluded")


@pytest.mark.parametrize("status, verb", [(s, v) for s, row in VERB_TABLE.items() for v in row])
def test_5_verbs_by_status(make_chain, status, verb):
    q = _stream_started(make_chain, **{"auto-finalize": False, "auto-dismiss": False})
    _to_status(q, status)
    cmd, args = VERB_CMDS[verb]
    answer, after = VERB_TABLE[status][verb]
    assert q.execute(cmd, args) == answer
    q.pump(0.05)
    if after == "gone":
        q.wait_status("s", "gone")
    else:
        assert q.wait_status("s", after)["status"] == after


@pytest.mark.parametrize("verb", list(VERB_CMDS))
def test_5_unknown_job(make_chain, verb):
    q = chain_(make_chain)
    cmd, args = VERB_CMDS[verb]
    expected = (err("Block job 's' not found", "DeviceNotActive") if cmd.startswith("block-job")
                else err("Job not found"))
    assert q.execute(cmd, args) == expected


def test_5_complete_is_never_accepted_by_a_stream(make_chain):
    """"cannot be completed" is unreachable for a stream: complete needs
    READY/STANDBY, which a stream never enters; the verb table answers
    first in every status (see test_5_verbs_by_status)."""
    q = _stream_started(make_chain, **{"auto-finalize": False})
    for _ in range(3):
        assert q.execute("block-job-complete", {"device": "s"}) == _verb_error(
            q.job("s")["status"], "complete")
        q.step("s")


def test_5_auto_finalize_and_dismiss_default_sequence(make_chain):
    q = chain_(make_chain)
    assert q.execute("block-stream", stream("D", "B")) == OK
    q.wait_status("s", "gone")
    assert q.statuses("s") == ["created", "running", "waiting", "pending", "concluded", "null"]
    assert "BLOCK_JOB_PENDING" not in [e["event"] for e in q.events]


# ==========================================================================
# 6. two streams on one chain

#: chunks: B and D hold everything, C and E nothing, so C <- base A copies
#: B's 8 chunks and E <- base C copies D's 8 chunks.
TWO_LAYOUT = {
    "A": {c: 0xA0 + c for c in range(N)},
    "B": {c: 0xB0 + c for c in range(N)},
    "C": {},
    "D": {c: 0xD0 + c for c in range(N)},
    "E": {},
}


def _two(make_chain, first: dict, second: dict) -> tuple[QemuChain, dict, dict]:
    q = chain_(make_chain, layout=TWO_LAYOUT)
    views = q.views()
    a1 = q.execute("block-stream", first)
    assert a1 == OK
    assert q.settle(first["job-id"])["status"] == "running"
    a2 = q.execute("block-stream", second)
    return q, views, a2


def _run_all_to_end(q: QemuChain, views: dict, *jobs: str) -> None:
    for j in jobs:
        if q.job(j) is not None:
            q.ok("block-job-set-speed", {"device": j, "speed": 0})
    for j in jobs:
        q.wait_status(j, "gone")
        assert [e["event"] for e in q.events if e["data"].get("device") == j] == [
            "BLOCK_JOB_COMPLETED"]
    assert q.views() == views


def test_6_touching_upper_job_first_accepted(make_chain):
    """E <- base C running; then C <- base A (its top is the other's base)."""
    q, views, a2 = _two(make_chain, stream("E", "C", job="je", speed=1,
                                           **{"filter-node-name": "fe"}),
                        stream("C", "A", job="jc", speed=1, **{"filter-node-name": "fc"}))
    assert a2 == OK
    q.settle("jc")
    assert q.graph() == {"fe": "E", "E": "D", "D": "fc", "fc": "C", "C": "B", "B": "A",
                         "A": None}
    _run_all_to_end(q, views, "je", "jc")
    assert q.graph() == {"E": "C", "D": "C", "C": "A", "B": "A", "A": None}


def test_6_touching_lower_job_first_refused_with_base_node(make_chain):
    """C <- base A running: its filter now sits between D and C, so
    E <- base-node C meets the filter before reaching C."""
    q, views, a2 = _two(make_chain, stream("C", "A", job="jc", speed=1),
                        stream("E", "C", job="je", speed=1))
    assert a2 == busy("#blockN")
    assert q.graph() == {"#blockN": "C", "E": "D", "D": "#blockN", "C": "B", "B": "A",
                         "A": None}
    _run_all_to_end(q, views, "jc")


def test_6_touching_lower_job_first_accepted_with_bottom(make_chain):
    q, views, a2 = _two(make_chain, stream("C", "A", job="jc", speed=1),
                        stream("E", None, job="je", speed=1, bottom="D"))
    assert a2 == OK
    _run_all_to_end(q, views, "jc", "je")
    assert q.graph() == {"E": "C", "D": "C", "C": "A", "B": "A", "A": None}


@pytest.mark.parametrize("first, second, answer", [
    (stream("D", "B", job="jd", speed=1), stream("E", "A", job="je"), busy("#blockN")),
    (stream("D", "B", job="jd", speed=1), stream("C", "A", job="jc"), busy("C")),
    (stream("D", "B", job="jd", speed=1), stream("E", "C", job="je"), busy("#blockN")),
    (stream("C", "A", job="jc", speed=1), stream("D", "B", job="jd"), busy("#blockN")),
    (stream("E", "C", job="je", speed=1), stream("D", "A", job="jd"), busy("D")),
    (stream("E", "A", job="je", speed=1), stream("C", "A", job="jc"), busy("C")),
    (stream("C", "A", job="jc", speed=1), stream("E", "A", job="je"), busy("#blockN")),
], ids=["D/B+E/A", "D/B+C/A", "D/B+E/C", "C/A+D/B", "E/C+D/A", "E/A+C/A", "C/A+E/A"])
def test_6_overlapping_refused(make_chain, first, second, answer):
    # stripes: every layer above A holds 4 chunks of its own, so each first
    # job has at least 4 chunks to copy and stays running
    q = chain_(make_chain, layout=default_alloc(CHAIN, 16), n=16)
    assert q.execute("block-stream", first) == OK
    assert q.settle(first["job-id"])["status"] == "running"
    assert q.execute("block-stream", second) == answer
    assert [j["id"] for j in q.jobs()] == [first["job-id"]]


# ==========================================================================
# 7. the copy-on-read filter


def test_7_filter_shape_and_listing(make_chain):
    q = _stream_started(make_chain)
    filt = q.filter_of("s")
    assert re.fullmatch(r"#block\d+", filt)
    assert q.chain("E") == ["E", filt, "D", "C", "B", "A"]
    nodes = {n["node-name"]: n for n in q.nodes()}
    # the read-only top D is read-write while the job runs (C stays read-only)
    assert {k: nodes[k]["ro"] for k in ("E", "D", "D-file", "C", "C-file")} == {
        "E": False, "D": False, "D-file": False, "C": True, "C-file": True}
    info = nodes["#blockN"]
    assert (info["drv"], info["ro"], info["backing_file_depth"],
            info["image"]["format"]) == ("copy-on-read", False, 0, "copy-on-read")
    assert info["image"]["virtual-size"] == N * CHUNK
    assert "backing-filename" not in info["image"]
    edges = [(e["parent"], e["child"], e["name"]) for e in q.block_graph()["edges"]
             if "#blockN" in (e["parent"], e["child"]) or e["parent"] in ("s", "")]
    assert sorted(edges) == sorted([
        ("#blockN", "D", "file"), ("E", "#blockN", "backing"),
        ("s", "#blockN", "main node"), ("s", "D", "active node"),
        ("s", "C", "intermediate node"), ("", "#blockN", "root")])
    perms = {(e["parent"], e["name"]): (e["perm"], e["shared-perm"])
             for e in q.block_graph()["edges"]}
    assert perms[("s", "main node")] == ([], ["consistent-read", "resize", "write",
                                              "write-unchanged"])
    assert perms[("s", "active node")] == ([], ["consistent-read", "write", "write-unchanged"])
    assert perms[("s", "intermediate node")] == ([], ["consistent-read", "write-unchanged"])
    assert perms[("#blockN", "file")] == (["consistent-read", "write-unchanged"],
                                          ["consistent-read", "write", "write-unchanged"])
    assert perms[("", "root")] == (["consistent-read"],
                                   ["consistent-read", "write", "write-unchanged"])
    assert q.execute("block-stream", stream("E", "A", job="s2")) == {"error": {
        "class": "GenericError",
        "desc": f"Node '#blockN' is busy: {IN_USE}"}}
    assert q.execute_raw("block-stream", stream("E", "A", job="s2")) == {"error": {
        "class": "GenericError", "desc": f"Node '{filt}' is busy: {IN_USE}"}}
    q.finish("s")
    assert filt not in q.graph(raw=True)


def test_7_query_named_block_nodes_crashes_qemu_on_a_concluded_stream(make_chain):
    """QEMU 7.2 bug: once a stream is CONCLUDED but not dismissed, its
    detached copy-on-read filter has no child, and query-named-block-nodes
    kills qemu-storage-daemon with SIGSEGV.  The harness refuses the
    command in that state unless forced."""
    q = _stream_started(make_chain, **{"auto-dismiss": False})
    q.finish("s")
    assert q.job("s")["status"] == "concluded"
    with pytest.raises(HarnessError, match="crashes QEMU 7.2"):
        q.nodes()
    with pytest.raises(Exception):
        q.nodes(force=True)
    assert q.proc.wait(timeout=10) == -signal.SIGSEGV
