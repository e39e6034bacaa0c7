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
    ``s`` runs: ``s`` shows exactly ``drains`` paused/running pairs and no
    other job event comes."""
    for args, answer, drains in rows:
        start = q.settle("s")["offset"]
        got = q.execute("block-stream", _subst(args, names))
        q.pump(0.1)  # room for an unexpected extra event to show up
        events = q.take_events(at_least=2 * drains)
        j = q.settle("s")
        assert (args, got, events, j["status"], j["offset"] - start) == (
            args, answer, pairs(drains), "running", drains * CHUNK)


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


@pytest.mark.parametrize("af, ad", list(END), ids=[f"af{int(a)}-ad{int(d)}" for a, d in END])
def test_11_cancel_while_running_under_each_combination(make_chain, af, ad):
    """block-job-cancel of the sleeping stream: the command after it already
    sees the job gone (auto-dismiss) or concluded with the error
    ``Operation canceled``; auto-finalize plays no part.  With
    auto-dismiss C is free at once: ``blockdev-del C`` meets only the
    backing link from D."""
    q = _started(make_chain, **{"auto-finalize": af, "auto-dismiss": ad})
    q.take_events()
    assert q.execute("block-job-cancel", {"device": "s"}) == OK
    concluded = [] if ad else [block_job("concluded", 2 * CHUNK, af=af, ad=ad, speed=1,
                                         error="Operation canceled")]
    assert q.execute("query-block-jobs") == {"return": concluded}
    assert q.execute("query-jobs") == {"return": [] if ad else [
        query_job("concluded", 2 * CHUNK, error="Operation canceled")]}
    assert q.execute("blockdev-del", {"node-name": "C"}) == (
        backing_hd("C", "D") if ad else busy("C"))
    assert q.graph() == (FULL_CHAIN if ad else {"#blockN": None, **FULL_CHAIN})
    assert q.take_events(at_least=4 if ad else 3) == [
        *st("s", "aborting"), cancelled("s", LEN, 2 * CHUNK, 1),
        *st("s", "concluded", *(["null"] if ad else []))]


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
