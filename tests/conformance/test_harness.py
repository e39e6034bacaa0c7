"""Tests of the conformance harness itself (blockcheck.conformance)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

from blockcheck.conformance import (
    CHUNK,
    HarnessError,
    QemuChain,
    classify,
    default_alloc,
    expected_view,
    normalise,
)

# --------------------------------------------------------------------------
# pure helpers (no QEMU needed)


def test_normalise_replaces_automatic_node_names_everywhere():
    got = normalise({"error": {"class": "GenericError",
                               "desc": "Node '#block123' is busy: x"},
                     "#block7": ["#block0099", "block5", 3]})
    assert got == {"error": {"class": "GenericError", "desc": "Node '#blockN' is busy: x"},
                   "#blockN": ["#blockN", "block5", 3]}


def test_classify_uniform_and_mixed_clusters():
    data = bytes([7]) * CHUNK + bytes([0]) * (CHUNK - 1) + b"\x01"
    assert classify(data, 2) == (7, "mixed")
    assert classify(b"", 1) == ("mixed",)


def test_default_alloc_is_striped_above_a_full_base():
    assert default_alloc("ABCDE", 4) == {
        "A": {0: 0x10, 1: 0x11, 2: 0x12, 3: 0x13},
        "B": {0: 0x20}, "C": {1: 0x31}, "D": {2: 0x42}, "E": {3: 0x53}}


def test_expected_view_takes_the_first_layer_holding_a_cluster():
    alloc = {"A": {0: 1}, "B": {1: 2}, "C": {0: 3}}
    assert expected_view(["C", "B", "A"], alloc, 3) == (3, 2, 0)
    assert expected_view(["B", "A"], alloc, 3) == (1, 2, 0)


def test_bad_allocation_is_refused_before_anything_starts():
    with pytest.raises(ValueError):
        QemuChain(alloc={"Z": {0: 1}})
    with pytest.raises(ValueError):
        QemuChain(alloc={"A": {9: 1}}, clusters=4)
    with pytest.raises(ValueError):
        QemuChain(names=("A", "A"))


# --------------------------------------------------------------------------
# with QEMU


def _alive(pid: int, tmp: str) -> bool:
    """Is ``pid`` still our daemon?  (It runs in its temporary directory, so
    a reused pid does not count.)"""
    try:
        return os.readlink(f"/proc/{pid}/cwd") == tmp
    except OSError:
        return False


@pytest.mark.qemu
def test_chain_is_built_with_the_callers_names_and_data():
    alloc = default_alloc("ABCDE", 4)
    with QemuChain(alloc=alloc) as q:
        assert q.graph() == {"E": "D", "D": "C", "C": "B", "B": "A", "A": None}
        assert q.graph(with_protocol=True)["C:file"] == "C-file"
        assert q.execute("query-block") == {"return": []}   # no device names in qsd
        for i, n in enumerate("ABCDE"):
            chain = list("ABCDE"[: i + 1])[::-1]
            assert q.view(n) == expected_view(chain, alloc, 4)
        ro = {n["node-name"]: n["ro"] for n in q.nodes()}
        assert ro == {"A": True, "A-file": True, "B": True, "B-file": True,
                      "C": True, "C-file": True, "D": True, "D-file": True,
                      "E": False, "E-file": False}
        assert os.path.dirname(q.qmp_socket) == q.tmpdir
        q.stop()
        assert q.layer_allocs() == alloc
        assert q.disk_backing("B") == "A.qcow2"
        assert q.disk_backing("A") is None


@pytest.mark.qemu
def test_read_write_backing_option():
    with QemuChain(read_only_backing=False) as q:
        assert not any(n["ro"] for n in q.nodes())


@pytest.mark.qemu
def test_execute_normalises_errors_and_collects_job_events_in_order():
    with QemuChain() as q:
        assert q.execute("block-stream", {"device": "nope", "job-id": "j"}) == {
            "error": {"class": "GenericError",
                      "desc": "Cannot find device='nope' nor node-name='nope'"}}
        assert q.execute("block-stream", {"device": "E", "base-node": "C", "job-id": "j"}) == {
            "return": {}}
        q.wait_status("j", "gone")
        assert q.statuses("j") == ["created", "running", "waiting", "pending",
                                   "concluded", "null"]
        assert [e["event"] for e in q.take_events()] == [
            "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE",
            "JOB_STATUS_CHANGE", "BLOCK_JOB_COMPLETED", "JOB_STATUS_CHANGE",
            "JOB_STATUS_CHANGE"]
        assert q.take_events() == []


@pytest.mark.qemu
def test_cleanup_on_normal_exit_and_on_exception():
    with QemuChain() as q:
        pid, tmp = q.proc.pid, q.tmpdir
        assert _alive(pid, tmp) and os.path.isdir(tmp)
    assert not _alive(pid, tmp) and not os.path.exists(tmp)

    with pytest.raises(RuntimeError):
        with QemuChain() as q:
            pid, tmp = q.proc.pid, q.tmpdir
            raise RuntimeError("boom")
    assert not _alive(pid, tmp) and not os.path.exists(tmp)


@pytest.mark.qemu
def test_cleanup_on_keyboard_interrupt_raised_in_the_body():
    with pytest.raises(KeyboardInterrupt):
        with QemuChain() as q:
            pid, tmp = q.proc.pid, q.tmpdir
            q.execute("block-stream", {"device": "D", "base-node": "B",
                                       "job-id": "s", "speed": 1})
            raise KeyboardInterrupt
    assert not _alive(pid, tmp) and not os.path.exists(tmp)


@pytest.mark.qemu
def test_cleanup_when_the_process_gets_sigint():
    """A real Ctrl-C: SIGINT to a Python process inside ``with QemuChain()``."""
    script = textwrap.dedent("""
        import sys, time
        from blockcheck.conformance import QemuChain
        with QemuChain() as q:
            q.execute("block-stream", {"device": "D", "base-node": "B",
                                       "job-id": "s", "speed": 1})
            print(q.proc.pid, q.tmpdir, flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                 os.path.abspath(__file__)))))
    try:
        line = child.stdout.readline().split()
        assert line, child.stderr.read()
        pid, tmp = int(line[0]), line[1]
        assert _alive(pid, tmp) and os.path.isdir(tmp)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
        assert "KeyboardInterrupt" in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not _alive(pid, tmp) and not os.path.exists(tmp)


@pytest.mark.qemu
def test_cleanup_when_the_daemon_died_on_its_own():
    with QemuChain() as q:
        pid, tmp = q.proc.pid, q.tmpdir
        os.killpg(pid, signal.SIGKILL)
        q.proc.wait(timeout=10)
    assert not os.path.exists(tmp)


@pytest.mark.qemu
def test_start_failure_cleans_up():
    q = QemuChain()

    def bad() -> None:
        raise HarnessError("injected")

    q._add_chain = bad  # type: ignore[method-assign]
    with pytest.raises(HarnessError, match="injected"):
        q.start()
    assert not _alive(q.proc.pid, q.tmpdir) and not os.path.exists(q.tmpdir)


@pytest.mark.qemu
def test_a_temporary_directory_too_deep_for_a_unix_socket_still_works(tmp_path, monkeypatch):
    """A QMP socket path longer than 107 bytes cannot be bound; the sockets
    then live in a short directory of their own, removed with the rest."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    with QemuChain(names=("A", "B"), alloc=default_alloc("AB", 1), clusters=1, export_top=True) as q:
        assert len(os.path.join(q.tmpdir, "qmp.sock")) > 107 and q.tmpdir.startswith(str(deep))
        assert q.graph() == {"B": "A", "A": None}
        sockdir = q.sockdir
        assert sockdir != q.tmpdir and os.path.exists(os.path.join(sockdir, "qmp.sock"))
    assert not os.path.exists(sockdir) and not os.path.exists(q.tmpdir)


def _fake_daemon(tmp_path, monkeypatch, script: str) -> None:
    """Put a shell script called qemu-storage-daemon first on PATH."""
    fake = tmp_path / "qemu-storage-daemon"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.qemu
def test_a_daemon_that_exits_before_connecting_is_reported_with_its_log(tmp_path, monkeypatch):
    _fake_daemon(tmp_path, monkeypatch, "echo 'fake daemon: refusing to start' >&2; exit 1")
    q = QemuChain()
    with pytest.raises(HarnessError, match=r"exited \(status 1\); its log: fake daemon: refusing to start"):
        q.start()
    assert not os.path.exists(q.tmpdir)


@pytest.mark.qemu
def test_a_daemon_that_never_connects_is_a_harness_error_not_a_hang(tmp_path, monkeypatch):
    _fake_daemon(tmp_path, monkeypatch, "echo 'fake daemon: asleep' >&2; sleep 60")
    q = QemuChain(timeout=1)
    with pytest.raises(HarnessError, match=r"did not connect to QMP within 1 s; its log: fake daemon: asleep"):
        q.start()
    assert q.proc.returncode is not None  # killed and reaped, not left asleep
    assert not _alive(q.proc.pid, q.tmpdir) and not os.path.exists(q.tmpdir)


STEP_LAYOUT = {
    "A": {c: 0xA0 + c for c in range(8)},
    "B": {0: 0xB0, 3: 0xB3},
    "C": {1: 0xC1, 3: 0xC3, 5: 0xC5, 7: 0xC7},
    "D": {2: 0xD2, 6: 0xD6},
    "E": {7: 0xE7},
}


@pytest.mark.qemu
@pytest.mark.parametrize("kick", ["set-speed", "pause-resume"])
def test_step_copies_exactly_one_chunk(kick):
    """Stream D<-base B copies C's chunks 1, 3, 5, 7 (2 and 6 are in D).

    With speed 1 B/s the job copies chunk 1 at once and sleeps; every kick
    copies the next chunk to copy, skipping chunks that need none, so the
    offset goes 2, 4, 6 chunks, and the kick that copies chunk 7 ends the
    job.  Repeated 3 times to catch timing flukes."""
    for _ in range(3):
        with QemuChain(alloc=STEP_LAYOUT, clusters=8) as q:
            q.ok("block-stream", {"device": "D", "base-node": "B", "job-id": "s",
                                  "speed": 1, "auto-finalize": False})
            offsets = [q.settle("s")["offset"] // CHUNK]
            for _ in range(3):
                if kick == "set-speed":
                    j = q.step("s")
                else:
                    before = q.job("s")["offset"]
                    q.ok("block-job-pause", {"device": "s"})
                    q.wait_status("s", "paused")
                    q.ok("block-job-resume", {"device": "s"})
                    j = q.settle("s", after=before)
                offsets.append((j["offset"] // CHUNK, j["status"]))
            assert offsets == [2, (4, "running"), (6, "running"), (8, "pending")]


@pytest.mark.qemu
def test_same_or_lower_speed_does_not_wake_the_job():
    with QemuChain(alloc=STEP_LAYOUT, clusters=8) as q:
        q.ok("block-stream", {"device": "D", "base-node": "B", "job-id": "s", "speed": 5})
        assert q.settle("s")["offset"] == 2 * CHUNK
        for speed in (5, 3, 1):
            q.ok("block-job-set-speed", {"device": "s", "speed": speed})
            q.pump(0.2)
            assert q.job("s")["offset"] == 2 * CHUNK
        q.ok("block-job-set-speed", {"device": "s", "speed": 2})
        assert q.settle("s", after=2 * CHUNK)["offset"] == 4 * CHUNK
        assert q.finish("s") is None   # speed 0: runs to the end, auto-dismissed


@pytest.mark.qemu
def test_job_nodes_and_filter_of():
    with QemuChain() as q:
        q.ok("block-stream", {"device": "D", "base-node": "B", "job-id": "s",
                              "speed": 1, "filter-node-name": "sf"})
        q.settle("s")
        assert q.job_nodes("s") == {"main node": ["sf"], "active node": ["D"],
                                    "intermediate node": ["C"]}
        assert q.filter_of("s") == "sf"
        assert q.chain("E") == ["E", "sf", "D", "C", "B", "A"]


@pytest.mark.qemu
def test_disk_view_follows_the_headers():
    """disk_view opens a layer by its file name, so it reads through the
    chain the headers name: after a header-only rebase of C onto A
    (``qemu-img rebase -u``) C and everything above it read A where they
    read B before.  A header naming a missing file is a HarnessError with
    qemu-img's message."""
    with QemuChain(alloc=STEP_LAYOUT, clusters=8) as q:
        live = q.views()
        q.stop()
        assert q.disk_views() == live

        def rebase_c(backing: str) -> None:
            subprocess.run(["qemu-img", "rebase", "-u", "-f", "qcow2", "-b", backing,
                            "-F", "qcow2", "C.qcow2"], cwd=q.tmpdir, check=True,
                           capture_output=True)

        rebase_c("A.qcow2")
        assert q.disk_backing("C") == "A.qcow2"
        # B held chunks 0 and 3; C covers 3, so only chunk 0 falls through to A
        assert q.disk_view("C") == (0xA0, *live["C"][1:])
        assert q.disk_view("E") == (0xA0, *live["E"][1:])
        assert q.disk_view("B") == live["B"]
        rebase_c("gone.qcow2")
        with pytest.raises(HarnessError, match="gone.qcow2"):
            q.disk_view("E")
