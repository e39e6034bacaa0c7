"""Trace validation without QEMU: hand-written QMP logs, and what reading one refuses.

The logs are written as qemu.qmp records them (greeting, commands with and
without ids, answers, events with timestamps); the answers and events in
them are QEMU 7.2's as FACTS.md records them (§1, §2, §3, §8, §11).
``tests/conformance/test_log_validation.py`` validates logs recorded from
qemu-storage-daemon itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.model.qmp_log import chain_from_log, is_log, read_log
from blockcheck.model.qmp_schema import ScriptError
from blockcheck.properties.trace_validation import validate_log

BUSY = "block device is in use by block job: stream"


def add(name: str, backing: str | None) -> dict[str, Any]:
    return {"execute": "blockdev-add", "arguments": {"driver": "qcow2", "node-name": name, "backing": backing,
                                                     "file": {"driver": "file", "filename": f"/images/{name}.qcow2",
                                                              "node-name": f"{name}-file"}}}


CHAIN = [add("base", None), {"return": {}}, add("mid", "base"), {"return": {}}, add("top", "mid"), {"return": {}}]


def status(job: str, *statuses: str) -> list[dict[str, Any]]:
    return [{"event": "JOB_STATUS_CHANGE", "data": {"id": job, "status": s}, "timestamp": {"seconds": 1, "microseconds": 0}}
            for s in statuses]


def completed(job: str) -> dict[str, Any]:
    return {"event": "BLOCK_JOB_COMPLETED", "data": {"device": job, "len": 1 << 20, "offset": 1 << 20, "speed": 0,
                                                     "type": "stream"}, "timestamp": {"seconds": 1, "microseconds": 0}}


def log(*records: dict[str, Any]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"


def run(text: str, chain: list[str] | None = None) -> tuple[int, str]:
    out: list[str] = []
    code = validate_log(text, chain, echo=out.append)
    return code, out[0]


STREAM = {"execute": "block-stream", "arguments": {"job-id": "job0", "device": "top", "base-node": "base"}}
#: QEMU's defaults: the job ends by itself; its events come after the next command was sent
GOOD = log({"QMP": {"version": {}, "capabilities": []}}, {"execute": "qmp_capabilities"}, {"return": {}}, *CHAIN,
           STREAM, *status("job0", "created", "running"), {"return": {}},
           {"execute": "block-stream", "arguments": {"job-id": "job1", "device": "mid"}},
           {"error": {"class": "GenericError", "desc": f"Node 'mid' is busy: {BUSY}"}},
           {"execute": "query-jobs"}, {"return": []},
           *status("job0", "waiting", "pending"), completed("job0"), *status("job0", "concluded", "null"))


def test_a_log_with_late_events_validates():
    code, summary = run(GOOD)
    assert code == ExitCode.OK
    assert summary.startswith("log: every one of 3 commands agrees with the model; chain base <- mid <- top")
    assert "1 job run(s) ended as QEMU's events said" in summary


def test_a_changed_answer_is_caught_at_its_line():
    text = GOOD.replace(f"Node 'mid' is busy", "Node 'top' is busy")
    code, summary = run(text)
    assert code == ExitCode.LIVENESS
    assert summary.startswith("log: line 14 (block-stream): QEMU answered")


def test_a_missing_event_is_caught():
    text = GOOD.replace('"status": "pending"', '"status": "paused"')
    code, summary = run(text)
    assert code == ExitCode.LIVENESS and "the events of job job0 differ" in summary


def test_ids_pair_answers_with_their_commands():
    text = log(*CHAIN, {**STREAM, "id": 7}, {"execute": "query-block-jobs", "id": 8}, {"return": {}, "id": 7},
               *status("job0", "created", "running"),
               {"return": [{"device": "job0", "type": "stream", "status": "running", "auto-finalize": True,
                            "auto-dismiss": True, "len": 5, "offset": 1, "speed": 0, "busy": True, "paused": False,
                            "io-status": "ok", "ready": False}], "id": 8})
    assert run(text)[0] == ExitCode.OK


def test_a_log_that_starts_mid_life_takes_the_chain_from_the_option():
    text = log(STREAM, {"return": {}}, *status("job0", "created", "running"))
    assert run(text, ["base", "mid", "top"])[0] == ExitCode.OK
    with pytest.raises(ScriptError, match="give the chain, base first, with --chain"):
        run(text)


def test_a_command_beyond_the_model_ends_the_run_as_a_bound():
    text = log(*CHAIN, {"execute": "block_resize", "arguments": {"node-name": "top", "size": 0}}, {"return": {}})
    code, summary = run(text)
    assert code == ExitCode.BOUND and "line 7 (block_resize) is beyond the model" in summary


def test_an_active_commit_in_a_log_is_followed_to_its_end():
    """FACTS §12.2: an active commit, READY, then block-job-complete."""
    commit = {"execute": "block-commit", "arguments": {"job-id": "c", "device": "top", "base-node": "base"}}
    ready = {"event": "BLOCK_JOB_READY", "data": {"device": "c", "len": 0, "offset": 0, "speed": 0, "type": "commit"}}
    done = {"event": "BLOCK_JOB_COMPLETED", "data": {"device": "c", "len": 0, "offset": 0, "speed": 0, "type": "commit"}}
    text = log(*CHAIN, commit, {"return": {}}, *status("c", "created", "running", "ready"), ready,
               {"execute": "block-job-complete", "arguments": {"device": "c"}}, {"return": {}},
               *status("c", "waiting", "pending"), done, *status("c", "concluded", "null"))
    code, summary = run(text)
    assert code == 0, summary


def test_the_change_backing_file_finding_shows_in_a_log():
    """FACTS §3, §8: QEMU accepts a header rewrite, through the root, of a
    node a job holds; with the log sending change-backing-file, the property
    that asks it fails in the first state with such a job."""
    stream_mid = {"execute": "block-stream", "arguments": {"job-id": "job0", "device": "mid"}}
    text = log(*CHAIN, stream_mid, {"return": {}}, *status("job0", "created", "running"),
               {"execute": "change-backing-file", "arguments": {"device": "top", "image-node-name": "mid",
                                                                "backing-file": "/images/base.qcow2"}},
               {"return": {}})
    code, summary = run(text)
    assert code == ExitCode.INVARIANT and "isolation.guarded-ops is violated at line 7" in summary


@pytest.mark.parametrize("records, message", [
    ([{"return": {}}], "an answer, but no command waits for one"),
    ([{"execute": "query-jobs"}], "the command query-jobs has no answer in the log"),
    ([{"foo": 1}], "neither a command, an answer nor an event"),
    ([{"execute": "x", "id": 1}, {"return": {}, "id": 2}], "no command with id 2 waits for this answer"),
])
def test_a_log_that_cannot_be_read(records, message):
    with pytest.raises(ScriptError, match=message):
        read_log(log(*records))


@pytest.mark.parametrize("records, message", [
    ([{"execute": "blockdev-add", "arguments": {"driver": "qcow2", "node-name": "a"}}, {"return": {}}],
     "opens the backing file its image names"),
    ([add("a", None), {"return": {}}, add("b", "a"), {"return": {}}, add("c", "a"), {"return": {}}],
     "do not form one chain \\('a' backs b, c\\)"),
    ([add("a", "nope"), {"return": {}}], "has backing 'nope', which the log never added"),
    ([{"execute": "blockdev-add", "arguments": {"driver": "raw", "node-name": "r"}}, {"return": {}}],
     "blockdev-add of a 'raw' node 'r' is outside the model"),
    ([add("a", None), {"return": {}}], "the log's chain has 1 nodes"),
])
def test_a_chain_the_model_cannot_follow(records, message):
    with pytest.raises(ScriptError, match=message):
        chain_from_log(read_log(log(*records)))


def test_logs_are_told_from_scripts():
    assert is_log([{"execute": "x"}, {"return": {}}]) and not is_log([{"execute": "x"}, {"step": "job-copy"}])


def test_a_refused_command_naming_a_protocol_node_is_passed_over():
    """FACTS §11.4's answer to bottom mid-file; the model does not model protocol nodes."""
    refused = {"error": {"class": "GenericError", "desc": "Node 'mid-file' is not in a chain starting from 'top'"}}
    text = log(*CHAIN, {"execute": "block-stream", "arguments": {"job-id": "j", "device": "top", "bottom": "mid-file"}},
               refused)
    code, summary = run(text)
    assert code == ExitCode.OK and "1 not modelled and passed over (block-stream)" in summary


def test_a_deleted_node_is_followed():
    """FACTS §1: the node a stream cut out can be deleted; the step is named and checked."""
    text = log(*CHAIN, STREAM, {"return": {}}, *status("job0", "created", "running", "waiting", "pending"),
               completed("job0"), *status("job0", "concluded", "null"),
               {"execute": "blockdev-del", "arguments": {"node-name": "mid"}}, {"return": {}},
               {"execute": "blockdev-del", "arguments": {"node-name": "mid"}},
               {"error": {"class": "GenericError", "desc": "Failed to find node with node-name='mid'"}})
    code, summary = run(text)
    assert code == ExitCode.OK and "on 3 of 3 steps" in summary


def test_names_are_mapped_back_in_one_pass():
    """The log calls its base B and its top A: the model's A and B must not be swapped twice."""
    chain = [add("B", None), {"return": {}}, add("A", "B"), {"return": {}}]
    text = log(*chain, {"execute": "block-stream", "arguments": {"job-id": "j", "device": "A", "base-node": "A"}},
               {"error": {"class": "GenericError", "desc": "Node 'A' is not a backing image of 'A'"}},
               {"execute": "block-stream", "arguments": {"job-id": "j", "device": "B", "base-node": "A"}},
               {"error": {"class": "GenericError", "desc": "Node 'A' is not a backing image of 'B'"}})
    assert run(text)[0] == ExitCode.OK
