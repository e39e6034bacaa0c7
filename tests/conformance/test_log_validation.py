"""Trace validation of real QMP logs: qemu-storage-daemon runs recorded, then checked.

Each test drives a qcow2 chain under qemu-storage-daemon 7.2 through the
harness, which records every command, answer and event as a client's log
does (``QemuChain.write_log``), and then validates that log against the
model with ``blockcheck replay --profile qemu-7.2 LOG``: the chain comes from
the log's own blockdev-add lines, the job IDs and names are the test's, and
no step line is written by hand.  The harness's own traffic (its queries of
the graph and the jobs, the speed changes that step a throttled job) is in
the logs too and is validated with the rest.  A log with one answer changed
must be caught at that line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from blockcheck.conformance import QemuChain
from blockcheck.properties.trace_validation import validate_log

pytestmark = pytest.mark.qemu

BUSY = "block device is in use by block job: stream"


def record(make_chain, tmp_path: Path, drive) -> Path:
    """Run ``drive(q)`` on a fresh chain A <- B <- C <- D <- E; its QMP log."""
    q: QemuChain = make_chain(names=("base", "b", "c", "d", "top"), clusters=8)
    drive(q)
    path = tmp_path / "qmp.log"
    q.write_log(path)
    return path


def validated(path: Path) -> str:
    out: list[str] = []
    code = validate_log(path.read_text(), echo=out.append)
    assert code == 0, out
    return out[0]


def defaults_then_refusals(q: QemuChain) -> None:
    """QEMU's defaults, unthrottled: the job ends by itself; refusals while
    another, throttled job holds its nodes; a job-* cancel."""
    assert q.execute("block-stream", {"job-id": "j1", "device": "d", "base-node": "b"}) == {"return": {}}
    q.wait_gone("j1")
    assert q.execute("block-stream", {"job-id": "j2", "device": "top", "base-node": "b", "speed": 1,
                                      "filter-node-name": "f2"}) == {"return": {}}
    q.settle("j2")
    for name, args in [("block-stream", {"job-id": "j3", "device": "d"}),
                       ("blockdev-del", {"node-name": "d"}),
                       ("blockdev-del", {"node-name": "f2"}),
                       ("block-stream", {"job-id": "j3", "device": "top", "bottom": "base"}),
                       ("job-pause", {"id": "nope"})]:
        assert "error" in q.execute(name, args)
    q.ok("job-cancel", {"id": "j2"})
    q.wait_gone("j2")


def manual_jobs(q: QemuChain) -> None:
    """auto-finalize and auto-dismiss false, stepped chunk by chunk, paused
    and resumed, finalized and dismissed; a second job touching the first's
    base through bottom."""
    q.ok("block-stream", {"job-id": "j1", "device": "c", "base-node": "base", "speed": 1,
                          "auto-finalize": False, "auto-dismiss": False})
    q.settle("j1")
    q.ok("block-stream", {"job-id": "j2", "device": "top", "bottom": "d", "speed": 1, "auto-dismiss": False})
    q.settle("j2")
    q.ok("block-job-pause", {"device": "j1"})
    q.ok("block-job-resume", {"device": "j1"})
    q.settle("j1")
    q.finish("j1")
    q.finish("j2")
    q.ok("block-job-finalize", {"id": "j1"})
    q.ok("job-dismiss", {"id": "j1"})
    q.ok("block-job-dismiss", {"id": "j2"})
    assert q.jobs() == []


def commits(q: QemuChain) -> None:
    """A commit below the active layer with QEMU's defaults; one with manual
    finalize and dismiss, refusals while it holds its nodes (a stream that
    cannot freeze the link into its filter among them), a cancelled one."""
    q.ok("block-commit", {"job-id": "c1", "device": "top", "top-node": "c", "base-node": "b"})
    q.wait_gone("c1")
    q.ok("block-commit", {"job-id": "c2", "device": "top", "top-node": "d", "base-node": "b", "speed": 1,
                          "auto-finalize": False, "auto-dismiss": False})
    q.settle("c2")
    for name, args in [("block-stream", {"job-id": "s", "device": "d"}),
                       ("blockdev-del", {"node-name": "b"}),
                       ("block-commit", {"job-id": "c3", "device": "top"})]:
        assert "error" in q.execute(name, args)
    q.finish("c2")
    q.ok("block-job-finalize", {"id": "c2"})
    q.ok("job-dismiss", {"id": "c2"})
    q.ok("block-commit", {"job-id": "c4", "device": "top", "top-node": "b", "base-node": "base", "speed": 1,
                          "auto-dismiss": False})
    q.settle("c4")
    q.ok("block-job-cancel", {"device": "c4"})
    q.wait_status("c4", "concluded")
    q.ok("block-job-dismiss", {"id": "c4"})
    assert q.jobs() == []


def active_commits(q: QemuChain) -> None:
    """Active commits (FACTS §12.2): one unthrottled with QEMU's defaults,
    completed in READY; one throttled with manual finalize and dismiss,
    refusals while it runs, paused in READY (STANDBY), completed there and
    resumed; one cancelled without force in READY, which completes it."""
    q.ok("block-commit", {"job-id": "a1", "device": "top", "base-node": "d"})
    q.wait_status("a1", "ready")
    q.ok("block-job-complete", {"device": "a1"})
    q.wait_gone("a1")
    q.ok("block-commit", {"job-id": "a2", "device": "top", "base-node": "b", "speed": 1,
                          "auto-finalize": False, "auto-dismiss": False})
    q.settle("a2")
    for name, args in [("block-stream", {"job-id": "s", "device": "c"}),
                       ("blockdev-del", {"node-name": "b"}),
                       ("block-job-complete", {"device": "a2"})]:
        assert "error" in q.execute(name, args)
    q.ok("block-job-set-speed", {"device": "a2", "speed": 0})
    q.wait_status("a2", "ready")
    q.ok("job-pause", {"id": "a2"})
    q.ok("job-complete", {"id": "a2"})
    q.ok("job-resume", {"id": "a2"})
    q.wait_status("a2", "pending")
    q.ok("job-finalize", {"id": "a2"})
    q.ok("job-dismiss", {"id": "a2"})
    q.ok("block-commit", {"job-id": "a3", "device": "top", "base-node": "base"})
    q.wait_status("a3", "ready")
    q.ok("block-job-cancel", {"device": "a3"})
    q.wait_gone("a3")
    assert q.jobs() == []


@pytest.mark.parametrize("drive", [defaults_then_refusals, manual_jobs, commits, active_commits])
def test_a_recorded_log_validates_line_by_line(make_chain, tmp_path, drive):
    summary = validated(record(make_chain, tmp_path, drive))
    assert summary.startswith("log: every one of ")
    assert "chain base <- b <- c <- d <- top" in summary


def test_the_command_line_validates_a_log_and_catches_a_changed_answer(make_chain, tmp_path):
    path = record(make_chain, tmp_path, defaults_then_refusals)
    done = subprocess.run([sys.executable, "-m", "blockcheck.checker.entry", "replay", "--profile", "qemu-7.2", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # change the first answer "d is busy" (a stream from d, held by j2) to "c is busy"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines)
                  if json.loads(line).get("error", {}).get("desc") == f"Node 'd' is busy: {BUSY}") + 1
    lines[number - 1] = json.dumps({"error": {"class": "GenericError", "desc": "Node 'c' is busy: " + BUSY}})
    changed = tmp_path / "changed.log"
    changed.write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "-m", "blockcheck.checker.entry", "replay", "--profile", "qemu-7.2", str(changed)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 13
    command = next(i for i in range(number - 1, 0, -1) if "execute" in json.loads(lines[i - 1]))
    assert json.loads(lines[command - 1])["execute"] == "block-stream"
    assert f"log: line {command} (block-stream): QEMU answered" in done.stdout
    assert "Node 'c' is busy" in done.stdout and "Node 'd' is busy" in done.stdout
