"""``blockcheck conform`` when QEMU dies or hangs, or the run itself is interrupted.

Each test runs the command as a process with its own TMPDIR, acts on it or
on its qemu-storage-daemon during a walk, and checks what a CI log needs:
one sentence on stderr naming the trace and step, no traceback, the code
from the table, and neither the daemon nor its temporary directory left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blockcheck.checker.exitcodes import ExitCode

pytestmark = pytest.mark.qemu

#: Walks that never delete a node, so that a daemon holding every image is one at its steps.
COMMAND = [sys.executable, "-m", "blockcheck.checker.entry", "conform", "--no-counterexamples", "--traces", "4",
           "--commands", "block-stream,block-job-cancel,block-job-pause,block-job-resume"]


def daemons(tmp: Path) -> list[int]:
    """The qemu-storage-daemon processes that run in a directory under ``tmp``
    (the harness starts each in its temporary directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cmdline.startswith("qemu-storage-daemon\0") and cwd.startswith(f"{tmp}/"):
            found.append(int(entry.name))
    return found


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.Popen([*COMMAND, *extra], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, tmp


def has_the_chain_open(pid: int) -> bool:
    """Whether the daemon holds every image of its directory open: the walk's start is over."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    images = set()
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            images.add(Path(os.readlink(fd)))
    images = {path for path in images if path.suffix == ".qcow2"}
    return bool(images) and images >= set(next(iter(images)).parent.glob("*.qcow2"))


def during_a_walk(proc: subprocess.Popen, tmp: Path, act) -> None:
    """Call ``act(daemon pid)`` a moment after a walk's daemon has opened its
    chain, so that the walk is at its steps (retrying if that walk ended first)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = daemons(tmp)
        if found and has_the_chain_open(found[0]):
            time.sleep(0.1)  # the harness reads the last blockdev-add's answer
            if daemons(tmp) == found:
                try:
                    act(found[0])
                except ProcessLookupError:
                    continue  # that walk ended in between: wait for the next walk's daemon
                return
        time.sleep(0.002)
    pytest.fail("no walk's daemon was seen with its chain open")


def finish(proc: subprocess.Popen, tmp: Path) -> tuple[str, str]:
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert "Traceback" not in err, err
    assert daemons(tmp) == [] and list(tmp.iterdir()) == []
    return out, err


@pytest.mark.parametrize(("sig", "how"), [(signal.SIGKILL, r"died \(signal 9\)"), (signal.SIGSTOP, r"is stopped")], ids=["SIGKILL", "SIGSTOP"])
def test_a_daemon_that_dies_or_hangs_is_a_finding_named_by_trace_and_step(tmp_path, sig, how):
    # walks enough that one lasts past the wait for its chain (an idle machine
    # replays a walk of streams in a quarter of a second)
    proc, tmp = start(tmp_path, "--timeout", "2", "--traces", "20")
    during_a_walk(proc, tmp, lambda pid: os.kill(pid, sig))
    out, err = finish(proc, tmp)
    assert proc.returncode == ExitCode.LIVENESS
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(rf"blockcheck: qemu-storage-daemon {how}.* during walk-\d+, (step \d+|the end); its log: .*", lines[0]), lines[0]
    assert re.search(r"conform: \d+/20 traces agree .*; stopped after \d+: QEMU failed", out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_conform_leaves_no_daemon_and_no_files(tmp_path, sig):
    proc, tmp = start(tmp_path, "--traces", "50")  # walks enough that the signal cannot come after the last
    during_a_walk(proc, tmp, lambda pid: proc.send_signal(sig))
    _, err = finish(proc, tmp)
    expected = {signal.SIGINT: (ExitCode.INTERRUPTED, "interrupted"), signal.SIGTERM: (ExitCode.TERMINATED, "terminated (SIGTERM)")}[sig]
    assert (proc.returncode, err) == (expected[0], f"blockcheck: {expected[1]}\n")
