"""How a run ends when the world gets in the way: unwritable report places, a closed pipe, SIGINT and SIGTERM.

The signal tests start the console script's entry point as a process and
signal it at several moments; a run must end with one line on stderr, no
traceback and its code from the table, whatever it was doing.
"""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import time

import pytest

from blockcheck.checker import cli
from blockcheck.checker.exitcodes import ExitCode
from blockcheck.reports import MANIFEST, files

SMALL = ["--chain-length", "3"]
KNOWN = ["--expect-violated", "isolation.guarded-ops"]
COMMAND = [sys.executable, "-m", "blockcheck.checker.entry"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("where", "reason"),
    [("afile", "it exists and is not a directory"), ("afile/sub", "not a directory"), ("x" * 300, "file name too long")],
)
def test_an_unusable_report_place_is_refused_before_the_search(capsys, tmp_path, monkeypatch, where, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    code, out, err = run(capsys, "check", *SMALL, "-q", "--report", where)
    assert code == ExitCode.USAGE_ERROR
    assert one_sentence(err) == f"blockcheck: cannot write the reports to {where}: {reason}; give a writable directory"
    assert out == ""  # no search ran


def test_a_disk_that_fills_while_writing_keeps_the_verdict_and_exits_151(capsys, tmp_path, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    code, out, err = run(capsys, "check", *SMALL, "-q", "--report", str(tmp_path))
    assert code == ExitCode.USAGE_ERROR
    assert "exit code 12: an invariant (always) is violated" in out
    assert one_sentence(err).endswith("no space left on device; give a writable directory (the verdict above stands: exit code 12)")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_graph_file_is_one_sentence(capsys, tmp_path):
    code, out, err = run(capsys, "graph", "--chain-length", "2", "--jobs", "1", "-o", str(tmp_path / "no" / "g.dot"))
    assert code == ExitCode.USAGE_ERROR and out == ""
    assert one_sentence(err).endswith("no such file or directory; give a writable file name")
    code, _, err = run(capsys, "graph", "--chain-length", "2", "--jobs", "1", "-o", str(tmp_path))
    assert code == ExitCode.USAGE_ERROR and "is a directory" in one_sentence(err)


def test_a_reused_report_folder_shows_only_the_last_run(capsys, tmp_path):
    argv = ["check", *SMALL, "-q", "--format", "junit", "--format", "markdown", "--report", str(tmp_path)]
    assert run(capsys, *argv)[0] == ExitCode.INVARIANT
    assert (tmp_path / "isolation.guarded-ops.md").exists()
    assert run(capsys, *argv, "--variant", "fix-change-checks-chain")[0] == ExitCode.OK
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "junit.xml"]
    assert "<failure" not in (tmp_path / "junit.xml").read_text()


def test_a_closed_pipe_ends_quietly_with_141():
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc = subprocess.run([*COMMAND, "check", *SMALL, "-q"], stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=120)
    reader.stdin.close()
    reader.wait()
    assert proc.returncode == ExitCode.PIPE_CLOSED, proc.stderr
    assert proc.stderr == ""


def handles_sigterm(pid: int) -> bool:
    """Whether the process has installed its SIGTERM handler (Linux: the caught-signal mask in /proc)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def signalled(argv: list[str], sig: int, after: float | None, tmp_path) -> subprocess.CompletedProcess:
    """Run the command, send ``sig`` ``after`` seconds in (None: as soon as its handlers are in), and wait for its end."""
    proc = subprocess.Popen([*COMMAND, *argv], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if after is None:
            while not handles_sigterm(proc.pid):
                time.sleep(0.002)
        else:
            time.sleep(after)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # a command that ignored the signal must not outlive its test
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


CODES = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("after", [None, 4.0], ids=["while-importing", "during-search"])
def test_check_ends_on_a_signal_without_a_traceback(tmp_path, sig, after):
    """From the moment the entry point runs, a signal is one line and 130/143.

    (A signal in CPython's own start-up, before any line of blockcheck
    runs, is out of blockcheck's reach and leaves nothing to clean up.)
    """
    # The default chain with the design's finding expected searches for minutes: the signal lands in it.
    done = signalled(["check", *KNOWN, "-q"], sig, after, tmp_path)
    assert done.returncode == CODES[sig], done.stderr
    if after is None:
        assert one_sentence(done.stderr) in {"blockcheck: interrupted", "blockcheck: terminated (SIGTERM)"}
    else:
        assert "Traceback" not in done.stderr and "incomplete" in done.stdout


@pytest.mark.parametrize(
    ("argv", "after"), [(["replay", "-"], 3.0), (["mutants", "-q"], 3.0), (["prove"], 8.0)], ids=["replay", "mutants", "prove"]
)
def test_every_command_ends_on_sigterm_with_143(tmp_path, argv, after):
    done = signalled(argv, signal.SIGTERM, after, tmp_path)
    assert done.returncode == ExitCode.TERMINATED, done.stderr
    assert one_sentence(done.stderr) == "blockcheck: terminated (SIGTERM)"


def test_ctrl_c_during_the_proofs_ends_prove_with_130(tmp_path):
    """z3 took SIGINT for itself (answering unknown) and prove went on."""
    done = signalled(["prove"], signal.SIGINT, 8.0, tmp_path)
    assert done.returncode == ExitCode.INTERRUPTED, done.stderr
    assert one_sentence(done.stderr) == "blockcheck: interrupted"


@pytest.mark.qemu
def test_an_unusable_conform_folder_is_refused_before_qemu_starts(capsys, tmp_path, monkeypatch):
    """conform --out into a file used to fail at the first disagreement, with a traceback (255)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    code, out, err = run(capsys, "conform", "--traces", "1", "--out", "afile")
    assert code == ExitCode.USAGE_ERROR and out == ""
    assert one_sentence(err) == "blockcheck: cannot write the conform reports to afile: it exists and is not a directory; give a writable directory"
