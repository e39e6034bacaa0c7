"""QEMU 7.2's answers about block-commit jobs, and about adding and deleting
nodes around a chain, recorded as tests (FACTS.md §12).

Same ground rules as ``test_qemu_facts.py``: every expected answer was
observed on qemu-storage-daemon 7.2 (Debian 1:7.2+dfsg-7+deb12u18) and is
asserted exactly (class and desc, events without timestamps, graph, job
lists, data).  Set-up unless a test says otherwise: the chain
A <- B <- C <- D <- E of ``test_qemu_facts`` (its LAYOUT, N = 8 chunks),
A..D read-only, E read-write.  Commit jobs are called ``c`` and run with
``speed: 1``, so that they copy one chunk at once and one more for each
kick (``QemuChain.step``), as streams do (FACTS §0).  ``drains`` counts the
paused/running pairs a command causes on the throttled job.  "FILTER"
stands for the running job's own filter node (``commit_top`` for a commit
below the active layer, ``mirror_top`` for an active commit).  Automatic
node names are normalised to ``#blockN``.
"""

from __future__ import annotations

import pytest

from blockcheck.conformance import CHUNK, QemuChain, expected_view
from tests.conformance.test_qemu_facts import FULL_CHAIN, LAYOUT, N, VIEWS
from tests.conformance.test_qemu_facts_jobs import err, json_name, st

pytestmark = pytest.mark.qemu

OK = {"return": {}}
LEN = N * CHUNK
IN_USE = "block device is in use by block job: commit"
#: The four permissions QEMU 7.2 knows, as x-debug-query-block-graph lists them.
ALL = ["consistent-read", "resize", "write", "write-unchanged"]
#: Read-only flags of the format nodes as the harness adds them.
RO = {"A": True, "B": True, "C": True, "D": True, "E": False}

#: For commits that must keep running through many commands: C holds every
#: chunk but 0 and E every even chunk.  Commit E top D <- base B copies the
#: 47 chunks C holds; the active commit E <- base C copies E's 24 chunks,
#: each its own region.
BIG_N = 48
BIG_LAYOUT = {"A": {c: 0xA0 for c in range(BIG_N)}, "B": {0: 0xB0},
              "C": {c: 0xC0 for c in range(1, BIG_N)}, "D": {},
              "E": {c: 0xE0 for c in range(0, BIG_N, 2)}}


def busy(node: str) -> dict:
    return err(f"Node '{node}' is busy: {IN_USE}")


def backing_hd(node: str, parent: str) -> dict:
    return err(f"Node '{node}' is busy: node is used as backing hd of '{parent}'")


def commit(base_node: str | None = None, top_node: str | None = None,
           job: str | None = "c", device: str = "E", **kw) -> dict:
    """block-commit's arguments; ``kw`` adds any others (``top``, ``base``...)."""
    args: dict = {"device": device}
    if job is not None:
        args["job-id"] = job
    if top_node is not None:
        args["top-node"] = top_node
    if base_node is not None:
        args["base-node"] = base_node
    args.update(kw)
    return args


def ended(kind: str, job: str, length: int, offset: int, speed: int, type_: str = "commit"
          ) -> dict:
    """BLOCK_JOB_COMPLETED (``kind`` COMPLETED), _CANCELLED or _READY."""
    return {"event": f"BLOCK_JOB_{kind}", "data": {
        "device": job, "len": length, "offset": offset, "speed": speed, "type": type_}}


def pending_ev(job: str) -> dict:
    return {"event": "BLOCK_JOB_PENDING", "data": {"type": "commit", "id": job}}


def pairs(drains: int, job: str = "c", states: tuple[str, str] = ("paused", "running")
          ) -> list[dict]:
    return st(job, *[s for _ in range(drains) for s in states])


def read_only(q: QemuChain) -> dict[str, bool]:
    """``ro`` of every node but the protocol nodes (query-named-block-nodes
    does not crash QEMU 7.2 for a concluded commit, unlike a stream)."""
    return {n["node-name"]: n["ro"] for n in q.nodes(force=True)
            if not n["node-name"].endswith("-file")}


def job_edges(q: QemuChain, job: str = "c") -> list[tuple]:
    """The job's own edges and those of the anonymous BlockBackends (parent
    ``''``): (parent, child, role, perm, shared), sorted."""
    return sorted((e["parent"], e["child"], e["name"], e["perm"], e["shared-perm"])
                  for e in q.block_graph()["edges"] if e["parent"] in (job, ""))


def live_views(graph: dict, layout: dict) -> dict:
    """What each layer reads through the live ``graph`` from ``layout``."""
    def chain(node: str) -> list[str]:
        out = [node]
        while graph.get(out[-1]) is not None:
            out.append(graph[out[-1]])
        return out
    return {n: expected_view(chain(n), layout, N) for n in layout}


def _chunks(q: QemuChain, job: str = "c") -> tuple[str, float]:
    j = q.job(job)
    return j["status"], j["offset"] / CHUNK


# ==========================================================================
# 12.1 commit below the active layer


#: (top, base) -> (offset in chunks once started, offsets after each step
#: (None: run unthrottled; observed for D <- A: 1, then 2, 3, 4, 6, 7, 8;
#: for C <- B: 2, then 4, 6, 8),
#: the job's intermediate nodes, the base's chunks afterwards, the graph
#: after finalize, the base's filename as written into the header of the
#: top's overlay: "json:" + the chain, or "plain"; the nodes whose views
#: change).
NON_ACTIVE = {
    ("D", "B"): (2, [3, 4, 6, 7, 8], ["D", "C"],
                 {0: 0xB0, 1: 0xC1, 2: 0xD2, 3: 0xC3, 5: 0xC5, 6: 0xD6, 7: 0xC7},
                 {"E": "B", "D": "C", "C": "B", "B": "A", "A": None}, "BA", "BC"),
    ("D", "A"): (None, None, ["D", "C", "B"],
                 {0: 0xB0, 1: 0xC1, 2: 0xD2, 3: 0xC3, 4: 0xA4, 5: 0xC5, 6: 0xD6, 7: 0xC7},
                 {"E": "A", "D": "C", "C": "B", "B": "A", "A": None}, "plain", "ABC"),
    ("C", "B"): (None, None, ["C"],
                 {0: 0xB0, 1: 0xC1, 3: 0xC3, 5: 0xC5, 7: 0xC7},
                 {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}, "BA", "B"),
    ("C", "A"): (1, [2, 4, 6, 8], ["C", "B"],
                 {0: 0xB0, 1: 0xC1, 2: 0xA2, 3: 0xC3, 4: 0xA4, 5: 0xC5, 6: 0xA6, 7: 0xC7},
                 {"E": "D", "D": "A", "C": "B", "B": "A", "A": None}, "plain", "AB"),
}


@pytest.mark.parametrize("top, base", list(NON_ACTIVE), ids=[f"{t}-{b}" for t, b in NON_ACTIVE])
def test_12_non_active_commit_step_by_step(make_chain, top, base):
    """block-commit device E, top-node below E, auto-finalize and
    auto-dismiss false, stepped to its end (two of the four run unthrottled).

    The job's filter (driver ``commit_top``, read-only) goes above the top,
    under the top's overlay.  The job holds E (the device) as ``main node``,
    the top and every node down to the base (exclusive) as ``intermediate
    node`` and the base as ``base``; the filter and the top's overlay (when
    it is not E) are not held.  The base is read-write while the job runs.
    ``len`` is the image size; ``offset`` counts skipped chunks too (chunks
    no layer from the top down to the base's overlay holds).  The graph
    changes at finalize: the top's overlay backs onto the base and the
    filter is gone at once (no node to dismiss), while the nodes from the
    top down keep their own links, cut out of E's chain.  The base gets
    every chunk those nodes hold (the upper layer wins), so the base and
    the cut-out nodes read differently afterwards; E reads as before."""
    start, steps, held, base_after, graph_after, name, changed = NON_ACTIVE[(top, base)]
    q = make_chain(alloc=LAYOUT, clusters=N)
    overlay = next(n for n, b in FULL_CHAIN.items() if b == top)
    stepped = steps is not None
    assert q.execute("block-commit", commit(base, top, speed=int(stepped), **{
        "auto-finalize": False, "auto-dismiss": False})) == OK
    during = {**FULL_CHAIN, overlay: "#blockN", "#blockN": top}
    if stepped:
        q.settle("c")
        assert _chunks(q) == ("running", start)
        assert q.graph() == during
        assert read_only(q) == {**RO, "#blockN": True, base: False}
        seen = []
        for _ in steps:
            j = q.step("c")
            seen.append((j["status"], j["offset"] / CHUNK, j["len"]))
        assert seen == [("running", s, LEN) for s in steps[:-1]] + [("pending", steps[-1], LEN)]
    else:
        q.wait_status("c", "pending")
    assert q.take_events(at_least=5) == [*st("c", "created", "running", "waiting", "pending"),
                                         pending_ev("c")]
    # pending: the graph is still the one of the running job
    assert q.graph() == during
    assert q.job_nodes("c") == {"main node": ["E"], "intermediate node": held, "base": [base]}
    assert read_only(q) == {**RO, "#blockN": True, base: False}
    assert {n["node-name"]: n["drv"] for n in q.nodes()}["#blockN"] == "commit_top"
    assert job_edges(q) == sorted([
        ("", base, "root", ["consistent-read", "write"], ["consistent-read", "write-unchanged"]),
        ("", top, "root", [], ALL),
        ("c", "E", "main node", [], ALL),
        ("c", base, "base", [], ALL),
        *[("c", n, "intermediate node", [], ["write", "write-unchanged"]) for n in held]])
    speed = 1 + len(steps) if stepped else 0
    assert q.execute("block-job-finalize", {"id": "c"}) == OK
    assert q.take_events(at_least=2) == [ended("COMPLETED", "c", LEN, LEN, speed),
                                         *st("c", "concluded")]
    assert q.graph() == graph_after
    # concluded: the job still holds its nodes (the filter is gone already)
    assert q.job_nodes("c") == {"main node": ["E"], "intermediate node": held, "base": [base]}
    for node in held:
        assert q.execute("blockdev-del", {"node-name": node}) == busy(node)
    assert read_only(q) == RO
    assert q.execute("block-job-dismiss", {"id": "c"}) == OK
    assert q.take_events(at_least=1) == st("c", "null")
    layout = {**LAYOUT, base: base_after}
    views = q.views()
    assert views == live_views(graph_after, layout)
    assert views["E"] == VIEWS["E"]
    assert "".join(n for n in VIEWS if views[n] != VIEWS[n]) == changed
    # dismissed: the cut-out nodes are free, from the top down; the lowest
    # one is still the backing of the one above it
    if len(held) > 1:
        assert q.execute("blockdev-del", {"node-name": held[-1]}) == backing_hd(
            held[-1], held[-2])
    for node in held:
        assert q.execute("blockdev-del", {"node-name": node}) == OK
    q.stop()
    assert q.layer_allocs() == layout
    headers = {"A": None, "B": "A.qcow2", "C": "B.qcow2", "D": "C.qcow2", "E": "D.qcow2"}
    assert {n: q.disk_backing(n) for n in "ABCDE" if n != overlay} == {
        n: h for n, h in headers.items() if n != overlay}
    assert q.disk_backing(overlay) == (q.image(base) if name == "plain" else json_name(q, name))


#: What commit E top D <- base B leaves: the graph and B's chunks.
D_B_GRAPH = {"E": "B", "D": "C", "C": "B", "B": "A", "A": None}


@pytest.mark.parametrize("af, ad", [(True, True), (True, False), (False, True)],
                         ids=["af1-ad1", "af1-ad0", "af0-ad1"])
def test_12_non_active_commit_auto_finalize_auto_dismiss(make_chain, af, ad):
    """Commit E top D <- base B, unthrottled.  As for a stream (FACTS
    §11.1), BLOCK_JOB_PENDING comes only without auto-finalize, and the job
    holds its nodes until it is dismissed.  Unlike a stream, a concluded
    commit leaves no filter node behind: the graph in CONCLUDED is already
    the final one."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-commit", commit("B", "D", **{
        "auto-finalize": af, "auto-dismiss": ad})) == OK
    start = st("c", "created", "running", "waiting", "pending")
    done = [ended("COMPLETED", "c", LEN, LEN, 0), *st("c", "concluded")]
    if af:
        q.wait_status("c", "concluded" if not ad else "gone")
        assert q.take_events(at_least=6 + ad) == [*start, *done, *st("c", "null")[:int(ad)]]
    else:
        q.wait_status("c", "pending")
        assert q.take_events(at_least=5) == [*start, pending_ev("c")]
        assert q.execute("block-job-finalize", {"id": "c"}) == OK
        assert q.execute("query-jobs") == {"return": []}
        assert q.take_events(at_least=3) == [*done, *st("c", "null")]
    assert q.graph() == D_B_GRAPH
    if not ad:
        assert q.execute("blockdev-del", {"node-name": "D"}) == busy("D")
        assert q.execute("block-job-dismiss", {"id": "c"}) == OK
        assert q.take_events(at_least=1) == st("c", "null")
    assert q.execute("blockdev-del", {"node-name": "C"}) == backing_hd("C", "D")
    assert q.execute("blockdev-del", {"node-name": "D"}) == OK


def test_12_non_active_commit_cancel(make_chain):
    """Cancel of the sleeping commit E top D <- base B (auto-dismiss false)
    after its first chunk (complete is refused before: the job never
    becomes READY).  The filter goes at once, the chain is whole
    again, the base is read-only again, and no header changes.  The
    concluded job already holds no node.  But the
    chunk already copied stays in B: B reads C's chunk 1 where it read A's
    (C, D and E hold chunk 1 themselves or above B, and read as before)."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-commit", commit("B", "D", speed=1, **{"auto-dismiss": False})) == OK
    q.settle("c")
    for verb, args in (("block-job-complete", {"device": "c"}), ("job-complete", {"id": "c"})):
        assert (verb, q.execute(verb, args)) == (verb, err(
            "Job 'c' in state 'running' cannot accept command verb 'complete'"))
    assert q.execute("block-job-cancel", {"device": "c"}) == OK
    q.wait_status("c", "concluded")
    assert q.take_events(at_least=5) == [
        *st("c", "created", "running", "aborting"), ended("CANCELLED", "c", LEN, 2 * CHUNK, 1),
        *st("c", "concluded")]
    assert q.job("c")["error"] == "Operation canceled"
    assert q.graph() == FULL_CHAIN
    # unlike a finalized commit (and a cancelled stream, FACTS §4), the
    # cancelled commit holds no node while it waits to be dismissed
    assert q.job_nodes("c") == {}
    assert q.execute("blockdev-del", {"node-name": "D"}) == backing_hd("D", "E")
    assert read_only(q) == RO
    assert q.execute("block-job-dismiss", {"id": "c"}) == OK
    layout = {**LAYOUT, "B": {0: 0xB0, 1: 0xC1, 3: 0xB3}}
    views = q.views()
    assert views == live_views(FULL_CHAIN, layout)
    assert [n for n, v in views.items() if v != VIEWS[n]] == ["B"]
    q.stop()
    assert q.layer_allocs() == layout
    assert [q.disk_backing(n) for n in "ABCDE"] == [None, "A.qcow2", "B.qcow2", "C.qcow2",
                                                    "D.qcow2"]


# ==========================================================================
# 12.2 active commit


#: base -> (offset in chunks once started, after one step, len in chunks,
#: intermediate nodes).  len counts the chunks some layer above the base
#: holds; one kick copies one run of adjacent such chunks.
ACTIVE = {"C": (1, 3, 3, ["D"]), "A": (4, 7, 7, ["D", "C", "B"])}


def _to_ready(q: QemuChain, base: str, **kw) -> int:
    """Start the active commit ``c`` E <- ``base`` with speed 1 and kick it
    to READY; returns its len."""
    start, step, chunks, _ = ACTIVE[base]
    assert q.execute("block-commit", commit(base, speed=1, **kw)) == OK
    q.settle("c")
    assert _chunks(q) == ("running", start)
    assert q.step("c")["offset"] == step * CHUNK
    q.ok("block-job-set-speed", {"device": "c", "speed": 3})
    q.wait_status("c", "ready")
    return chunks * CHUNK


def block_job(status: str, offset: int, length: int, *, speed: int, ready: bool,
              paused: bool = False, af: bool = True, ad: bool = True) -> dict:
    """One entry of query-block-jobs for commit job ``c``."""
    return {"auto-dismiss": ad, "auto-finalize": af, "busy": False, "device": "c",
            "io-status": "ok", "len": length, "offset": offset, "paused": paused,
            "ready": ready, "speed": speed, "status": status, "type": "commit"}


@pytest.mark.parametrize("base, top", [("C", None), ("C", "E"), ("A", None)],
                         ids=["C", "C-top-E", "A"])
def test_12_active_commit_until_ready_and_complete_without_a_parent(make_chain, base, top):
    """block-commit device E, base-node C or A, no top-node or top-node E:
    an active commit (a mirror job of type commit).  Its filter (driver
    ``mirror_top``, read-write) goes above E and is the job's ``main
    node``; E is ``source``, the base ``target`` and every node between
    them an ``intermediate node``.  The base is read-write from the start.
    The job becomes READY once it has copied every chunk a layer above the
    base holds and is kicked once more.

    E has no parent here, so ``block-job-complete`` has nothing to move
    onto the base: the job completes, the filter goes, and the graph is
    the chain as before, E on top and still a root.  The base keeps E's and
    the intermediates' chunks and stays read-write."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    length = _to_ready(q, base, **({"top-node": top} if top else {}))
    held = ACTIVE[base][3]
    assert q.take_events() == [*st("c", "created", "running", "ready"),
                               ended("READY", "c", length, length, 3)]
    assert q.execute("query-block-jobs") == {"return": [
        block_job("ready", length, length, speed=3, ready=True)]}
    assert q.execute("query-jobs") == {"return": [{
        "current-progress": length, "id": "c", "status": "ready", "total-progress": length,
        "type": "commit"}]}
    assert q.graph() == {**FULL_CHAIN, "#blockN": "E"}
    assert q.job_nodes("c") == {"main node": ["#blockN"], "source": ["E"], "target": [base],
                                "intermediate node": held}
    assert read_only(q) == {**RO, "#blockN": False, base: False}
    assert {n["node-name"]: n["drv"] for n in q.nodes()}["#blockN"] == "mirror_top"
    wrote = ["consistent-read", "write", "write-unchanged"]
    assert job_edges(q) == sorted([
        ("", base, "root", ["write"], wrote),
        ("c", "#blockN", "main node", ["consistent-read"], wrote),
        ("c", "E", "source", [], wrote),
        ("c", base, "target", [], ALL),
        *[("c", n, "intermediate node", [], ["write", "write-unchanged"]) for n in held]])
    assert q.execute("block-job-complete", {"device": "c"}) == OK
    q.wait_status("c", "gone")
    assert q.take_events(at_least=5) == [*st("c", "waiting", "pending"),
                                         ended("COMPLETED", "c", length, length, 3),
                                         *st("c", "concluded", "null")]
    assert q.graph() == FULL_CHAIN
    assert read_only(q) == {**RO, base: False}
    assert q.execute("change-backing-file", {
        "device": "E", "image-node-name": "nope", "backing-file": "x"}) == err(
        "Cannot find device='' nor node-name='nope'")


#: The base C after the active commit E <- C copied everything.
C_COMMITTED = {1: 0xC1, 2: 0xD2, 3: 0xC3, 5: 0xC5, 6: 0xD6, 7: 0xE7}
LEN_C = 3 * CHUNK

#: outcome -> (the verb and its arguments, the events from there on, the
#: node the export is on afterwards, C's chunks afterwards).
OUTCOMES = {
    "block-job-complete": (("block-job-complete", {"device": "c"}), [
        *st("c", "waiting", "pending"), ended("COMPLETED", "c", LEN_C, LEN_C, 3),
        *st("c", "concluded", "null")], "C", C_COMMITTED),
    "job-complete": (("job-complete", {"id": "c"}), [
        *st("c", "waiting", "pending"), ended("COMPLETED", "c", LEN_C, LEN_C, 3),
        *st("c", "concluded", "null")], "C", C_COMMITTED),
    # in READY a cancel without force completes the job without the pivot
    "block-job-cancel": (("block-job-cancel", {"device": "c"}), [
        *st("c", "waiting", "pending"), ended("COMPLETED", "c", LEN_C, LEN_C, 3),
        *st("c", "concluded", "null")], "E", C_COMMITTED),
    "block-job-cancel-force": (("block-job-cancel", {"device": "c", "force": True}), [
        *st("c", "aborting"), ended("CANCELLED", "c", LEN_C, LEN_C, 3),
        *st("c", "concluded", "null")], "E", C_COMMITTED),
    "job-cancel": (("job-cancel", {"id": "c"}), [
        *st("c", "aborting"), ended("CANCELLED", "c", LEN_C, LEN_C, 3),
        *st("c", "concluded", "null")], "E", C_COMMITTED),
    # before READY: the first chunk (2, D's) is already in C
    "cancel-before-ready": (("block-job-cancel", {"device": "c"}), [
        *st("c", "aborting"), ended("CANCELLED", "c", LEN_C, CHUNK, 1),
        *st("c", "concluded", "null")], "E", {**LAYOUT["C"], 2: 0xD2}),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_12_active_commit_outcomes_with_an_exported_top(make_chain, outcome):
    """Active commit E <- base C, with E exported over NBD (the export's
    BlockBackend is E's parent; the job moves it onto its filter while it
    runs).  ``block-job-complete`` and ``job-complete`` in READY move the
    export onto C; ``block-job-cancel`` in READY completes the job too
    (COMPLETED) but leaves the export on E, as a mirror does; with force,
    and ``job-cancel`` (which forces), the job is CANCELLED.  In every
    outcome the graph is the chain as before (E->D->C: E and D are not
    dropped, and the header of no node changes), and C holds what the job
    copied and stays read-write: QEMU 7.2 does not reopen the base of an
    active commit read-only, not even after a cancel.  C and D read the
    copied chunks (E's chunk 7 in both)."""
    q = make_chain(alloc=LAYOUT, clusters=N, export_top=True)
    (verb, args), events, exported, c_after = OUTCOMES[outcome]
    if outcome == "cancel-before-ready":
        assert q.execute("block-commit", commit("C", speed=1)) == OK
        q.settle("c")
    else:
        _to_ready(q, "C")
    assert q.ok("query-block-exports") == [
        {"node-name": "#blockN", "shutting-down": False, "type": "nbd", "id": "top"}]
    q.take_events()
    assert q.execute(verb, args) == OK
    q.wait_status("c", "gone")
    assert q.take_events(at_least=len(events)) == events
    assert q.ok("query-block-exports")[0]["node-name"] == exported
    assert q.graph() == FULL_CHAIN
    assert read_only(q) == {**RO, "C": False}
    layout = {**LAYOUT, "C": c_after}
    if outcome not in ("block-job-complete", "cancel-before-ready"):
        # the data were all copied before the verb: one view stands for them
        assert q.view("D") == live_views(FULL_CHAIN, layout)["D"]
        return
    views = q.views()
    assert views == live_views(FULL_CHAIN, layout)
    assert [n for n in views if views[n] != VIEWS[n]] == (
        ["C"] if outcome == "cancel-before-ready" else ["C", "D"])
    q.stop()
    assert q.layer_allocs() == layout
    assert [q.disk_backing(n) for n in "ABCDE"] == [None, "A.qcow2", "B.qcow2", "C.qcow2",
                                                    "D.qcow2"]


def verb_error(verb: str, status: str) -> dict:
    return err(f"Job 'c' in state '{status}' cannot accept command verb '{verb}'")


@pytest.mark.parametrize("cancel", [("job-cancel", {"id": "c"}),
                                    ("block-job-cancel", {"device": "c", "force": True})])
def test_12_a_forced_cancel_in_standby_resumes_to_ready_then_aborts(make_chain, cancel):
    """Paused in READY (STANDBY), the active commit E <- base C is resumed
    by a forced cancel, which then aborts it: ready, aborting, CANCELLED
    (offset = len), concluded; the job has let go of every node."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-commit", commit("C", **{"auto-dismiss": False})) == OK
    q.wait_status("c", "ready")
    assert q.execute("job-pause", {"id": "c"}) == OK
    q.take_events(at_least=1)
    assert q.execute(*cancel) == OK
    assert q.take_events(at_least=4) == [*st("c", "ready", "aborting"), ended("CANCELLED", "c", LEN_C, LEN_C, 0),
                                         *st("c", "concluded")]
    assert q.graph() == FULL_CHAIN
    assert q.job_nodes("c") == {}


def test_12_active_commit_verbs_in_ready_and_the_pivot_at_finalize(make_chain):
    """Active commit E <- base C, auto-finalize and auto-dismiss false, E
    exported.  Before READY, complete is refused by the verb table.  A
    drain in READY shows as a standby/ready pair.  A pause in READY is
    STANDBY (``paused: true``, ``ready`` stays true) and a resume is READY
    again; at speed 0 the job stays READY.  A complete in STANDBY is
    accepted and waits for the resume.  The pivot happens at finalize: in
    PENDING the export is still on the filter.  Afterwards C carries the
    export but is no root (D and E still sit above it) until E and D are
    deleted."""
    q = make_chain(alloc=LAYOUT, clusters=N, export_top=True)
    assert q.execute("block-commit", commit("C", speed=1, **{
        "auto-finalize": False, "auto-dismiss": False})) == OK
    q.settle("c")
    for verb, args in (("block-job-complete", {"device": "c"}), ("job-complete", {"id": "c"})):
        assert (verb, q.execute(verb, args)) == (verb, verb_error("complete", "running"))
    q.step("c")
    q.ok("block-job-set-speed", {"device": "c", "speed": 3})
    q.wait_status("c", "ready")
    q.take_events()
    # a drain in READY shows as standby/ready
    assert q.execute("blockdev-snapshot-sync", {
        "node-name": "E", "snapshot-file": f"{q.tmpdir}/S.qcow2", "snapshot-node-name": "S",
        "format": "qcow2"}) == busy("E")
    assert q.take_events(at_least=4) == pairs(2, states=("standby", "ready"))
    kw = {"af": False, "ad": False, "ready": True}
    # (verb, arguments, answer, events, status and speed afterwards)
    rows = [
        ("block-job-pause", {"device": "c"}, OK, st("c", "standby"), "standby", 3),
        ("block-job-pause", {"device": "c"}, err("Job is already paused"), [], "standby", 3),
        ("block-job-cancel", {"device": "c"},
         err("The block job for device 'c' is currently paused"), [], "standby", 3),
        ("block-job-resume", {"device": "c"}, OK, st("c", "ready"), "ready", 3),
        ("block-job-resume", {"device": "c"}, err("Can't resume a job that was not paused"),
         [], "ready", 3),
        ("block-job-finalize", {"id": "c"}, verb_error("finalize", "ready"), [], "ready", 3),
        ("block-job-dismiss", {"id": "c"}, verb_error("dismiss", "ready"), [], "ready", 3),
        ("job-finalize", {"id": "c"}, verb_error("finalize", "ready"), [], "ready", 3),
        ("job-dismiss", {"id": "c"}, verb_error("dismiss", "ready"), [], "ready", 3),
        ("block-job-set-speed", {"device": "c", "speed": 10}, OK, [], "ready", 10),
        ("block-job-set-speed", {"device": "c", "speed": -1},
         err("Parameter 'speed' expects a non-negative value"), [], "ready", 10),
        # unthrottled, the job stays READY
        ("block-job-set-speed", {"device": "c", "speed": 0}, OK, [], "ready", 0),
        ("job-pause", {"id": "c"}, OK, st("c", "standby"), "standby", 0),
        ("job-complete", {"id": "c"}, OK, [], "standby", 0),
    ]
    for verb, args, answer, events, status, speed in rows:
        assert (verb, q.execute(verb, args)) == (verb, answer)
        q.pump(0.1)
        assert (verb, q.take_events(at_least=len(events))) == (verb, events)
        assert (verb, q.execute("query-block-jobs")) == (verb, {"return": [block_job(
            status, LEN_C, LEN_C, speed=speed, paused=status == "standby", **kw)]})
    assert q.execute("job-resume", {"id": "c"}) == OK
    q.wait_status("c", "pending")
    assert q.take_events(at_least=4) == [*st("c", "ready", "waiting", "pending"),
                                         pending_ev("c")]
    assert q.graph() == {**FULL_CHAIN, "#blockN": "E"}
    assert q.ok("query-block-exports")[0]["node-name"] == "#blockN"
    assert q.execute("block-job-finalize", {"id": "c"}) == OK
    assert q.take_events(at_least=2) == [ended("COMPLETED", "c", LEN_C, LEN_C, 0),
                                         *st("c", "concluded")]
    assert q.ok("query-block-exports")[0]["node-name"] == "C"
    assert q.graph() == FULL_CHAIN
    # the concluded mirror job has let go of every node already
    assert q.job_nodes("c") == {}
    assert q.execute("block-job-dismiss", {"id": "c"}) == OK
    assert q.take_events(at_least=1) == st("c", "null")
    no_root = err("Need a root block node")
    assert q.execute("block-commit", commit("A", device="C")) == no_root
    assert q.execute("blockdev-del", {"node-name": "D"}) == backing_hd("D", "E")
    assert q.execute("blockdev-del", {"node-name": "E"}) == OK
    assert q.execute("block-commit", commit("A", device="C")) == no_root
    assert q.execute("blockdev-del", {"node-name": "D"}) == OK
    assert q.graph() == {"C": "B", "B": "A", "A": None}
    assert q.execute("change-backing-file", {
        "device": "C", "image-node-name": "nope", "backing-file": "x"}) == err(
        "Cannot find device='' nor node-name='nope'")


# ==========================================================================
# 12.3 what a running commit refuses


def _subst(obj, names: dict[str, str]):
    if isinstance(obj, str):
        for key, value in names.items():
            obj = obj.replace(key, value)
        return obj
    if isinstance(obj, dict):
        return {k: _subst(v, names) for k, v in obj.items()}
    return obj


def _running(make_chain, args: dict) -> tuple[QemuChain, dict[str, str]]:
    """The throttled commit ``c`` on BIG_LAYOUT, asleep after its first
    chunk, with an empty image T beside the chain; FILTER -> its filter."""
    q = make_chain(alloc=BIG_LAYOUT, clusters=BIG_N)
    assert q.add_image("T") == OK
    assert q.execute("block-commit", {**args, "speed": 1}) == OK
    q.settle("c")
    q.take_events()
    main = q.job_nodes("c", raw=True)["main node"][0]
    filt = main if main.startswith("#") else next(
        n for n in q.graph(raw=True) if n.startswith("#"))
    return q, {"FILTER": filt, "TMP": q.tmpdir}


def _refused_while_running(q: QemuChain, rows, names: dict[str, str]) -> None:
    """Each (command, arguments, answer, drains) in turn: ``c`` shows
    exactly ``drains`` paused/running pairs, is that many chunks further
    and still running, and no other job event comes.

    A drain pauses the job before the command answers, so its ``paused``
    event is in when the answer is (asserted; while recording, all four
    events of blockdev-snapshot-sync's two drains were in, 18 of 18 runs);
    only ``running`` might come later.  So a
    row with no drain just checks that no event is in yet, and one wait at
    the end catches anything late."""
    start = q.settle("c")["offset"]
    graph = q.graph()
    for cmd, args, answer, drains in rows:
        got = q.execute(cmd, _subst(args, names))
        if not drains:
            assert (cmd, args, got, q.take_events()) == (cmd, args, answer, [])
            continue
        early = q.take_events()
        assert (cmd, args, early[:1]) == (cmd, args, st("c", "paused"))
        q.pump(0.02)  # room for an unexpected extra event to show up
        events = early + q.take_events(at_least=2 * drains - len(early))
        j = q.settle("c")
        assert (cmd, args, got, events, j["status"], j["offset"] - start) == (
            cmd, args, answer, pairs(drains), "running", drains * CHUNK)
        start = j["offset"]
    q.pump(0.1)
    assert q.take_events() == []
    j = q.settle("c")
    assert (j["status"], j["offset"]) == ("running", start)
    assert q.graph() == graph


def _no_copy_stream(q: QemuChain, args: dict, drains: int) -> None:
    """An accepted block-stream ``s`` with nothing to copy while ``c``
    runs: ``s`` lives its whole life at once; ``c`` shows ``drains`` pairs
    (the order between the two jobs' events is left open)."""
    start = q.settle("c")["offset"]
    assert (args, q.execute("block-stream", args)) == (args, OK)
    q.wait_status("s", "gone")
    q.pump(0.1)
    events = q.take_events(at_least=2 * drains + 7)
    j = q.settle("c")
    assert (args, [e for e in events if e["data"].get("id", e["data"].get("device")) == "s"]) == (
        args, [*st("s", "created", "running", "waiting", "pending"),
               ended("COMPLETED", "s", 0, 0, 0, "stream"), *st("s", "concluded", "null")])
    assert (args, [e for e in events if e["data"].get("id") == "c"], j["status"],
            j["offset"] - start) == (args, pairs(drains), "running", drains * CHUNK)


def _snapshot_sync(node: str) -> dict:
    return {"node-name": node, "snapshot-file": "TMP/S.qcow2", "snapshot-node-name": "S",
            "format": "qcow2"}


NO_ROOT = err("Need a root block node")
RESIZE = err("Device '(null)' is in use")
SIZE = 2 * BIG_N * CHUNK

#: Commit E top D <- base B running: E is its main node, D and C its
#: intermediate nodes, B its base; FILTER (commit_top, between E and D) and
#: A are not held.
NON_ACTIVE_REFUSED = [
    *[("block-stream", {"device": "E", "job-id": "s", **({"base-node": b} if b else {})},
       busy("E"), 0) for b in (None, "A", "B", "C", "D")],
    *[("block-stream", {"device": "D", "job-id": "s", **({"base-node": b} if b else {})},
       busy("D"), 0) for b in (None, "A", "B", "C")],
    *[("block-stream", {"device": "C", "job-id": "s", **({"base-node": b} if b else {})},
       busy("C"), 0) for b in (None, "A", "B")],
    *[("block-stream", {"device": "B", "job-id": "s", **({"base-node": b} if b else {})},
       busy("B"), 0) for b in (None, "A")],
    # the filter is free for the walk, the node below it is not
    *[("block-stream", {"device": "FILTER", "job-id": "s", **({"base-node": b} if b else {})},
       busy("D"), 0) for b in (None, "A", "B", "C")],
    ("block-stream", {"device": "FILTER", "job-id": "s", "base-node": "D"},
     err("'D' is not in the backing chain of '#blockN'"), 0),
    ("block-stream", {"device": "FILTER", "job-id": "s", "base-node": "E"},
     err("Node 'E' is not a backing image of '#blockN'"), 0),
    # E is held, so it is no root: every second commit ends there
    *[("block-commit", commit(b, t, job="c2"), NO_ROOT, 0) for t, b in (
        (None, "D"), (None, "C"), (None, "A"), ("E", "C"), ("D", "C"), ("D", "B"),
        ("C", "B"), ("C", "A"), ("B", "A"), ("FILTER", "C"))],
    ("block-commit", commit("C", device="FILTER", job="c2"), NO_ROOT, 0),
    ("block-commit", commit("B", device="D", job="c2"), NO_ROOT, 0),
    ("blockdev-del", {"node-name": "E"}, busy("E"), 0),
    ("blockdev-del", {"node-name": "D"}, err("Node D is in use"), 0),
    ("blockdev-del", {"node-name": "C"}, busy("C"), 0),
    ("blockdev-del", {"node-name": "B"}, err("Node B is in use"), 0),
    ("blockdev-del", {"node-name": "A"}, backing_hd("A", "B"), 0),
    ("blockdev-del", {"node-name": "FILTER"}, backing_hd("#blockN", "E"), 0),
    *[("block_resize", {"node-name": n, "size": SIZE}, RESIZE, 0) for n in "EDCBA"],
    ("block_resize", {"node-name": "FILTER", "size": SIZE}, RESIZE, 0),
    *[("blockdev-snapshot-sync", _snapshot_sync(n), busy(n), 2) for n in "EDCB"],
    ("blockdev-snapshot-sync", _snapshot_sync("A"), backing_hd("A", "B"), 2),
    ("blockdev-snapshot-sync", _snapshot_sync("FILTER"), backing_hd("#blockN", "E"), 2),
    ("blockdev-snapshot", {"node": "E", "overlay": "T"}, busy("E"), 2),
    ("blockdev-snapshot", {"node": "D", "overlay": "T"}, busy("D"), 2),
    ("blockdev-snapshot", {"node": "FILTER", "overlay": "T"}, backing_hd("#blockN", "E"), 2),
    *[("change-backing-file", {"device": "E", "image-node-name": n, "backing-file": "x"},
       NO_ROOT, 0) for n in ("E", "D", "C", "B", "A", "FILTER", "nope")],
    *[("change-backing-file", {"device": n, "image-node-name": "C", "backing-file": "x"},
       NO_ROOT, 0) for n in ("D", "FILTER")],
    ("blockdev-mirror", {"device": "E", "target": "T", "sync": "full", "job-id": "m"},
     NO_ROOT, 0),
]


def test_12_refused_while_a_non_active_commit_runs(make_chain):
    q, names = _running(make_chain, commit("B", "D"))
    assert q.graph() == {**FULL_CHAIN, "E": "#blockN", "#blockN": "D", "T": None}
    _refused_while_running(q, NON_ACTIVE_REFUSED, names)
    # A is the only node the walk lets through: the read-only A is reopened
    # read-write and back (2 drains before the stream is created, 5 more
    # until it is gone; the same in 5 of 5 runs while recording)
    _no_copy_stream(q, {"device": "A", "job-id": "s"}, 7)


#: Active commit E <- base C running: FILTER (mirror_top, above E) is its
#: main node, E the source, D an intermediate node, C the target; B and A
#: are not held.
ACTIVE_REFUSED = [
    *[("block-stream", {"device": "E", "job-id": "s", **({"base-node": b} if b else {})},
       busy("E"), 0) for b in (None, "A", "B", "C", "D")],
    *[("block-stream", {"device": "D", "job-id": "s", **({"base-node": b} if b else {})},
       busy("D"), 0) for b in (None, "A", "B", "C")],
    *[("block-stream", {"device": "C", "job-id": "s", **({"base-node": b} if b else {})},
       busy("C"), 0) for b in (None, "A", "B")],
    *[("block-stream", {"device": "FILTER", "job-id": "s", **({"base-node": b} if b else {})},
       busy("#blockN"), 0) for b in (None, "A", "B", "C", "D", "E")],
    *[("block-commit", commit(b, t, job="c2"), NO_ROOT, 0) for t, b in (
        (None, "D"), (None, "A"), ("E", "C"), ("D", "C"), ("C", "B"), ("B", "A"))],
    ("block-commit", commit("C", device="FILTER", job="c2"), NO_ROOT, 0),
    ("blockdev-del", {"node-name": "E"}, busy("E"), 0),
    ("blockdev-del", {"node-name": "D"}, busy("D"), 0),
    ("blockdev-del", {"node-name": "C"}, err("Node C is in use"), 0),
    ("blockdev-del", {"node-name": "B"}, backing_hd("B", "C"), 0),
    ("blockdev-del", {"node-name": "A"}, backing_hd("A", "B"), 0),
    ("blockdev-del", {"node-name": "FILTER"}, busy("#blockN"), 0),
    *[("block_resize", {"node-name": n, "size": SIZE}, RESIZE, 0) for n in "EDCBA"],
    ("block_resize", {"node-name": "FILTER", "size": SIZE}, RESIZE, 0),
    *[("blockdev-snapshot-sync", _snapshot_sync(n), busy(n), 2) for n in "EDC"],
    ("blockdev-snapshot-sync", _snapshot_sync("B"), backing_hd("B", "C"), 2),
    ("blockdev-snapshot-sync", _snapshot_sync("A"), backing_hd("A", "B"), 2),
    ("blockdev-snapshot-sync", _snapshot_sync("FILTER"), busy("#blockN"), 2),
    ("blockdev-snapshot", {"node": "E", "overlay": "T"}, busy("E"), 2),
    ("blockdev-snapshot", {"node": "FILTER", "overlay": "T"}, busy("#blockN"), 2),
    *[("change-backing-file", {"device": "E", "image-node-name": n, "backing-file": "x"},
       NO_ROOT, 0) for n in ("E", "D", "C", "B", "A", "FILTER", "nope")],
    ("change-backing-file", {"device": "FILTER", "image-node-name": "D", "backing-file": "x"},
     NO_ROOT, 0),
    ("blockdev-mirror", {"device": "E", "target": "T", "sync": "full", "job-id": "m"},
     NO_ROOT, 0),
]


def test_12_refused_while_an_active_commit_runs(make_chain):
    q, names = _running(make_chain, commit("C"))
    assert q.graph() == {**FULL_CHAIN, "#blockN": "E", "T": None}
    _refused_while_running(q, ACTIVE_REFUSED, names)
    # below the target the walk lets streams through (7 drains, as above;
    # 3 of 3 runs while the commit still ran)
    _no_copy_stream(q, {"device": "B", "job-id": "s", "base-node": "A"}, 7)
    # B streams all of A: it no longer backs onto A, and A can go
    assert q.execute("block-stream", {"device": "B", "job-id": "s"}) == OK
    q.wait_status("s", "gone")
    assert q.execute("blockdev-del", {"node-name": "A"}) == OK
    assert q.graph() == {"#blockN": "E", "E": "D", "D": "C", "C": "B", "B": None, "T": None}
    # c has copied (nearly) all of E by now: the stream's drains leave it
    # running or READY, depending on how many there were
    assert q.job("c")["status"] in ("running", "ready")


# ==========================================================================
# 12.4 start errors


def _created_and_dropped(job: str = "c") -> list[dict]:
    return st(job, "created", "null")


NOT_FOUND = err("Cannot find device='' nor node-name='nope'")
ITSELF = err("cannot commit an image into itself")
SPEED = err("Parameter 'speed' expects a non-negative value")
ACTIVE_BACKING = err("'backing-file' specified, but 'top' is the active layer")


def not_in_chain(node: str) -> dict:
    return err(f"'{node}' is not in this backing file chain")


#: (arguments, answer, job events).  X is a root whose backing is F, a
#: blkdebug filter over D (so X -> F -> D -> C -> B -> A).
START_ERRORS = [
    (commit("B", "D", device="nope"), err("Device 'nope' not found", "DeviceNotFound"), []),
    (commit("B", "D", device=""), err("Device '' not found", "DeviceNotFound"), []),
    (commit("B", "C", device="D"), NO_ROOT, []),
    (commit("B", "C", device="D-file"), NO_ROOT, []),
    (commit("nope", "nope", device="nope"), err("Device 'nope' not found", "DeviceNotFound"), []),
    (commit("B", "nope"), NOT_FOUND, []),
    (commit("B", "X"), not_in_chain("X"), []),
    (commit("B", "F"), not_in_chain("F"), []),
    (commit("B", "E-file"), not_in_chain("E-file"), []),
    (commit("nope", "nope", **{"top": "x", "base": "y"}),
     err("'top-node' and 'top' are mutually exclusive"), []),
    (commit("B", **{"top": "D.qcow2"}), err("Top image file D.qcow2 not found"), []),
    (commit("B", **{"top": "nope"}), err("Top image file nope not found"), []),
    (commit("nope", "D"), NOT_FOUND, []),
    (commit("E", "D"), not_in_chain("E"), []),
    (commit("D", "C"), not_in_chain("D"), []),
    (commit("B-file", "D"), not_in_chain("B-file"), []),
    (commit("B", "D", **{"base": "B.qcow2"}),
     err("'base-node' and 'base' are mutually exclusive"), []),
    (commit(None, "D", **{"base": "B.qcow2"}),
     err("Can't find 'B.qcow2' in the backing chain"), []),
    (commit(None, "D", **{"base": "nope"}), err("Can't find 'nope' in the backing chain"), []),
    (commit("nope", "nope", **{"base": "y"}), NOT_FOUND, []),
    (commit("D", "D"), ITSELF, []),
    (commit("E", "E"), ITSELF, []),
    (commit("E"), ITSELF, []),
    # with no base the base is the chain's end: A into itself
    (commit(None, "A"), ITSELF, []),
    (commit("A", "A"), ITSELF, []),
    (commit("D", "C", **{"backing-file": "x"}), not_in_chain("D"), []),
    (commit("E", "E", **{"backing-file": "x"}), ITSELF, []),
    (commit("C", **{"backing-file": "C.qcow2"}), ACTIVE_BACKING, []),
    (commit("C", "E", **{"backing-file": "C.qcow2"}), ACTIVE_BACKING, []),
    (commit("B", speed=-1, job="", **{"backing-file": "x"}), ACTIVE_BACKING, []),
    (commit("B", "D", job=""), err("Invalid job ID ''"), []),
    (commit("B", "D", job=None), err("Invalid job ID ''"), []),
    (commit("B", "D", job="#x"), err("Invalid job ID '#x'"), []),
    (commit("B", job=None), err("Invalid job ID ''"), []),
    (commit("B", job="#x"), err("Invalid job ID '#x'"), []),
    (commit("B", "D", job="", speed=-1), err("Invalid job ID ''"), []),
    (commit("B", job="", speed=-1), err("Invalid job ID ''"), []),
    (commit("B", "D", speed=-1), SPEED, _created_and_dropped()),
    (commit("B", speed=-1), SPEED, _created_and_dropped()),
    # below the active layer the filter is made after the job (created,
    # null); an active commit makes it before the job (no event), so the
    # name comes before the job id and the speed there
    (commit("B", "D", **{"filter-node-name": "C"}), err("Duplicate nodes with node-name='C'"),
     _created_and_dropped()),
    (commit("B", "D", speed=-1, **{"filter-node-name": "C"}), SPEED, _created_and_dropped()),
    (commit("B", "D", **{"filter-node-name": "#x"}), err("Invalid node-name: '#x'"),
     _created_and_dropped()),
    (commit("B", "D", **{"filter-node-name": "x" * 32}), err("Node name too long"),
     _created_and_dropped()),
    (commit("B", **{"filter-node-name": "C"}), err("Duplicate nodes with node-name='C'"), []),
    (commit("B", speed=-1, **{"filter-node-name": "C"}),
     err("Duplicate nodes with node-name='C'"), []),
    (commit("B", job="", **{"filter-node-name": "C"}),
     err("Duplicate nodes with node-name='C'"), []),
    (commit("B", **{"filter-node-name": "#x"}), err("Invalid node-name: '#x'"), []),
    # filters in the chain (the blkdebug F between X and D)
    (commit("D", "F", device="X"), err("Invalid files for merge: top and base are the same"), []),
    (commit("F", "D", device="X"), not_in_chain("F"), []),
    (commit("F", "X", device="X"), err("Block node is read-only"), _created_and_dropped()),
    (commit("F", device="X"), err("Block node is read-only"), _created_and_dropped()),
]


def test_12_commit_start_errors_in_order(make_chain):
    """Every refused block-commit on one chain with no job: the answer and
    the job events.  Pairs of faults show the order of the checks: the
    device (DeviceNotFound, then the root check), top-node/top, base-node/
    base, the op-blocker walk, "into itself", backing-file for an active
    commit; then below the active layer the job (id, speed) and then its
    filter, for an active commit the filter and then the job.  Nothing is
    left behind: no job, the graph and every read-only flag as before (an
    active commit reopens its base read-write before its filter and job,
    and read-only again when they fail).  Finally a job called ``c`` (a
    mirror of T, elsewhere) makes the id a duplicate."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("blockdev-add", {"driver": "blkdebug", "node-name": "F", "image": "D"}) == OK
    assert q.add_image("X", backing="F") == OK
    graph, ro = q.graph(), read_only(q)
    # the harness's graph does not follow blkdebug's "image" child
    assert graph == {**FULL_CHAIN, "X": "F", "F": None}
    for args, answer, events in START_ERRORS:
        got = q.execute("block-commit", args)
        assert (args, got, q.take_events(at_least=len(events))) == (args, answer, events)
    q.pump(0.1)
    assert q.take_events() == []
    assert q.jobs() == [] and q.graph() == graph and read_only(q) == ro
    assert q.add_image("T") == OK
    assert q.add_image("T2") == OK
    assert q.execute("blockdev-mirror", {"device": "T", "target": "T2", "sync": "full",
                                         "job-id": "c"}) == OK
    q.wait_status("c", "ready")
    q.take_events()
    for args, answer in [
            (commit("B", "D"), err("Job ID 'c' already in use")),
            (commit("B"), err("Job ID 'c' already in use")),
            (commit("B", **{"filter-node-name": "C"}), err("Duplicate nodes with node-name='C'")),
            (commit("B", "D", **{"filter-node-name": "C"}), err("Job ID 'c' already in use"))]:
        assert (args, q.execute("block-commit", args)) == (args, answer)
    q.pump(0.05)
    assert q.take_events() == []
    # (the mirror's own filter is the read-write #blockN)
    assert [j["id"] for j in q.jobs()] == ["c"] and read_only(q) == {
        **ro, "T": False, "T2": False, "#blockN": False}


# ==========================================================================
# 12.5 blockdev-del of a node no one uses


def test_12_blockdev_del_of_the_node_a_stream_cut_out(make_chain):
    """After stream D <- base B (QEMU's defaults: finalized and dismissed),
    C has no parent: ``blockdev-del C`` removes C and its protocol node
    C-file (which came with C's blockdev-add).  Every later command naming
    them is a lookup failure, and the name C is free again."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-stream", {"device": "D", "base-node": "B", "job-id": "s"}) == OK
    q.wait_status("s", "gone")
    assert q.execute("blockdev-del", {"node-name": "C"}) == OK
    assert q.graph(with_protocol=True) == {
        "E": "D", "E:file": "E-file", "D": "B", "D:file": "D-file", "B": "A",
        "B:file": "B-file", "A": None, "A:file": "A-file"}
    gone = err("Cannot find device='' nor node-name='C'")
    for cmd, args, answer in [
            ("block-stream", {"device": "C", "job-id": "s2"},
             err("Cannot find device='C' nor node-name='C'")),
            ("blockdev-del", {"node-name": "C"}, err("Failed to find node with node-name='C'")),
            ("blockdev-del", {"node-name": "C-file"},
             err("Failed to find node with node-name='C-file'")),
            ("block-commit", commit(device="C"), err("Device 'C' not found", "DeviceNotFound")),
            ("block-commit", commit(None, "C"), gone),
            ("block-commit", commit("C"), gone),
            ("change-backing-file", {"device": "E", "image-node-name": "C", "backing-file": "x"},
             gone),
            ("block_resize", {"node-name": "C", "size": LEN}, gone),
            ("blockdev-snapshot-sync", {"node-name": "C", "snapshot-file": "S.qcow2",
                                        "format": "qcow2"}, gone)]:
        assert (cmd, args, q.execute(cmd, args)) == (cmd, args, answer)
    assert q.add_image("C", backing="B") == OK
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.jobs() == []


def test_12_blockdev_del_of_the_active_layer(make_chain):
    """With no job, ``blockdev-del E`` is accepted (E has no parent).  D is
    then the chain's root: the root check of change-backing-file passes,
    and block-commit device D is an active commit (of the read-only D)."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    probe = {"device": "D", "image-node-name": "nope", "backing-file": "x"}
    assert q.execute("change-backing-file", probe) == NO_ROOT
    assert q.execute("blockdev-del", {"node-name": "D"}) == backing_hd("D", "E")
    assert q.execute("blockdev-del", {"node-name": "E"}) == OK
    assert q.graph(with_protocol=True) == {
        "D": "C", "D:file": "D-file", "C": "B", "C:file": "C-file", "B": "A",
        "B:file": "B-file", "A": None, "A:file": "A-file"}
    assert q.jobs() == [] and q.take_events() == []
    assert q.execute("change-backing-file", probe) == NOT_FOUND
    assert q.execute("blockdev-del", {"node-name": "E"}) == err(
        "Failed to find node with node-name='E'")
    assert q.execute("block-stream", {"device": "E", "job-id": "s"}) == err(
        "Cannot find device='E' nor node-name='E'")
    assert q.execute("block-commit", commit("B", device="D", speed=1)) == OK
    q.settle("c")
    assert q.job_nodes("c") == {"main node": ["#blockN"], "source": ["D"], "target": ["B"],
                                "intermediate node": ["C"]}
    assert q.graph() == {"#blockN": "D", "D": "C", "C": "B", "B": "A", "A": None}
    assert read_only(q) == {"#blockN": False, "D": True, "C": True, "B": False, "A": True}


# ==========================================================================
# 12.6 an overlay above the active layer


#: job -> (its arguments, the graph while it runs (F added), the graph at
#: the end, E's header at the end: None = unchanged "D.qcow2", else the
#: json chain).
OVERLAY_JOBS = {
    "none": (None, FULL_CHAIN, FULL_CHAIN, None),
    "stream": (("block-stream", {"device": "D", "base-node": "B", "job-id": "c"}),
               {**FULL_CHAIN, "E": "#blockN", "#blockN": "D"},
               {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}, None),
    "commit": (("block-commit", commit("B", "D")),
               {**FULL_CHAIN, "E": "#blockN", "#blockN": "D"}, D_B_GRAPH, "BA"),
    "active-commit": (("block-commit", commit("C")), {**FULL_CHAIN, "#blockN": "E"},
                      FULL_CHAIN, None),
}


@pytest.mark.parametrize("job", list(OVERLAY_JOBS))
def test_12_blockdev_add_of_an_overlay_above_the_active_layer(make_chain, job):
    """blockdev-add of F with ``backing: E`` (F's file has no backing
    string) is accepted with no job and while a stream of D, a commit of D
    or an active commit of E runs, and drains none of them.  E then has a
    parent that is no BlockBackend: it is no root any more.  The jobs end
    as without F: F reads E's data throughout.  At the completion of the
    active commit F is moved from E onto C (the pivot moves E's parents),
    while E stays on D.  F's header is never written: reopened from its
    file, F would have no backing."""
    start, during, after, e_header = OVERLAY_JOBS[job]
    q = make_chain(alloc=LAYOUT, clusters=N)
    if start:
        assert q.execute(start[0], {**start[1], "speed": 1}) == OK
        q.settle("c")
        q.take_events()
    assert q.add_image("F", backing="E") == OK
    q.pump(0.05)
    assert q.take_events() == []
    assert q.graph() == {**during, "F": "E"}
    assert q.execute("block-commit", commit("C", job="c2")) == NO_ROOT
    if start:
        q.ok("block-job-set-speed", {"device": "c", "speed": 0})
        if job == "active-commit":
            q.wait_status("c", "ready")
            assert q.execute("block-job-complete", {"device": "c"}) == OK
        q.wait_status("c", "gone")
    assert q.graph() == {**after, "F": "C" if job == "active-commit" else "E"}
    assert q.view("F") == VIEWS["E"]
    q.stop()
    assert q.disk_backing("F") is None
    assert q.disk_backing("E") == (json_name(q, e_header) if e_header else "D.qcow2")


#: job -> (its arguments, the answer to blockdev-snapshot node E overlay F,
#: the events: the drains it causes, and the events that may follow them).
#: Each drain wakes the throttled active commit, which then copies one more
#: run of chunks; whether its last run is copied before the second pause
#: depends on how the daemon is scheduled, so READY may or may not follow
#: (it did on an idle machine, not under a loaded CI run).
SNAPSHOT_JOBS = {
    "none": (None, OK, [], []),
    "stream": (("block-stream", {"device": "D", "base-node": "B", "job-id": "c"}), OK,
               pairs(2), []),
    "active-commit": (("block-commit", commit("C")), busy("E"), pairs(2),
                      [*st("c", "ready"), ended("READY", "c", LEN_C, LEN_C, 1)]),
}


@pytest.mark.parametrize("job", list(SNAPSHOT_JOBS))
def test_12_blockdev_snapshot_above_the_active_layer(make_chain, job):
    """F added with ``backing: null``, then ``blockdev-snapshot node E
    overlay F``.  Accepted with no job and while stream D <- base B runs
    (FACTS §3; it drains the stream twice), refused while an active commit
    runs (E is its source).  When accepted, F backs onto E, E is reopened
    read-only, and F's header is not written.  A stream running meanwhile
    ends as without F."""
    start, answer, events, may_follow = SNAPSHOT_JOBS[job]
    q = make_chain(alloc=LAYOUT, clusters=N)
    if start:
        assert q.execute(start[0], {**start[1], "speed": 1}) == OK
        q.settle("c")
        q.take_events()
    assert q.add_image("F") == OK
    graph = q.graph()
    assert q.execute("blockdev-snapshot", {"node": "E", "overlay": "F"}) == answer
    q.pump(0.05)
    got = q.take_events(at_least=len(events))
    assert got[:len(events)] == events
    after = got[len(events):]
    assert after == may_follow[:len(after)]
    if answer != OK:
        assert q.graph() == graph and read_only(q) == {
            **RO, "F": False, "#blockN": False, "C": False}
        return
    assert q.graph() == {**graph, "F": "E"}
    assert read_only(q)["E"] is True
    if start:
        q.ok("block-job-set-speed", {"device": "c", "speed": 0})
        q.wait_status("c", "gone")
        assert q.graph() == {"F": "E", "E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.view("F") == VIEWS["E"]
    q.stop()
    assert q.disk_backing("F") is None


# ==========================================================================
# 12.7 a commit and a stream above it


def test_12_a_stream_onto_a_running_commits_top_cannot_freeze_the_link_into_its_filter(make_chain):
    """Stream D base-node C while commit E top C <- base B runs: the stream
    would freeze D's link into the commit's filter, which is never frozen
    (commit_top's never_freeze).  With bottom D it freezes no link and is
    accepted."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-commit", commit("B", "C", speed=1, **{"auto-finalize": False})) == OK
    q.settle("c")
    assert q.execute("block-stream", {"job-id": "s", "device": "D", "base-node": "C"}) == err(
        "Cannot freeze 'backing' link to '#blockN'")
    assert q.execute("block-stream", {"job-id": "s", "device": "D", "base-node": "B"}) == busy("C")
    assert q.execute("block-stream", {"job-id": "s", "device": "D", "bottom": "D", "speed": 1,
                                      "auto-finalize": False}) == OK


def test_12_a_commits_finalize_moves_a_node_another_job_holds(make_chain):
    """Commit E top C <- base B (auto-finalize false), then stream D bottom D
    (holds D, freezes no link).  The commit's finalize re-points D, the
    stream's top, onto B, live and in D's header.  The stream then finishes
    onto what lies below D at its end, B: stream_prepare reads its base
    there.  While the finalized commit waits to be dismissed, B's newest
    op blocker is D's backing blocker, set when D was re-attached, not the
    job's."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-commit", commit("B", "C", speed=0, **{"auto-finalize": False,
                                                                  "auto-dismiss": False})) == OK
    q.wait_status("c", "pending")
    assert q.execute("block-stream", {"job-id": "s", "device": "D", "bottom": "D", "speed": 0,
                                      "auto-finalize": False, "auto-dismiss": False}) == OK
    q.wait_status("s", "pending")
    assert q.execute("block-job-finalize", {"id": "c"}) == OK
    q.wait_status("c", "concluded")
    assert q.graph() == {"#blockN": "D", "E": "#blockN", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.execute("blockdev-del", {"node-name": "B"}) == backing_hd("B", "D")
    assert q.execute("blockdev-del", {"node-name": "C"}) == busy("C")
    assert q.execute("block-job-finalize", {"id": "s"}) == OK
    q.wait_status("s", "concluded")
    assert q.graph() == {"#blockN": None, "E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    for job in ("c", "s"):
        assert q.execute("block-job-dismiss", {"id": job}) == OK
    q.stop()
    assert q.disk_backing("D") == json_name(q, "BA")
