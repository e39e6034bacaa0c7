"""QEMU 7.2's answers about the job life cycle, query-jobs, ``bottom``,
named filters and events, recorded as tests (FACTS.md §11).

Same ground rules as ``test_qemu_facts.py``: every expected answer was
observed on qemu-storage-daemon 7.2 (Debian 1:7.2+dfsg-7+deb12u18) and is
asserted exactly (class and desc, events without timestamps, graph, job
lists, data).  Set-up unless a test says otherwise: the chain
A <- B <- C <- D <- E of ``test_qemu_facts`` (its LAYOUT, N = 8 chunks),
A..D read-only, E read-write.  "FILTER" in a row stands for the running
stream's copy-on-read filter.  ``drains`` counts the paused/running pairs a
command causes on the throttled stream ``s``; each lets it copy one more
chunk.  Automatic node names are normalised to ``#blockN``.
"""

from __future__ import annotations

import json

import pytest

from blockcheck.conformance import CHUNK, QemuChain
from tests.conformance.test_qemu_facts import FULL_CHAIN, LAYOUT, N, TWO_LAYOUT, VIEWS

pytestmark = pytest.mark.qemu

OK = {"return": {}}
IN_USE = "block device is in use by block job: stream"
LEN = N * CHUNK
#: For a stream that must keep running through many drains: C holds every
#: chunk but 0, so stream D <- base B has 47 chunks to copy.
BIG_N = 48
BIG_LAYOUT = {"A": {c: 0xA0 for c in range(BIG_N)}, "B": {0: 0xB0},
              "C": {c: 0xC0 for c in range(1, BIG_N)}, "D": {}, "E": {}}
#: What stream D <- base B leaves in D (test_qemu_facts, test_1).
D_AFTER_STREAM = {1: 0xC1, 2: 0xD2, 3: 0xC3, 5: 0xC5, 6: 0xD6, 7: 0xC7}


def err(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


def busy(node: str) -> dict:
    return err(f"Node '{node}' is busy: {IN_USE}")


def backing_hd(node: str, parent: str) -> dict:
    return err(f"Node '{node}' is busy: node is used as backing hd of '{parent}'")


def stream(top: str, base: str | None = None, job: str | None = "s", **kw) -> dict:
    args: dict = {"device": top}
    if job is not None:
        args["job-id"] = job
    if base is not None:
        args["base-node"] = base
    args.update(kw)
    return args


def st(job: str, *statuses: str) -> list[dict]:
    """JOB_STATUS_CHANGE events of ``job``, in order."""
    return [{"event": "JOB_STATUS_CHANGE", "data": {"status": s, "id": job}} for s in statuses]


def pairs(drains: int, job: str = "s") -> list[dict]:
    return st(job, *["paused", "running"] * drains)


def completed(job: str, length: int, offset: int, speed: int) -> dict:
    return {"event": "BLOCK_JOB_COMPLETED", "data": {
        "device": job, "len": length, "offset": offset, "speed": speed, "type": "stream"}}


def cancelled(job: str, length: int, offset: int, speed: int) -> dict:
    return {"event": "BLOCK_JOB_CANCELLED", "data": {
        "device": job, "len": length, "offset": offset, "speed": speed, "type": "stream"}}


def pending_ev(job: str) -> dict:
    return {"event": "BLOCK_JOB_PENDING", "data": {"type": "stream", "id": job}}


def block_job(status: str, offset: int, *, af: bool, ad: bool, speed: int, busy_: bool = False,
              paused: bool = False, length: int = LEN, error: str | None = None) -> dict:
    """One entry of query-block-jobs for stream job ``s``."""
    out = {"auto-dismiss": ad, "auto-finalize": af, "busy": busy_, "device": "s",
           "io-status": "ok", "len": length, "offset": offset, "paused": paused,
           "ready": False, "speed": speed, "status": status, "type": "stream"}
    if error is not None:
        out["error"] = error
    return out


def query_job(status: str, offset: int, length: int = LEN, error: str | None = None,
              job: str = "s") -> dict:
    """One entry of query-jobs for stream job ``job``."""
    out = {"current-progress": offset, "id": job, "status": status,
           "total-progress": length, "type": "stream"}
    if error is not None:
        out["error"] = error
    return out


def json_name(q: QemuChain, chain: str) -> str:
    """The ``json:`` filename QEMU gives the qcow2 node ``chain[0]`` whose
    backing chain is ``chain[1:]`` (every node opened with an explicit
    backing), with the paths of this run."""
    def spec(names: str) -> dict:
        out: dict = {}
        if len(names) > 1:
            out["backing"] = spec(names[1:])
        out["driver"] = "qcow2"
        out["file"] = {"driver": "file", "filename": q.image(names[0])}
        return out
    return "json:" + json.dumps(spec(chain))


def _subst(obj, names: dict[str, str]):
    if isinstance(obj, str):
        for key, value in names.items():
            obj = obj.replace(key, value)
        return obj
    if isinstance(obj, dict):
        return {k: _subst(v, names) for k, v in obj.items()}
    return obj


def _started(make_chain, layout=LAYOUT, n=N, **kw) -> QemuChain:
    """Throttled stream ``s`` D <- base-node B, asleep after its first chunk."""
    q = make_chain(alloc=layout, clusters=n)
    assert q.execute("block-stream", stream("D", "B", speed=1, **kw)) == OK
    assert q.settle("s")["offset"] == 2 * CHUNK
    return q


def _rows_while_running(q: QemuChain, rows, names: dict[str, str]) -> None:
    """Each refused block-stream (arguments, answer, drains) in turn, while
    ``s`` runs: ``s`` shows exactly ``drains`` paused/running pairs, is that
    many chunks further and still running, and no other job event comes."""
    start = q.settle("s")["offset"]
    for args, answer, drains in rows:
        got = q.execute("block-stream", _subst(args, names))
        q.pump(0.05)  # room for an unexpected extra event to show up
        events = q.take_events(at_least=2 * drains)
        j = q.settle("s") if events else q.job("s")
        assert (args, got, events, j["status"], j["offset"] - start) == (
            args, answer, pairs(drains), "running", drains * CHUNK)
        start = j["offset"]


def _accepted_while_running(q: QemuChain, args: dict, names: dict[str, str],
                            drains: int) -> list[dict]:
    """An accepted block-stream with nothing to copy while ``s`` runs: it
    is gone at once; returns its own events, checks ``s``'s pairs."""
    job = args["job-id"]
    start = q.settle("s")["offset"]
    assert (args, q.execute("block-stream", _subst(args, names))) == (args, OK)
    q.wait_status(job, "gone")
    q.pump(0.1)
    events = q.take_events(at_least=2 * drains + 7)
    j = q.settle("s")
    mine = [e for e in events if e["data"].get("id", e["data"].get("device")) == "s"]
    assert (args, mine, j["status"], j["offset"] - start) == (
        args, pairs(drains), "running", drains * CHUNK)
    return [e for e in events if e not in mine]


def _no_copy_life(job: str) -> list[dict]:
    """The events of a stream that has nothing to copy, with QEMU's defaults."""
    return [*st(job, "created", "running", "waiting", "pending"), completed(job, 0, 0, 0),
            *st(job, "concluded", "null")]


# ==========================================================================
# 11.1 auto-finalize and auto-dismiss


#: (auto-finalize, auto-dismiss) -> how the job ends after its last chunk.
END = {(True, True): "gone", (True, False): "concluded",
       (False, True): "pending", (False, False): "pending"}


def _poll_after_last_kick(q: QemuChain) -> list:
    """Kick the throttled ``s`` for its last chunk and read query-block-jobs
    as fast as possible until the job is no longer running.  The distinct
    (status, offset, busy) seen, in order; None once it is gone."""
    q.ok("block-job-set-speed", {"device": "s", "speed": 4})
    seen: list = []
    for _ in range(2000):
        jobs = q.execute("query-block-jobs")["return"]
        state = (jobs[0]["status"], jobs[0]["offset"], jobs[0]["busy"]) if jobs else None
        if not seen or seen[-1] != state:
            seen.append(state)
        if state is None or state[0] != "running":
            return seen
    raise AssertionError(f"still running: {seen}")


@pytest.mark.parametrize("af, ad", list(END), ids=[f"af{int(a)}-ad{int(d)}" for a, d in END])
def test_11_auto_finalize_auto_dismiss_from_start_to_end(make_chain, af, ad):
    """Stream D <- base B, speed 1, stepped to its last chunk.  After the
    last kick a QMP command may still see the job ``running`` and busy:
    first while the last chunk is copied (offset 7 chunks: chunk 6 is D's
    own and was skipped), then, rarely, with offset == len before the main
    loop ends the job.  No command ever sees ``waiting``, and with
    auto-finalize no command sees ``pending``: the job goes from running
    to gone (auto-dismiss) or concluded in one step of the main loop."""
    q = _started(make_chain, **{"auto-finalize": af, "auto-dismiss": ad})
    assert [(j["status"], j["offset"]) for j in (q.step("s"), q.step("s"))] == [
        ("running", 4 * CHUNK), ("running", 6 * CHUNK)]
    seen = _poll_after_last_kick(q)
    assert set(seen[:-1]) <= {("running", 7 * CHUNK, True), ("running", LEN, True)}
    end = END[(af, ad)]
    assert seen[-1] == (None if end == "gone" else (end, LEN, False))
    after = [] if end == "gone" else [block_job(end, LEN, af=af, ad=ad, speed=4)]
    assert q.execute("query-block-jobs") == {"return": after}
    assert q.execute("query-jobs") == {"return": [query_job(end, LEN)] if after else []}
    start = st("s", "created", "running", "waiting", "pending")
    if af:
        assert q.take_events() == [*start, completed("s", LEN, LEN, 4),
                                   *st("s", "concluded", *(["null"] if ad else []))]
        assert q.graph() == ({"E": "D", "D": "B", "C": "B", "B": "A", "A": None} if ad else
                             {"#blockN": None, "E": "D", "D": "B", "C": "B", "B": "A",
                              "A": None})
    else:
        assert q.take_events() == [*start, pending_ev("s")]
        assert q.graph() == {"#blockN": "D", "E": "#blockN", **{
            k: v for k, v in FULL_CHAIN.items() if k != "E"}}
        # finalize: with auto-dismiss the job is gone as soon as finalize answers
        assert q.execute("block-job-finalize", {"id": "s"}) == OK
        assert q.execute("query-jobs") == {"return": [] if ad else [query_job("concluded", LEN)]}
        assert q.take_events(at_least=3 if ad else 2) == [
            completed("s", LEN, LEN, 4), *st("s", "concluded", *(["null"] if ad else []))]
    if not ad:
        assert q.execute("blockdev-del", {"node-name": "C"}) == busy("C")
        assert q.execute("block-job-dismiss", {"id": "s"}) == OK
        assert q.take_events(at_least=1) == st("s", "null")
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.execute("blockdev-del", {"node-name": "C"}) == OK


def test_11_cancel_while_running_under_each_combination(make_chain):
    """block-job-cancel of the sleeping stream D <- base B under each
    (auto-finalize, auto-dismiss), one after another on one chain (BIG_LAYOUT;
    each new stream skips the chunks D got from the one before).  The
    command after the cancel already sees the job gone (auto-dismiss) or
    concluded with the error ``Operation canceled``; auto-finalize plays no
    part.  With auto-dismiss C is free at once: ``blockdev-del C`` meets
    only the backing link from D."""
    big = BIG_N * CHUNK
    q = make_chain(alloc=BIG_LAYOUT, clusters=BIG_N)
    for i, (af, ad) in enumerate(END):
        combo = (af, ad)
        assert q.execute("block-stream", stream("D", "B", speed=1, **{
            "auto-finalize": af, "auto-dismiss": ad})) == OK
        offset = (i + 2) * CHUNK
        assert (combo, q.settle("s")["offset"]) == (combo, offset)
        assert q.take_events() == st("s", "created", "running")
        assert q.execute("block-job-cancel", {"device": "s"}) == OK
        concluded = [] if ad else [block_job("concluded", offset, af=af, ad=ad, speed=1,
                                             length=big, error="Operation canceled")]
        assert (combo, q.execute("query-block-jobs")) == (combo, {"return": concluded})
        assert (combo, q.execute("query-jobs")) == (combo, {"return": [] if ad else [
            query_job("concluded", offset, big, error="Operation canceled")]})
        assert (combo, q.execute("blockdev-del", {"node-name": "C"})) == (
            combo, backing_hd("C", "D") if ad else busy("C"))
        assert (combo, q.graph()) == (combo, FULL_CHAIN if ad else {"#blockN": None,
                                                                    **FULL_CHAIN})
        assert (combo, q.take_events(at_least=4 if ad else 3)) == (combo, [
            *st("s", "aborting"), cancelled("s", big, offset, 1),
            *st("s", "concluded", *(["null"] if ad else []))])
        if not ad:
            assert q.execute("block-job-dismiss", {"id": "s"}) == OK
            assert q.take_events(at_least=1) == st("s", "null")
            assert q.execute("blockdev-del", {"node-name": "C"}) == backing_hd("C", "D")


# ==========================================================================
# 11.2 query-jobs beside query-block-jobs


def test_11_query_jobs_by_status(make_chain):
    """query-jobs has no speed, busy, paused, ready, io-status or
    auto-* fields; its ``error`` appears only after a cancel (see the
    cancel test and the verb events test)."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert (q.execute("query-jobs"), q.execute("query-block-jobs")) == (
        {"return": []}, {"return": []})
    assert q.execute("block-stream", stream("D", "B", speed=1, **{
        "auto-finalize": False, "auto-dismiss": False})) == OK
    q.settle("s")
    kw = {"af": False, "ad": False}
    assert (q.execute("query-jobs"), q.execute("query-block-jobs")) == (
        {"return": [query_job("running", 2 * CHUNK)]},
        {"return": [block_job("running", 2 * CHUNK, speed=1, **kw)]})
    assert q.execute("job-pause", {"id": "s"}) == OK
    assert (q.execute("query-jobs"), q.execute("query-block-jobs")) == (
        {"return": [query_job("paused", 2 * CHUNK)]},
        {"return": [block_job("paused", 2 * CHUNK, speed=1, paused=True, **kw)]})
    assert q.execute("job-resume", {"id": "s"}) == OK
    assert q.finish("s")["status"] == "pending"
    assert (q.execute("query-jobs"), q.execute("query-block-jobs")) == (
        {"return": [query_job("pending", LEN)]},
        {"return": [block_job("pending", LEN, speed=0, **kw)]})
    assert q.execute("job-finalize", {"id": "s"}) == OK
    assert (q.execute("query-jobs"), q.execute("query-block-jobs")) == (
        {"return": [query_job("concluded", LEN)]},
        {"return": [block_job("concluded", LEN, speed=0, **kw)]})
    assert q.execute("job-dismiss", {"id": "s"}) == OK
    assert (q.execute("query-jobs"), q.execute("query-block-jobs")) == (
        {"return": []}, {"return": []})


# ==========================================================================
# 11.3 job-* verbs: unknown ids and the events of accepted verbs


def test_11_job_verbs_unknown_id_and_events(make_chain):
    """One chain (BIG_LAYOUT: stream D <- base B has 47 chunks to copy), one
    verb after another; ``s`` is restarted (the id is free again once
    dismissed) wherever a verb ended it.  A restarted stream skips the
    chunks D already got from the cancelled one."""
    big = BIG_N * CHUNK
    q = _started(make_chain, BIG_LAYOUT, BIG_N, **{"auto-finalize": False, "auto-dismiss": False})
    q.take_events()
    # an unknown id, while another job exists: the same answer as with no job (FACTS §5)
    for verb in ("pause", "resume", "cancel", "complete", "finalize", "dismiss"):
        assert (verb, q.execute(f"job-{verb}", {"id": "nope"})) == (verb, err("Job not found"))
    assert q.take_events() == []

    def verb(name: str, expected: list[dict], status: str | None) -> None:
        assert (name, q.execute(name, {"id": "s"})) == (name, OK)
        q.pump(0.05)
        assert (name, q.take_events(at_least=len(expected))) == (name, expected)
        j = q.job("s")
        assert (name, j and j["status"]) == (name, status)

    def restart(top: str, base: str, ad: bool) -> int:
        assert q.execute("block-stream", stream(top, base, speed=1, **{
            "auto-finalize": False, "auto-dismiss": ad})) == OK
        offset = q.settle("s")["offset"]
        assert q.take_events() == st("s", "created", "running")
        return offset

    verb("job-pause", st("s", "paused"), "paused")
    verb("job-resume", st("s", "running"), "running")      # the resume kicks: one more chunk
    assert q.settle("s")["offset"] == 3 * CHUNK
    verb("job-pause", st("s", "paused"), "paused")
    verb("job-cancel", [*st("s", "running", "aborting"), cancelled("s", big, 3 * CHUNK, 1),
                        *st("s", "concluded")], "concluded")
    assert q.execute("query-jobs") == {"return": [
        query_job("concluded", 3 * CHUNK, big, error="Operation canceled")]}
    verb("job-dismiss", st("s", "null"), None)

    assert restart("D", "B", ad=True) == 4 * CHUNK          # cancel while running
    verb("job-cancel", [*st("s", "aborting"), cancelled("s", big, 4 * CHUNK, 1),
                        *st("s", "concluded", "null")], None)

    assert restart("D", "B", ad=False) == 5 * CHUNK         # cancel in pending
    q.finish("s")
    assert q.take_events() == [*st("s", "waiting", "pending"), pending_ev("s")]
    verb("job-cancel", [*st("s", "aborting"), cancelled("s", big, big, 0),
                        *st("s", "concluded")], "concluded")
    assert q.execute("query-jobs") == {"return": [
        query_job("concluded", big, big, error="Operation canceled")]}
    verb("job-dismiss", st("s", "null"), None)
    assert q.graph() == FULL_CHAIN

    # finalize with auto-dismiss; D now holds every chunk C has, so nothing is left to copy
    assert q.execute("block-stream", stream("D", "B", **{
        "auto-finalize": False, "auto-dismiss": True})) == OK
    q.wait_status("s", "pending")
    assert q.take_events() == [*st("s", "created", "running", "waiting", "pending"),
                               pending_ev("s")]
    verb("job-finalize", [completed("s", big, big, 0), *st("s", "concluded", "null")], None)
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}

    assert restart("E", "B", ad=False) == 2 * CHUNK         # finalize, then dismiss
    q.finish("s")
    q.take_events()
    verb("job-finalize", [completed("s", big, big, 0), *st("s", "concluded")], "concluded")
    verb("job-dismiss", st("s", "null"), None)
    assert q.graph() == {"E": "B", "D": "B", "C": "B", "B": "A", "A": None}


# ==========================================================================
# 11.4 bottom


def test_11_bottom_at_the_top_in_the_middle_and_at_the_end(make_chain):
    """One chain, three streams of D.  ``bottom: D`` (the top itself) has
    nothing to copy, like base-node C: len 0, graph unchanged, D's header
    rewritten to C's json filename.  ``bottom: C`` is the same job as
    base-node B: the same events, graph, header and data.  Then
    ``bottom: A`` (the chain's end) streams everything, like no base: D
    gets every chunk and loses its backing, in the graph and the header."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    assert q.execute("block-stream", stream("D", bottom="D")) == OK
    q.wait_status("s", "gone")
    assert q.take_events() == _no_copy_life("s")
    assert q.graph() == FULL_CHAIN
    assert q.disk_backing("D") == json_name(q, "CBA")
    copy_life = [*st("s", "created", "running", "waiting", "pending"),
                 completed("s", LEN, LEN, 0), *st("s", "concluded", "null")]
    assert q.execute("block-stream", stream("D", bottom="C")) == OK
    q.wait_status("s", "gone")
    assert q.take_events() == copy_life
    assert q.graph() == {"E": "D", "D": "B", "C": "B", "B": "A", "A": None}
    assert q.disk_backing("D") == json_name(q, "BA")
    assert q.views() == VIEWS
    assert q.execute("block-stream", stream("D", bottom="A")) == OK
    q.wait_status("s", "gone")
    assert q.take_events() == copy_life
    assert q.graph() == {"E": "D", "D": None, "C": "B", "B": "A", "A": None}
    assert q.views() == VIEWS
    q.stop()
    assert q.disk_backing("D") is None
    assert q.layer_allocs() == {**LAYOUT, "D": dict(enumerate(VIEWS["D"]))}


def test_11_bottom_checks_while_a_stream_runs(make_chain):
    """Stream ``s`` D <- base B runs (filter auto-named).  The bottom checks
    (lookup, filter, in the chain) come before the op-blocker walk and
    before the job id; ``backing-file`` with a bottom is refused after the
    walk but before the top is reopened; the job id after the reopen."""
    q = _started(make_chain, BIG_LAYOUT, BIG_N)
    q.take_events()
    names = {"FILTER": q.filter_of("s")}
    not_found = err("Cannot find device='' nor node-name='nope'")
    is_filter = err("Node '#blockN' is a filter, use a non-filter node as 'bottom'")
    whole = err("backing file specified, but streaming the entire chain")
    _rows_while_running(q, [
        (stream("D", job="s2", bottom="nope"), not_found, 0),
        (stream("D", job="s2", bottom="E"), err("Node 'E' is not in a chain starting from 'D'"),
         0),
        (stream("D", job="s2", bottom="FILTER"), is_filter, 0),
        (stream("E", job="s2", bottom="FILTER"), is_filter, 0),
        # the filter check comes before the chain check: FILTER is above C
        (stream("C", job="s2", bottom="FILTER"), is_filter, 0),
        (stream("D", job="s2", bottom="C"), busy("D"), 0),
        (stream("E", job="s2", bottom="D"), busy("#blockN"), 0),
        (stream("FILTER", job="s2", bottom="D"), busy("#blockN"), 0),
        # bottom before the job id
        (stream("D", job="#x", bottom="nope"), not_found, 0),
        (stream("D", job="s", bottom="nope"), not_found, 0),
        (stream("D", job="#x", bottom="FILTER"), is_filter, 0),
        (stream("E", job="s", bottom="FILTER"), is_filter, 0),
        (stream("D", job="s", bottom="E"), err("Node 'E' is not in a chain starting from 'D'"),
         0),
        # backing-file: after the walk, before the reopen and the job id
        (stream("D", job="s2", bottom="C", **{"backing-file": "x"}), busy("D"), 0),
        (stream("D", job="#x", bottom="C", **{"backing-file": "x"}), busy("D"), 0),
        (stream("B", job="#x", bottom="A", **{"backing-file": "x"}), whole, 0),
        # B is s's base, free for the walk: the read-only B is reopened
        (stream("B", job="s", bottom="A"), err("Job ID 's' already in use"), 4),
        (stream("B", job="#x", bottom="A"), err("Invalid job ID '#x'"), 4),
    ], names)
    # speed -1: the job is created and dropped between s's drains
    assert q.execute("block-stream", stream("B", job="s2", bottom="A", speed=-1)) == err(
        "Parameter 'speed' expects a non-negative value")
    q.pump(0.1)
    assert q.take_events(at_least=10) == [*pairs(2), *st("s2", "created", "null"), *pairs(2)]
    # E with bottom E is accepted (nothing to copy) though E's backing is the
    # filter; it drains s twice, and E's header gets D's json filename
    assert _accepted_while_running(q, stream("E", job="s2", bottom="E"), names, 2) == (
        _no_copy_life("s2"))
    assert q.graph() == {"#blockN": "D", "E": "#blockN", **{
        k: v for k, v in FULL_CHAIN.items() if k != "E"}}
    assert q.disk_backing("E") == json_name(q, "DCBA")


@pytest.mark.parametrize("first", ["jc", "je"])
def test_11_two_streams_with_bottom_finalize_order(make_chain, first):
    """C <- base-node A (jc, filter fc) runs, then E ``bottom: D`` (je,
    filter fe) is accepted (FACTS §6).  If je ends first, E's backing
    becomes jc's filter fc (the node below D at that moment), and E's
    header gets C's json filename; when jc ends, fc is dropped and E backs
    onto C.  If jc ends first, C's header gets A's plain filename, which
    makes C's own filename plain too, and E's header gets that.  The end
    graph and the data are the same in both orders."""
    q = make_chain(alloc=TWO_LAYOUT, clusters=N)
    views = q.views()
    assert q.execute("block-stream", stream("C", "A", job="jc", speed=1, **{
        "filter-node-name": "fc"})) == OK
    q.settle("jc")
    assert q.execute("block-stream", stream("E", job="je", speed=1, bottom="D", **{
        "filter-node-name": "fe"})) == OK
    q.settle("je")
    assert q.graph() == {"fe": "E", "E": "D", "D": "fc", "fc": "C", "C": "B", "B": "A",
                         "A": None}
    second = "je" if first == "jc" else "jc"
    q.ok("block-job-set-speed", {"device": first, "speed": 0})
    q.wait_status(first, "gone")
    assert q.graph() == ({"fe": "E", "E": "D", "D": "C", "C": "A", "B": "A", "A": None}
                         if first == "jc" else
                         {"E": "fc", "D": "fc", "fc": "C", "C": "B", "B": "A", "A": None})
    assert q.job(second)["status"] == "running"
    q.ok("block-job-set-speed", {"device": second, "speed": 0})
    q.wait_status(second, "gone")
    assert q.graph() == {"E": "C", "D": "C", "C": "A", "B": "A", "A": None}
    assert [e for e in q.take_events() if e["event"] != "JOB_STATUS_CHANGE"] == [
        completed(first, LEN, LEN, 0), completed(second, LEN, LEN, 0)]
    assert q.views() == views
    assert {n: q.disk_backing(n) for n in "CDE"} == {
        "C": q.image("A"), "D": "C.qcow2",
        "E": q.image("C") if first == "jc" else json_name(q, "CBA")}
    q.stop()
    assert q.layer_allocs() == {**TWO_LAYOUT, "C": TWO_LAYOUT["B"], "E": TWO_LAYOUT["D"]}


# ==========================================================================
# 11.5 filter-node-name


def test_11_named_filter_and_its_name_checks_while_it_runs(make_chain):
    """Stream ``s`` D <- base B with ``filter-node-name: sf``.  A second
    stream B <- base A (B is s's base: the walk lets it through, and the
    read-only B is reopened) meets the name checks when the filter is
    created: after the reopen (so 2 drains) and before the job id."""
    q = _started(make_chain, BIG_LAYOUT, BIG_N, **{"filter-node-name": "sf"})
    q.take_events()
    assert q.graph() == {"sf": "D", "E": "sf", **{
        k: v for k, v in FULL_CHAIN.items() if k != "E"}}
    assert q.job_nodes("s") == {"main node": ["sf"], "active node": ["D"],
                                "intermediate node": ["C"]}
    edges = [(e["parent"], e["child"], e["name"]) for e in q.block_graph()["edges"]
             if "sf" in (e["parent"], e["child"])]
    assert sorted(edges) == [("", "sf", "root"), ("E", "sf", "backing"), ("s", "sf", "main node"),
                             ("sf", "D", "file")]
    sf = {n["node-name"]: n for n in q.nodes()}["sf"]
    filename = "json:" + json.dumps({"driver": "copy-on-read",
                                     "file": json.loads(json_name(q, "DCBA")[5:])})
    assert (sf["drv"], sf["ro"], sf["file"], sf["image"]["filename"]) == (
        "copy-on-read", False, filename, filename)
    dup = err("Could not create node: Duplicate nodes with node-name='sf'")

    def name(n: str, **kw) -> dict:
        return stream("B", "A", **{"job": "s2", **kw, "filter-node-name": n})

    _rows_while_running(q, [
        (name("sf"), dup, 2),
        (name("1x"), err("Could not create node: Invalid node-name: '1x'"), 2),
        (name("#x"), err("Could not create node: Invalid node-name: '#x'"), 2),
        (name("a b"), err("Could not create node: Invalid node-name: 'a b'"), 2),
        (name(""), err("Could not create node: Invalid node-name: ''"), 2),
        (name("x" * 32), err("Could not create node: Node name too long"), 2),
        (name("C-file"), err("Could not create node: Duplicate nodes with node-name='C-file'"),
         2),
        (name("E"), err("Could not create node: Duplicate nodes with node-name='E'"), 2),
        # the name before the job id (duplicate or invalid) and before speed
        (name("sf", job="s"), dup, 2),
        (name("sf", job="#x"), dup, 2),
        (name("1x", speed=-1), err("Could not create node: Invalid node-name: '1x'"), 2),
        # the walk before the name
        (stream("D", "B", job="s2", **{"filter-node-name": "sf"}), busy("D"), 0),
        (stream("D", job="s2", bottom="A", **{"filter-node-name": "sf"}), busy("D"), 0),
    ], {})
    # accepted: 31 characters; the running job's id as a node name; a node's
    # name as a job id (job ids and node names are separate name spaces)
    for args in (name("x" * 31), name("s"), stream("B", "A", job="B")):
        assert _accepted_while_running(q, args, {}, 7) == _no_copy_life(args["job-id"])
    assert q.graph() == {"sf": "D", "E": "sf", **{
        k: v for k, v in FULL_CHAIN.items() if k != "E"}}


def test_11_filter_name_of_a_concluded_job(make_chain):
    """A CONCLUDED, undismissed job still holds its detached filter: its
    name stays taken (checked before the job id) until dismiss.  First
    stream D <- base B (filter sf) ends by finalize, then stream E <- base B
    (filter sg) by cancel."""
    q = _started(make_chain, **{"filter-node-name": "sf", "auto-dismiss": False})
    for name, end in (("sf", "finalize"), ("sg", "cancel")):
        if end == "finalize":
            q.finish("s")
        else:
            assert q.execute("block-stream", stream("E", "B", speed=1, **{
                "filter-node-name": name, "auto-dismiss": False})) == OK
            q.settle("s")
            q.ok("block-job-cancel", {"device": "s"})
        assert q.wait_status("s", "concluded")
        assert q.graph()[name] is None
        q.take_events()
        dup = err(f"Could not create node: Duplicate nodes with node-name='{name}'")
        for job in ("s2", "s", "#x"):
            assert (end, job, q.execute("block-stream", stream("B", "A", job=job, **{
                "filter-node-name": name}))) == (end, job, dup)
        assert q.take_events() == []
        assert q.execute("block-job-dismiss", {"id": "s"}) == OK
        assert name not in q.graph()
        assert q.execute("block-stream", stream("B", "A", job="s2", **{
            "filter-node-name": name})) == OK
        q.wait_status("s2", "gone")
        assert q.take_events() == [*st("s", "null"), *_no_copy_life("s2")]


# ==========================================================================
# 11.6 events of refused streams (no job on the chain)


REFUSED_NO_JOB = [
    # FACTS §2's table
    (stream("D", "B", job=None), err("Invalid job ID ''")),
    (stream("D", "B", job="#x"), err("Invalid job ID '#x'")),
    (stream("D", "D"), err("Node 'D' is not a backing image of 'D'")),
    (stream("D", "E"), err("Node 'E' is not a backing image of 'D'")),
    (stream("D", "nope"), err("Cannot find device='' nor node-name='nope'")),
    (stream("nope"), err("Cannot find device='nope' nor node-name='nope'")),
    ({"device": "D", "base": "B.qcow2", "job-id": "s"},
     err("Can't find 'B.qcow2' in the backing chain")),
    (stream("D", bottom="E"), err("Node 'E' is not in a chain starting from 'D'")),
    (stream("D", **{"backing-file": "x"}),
     err("backing file specified, but streaming the entire chain")),
    (stream("D", "B", **{"filter-node-name": "C"}),
     err("Could not create node: Duplicate nodes with node-name='C'")),
    # bottom
    (stream("D", bottom="nope"), err("Cannot find device='' nor node-name='nope'")),
    (stream("D", bottom=""), err("Cannot find device='' nor node-name=''")),
    (stream("D", bottom="D-file"), err("Node 'D-file' is not in a chain starting from 'D'")),
    (stream("D", bottom="C-file"), err("Node 'C-file' is not in a chain starting from 'D'")),
    ({"device": "D", "bottom": "C", "base": "B.qcow2", "job-id": "s"},
     err("'base' and 'bottom' cannot be specified at the same time")),
    (stream("D", bottom="C", **{"backing-file": "B.qcow2"}),
     err("backing file specified, but streaming the entire chain")),
    (stream("D", bottom="A", **{"backing-file": "x"}),
     err("backing file specified, but streaming the entire chain")),
    (stream("D", job="#x", bottom="nope"), err("Cannot find device='' nor node-name='nope'")),
    # argument pairs come before the device lookup; base + base-node first
    ({"device": "nope", "base": "x", "bottom": "y", "job-id": "s"},
     err("'base' and 'bottom' cannot be specified at the same time")),
    ({"device": "nope", "base-node": "x", "bottom": "y", "job-id": "s"},
     err("'bottom' and 'base-node' cannot be specified at the same time")),
    ({"device": "nope", "base-node": "x", "base": "y", "job-id": "s"},
     err("'base' and 'base-node' cannot be specified at the same time")),
    ({"device": "D", "base-node": "x", "base": "y", "bottom": "z", "job-id": "s"},
     err("'base' and 'base-node' cannot be specified at the same time")),
    (stream("nope", bottom="nope"), err("Cannot find device='nope' nor node-name='nope'")),
    # filter-node-name before the job id and the speed
    (stream("D", "B", job="#x", **{"filter-node-name": "C"}),
     err("Could not create node: Duplicate nodes with node-name='C'")),
    (stream("D", "B", job="#x", **{"filter-node-name": "1x"}),
     err("Could not create node: Invalid node-name: '1x'")),
    (stream("D", "B", speed=-1, **{"filter-node-name": "C"}),
     err("Could not create node: Duplicate nodes with node-name='C'")),
    (stream("D", "B", **{"filter-node-name": "x" * 32}),
     err("Could not create node: Node name too long")),
    # the job id before the speed; backing-file (with a base) is no check of its own
    (stream("D", "B", job="#x", speed=-1), err("Invalid job ID '#x'")),
    (stream("D", "B", job="#x", **{"backing-file": "B.qcow2"}), err("Invalid job ID '#x'")),
    (stream("D", job="#x", **{"backing-file": "B.qcow2"}),
     err("backing file specified, but streaming the entire chain")),
]


def test_11_refused_streams_emit_no_events(make_chain):
    """No refused block-stream emits an event, except speed -1, whose job
    was already created (FACTS §2).  The graph never changes."""
    q = make_chain(alloc=LAYOUT, clusters=N)
    for args, answer in REFUSED_NO_JOB:
        got = q.execute("block-stream", args)
        q.pump(0.05)
        assert (args, got, q.take_events()) == (args, answer, [])
    assert q.execute("block-stream", stream("D", "B", speed=-1)) == err(
        "Parameter 'speed' expects a non-negative value")
    assert q.take_events(at_least=2) == st("s", "created", "null")
    assert q.graph() == FULL_CHAIN and q.jobs() == []
