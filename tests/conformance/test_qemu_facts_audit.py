"""QEMU 7.2's answers for the op-blocker audit (issue 10), recorded as tests.

FACTS.md §8 (change-backing-file, and what a rewritten header costs a user),
§9 (root checks count a job's nodes as non-root) and §10 (the remaining
guarded commands, by role).  Test numbers follow those sections.  Same
ground rules as ``test_qemu_facts.py``: every expected answer was observed
on qemu-storage-daemon 7.2 (Debian 1:7.2+dfsg-7+deb12u18) and is asserted
exactly (class and desc, drains, headers, data).

Set-up unless a test says otherwise: the qcow2 chain A <- B <- C <- D <- E
added with ``blockdev-add`` (explicit ``backing``), A..D read-only, E
read-write; the image files were made by ``qemu-img create -b <name>.qcow2``,
so the headers hold plain relative names (``C.qcow2`` in D's, ...).
"FILTER" in a row stands for the running stream's copy-on-read filter and
"TMP" for the temporary directory.  ``drains`` is the number of
paused/running pairs the command causes on the throttled stream ``s``; each
lets it copy one more chunk.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from blockcheck.conformance import CHUNK, QemuChain, expected_view
from blockcheck.conformance.harness import DaemonGone
from tests.conformance.test_qemu_facts import LAYOUT, N

pytestmark = pytest.mark.qemu

OK = {"return": {}}
IN_USE = "block device is in use by block job: stream"
CBF = "change-backing-file"
NEED_ROOT = {"error": {"class": "GenericError", "desc": "Need a root block node"}}
#: The answer for an image-node-name whose chain ends at itself.
NO_BACKING = {"error": {"class": "GenericError", "desc":
                        "not allowing backing file change on an image without a backing file"}}
#: What the headers of the fresh chain say (qemu-img create -b NAME.qcow2).
HEADERS = {"A": None, "B": "A.qcow2", "C": "B.qcow2", "D": "C.qcow2", "E": "D.qcow2"}
FULL_CHAIN = {"E": "D", "D": "C", "C": "B", "B": "A", "A": None}

# test_qemu_facts's layout: B's chunk 0 is read by C, D and E (B's chunk 3
# is covered by C's).  The stream D <- base B copies C's 1, 3, 5, 7.
VIEWS = {n: expected_view("ABCDE"[: i + 1][::-1], LAYOUT, N) for i, n in enumerate("ABCDE")}

#: For a stream that must keep running through many drains: C holds every
#: chunk but 0, so stream D <- base B has 31 chunks to copy.
BUSY_N = 32
BUSY_LAYOUT = {"A": {c: 0xA0 for c in range(BUSY_N)}, "B": {0: 0xB0},
               "C": {c: 0xC0 for c in range(1, BUSY_N)}, "D": {}, "E": {}}
#: The same for stream E <- base C: D holds every chunk but 0.
ROOT_LAYOUT = {"A": {c: 0xA0 for c in range(BUSY_N)}, "B": {0: 0xB0}, "C": {},
               "D": {c: 0xD0 for c in range(1, BUSY_N)}, "E": {}}


def err(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


def busy(node: str, reason: str = IN_USE) -> dict:
    return err(f"Node '{node}' is busy: {reason}")


def backing_hd(node: str, parent: str) -> dict:
    return busy(node, f"node is used as backing hd of '{parent}'")


def cbf(device, image, backing="x.qcow2") -> dict:
    return {"device": device, "image-node-name": image, "backing-file": backing}


def stream(top: str, base: str, **kw) -> dict:
    return {"device": top, "base-node": base, "job-id": "s", "speed": 1,
            "auto-finalize": False, "auto-dismiss": False, **kw}


def pairs(drains: int, job: str = "s") -> list[dict]:
    return [{"event": "JOB_STATUS_CHANGE", "data": {"status": st, "id": job}}
            for _ in range(drains) for st in ("paused", "running")]


def _subst(obj, names: dict[str, str]):
    if isinstance(obj, str):
        for key, value in names.items():
            obj = obj.replace(key, value)
        return obj
    if isinstance(obj, dict):
        return {k: _subst(v, names) for k, v in obj.items()}
    return obj


def _running(make_chain, top: str, base: str, layout=BUSY_LAYOUT) -> QemuChain:
    """A chain with extra empty images T and T2 and the throttled stream
    ``s`` (top <- base-node base), asleep after its first chunk."""
    q = make_chain(alloc=layout, clusters=BUSY_N)
    assert q.add_image("T") == OK and q.add_image("T2") == OK
    assert q.execute("block-stream", stream(top, base)) == OK
    assert q.settle("s")["offset"] == 2 * CHUNK
    q.take_events()
    return q


def _names(q: QemuChain) -> dict[str, str]:
    filt = q.job_nodes("s", raw=True)["main node"][0]
    return {"FILTER": filt, "TMP": q.tmpdir}


def _to_pending(q: QemuChain) -> None:
    """Let the throttled stream ``s`` copy the rest; a view read earlier
    (an NBD export drains the job) may already have taken it there."""
    j = q.job("s")
    if j["status"] == "running":
        j = q.finish("s")
    assert j["status"] == "pending"


def _rows_while_running(q: QemuChain, rows) -> None:
    """Send each refused or accepted (command, arguments, answer, drains)
    in turn; after each, the stream shows exactly ``drains``
    paused/running pairs and is that many chunks further, still running."""
    names = _names(q)
    for cmd, args, answer, drains in rows:
        start = q.settle("s")["offset"]
        got = q.execute(cmd, _subst(args, names))
        q.pump(0.1)  # room for an unexpected extra event to show up
        events = q.take_events(at_least=2 * drains)
        j = q.settle("s")
        assert (cmd, args, got, events, j["status"], j["offset"] - start) == (
            cmd, args, answer, pairs(drains), "running", drains * CHUNK)


def _rows_without_a_running_job(q: QemuChain, rows, names: dict[str, str]) -> None:
    """Each (command, arguments, answer) in turn; no job event follows."""
    for cmd, args, answer in rows:
        got = q.execute(cmd, _subst(args, names))
        q.pump(0.05)
        assert (cmd, args, got, q.take_events()) == (cmd, args, answer, [])


# ==========================================================================
# 8. change-backing-file


def test_8_change_backing_file_arguments_and_refusals_in_qemus_order(make_chain):
    """No job.  X is a root with backing A (a second chain), Y a root
    without backing.  The checks come in this order: QAPI (each argument
    in turn, then unexpected ones), device (lookup, root), image-node-name
    (lookup, has a backing file), then whether the image is in device's
    chain.  No refusal touches a header or the graph."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.add_image("X", backing="A") == OK and q.add_image("Y") == OK
    rows = [
        ({}, err("Parameter 'device' is missing")),
        ({"device": "E"}, err("Parameter 'image-node-name' is missing")),
        ({"device": "E", "image-node-name": "C"}, err("Parameter 'backing-file' is missing")),
        ({"device": "E", "backing-file": "x"}, err("Parameter 'image-node-name' is missing")),
        ({"image-node-name": "C", "backing-file": "x"}, err("Parameter 'device' is missing")),
        (cbf(5, "C"), err("Invalid parameter type for 'device', expected: string")),
        (cbf("E", None), err("Invalid parameter type for 'image-node-name', expected: string")),
        (cbf("E", "C", 5), err("Invalid parameter type for 'backing-file', expected: string")),
        ({**cbf("E", "C"), "extra": 1}, err("Parameter 'extra' is unexpected")),
        (cbf("nope", "nope2"), err("Cannot find device='nope' nor node-name='nope'")),
        (cbf("", "C"), err("Cannot find device='' nor node-name=''")),
        # the root check comes before the image is looked up
        (cbf("D", "nope"), NEED_ROOT),
        (cbf("D", "A"), NEED_ROOT),
        (cbf("E-file", "C"), NEED_ROOT),
        (cbf("E", "nope"), err("Cannot find device='' nor node-name='nope'")),
        (cbf("E", ""), err("Cannot find device='' nor node-name=''")),
        (cbf("E", "A"), NO_BACKING),
        (cbf("E", "C-file"), NO_BACKING),
        # "no backing file" comes before "not in the same chain"
        (cbf("X", "Y"), NO_BACKING),
        (cbf("E", "X"), err("'E' and image file are not in the same chain")),
        (cbf("X", "C"), err("'X' and image file are not in the same chain")),
    ]
    _rows_without_a_running_job(q, [(CBF, args, answer) for args, answer in rows], {})
    assert {n: q.disk_backing(n) for n in "ABCDE"} == HEADERS
    graph = q.graph()
    assert graph == {**FULL_CHAIN, "X": "A", "Y": None}
    # accepted: only the header changes, at once; "" removes the backing string
    assert q.execute(CBF, cbf("E", "C", "A.qcow2")) == OK
    assert q.disk_backing("C") == "A.qcow2"
    assert q.execute(CBF, cbf("E", "C", "")) == OK
    assert q.disk_backing("C") is None
    assert q.execute(CBF, cbf("X", "X", "B.qcow2")) == OK
    assert q.disk_backing("X") == "B.qcow2"
    assert q.graph() == graph and q.views() == VIEWS


def test_8_change_backing_file_while_a_stream_holds_the_nodes(make_chain):
    """Stream D <- base B runs (D, C and the filter held).  Only the root
    ``device`` is checked: the headers of the held C and D, and of the base
    B, are rewritten.  A read-only image (C, B) is reopened read-write and
    back: two drains.  D (read-write for the job) and E: none.  The live
    links do not move: C's header says A.qcow2 while C's backing is B."""
    q = _running(make_chain, "D", "B")
    q.add_image("X", backing="A")
    _rows_while_running(q, [
        (CBF, cbf("E", "C", "A.qcow2"), OK, 2),
        (CBF, cbf("E", "D", "D-x.qcow2"), OK, 0),
        (CBF, cbf("E", "B", "B-x.qcow2"), OK, 2),
        (CBF, cbf("E", "E", "E-x.qcow2"), OK, 0),
        # the copy-on-read driver cannot change a backing string
        (CBF, cbf("E", "FILTER", "F-x.qcow2"),
         err("Could not change backing file to 'F-x.qcow2': Operation not supported"), 0),
        (CBF, cbf("E", "A"), NO_BACKING, 0),
        (CBF, cbf("E", "X"), err("'E' and image file are not in the same chain"), 0),
        (CBF, cbf("E", "nope"), err("Cannot find device='' nor node-name='nope'"), 0),
        (CBF, cbf("D", "C"), NEED_ROOT, 0),
        (CBF, cbf("C", "C"), NEED_ROOT, 0),
        (CBF, cbf("FILTER", "C"), NEED_ROOT, 0),
        (CBF, cbf("B", "C"), NEED_ROOT, 0),
        (CBF, cbf("nope", "C"), err("Cannot find device='nope' nor node-name='nope'"), 0),
        (CBF, cbf("X", "C"), err("'X' and image file are not in the same chain"), 0),
    ])
    assert {n: q.disk_backing(n) for n in "ABCDE"} == {
        "A": None, "B": "B-x.qcow2", "C": "A.qcow2", "D": "D-x.qcow2", "E": "E-x.qcow2"}
    assert q.graph() == {"#blockN": "D", "E": "#blockN", "D": "C", "C": "B", "B": "A",
                         "A": None, "T": None, "T2": None, "X": "A"}


def test_8_change_backing_file_onto_a_concluded_streams_filter_aborts_qemu(make_chain):
    """QEMU 7.2 bug: once a stream is CONCLUDED (here cancelled, not
    dismissed) its detached filter has no child, and naming it as
    image-node-name kills qemu-storage-daemon with SIGABRT (an assertion
    in bdrv_do_skip_filters)."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-stream", stream("D", "B")) == OK
    q.settle("s")
    filt = q.job_nodes("s", raw=True)["main node"][0]
    assert q.execute("block-job-cancel", {"device": "s"}) == OK
    q.wait_status("s", "concluded")
    with pytest.raises(DaemonGone) as gone:
        q.execute(CBF, cbf("E", filt))
    assert gone.value.reason == "died (signal 6)"
    assert "bdrv_do_skip_filters: Assertion" in gone.value.log
    assert q.proc.wait(timeout=10) == -signal.SIGABRT
    assert "bdrv_do_skip_filters: Assertion `!bs->drv || !bs->drv->is_filter' failed" in (
        q.daemon_log())


#: (what happens to the job, nodes whose restarted view loses B's chunk 0)
LOSS_CASES = {
    "no job": (None, "EDC"),
    "cancel": ("cancel", "EDC"),
    "finalize": ("finalize", "C"),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_8_a_rewritten_intermediate_header_loses_the_skipped_layers_data_on_restart(
        make_chain, case):
    """C's header is pointed at A.qcow2 (with no job, or while stream D <-
    base B runs).  The live graph and every live view are unchanged; the
    loss shows when the chain is opened again from its files (daemon
    stopped, each layer opened by file name, headers followed): every node
    that reads through C's header now reads A where it read B, that is
    B's chunk 0 (B's chunk 3 is covered by C's).  The job changes nothing
    beyond that, except that a finalized job points D at B, so only the
    cut-out C is affected.  B's data is still in B.qcow2: restoring C's
    header brings every view back."""
    end, losers = LOSS_CASES[case]
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.disk_views() == VIEWS
    if end:
        assert q.execute("block-stream", stream("D", "B")) == OK
        q.settle("s")
    assert q.execute(CBF, cbf("E", "C", "A.qcow2")) == OK
    assert q.disk_backing("C") == "A.qcow2" and q.graph()["C"] == "B"
    assert q.views() == VIEWS
    if end == "cancel":
        assert q.execute("block-job-cancel", {"device": "s"}) == OK
    elif end == "finalize":
        _to_pending(q)
        assert q.execute("block-job-finalize", {"id": "s"}) == OK
    if end:
        q.wait_status("s", "concluded")
        assert q.execute("block-job-dismiss", {"id": "s"}) == OK
    assert q.views() == VIEWS
    q.stop()
    lost = {n: (0xA0, *VIEWS[n][1:]) for n in losers}
    assert q.disk_views() == {**VIEWS, **lost}
    assert q.layer_alloc("B") == LAYOUT["B"]
    subprocess.run(["qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "B.qcow2", "-F", "qcow2",
                    "C.qcow2"], cwd=q.tmpdir, check=True, capture_output=True)
    assert q.disk_views() == VIEWS


@pytest.mark.parametrize("backing_file", [None, "B.qcow2"])
def test_8_finalize_overwrites_a_header_the_user_rewrote_mid_job(make_chain, backing_file):
    """D's header is pointed at A.qcow2 while stream D <- base B runs; at
    finalize the job writes its own string into D's header (stream_prepare),
    so the user's change is gone without a word: B's json: filename, or the
    stream's ``backing-file``.  Reopened from the files, every node reads
    what it read before the job.  Opening D by file name follows the json:
    string (qemu-img convert, which disk_view uses), but ``qemu-img info
    --backing-chain`` cannot parse it."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    extra = {"backing-file": backing_file} if backing_file else {}
    assert q.execute("block-stream", stream("D", "B", **extra)) == OK
    q.settle("s")
    assert q.execute(CBF, cbf("E", "D", "A.qcow2")) == OK
    assert q.disk_backing("D") == "A.qcow2"
    assert q.finish("s")["status"] == "pending"
    assert q.execute("block-job-finalize", {"id": "s"}) == OK
    header = q.disk_backing("D")
    if backing_file:
        assert header == backing_file
    else:
        assert header.startswith('json:{"backing": {"driver": "qcow2", "file": '
                                 '{"driver": "file", "filename": ')
        assert header.endswith('/B.qcow2"}}')
    q.wait_status("s", "concluded")
    assert q.execute("block-job-dismiss", {"id": "s"}) == OK
    q.stop()
    assert q.disk_backing("D") == header
    assert q.disk_views() == VIEWS
    info = subprocess.run(["qemu-img", "info", "--backing-chain", "D.qcow2"], cwd=q.tmpdir,
                          capture_output=True, text=True)
    if backing_file:
        assert info.returncode == 0
    else:
        assert info.returncode == 1
        assert info.stderr.strip().endswith(
            "Block format 'qcow2' does not support the option 'backing.driver'")


# ==========================================================================
# 9. root checks: a node a job holds is not a root


def test_9_a_stream_on_the_root_makes_it_no_root(make_chain):
    """Stream E <- base C: E is the job's active node, so it has a parent
    that is not a BlockBackend and every root check refuses it, even where
    no op blocker would.  The commands that check op blockers instead
    answer busy(E)."""
    q = _running(make_chain, "E", "C", layout=ROOT_LAYOUT)
    assert q.graph() == {"#blockN": "E", "E": "D", "D": "C", "C": "B", "B": "A", "A": None,
                         "T": None, "T2": None}
    _rows_while_running(q, [
        (CBF, cbf("E", "D"), NEED_ROOT, 0),
        (CBF, cbf("E", "nope"), NEED_ROOT, 0),
        (CBF, cbf("FILTER", "D"), NEED_ROOT, 0),
        ("block-commit", {"device": "E", "base-node": "A", "job-id": "c"}, NEED_ROOT, 0),
        ("block-commit", {"device": "E", "top-node": "D", "base-node": "A", "job-id": "c"},
         NEED_ROOT, 0),
        ("block-commit", {"device": "FILTER", "base-node": "A", "job-id": "c"}, NEED_ROOT, 0),
        ("blockdev-mirror", {"device": "E", "target": "T", "sync": "full", "job-id": "m"},
         NEED_ROOT, 0),
        ("blockdev-snapshot-internal-sync", {"device": "E", "name": "x"}, NEED_ROOT, 1),
        ("blockdev-backup", {"device": "E", "target": "T", "sync": "full", "job-id": "b"},
         busy("E"), 2),
        ("blockdev-snapshot", {"node": "E", "overlay": "T"}, busy("E"), 2),
        ("blockdev-snapshot-sync", {"node-name": "E", "snapshot-file": "TMP/S.qcow2",
                                    "snapshot-node-name": "S", "format": "qcow2"}, busy("E"), 2),
        ("blockdev-del", {"node-name": "E"}, busy("E"), 0),
        ("block_resize", {"node-name": "E", "size": 2 * BUSY_N * CHUNK},
         err("Device '(null)' is in use"), 0),
    ])


#: Answers while stream D <- base B is CONCLUDED, not dismissed: its filter
#: (detached), D and C are still held.  ``CBF_E_C`` differs by how it ended.
CONCLUDED_ROWS = [
    (CBF, cbf("C", "C"), NEED_ROOT),
    (CBF, cbf("FILTER", "C"), NEED_ROOT),
    ("block-commit", {"device": "C", "base-node": "A", "job-id": "c"}, NEED_ROOT),
    ("block-commit", {"device": "FILTER", "base-node": "A", "job-id": "c"}, NEED_ROOT),
    ("blockdev-mirror", {"device": "C", "target": "T", "sync": "full", "job-id": "m"}, NEED_ROOT),
    ("blockdev-mirror", {"device": "FILTER", "target": "T", "sync": "full", "job-id": "m"},
     NEED_ROOT),
    ("blockdev-snapshot-internal-sync", {"device": "C", "name": "x"}, NEED_ROOT),
    ("blockdev-snapshot-internal-sync", {"device": "FILTER", "name": "x"}, NEED_ROOT),
    # the job's BlockBackend has moved off the filter: no longer "in use"
    ("blockdev-del", {"node-name": "FILTER"}, busy("#blockN")),
    ("blockdev-del", {"node-name": "C"}, busy("C")),
    ("block_resize", {"node-name": "C", "size": 2 * N * CHUNK}, err("Device '(null)' is in use")),
    ("block-commit", {"device": "E", "top-node": "D", "base-node": "A", "job-id": "c"}, busy("D")),
]
#: After dismiss.  A finalized job cut C out: C has no parent left, so it is
#: a root and the next checks answer.  After a cancel D's backing is still C.
DISMISSED_ROWS = {
    "finalize": [
        (CBF, cbf("C", "nope"), err("Cannot find device='' nor node-name='nope'")),
        (CBF, cbf("C", "D"), err("'C' and image file are not in the same chain")),
        ("block-commit", {"device": "C", "base-node": "nope", "job-id": "c"},
         err("Cannot find device='' nor node-name='nope'")),
        ("blockdev-mirror", {"device": "C", "target": "nope", "sync": "full", "job-id": "m"},
         err("Cannot find device='nope' nor node-name='nope'")),
        ("blockdev-snapshot-internal-sync", {"device": "C", "name": "x"},
         err("Device 'C' is read only")),
    ],
    "cancel": [
        (CBF, cbf("C", "nope"), NEED_ROOT),
        ("block-commit", {"device": "C", "base-node": "nope", "job-id": "c"}, NEED_ROOT),
        ("blockdev-mirror", {"device": "C", "target": "nope", "sync": "full", "job-id": "m"},
         NEED_ROOT),
        ("blockdev-snapshot-internal-sync", {"device": "C", "name": "x"}, NEED_ROOT),
    ],
}


@pytest.mark.parametrize("end", ["finalize", "cancel"])
def test_9_a_concluded_jobs_nodes_are_no_roots_until_dismissed(make_chain, end):
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.add_image("T") == OK
    assert q.execute("block-stream", stream("D", "B")) == OK
    q.settle("s")
    names = _names(q)
    if end == "finalize":
        _to_pending(q)
        # still in the graph, with the job's BlockBackend on it
        assert q.execute("blockdev-del", {"node-name": names["FILTER"]}) == err(
            "Node #blockN is in use")
        assert q.execute("block-job-finalize", {"id": "s"}) == OK
    else:
        assert q.execute("block-job-cancel", {"device": "s"}) == OK
    q.wait_status("s", "concluded")
    graph = {**FULL_CHAIN, "D": "B" if end == "finalize" else "C", "T": None}
    assert q.graph() == {**graph, "#blockN": None}
    assert sorted((e["parent"], e["name"]) for e in q.block_graph()["edges"]
                  if e["child"] == "#blockN") == [("s", "main node")]
    q.take_events()
    _rows_without_a_running_job(q, CONCLUDED_ROWS, names)
    # E is a free root: the answer depends on whether C is still in E's chain
    e_c = OK if end == "cancel" else err("'E' and image file are not in the same chain")
    _rows_without_a_running_job(q, [(CBF, cbf("E", "C"), e_c)], names)
    assert q.execute("block-job-dismiss", {"id": "s"}) == OK
    q.take_events()
    assert q.graph() == graph
    _rows_without_a_running_job(q, DISMISSED_ROWS[end], names)


# ==========================================================================
# 10. the other guarded commands, by role, while stream D <- base B runs


def test_10_refused_by_role(make_chain):
    """Roles FACTS §3 leaves open.  drive-backup and drive-mirror exist in
    qsd (only ``-drive`` does not); eject does not.  A backup or mirror
    *target* and a snapshot *overlay* are checked too; backup's target
    check drains once where its source check drains twice."""
    q = _running(make_chain, "D", "B")
    backup = {"target": "T", "sync": "full", "job-id": "b"}
    to = {"device": "T2", "sync": "full", "job-id": "b"}
    drive = {"target": "TMP/DB.qcow2", "format": "qcow2", "sync": "full", "job-id": "b"}
    dmirror = {"target": "TMP/DM.qcow2", "format": "qcow2", "sync": "full", "job-id": "m"}
    sync_b = {"node-name": "B", "snapshot-file": "TMP/S.qcow2", "snapshot-node-name": "S",
              "format": "qcow2"}
    _rows_while_running(q, [
        ("drive-backup", {"device": "C", **drive}, busy("C"), 2),
        ("drive-backup", {"device": "D", **drive}, busy("D"), 2),
        ("drive-backup", {"device": "FILTER", **drive}, busy("#blockN"), 2),
        ("drive-mirror", {"device": "C", **dmirror}, NEED_ROOT, 0),
        ("drive-mirror", {"device": "D", **dmirror}, NEED_ROOT, 0),
        ("drive-mirror", {"device": "FILTER", **dmirror}, NEED_ROOT, 0),
        ("drive-mirror", {"device": "B", **dmirror}, NEED_ROOT, 0),
        ("eject", {"device": "C"}, err("The command eject has not been found", "CommandNotFound"),
         0),
        ("blockdev-backup", {"device": "FILTER", **backup}, busy("#blockN"), 2),
        ("blockdev-backup", {**to, "target": "C"}, busy("C"), 1),
        ("blockdev-backup", {**to, "target": "D"}, busy("D"), 1),
        ("blockdev-backup", {**to, "target": "FILTER"}, busy("#blockN"), 1),
        ("blockdev-backup", {**to, "target": "B"}, err(
            "Could not create node: Permission conflict on node 'B': permissions 'write' are "
            "both required by node '#blockN' (uses node 'B' as 'target' child) and unshared "
            "by node 'C' (uses node 'B' as 'backing' child)."), 1),
        ("blockdev-snapshot-sync", sync_b, backing_hd("B", "C"), 2),
        ("blockdev-snapshot", {"node": "B", "overlay": "T"}, backing_hd("B", "C"), 2),
        ("blockdev-snapshot", {"node": "T2", "overlay": "C"}, err("The overlay is already in use"),
         1),
        ("blockdev-snapshot", {"node": "T2", "overlay": "D"}, err("The overlay is already in use"),
         1),
        ("blockdev-snapshot", {"node": "T2", "overlay": "FILTER"},
         err("The overlay is already in use"), 1),
        ("blockdev-snapshot", {"node": "T2", "overlay": "B"}, err("The overlay is already in use"),
         1),
        ("blockdev-snapshot", {"node": "T2", "overlay": "E"},
         err("The overlay already has a backing image"), 1),
        ("blockdev-mirror", {"device": "B", "target": "T", "sync": "full", "job-id": "m"},
         NEED_ROOT, 0),
        ("blockdev-mirror", {**to, "target": "C", "job-id": "m"}, busy("C"), 0),
        ("blockdev-mirror", {**to, "target": "D", "job-id": "m"}, busy("D"), 0),
        ("blockdev-mirror", {**to, "target": "FILTER", "job-id": "m"}, busy("#blockN"), 0),
        ("blockdev-mirror", {**to, "target": "B", "job-id": "m"}, backing_hd("B", "C"), 0),
        ("block-commit", {"device": "C", "base-node": "A", "job-id": "c"}, NEED_ROOT, 0),
        ("block-commit", {"device": "FILTER", "base-node": "A", "job-id": "c"}, NEED_ROOT, 0),
        ("block-commit", {"device": "B", "base-node": "A", "job-id": "c"}, NEED_ROOT, 0),
        ("block-commit", {"device": "nope", "base-node": "A", "job-id": "c"},
         err("Device 'nope' not found", "DeviceNotFound"), 0),
    ])


def test_10_accepted_by_role(make_chain):
    """The base B and the free root E as backup sources, E as a backup or
    mirror target, and an external snapshot of E are accepted.  Each new
    job is cancelled at once.  ``drains`` counts the stream's pairs caused
    by the command alone.  The snapshot of E is accepted, but its overlay
    has no parent and is gone at once, and E stays read-only: the graph is
    unchanged."""
    q = _running(make_chain, "D", "B")
    names = _names(q)
    drive = {"target": "TMP/DB.qcow2", "format": "qcow2", "sync": "full", "job-id": "b",
             "speed": 1}
    rows = [
        ("blockdev-backup", {"device": "B", "target": "T", "sync": "full", "job-id": "b",
                             "speed": 1}, "b", 2),
        ("blockdev-backup", {"device": "E", "target": "T", "sync": "full", "job-id": "b",
                             "speed": 1}, "b", 1),
        ("drive-backup", {"device": "B", **drive}, "b", 2),
        ("drive-backup", {"device": "E", **drive}, "b", 1),
        ("blockdev-backup", {"device": "T2", "target": "E", "sync": "full", "job-id": "b",
                             "speed": 1}, "b", 1),
        ("blockdev-mirror", {"device": "T2", "target": "E", "sync": "full", "job-id": "m",
                             "speed": 1}, "m", 0),
        ("blockdev-snapshot-sync", {"node-name": "E", "snapshot-file": "TMP/SE.qcow2",
                                    "snapshot-node-name": "SE", "format": "qcow2"}, None, 2),
    ]
    for cmd, args, job, drains in rows:
        start = q.settle("s")["offset"]
        assert (cmd, q.execute(cmd, _subst(args, names))) == (cmd, OK)
        j = q.settle("s")
        q.pump(0.1)
        mine = [e for e in q.take_events() if e["data"].get("id") == "s"]
        assert (cmd, mine, j["offset"] - start) == (cmd, pairs(drains), drains * CHUNK)
        if job:
            assert q.execute("block-job-cancel", {"device": job, "force": True}) == OK
            q.wait_status(job, "gone")
            q.settle("s")  # the cancel drains the stream too; let those events in
            q.pump(0.1)
        q.take_events()
    assert q.graph() == {"#blockN": "D", "E": "#blockN", "D": "C", "C": "B", "B": "A",
                         "A": None, "T": None, "T2": None}
    assert {n["node-name"]: n["ro"] for n in q.nodes()}["E"] is True
    assert q.job("s")["status"] == "running"
