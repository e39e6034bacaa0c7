"""Drive a real qemu-storage-daemon over QMP, on a throw-away qcow2 chain.

The harness is what the model is checked against.  :class:`QemuChain` is a
context manager that

1. makes a temporary directory (every file lives there, the QMP socket too);
2. builds a qcow2 backing chain ``names[0] <- names[1] <- ... <- names[-1]``
   (``names[0]`` the base-most image, ``names[-1]`` the active layer) with
   ``qemu-img create -f qcow2 -b <backing> -F qcow2``;
3. writes the caller's allocation map into the layers with
   ``qemu-io -c 'write -P <pattern> <off> <len>'``;
4. listens on ``<tmp>/qmp.sock`` (in a short directory of /tmp when that
   path is too long for a unix socket) with ``qemu.qmp`` and starts
   ``qemu-storage-daemon`` in its own process group with its QMP monitor
   connecting there;
5. ``blockdev-add``s the chain so that every layer's qcow2 node is called by
   the caller's name (its protocol node is ``<name>-file``);
6. on exit -- normal, exception or ``KeyboardInterrupt`` -- disconnects, kills
   the daemon's process group and removes the directory, to the end even if
   another Ctrl-C or SIGTERM comes meanwhile.

A daemon that dies or stops answering is :class:`DaemonGone`, a sentence
saying how (``died (signal 9)``, ``is stopped``, ``did not answer ... within
30 s``) with the end of its log, never the QMP library's internals.  While
the harness waits for QEMU, SIGINT and SIGTERM do not raise inside the event
loop (where a KeyboardInterrupt tears the QMP client's state and ends in
asyncio tracebacks): they cancel the wait, and the program's own handler
gets the signal once the loop has stopped.

Units.  The model's "cluster" is one *stream chunk*: QEMU 7.2's stream job
works in chunks of at most 512 KiB (``STREAM_CHUNK`` in ``block/stream.c``),
so a chain of ``clusters`` chunks is ``clusters * 512 KiB`` big, and every
chunk that the stream has to copy is exactly one copy step of the job.  The
qcow2 cluster size is 64 KiB (eight qcow2 clusters per chunk); it is not
visible to the model.  A layer either holds a whole chunk (one byte pattern
over all 512 KiB) or nothing there.

Deterministic stepping (measured on QEMU 7.2, see ``step``).  A stream started
with ``speed`` between 1 and about 1000 B/s copies its first chunk at once,
then sleeps for the rate-limit delay (at least ~500 s for a 512 KiB chunk).
Everything that wakes it from that sleep -- ``block-job-set-speed`` to a
*higher* value, ``block-job-pause`` + ``block-job-resume``, or a drain of one
of its nodes by another command -- lets it copy exactly one more chunk
(chunks that need no copy are skipped without any sleep) before it sleeps
again.  ``block-job-set-speed`` to a value not higher than the current one
does not wake it; speed 0 lets it run to the end.

Guest view.  :meth:`QemuChain.view` reads what a node shows to a reader,
through QEMU's *in-memory* graph: it exports the node read-only over NBD on a
unix socket in the temporary directory (``nbd-server-start`` once, then
``block-export-add``/``block-export-del``) and reads the export with
``qemu-img convert`` into a raw file.  This is QMP-free for the data itself
and needs no force-share of images the daemon has open.  Attaching the
export drains the node, which pauses and resumes (and so advances by one or
more chunks) a throttled job that uses it; take views while no job runs, or
expect that.

Allocation.  :meth:`QemuChain.layer_alloc` reads one layer's image *file*
alone (backing cut off) with ``qemu-img map/convert -U`` and returns what
that layer holds itself, in the form of the ``alloc`` argument;
:meth:`QemuChain.disk_backing` reads the backing string of its header, and
:meth:`QemuChain.disk_view` what the file reads when opened by its name (the
chain its headers name, as after a restart).  All are exact once
:meth:`QemuChain.stop` has shut the daemon down cleanly (everything flushed
and closed), best-effort before.

QEMU 7.2 crashes (SIGSEGV) on ``query-named-block-nodes`` while a stream job
is concluded but not dismissed; :meth:`QemuChain.nodes` refuses then, and
:meth:`QemuChain.graph` uses ``x-debug-query-block-graph``, which is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

# The QMP library logs its own view of a lost connection; the harness says
# what happened in one sentence instead (DaemonGone).
logging.getLogger("qemu.qmp").addHandler(logging.NullHandler())

KiB = 1024
MiB = 1024 * KiB

#: QEMU 7.2 ``STREAM_CHUNK``: the most a stream job copies in one iteration.
CHUNK = 512 * KiB
#: qcow2 cluster size of the images (not visible to the model).
QCOW2_CLUSTER = 64 * KiB
#: The default chain: A the base-most image, E the active layer.
DEFAULT_NAMES = ("A", "B", "C", "D", "E")
#: Highest speed (B/s) at which a copied chunk still sleeps for minutes.
MAX_STEP_SPEED = 1000

BINARIES = ("qemu-img", "qemu-io", "qemu-storage-daemon")
INSTALL_HINT = "apt-get install --no-install-recommends qemu-utils qemu-system-common"

#: Events kept in :attr:`QemuChain.events` (the job-related ones).
JOB_EVENTS = frozenset({
    "JOB_STATUS_CHANGE",
    "BLOCK_JOB_COMPLETED",
    "BLOCK_JOB_CANCELLED",
    "BLOCK_JOB_ERROR",
    "BLOCK_JOB_READY",
    "BLOCK_JOB_PENDING",
})

_AUTO_NODE = re.compile(r"#block\d+")


class HarnessError(RuntimeError):
    """The harness could not do what was asked (not a QMP error answer)."""


class DaemonGone(HarnessError):
    """qemu-storage-daemon died, stopped or stopped answering: nothing more can be compared.

    ``reason`` is the short form (``died (signal 9)``), ``log`` the end of the
    daemon's output; ``str()`` is both, as one sentence.
    """

    def __init__(self, reason: str, log: str) -> None:
        super().__init__(f"qemu-storage-daemon {reason}; its log: {log or '(empty)'}")
        self.reason = reason
        self.log = log


def missing_binaries() -> list[str]:
    """The QEMU programs the harness needs that are not on ``PATH``."""
    return [b for b in BINARIES if shutil.which(b) is None]


def normalise(obj: Any) -> Any:
    """Copy of ``obj`` with automatic node names ``#block123`` -> ``#blockN``.

    Works on nested dicts, lists and strings (dict keys too).
    """
    if isinstance(obj, str):
        return _AUTO_NODE.sub("#blockN", obj)
    if isinstance(obj, Mapping):
        return {normalise(k): normalise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(normalise(v) for v in obj)
    return obj


def classify(data: bytes, clusters: int, cluster_bytes: int = CHUNK) -> tuple[int | str, ...]:
    """Per cluster: the byte value if the cluster is that byte throughout, else ``"mixed"``."""
    out: list[int | str] = []
    for i in range(clusters):
        chunk = data[i * cluster_bytes:(i + 1) * cluster_bytes]
        if len(chunk) == cluster_bytes and chunk.count(chunk[:1]) == cluster_bytes:
            out.append(chunk[0])
        else:
            out.append("mixed")
    return tuple(out)


def default_alloc(names: Sequence[str], clusters: int) -> dict[str, dict[int, int]]:
    """The default allocation map: stripes.

    The base-most layer holds every cluster; layer ``i >= 1`` holds the
    clusters ``c`` with ``c % (len(names) - 1) == i - 1``, so no two layers
    above the base share a cluster and every stream with intermediates has
    something to copy.  The pattern of layer ``i`` in cluster ``c`` is
    ``0x10 * (i + 1) + c`` (distinct per pair while ``clusters <= 16``).
    For A..E and 4 clusters: A 0x10..0x13 everywhere, B 0x20 in cluster 0,
    C 0x31 in 1, D 0x42 in 2, E 0x53 in 3.
    """
    alloc: dict[str, dict[int, int]] = {}
    upper = max(len(names) - 1, 1)
    for i, name in enumerate(names):
        alloc[name] = {
            c: (0x10 * (i + 1) + c) & 0xFF
            for c in range(clusters)
            if i == 0 or c % upper == i - 1
        }
    return alloc


def expected_view(chain: Sequence[str], alloc: Mapping[str, Mapping[int, int]],
                  clusters: int) -> tuple[int, ...]:
    """What the top of ``chain`` (listed top first) reads per cluster: the
    pattern of the first layer that holds it, or 0."""
    out = []
    for c in range(clusters):
        for layer in chain:
            if c in alloc.get(layer, {}):
                out.append(alloc[layer][c])
                break
        else:
            out.append(0)
    return tuple(out)


def _run(args: Sequence[str], cwd: str | None = None, timeout: float = 60) -> str:
    try:
        res = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{args[0]} did not finish within {timeout:g} s") from None
    if res.returncode != 0:
        raise HarnessError(f"{' '.join(args)} failed ({res.returncode}): "
                           f"{res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def _kill_group(proc: subprocess.Popen | None, grace: float = 3.0) -> None:
    """Kill a daemon started in its own session (pgid == pid), then reap it."""
    if proc is None:
        return
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
                os.killpg(proc.pid, signal.SIGCONT)  # a stopped daemon acts on SIGTERM only once continued
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _to_the_end(step: Callable[[], None]) -> KeyboardInterrupt | None:
    """Run an idempotent cleanup step until it completes, however many
    Ctrl-C/SIGTERM arrive meanwhile; return the (last) interrupt, for the
    caller to raise once everything is cleaned up."""
    interrupt = None
    while True:
        try:
            step()
            return interrupt
        except KeyboardInterrupt as exc:
            interrupt = exc


@contextlib.contextmanager
def _signals_cancel(loop: asyncio.AbstractEventLoop, task: asyncio.Future) -> Iterator[list[int]]:
    """While the loop runs ``task``, SIGINT and SIGTERM cancel it (the list
    yielded gets their numbers) instead of raising inside the loop.

    Only signals the program handles in Python are taken over (a default
    action or an ignored signal stays as it is), and the program's handler
    is back in place afterwards.  The stand-in handler only records and
    asks the loop to cancel, so no signal is lost and none raises in the
    QMP client's middle.
    """
    caught: list[int] = []
    taken: dict[int, Any] = {}

    def record(sig: int, frame: Any) -> None:
        caught.append(sig)
        loop.call_soon_threadsafe(task.cancel)

    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(sig)
            if callable(handler):
                taken[sig] = handler
                signal.signal(sig, record)
    except ValueError:  # not the main thread: signals stay with the program
        pass
    try:
        yield caught
    finally:
        for sig, handler in taken.items():
            signal.signal(sig, handler)


def _finalize(proc: subprocess.Popen | None, tmpdir: str | None, keep: bool, sockdir: str | None = None) -> None:
    _kill_group(proc)
    if sockdir and sockdir != tmpdir:
        shutil.rmtree(sockdir, ignore_errors=True)
    if tmpdir and not keep:
        shutil.rmtree(tmpdir, ignore_errors=True)


#: Longest path a unix socket may have (sun_path is 108 bytes on Linux, with its NUL).
_SOCKET_PATH_MAX = 107


def _socket_dir(tmpdir: str) -> str:
    """Where the QMP and NBD sockets go: the temporary directory, unless a
    socket's path there would be too long (a deep TMPDIR, as pytest-xdist's);
    then a short directory of its own in /tmp."""
    if len(os.path.join(tmpdir, "qmp.sock")) <= _SOCKET_PATH_MAX:
        return tmpdir
    return tempfile.mkdtemp(prefix="bc-", dir="/tmp")


class QemuChain:
    """A qcow2 backing chain opened in a private ``qemu-storage-daemon``.

    :param names: node names, base-most first (default ``A..E``, E active).
    :param alloc: ``{layer: {cluster: pattern_byte}}``: which layer holds
        which cluster (one cluster = :data:`CHUNK` bytes) with which byte.
        ``None`` gives :func:`default_alloc`.
    :param clusters: number of clusters (chunks) in every image.
    :param export_top: if true, the top is exported read-write over NBD
        (export id ``top``), which gives it an (anonymous) BlockBackend.
        qemu-storage-daemon has no guest devices and no ``-drive``, so no
        node ever gets a device (BlockBackend) name: ``query-block`` is
        ``[]`` and a job id must always be given explicitly.
    :param read_only_backing: add every layer but the top with
        ``read-only: true`` (what libvirt does; QEMU then reopens a stream's
        top read-write for the job and read-only again afterwards).  With
        false every node is read-write (``blockdev-add``'s default).
    :param keep: keep the temporary directory (for debugging).
    :param timeout: seconds to wait for each QMP answer.

    Use as ``with QemuChain() as q: ...``; :meth:`start`/:meth:`close` do
    the same by hand.
    """

    def __init__(self, names: Sequence[str] = DEFAULT_NAMES,
                 alloc: Mapping[str, Mapping[int, int]] | None = None, *,
                 clusters: int = 4, export_top: bool = False,
                 read_only_backing: bool = True,
                 keep: bool = False, timeout: float = 30.0) -> None:
        if len(set(names)) != len(names) or not names:
            raise ValueError("names must be distinct and non-empty")
        self.names = tuple(names)
        self.clusters = clusters
        self.cluster_bytes = CHUNK
        self.size = clusters * CHUNK
        src = alloc if alloc is not None else default_alloc(names, clusters)
        self.alloc = {n: dict(src.get(n, {})) for n in self.names}
        for layer, cl in self.alloc.items():
            for c, pat in cl.items():
                if not 0 <= c < clusters or not 0 <= pat <= 0xFF:
                    raise ValueError(f"bad allocation {layer}: {c} -> {pat}")
        unknown = set(alloc or {}) - set(self.names)
        if unknown:
            raise ValueError(f"allocation for unknown layers {sorted(unknown)}")
        self.export_top = export_top
        self.read_only_backing = read_only_backing
        self.keep = keep
        self.timeout = timeout

        self.tmpdir: str | None = None
        self.sockdir: str | None = None
        self.proc: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._qmp: Any = None
        self._finalizer: weakref.finalize | None = None
        self._nbd_sock: str | None = None
        self._export_seq = 0
        #: Every job-related event so far, normalised, without timestamps,
        #: in the order QEMU sent them.
        self.events: list[dict] = []
        #: Every other event (exports, ...), same form.
        self.other_events: list[dict] = []
        self._taken = 0
        #: The QMP traffic as a client's log records it, one JSON object a
        #: line (:meth:`write_log`): each command as sent, QEMU's answer as
        #: received, every event with its timestamp, in the order seen.
        self.qmp_log: list[dict] = []

    # ------------------------------------------------------------------
    # life cycle

    def __enter__(self) -> "QemuChain":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def qmp_socket(self) -> str:
        assert self.sockdir
        return os.path.join(self.sockdir, "qmp.sock")

    def image(self, name: str) -> str:
        """Path of the image file of layer ``name``."""
        assert self.tmpdir
        return os.path.join(self.tmpdir, f"{name}.qcow2")

    def start(self) -> None:
        """Build the chain, start the daemon, add the nodes."""
        missing = missing_binaries()
        if missing:
            raise HarnessError(f"missing {', '.join(missing)}; {INSTALL_HINT}")
        try:
            self.tmpdir = tempfile.mkdtemp(prefix="blockcheck-qemu-")
            self._finalizer = weakref.finalize(self, _finalize, None, self.tmpdir, self.keep)
            self.sockdir = _socket_dir(self.tmpdir)
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _finalize, None, self.tmpdir, self.keep, self.sockdir)
            self._build_images()
            self._start_daemon()
            self._add_chain()
        except BaseException:
            self.close()
            raise

    def _build_images(self) -> None:
        prev = None
        for name in self.names:
            args = ["qemu-img", "create", "-q", "-f", "qcow2",
                    "-o", f"cluster_size={QCOW2_CLUSTER}"]
            if prev is not None:
                # relative backing string: the chain stays valid wherever the
                # directory is, and no absolute path ends up in the headers
                args += ["-b", f"{prev}.qcow2", "-F", "qcow2"]
            args += [f"{name}.qcow2", str(self.size)]
            _run(args, cwd=self.tmpdir)
            prev = name
        for name in self.names:
            cmds = []
            for c, pat in sorted(self.alloc[name].items()):
                cmds += ["-c", f"write -P {pat:#x} {c * CHUNK} {CHUNK}"]
            if cmds:
                _run(["qemu-io", "-f", "qcow2", *cmds, f"{name}.qcow2"], cwd=self.tmpdir)

    def _start_daemon(self) -> None:
        """Start the daemon and take its QMP connection.

        The harness listens and the daemon connects (``--chardev socket``
        in client mode), as QEMU's own test scripts do.  The other way round
        -- the daemon listening, the harness connecting as soon as the socket
        file exists -- hung once in CI: the connection was accepted but the
        greeting never came within 30 s (see FACTS.md).  Here the daemon's
        chardev connects while it parses its options, and the monitor greets
        that connection once it is set up, so how soon the harness looks
        does not matter.
        """
        from qemu.qmp import QMPClient  # imported late: optional dependency

        assert self.tmpdir
        self._loop = asyncio.new_event_loop()
        # Tasks the QMP client leaves failed when the daemon goes away would be
        # printed with tracebacks at exit; the harness says what happened instead.
        self._loop.set_exception_handler(lambda loop, context: None)
        self._qmp = QMPClient("blockcheck")
        self._sync(self._qmp.start_server(self.qmp_socket))
        log = open(os.path.join(self.tmpdir, "qsd.log"), "wb")
        try:
            self.proc = subprocess.Popen(
                ["qemu-storage-daemon",
                 "--chardev", f"socket,path={self.qmp_socket},id=m",
                 "--monitor", "chardev=m"],
                cwd=self.tmpdir, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)  # own process group, killed as a group
        finally:
            log.close()
        assert self._finalizer is not None
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _finalize, self.proc, self.tmpdir, self.keep, self.sockdir)
        try:
            self._sync(self._accept())
        except TimeoutError:
            raise self.gone(f"did not connect to QMP within {self.timeout:g} s") from None

    async def _accept(self) -> None:
        """Accept the daemon's connection, or say why it never came."""
        assert self.proc is not None
        accepting = asyncio.ensure_future(self._qmp.accept())
        try:
            while not accepting.done():
                if self.proc.poll() is not None:
                    raise self.gone("")
                await asyncio.wait({accepting}, timeout=0.05)
            accepting.result()
        finally:
            if not accepting.done():
                accepting.cancel()
                await asyncio.gather(accepting, return_exceptions=True)

    def _add_chain(self) -> None:
        prev = None
        for name in self.names:
            spec: dict[str, Any] = {
                "driver": "qcow2", "node-name": name,
                "read-only": self.read_only_backing and name != self.names[-1],
                "file": {"driver": "file", "filename": self.image(name),
                         "node-name": f"{name}-file"},
                # explicit link, as given on the command line; None = no backing
                "backing": prev,
            }
            self._check(self.execute_raw("blockdev-add", spec))
            prev = name
        if self.export_top:
            self._ensure_nbd()
            self._check(self.execute_raw("block-export-add", {
                "type": "nbd", "id": "top", "node-name": self.names[-1],
                "name": "top", "writable": True}))

    def unexport_top(self) -> None:
        """End the top's read-write NBD export (``export_top``): the guest
        has left, and its BlockBackend with it."""
        self._check(self.execute_raw("block-export-del", {"id": "top"}))
        self._wait_other("BLOCK_EXPORT_DELETED", id="top")

    def add_image(self, name: str, *, backing: str | None = None,
                  read_only: bool = False, size: int | None = None) -> dict:
        """Create an empty qcow2 file ``<name>.qcow2`` (no backing string in
        its header) in the temporary directory and ``blockdev-add`` it as
        node ``name`` (protocol node ``<name>-file``) with the given backing
        node (None: no backing).  Returns the normalised QMP answer."""
        if self.tmpdir is None:
            raise HarnessError("not started")
        _run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
              f"cluster_size={QCOW2_CLUSTER}", f"{name}.qcow2",
              str(size if size is not None else self.size)], cwd=self.tmpdir)
        return self.execute("blockdev-add", {
            "driver": "qcow2", "node-name": name, "read-only": read_only,
            "file": {"driver": "file", "filename": self.image(name),
                     "node-name": f"{name}-file"},
            "backing": backing})

    def stop(self) -> None:
        """Shut the daemon down cleanly (``quit``: every image is flushed
        and closed).  Offline readers are exact afterwards; QMP is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.execute_raw("quit")
        except Exception:
            pass
        self._disconnect()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)

    def _disconnect(self) -> None:
        if self._qmp is not None and self._loop is not None:
            try:
                self._sync(self._qmp.disconnect(), timeout=5)
            except Exception:  # a broken connection ends here too; an interrupt goes on
                pass
        self._qmp = None

    def close(self) -> None:
        """Disconnect, kill the daemon's process group, remove the files.

        Safe to call more than once and from any state.  Every step runs to
        its end even when Ctrl-C or SIGTERM interrupts it (a cancelled CI
        job must not leave the daemon or the images behind); the interrupt
        is raised afterwards.
        """
        steps = [self._disconnect, lambda: _kill_group(self.proc), self._close_loop, self._remove_files]
        if self.daemon_failure():  # a dead or stopped daemon cannot say goodbye
            steps[0], steps[1] = steps[1], steps[0]
        interrupts = [_to_the_end(step) for step in steps]
        interrupt = next((i for i in interrupts if i is not None), None)
        if interrupt is not None:
            raise interrupt

    def _close_loop(self) -> None:
        """Cancel what the QMP client left running, then close the loop."""
        if self._loop is None:
            return
        loop = self._loop
        with contextlib.suppress(Exception):
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        with contextlib.suppress(Exception):
            loop.close()
        self._loop = None

    def _remove_files(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # idempotent: kills/reaps and removes tmpdir
            self._finalizer = None
        else:
            _finalize(None, self.tmpdir, self.keep, self.sockdir)

    def daemon_failure(self) -> str | None:
        """How the daemon failed (``died (signal 9)``, ``exited (status 1)``,
        ``is stopped``), or None while it runs."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is not None:
            return f"died (signal {-code})" if code < 0 else f"exited (status {code})"
        try:
            with open(f"/proc/{self.proc.pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None
        return "is stopped (SIGSTOP?) and answers nothing" if state in ("T", "t") else None

    def gone(self, otherwise: str) -> DaemonGone:
        """The DaemonGone for the daemon's state; ``otherwise`` is the reason when it still runs.

        A daemon that aborts closes its QMP socket a moment before the kernel
        reports its exit; on a loaded machine the client sees the first
        without the second, so the daemon gets a short while to be reaped
        before it counts as running."""
        if self.proc is not None and self.daemon_failure() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        lines = self.daemon_log().strip().splitlines()
        return DaemonGone(self.daemon_failure() or otherwise, " / ".join(lines[-3:]))

    def daemon_log(self) -> str:
        """What the daemon wrote on stdout/stderr so far."""
        try:
            assert self.tmpdir
            with open(os.path.join(self.tmpdir, "qsd.log"), errors="replace") as f:
                return f.read()
        except (OSError, AssertionError):
            return ""

    # ------------------------------------------------------------------
    # QMP

    def _sync(self, aw: Any, timeout: float | None = None) -> Any:
        """Run ``aw`` on the loop to its end or ``timeout``; a signal meanwhile
        cancels it and reaches the program's handler after the loop stopped."""
        assert self._loop is not None
        task = self._loop.create_task(asyncio.wait_for(aw, timeout if timeout is not None else self.timeout))
        with _signals_cancel(self._loop, task) as caught:
            try:
                result = self._loop.run_until_complete(task)
            except asyncio.CancelledError:
                if not caught:
                    raise
        if caught:  # also when the task ended before the cancel could take
            signal.getsignal(caught[0])(caught[0], None)  # the program's own answer: KeyboardInterrupt, as a rule
            raise KeyboardInterrupt
        return result

    def _collect(self) -> None:
        """Move the events the client has received into the logs."""
        if self._qmp is None:
            return
        for ev in self._qmp.events.clear():
            self.qmp_log.append(dict(ev))
            rec = normalise({"event": ev["event"], "data": dict(ev.get("data", {}))})
            (self.events if rec["event"] in JOB_EVENTS else self.other_events).append(rec)

    def execute_raw(self, cmd: str, args: Mapping[str, Any] | None = None) -> dict:
        """Send one command; the answer as QEMU gave it (``return`` or
        ``error`` with ``class`` and ``desc``), not normalised."""
        from qemu.qmp import ExecuteError

        if self._qmp is None:
            raise HarnessError("not connected")
        self._collect()  # events that came before this command belong before it in the log
        self.qmp_log.append({"execute": cmd, **({"arguments": dict(args)} if args else {})})
        try:
            ret = self._sync(self._qmp.execute(cmd, dict(args) if args else None))
            answer = {"return": ret}
        except ExecuteError as e:
            err = dict(e.received["error"])
            answer = {"error": {"class": err["class"], "desc": err["desc"]}}
        except TimeoutError:
            raise self.gone(f"did not answer {cmd} within {self.timeout:g} s") from None
        except Exception as exc:  # the connection broke: the QMP library's own errors, EOF, resets
            raise self.gone(f"closed QMP during {cmd} ({type(exc).__name__})") from None
        self.qmp_log.append(answer)
        self._sync(asyncio.sleep(0))
        self._collect()
        return answer

    def write_log(self, path: str | os.PathLike) -> None:
        """The QMP traffic so far as a log file (see :attr:`qmp_log`)."""
        self._collect()
        with open(path, "w", encoding="utf-8") as out:
            for record in self.qmp_log:
                out.write(json.dumps(record) + "\n")

    def execute(self, cmd: str, args: Mapping[str, Any] | None = None) -> dict:
        """Like :meth:`execute_raw`, with ``#block123`` -> ``#blockN``."""
        return normalise(self.execute_raw(cmd, args))

    @staticmethod
    def _check(answer: dict) -> Any:
        if "error" in answer:
            raise HarnessError(f"QMP error: {answer['error']}")
        return answer["return"]

    def ok(self, cmd: str, args: Mapping[str, Any] | None = None) -> Any:
        """Execute and return the ``return`` value; raise on an error."""
        return self._check(self.execute(cmd, args))

    def pump(self, seconds: float = 0.05) -> None:
        """Let the client receive for ``seconds`` and collect the events."""
        self._sync(asyncio.sleep(seconds))
        self._collect()

    def take_events(self, at_least: int = 0, timeout: float = 10.0) -> list[dict]:
        """The job events received since the last call, after waiting (up to
        ``timeout`` seconds) until there are ``at_least`` of them.

        Events that a command causes (a job paused and resumed by a drain)
        need not all have arrived when its answer has; waiting for the count
        the test expects keeps an exact comparison of the list independent
        of how fast a loaded machine schedules the daemon."""
        deadline = time.monotonic() + timeout
        self._sync(asyncio.sleep(0))
        self._collect()
        while len(self.events) - self._taken < at_least and time.monotonic() < deadline:
            self.pump(0.02)
        new = self.events[self._taken:]
        self._taken = len(self.events)
        return new

    def wait_event(self, event: str, timeout: float = 10.0, **data: Any) -> dict:
        """Wait until a job event ``event`` whose data contains ``data`` is
        in :attr:`events` (already received ones count); return it."""
        deadline = time.monotonic() + timeout
        while True:
            self._collect()
            for ev in self.events:
                if ev["event"] == event and all(ev["data"].get(k) == v for k, v in data.items()):
                    return ev
            if time.monotonic() > deadline:
                raise HarnessError(f"no {event} {data} within {timeout}s; got {self.events}")
            self.pump(0.02)

    def statuses(self, job_id: str) -> list[str]:
        """The JOB_STATUS_CHANGE statuses of ``job_id``, in order."""
        self._collect()
        return [e["data"]["status"] for e in self.events
                if e["event"] == "JOB_STATUS_CHANGE" and e["data"]["id"] == job_id]

    # ------------------------------------------------------------------
    # read back: graph and jobs

    def nodes(self, *, force: bool = False) -> list[dict]:
        """``query-named-block-nodes`` (flat), normalised.

        QEMU 7.2 dies of SIGSEGV on this command while a stream job is
        ``concluded`` and not yet dismissed (its detached copy-on-read filter
        has no child any more), so by default this raises
        :class:`HarnessError` in that state instead; ``force`` sends it
        anyway."""
        if not force and any(j["type"] == "stream" and j["status"] == "concluded"
                             for j in self.jobs()):
            raise HarnessError("query-named-block-nodes crashes QEMU 7.2 while a "
                               "stream job is concluded and not dismissed")
        return self.ok("query-named-block-nodes", {"flat": True})

    def graph(self, *, with_protocol: bool = False, raw: bool = False) -> dict[str, str | None]:
        """Backing graph: node name -> the node below it, or None.

        "Below" is the ``backing`` child of a format node, and the ``file``
        child of a filter node (the stream's copy-on-read filter), i.e. a
        ``file`` child that has children itself.  Protocol nodes (leaves that
        are the ``file`` child of a format node) are left out unless
        ``with_protocol``; then ``"<parent>:file"`` keys map format nodes to
        their protocol node.  A node without any child, not a protocol node
        (e.g. a dismissed job's leftover filter) maps to None.

        Read from ``x-debug-query-block-graph`` only: it names every node's
        children, and unlike ``query-named-block-nodes`` it does not crash
        QEMU 7.2 in any job state.  Automatic names are normalised to
        ``#blockN`` unless ``raw`` (two filters would then share a key).
        """
        g = self._check(self.execute_raw("x-debug-query-block-graph"))
        by_id = {n["id"]: n for n in g["nodes"]}
        drivers = [n for n in g["nodes"] if n["type"] == "block-driver"]
        children: dict[int, list[dict]] = {n["id"]: [] for n in g["nodes"]}
        for e in g["edges"]:
            children[e["parent"]].append(e)
        protocol = set()
        for e in g["edges"]:
            if (e["name"] == "file" and by_id[e["parent"]]["type"] == "block-driver"
                    and not children[e["child"]]):
                protocol.add(e["child"])
        out: dict[str, str | None] = {}
        for n in drivers:
            if n["id"] in protocol:
                continue
            below = None
            for e in children[n["id"]]:
                if e["name"] == "backing" or (e["name"] == "file" and e["child"] not in protocol):
                    below = by_id[e["child"]]["name"]
                elif e["name"] == "file" and with_protocol:
                    out[n["name"] + ":file"] = by_id[e["child"]]["name"]
            out[n["name"]] = below
        return out if raw else normalise(out)

    def block_graph(self) -> dict:
        """``x-debug-query-block-graph`` with node ids replaced by names and
        normalised: ``{"nodes": [{name,type}], "edges": [{parent, child,
        name, perm, shared-perm}]}``.  Job and BlockBackend nodes appear too."""
        g = self.ok("x-debug-query-block-graph")
        by_id = {n["id"]: n for n in g["nodes"]}
        return {
            "nodes": [{"name": n["name"], "type": n["type"]} for n in g["nodes"]],
            "edges": [{"parent": by_id[e["parent"]]["name"],
                       "child": by_id[e["child"]]["name"], "name": e["name"],
                       "perm": sorted(e["perm"]), "shared-perm": sorted(e["shared-perm"])}
                      for e in g["edges"]],
        }

    def chain(self, top: str) -> list[str]:
        """Nodes from ``top`` down through backing/filter links (top first),
        with automatic names as QEMU gives them (not normalised)."""
        g = self.graph(raw=True)
        out = [top]
        while g.get(out[-1]) is not None:
            out.append(g[out[-1]])  # type: ignore[arg-type]
        return out

    def job_nodes(self, job_id: str, *, raw: bool = False) -> dict[str, list[str]]:
        """The nodes a job holds, by role, from ``x-debug-query-block-graph``:
        for a stream ``{"main node": [cor_filter], "active node": [top],
        "intermediate node": [...]}`` (a role with one node still a list)."""
        g = self._check(self.execute_raw("x-debug-query-block-graph"))
        by_id = {n["id"]: n for n in g["nodes"]}
        out: dict[str, list[str]] = {}
        for e in g["edges"]:
            p = by_id[e["parent"]]
            if p["type"] == "block-job" and p["name"] == job_id:
                out.setdefault(e["name"], []).append(by_id[e["child"]]["name"])
        return out if raw else normalise(out)

    def is_mirror(self, job_id: str) -> bool:
        """Whether the job is a mirror (an active commit): the one kind with a
        ``source`` node (FACTS §12.2)."""
        return "source" in self.job_nodes(job_id, raw=True)

    def filter_of(self, job_id: str) -> str | None:
        """The real (not normalised) name of a stream job's copy-on-read
        filter, or None once the job has dropped it."""
        main = self.job_nodes(job_id, raw=True).get("main node", [])
        g = self.graph(raw=True)
        return main[0] if main and g.get(main[0]) is not None else None

    def jobs(self) -> list[dict]:
        """Jobs, merged from ``query-block-jobs`` and ``query-jobs``.

        Each: ``id, type, status, offset, len, speed, busy, paused, ready,
        io-status, auto-finalize, auto-dismiss`` and ``error`` if any."""
        blk = {j["device"]: j for j in self.ok("query-block-jobs")}
        out = []
        for j in self.ok("query-jobs"):
            b = blk.get(j["id"], {})
            rec = {"id": j["id"], "type": j["type"], "status": j["status"],
                   "offset": j["current-progress"], "len": j["total-progress"]}
            for k in ("speed", "busy", "paused", "ready", "io-status",
                      "auto-finalize", "auto-dismiss"):
                if k in b:
                    rec[k] = b[k]
            if "error" in j:
                rec["error"] = j["error"]
            out.append(rec)
        return out

    def job(self, job_id: str) -> dict | None:
        for j in self.jobs():
            if j["id"] == job_id:
                return j
        return None

    # ------------------------------------------------------------------
    # driving jobs

    def settle(self, job_id: str, timeout: float = 10.0, after: int | None = None) -> dict | None:
        """Wait until ``job_id`` is quiescent: sleeping in ``running`` (not
        busy, same offset on two reads 30 ms apart, 100 ms for an active
        commit, and beyond ``after`` if given), or out of
        ``running``/``created`` (waiting, pending, concluded, paused...), or
        gone.  Returns the job (None if gone).  An active commit (a mirror)
        copies with requests that may finish after its coroutine sleeps,
        hence the longer wait."""
        deadline = time.monotonic() + timeout
        last = None
        wait = 0.1 if self.job(job_id) is not None and self.is_mirror(job_id) else 0.03
        while True:
            j = self.job(job_id)
            if j is None:
                return None
            if j["status"] not in ("running", "created"):
                if j["status"] in ("waiting", "aborting") and time.monotonic() < deadline:
                    pass  # transient: keep waiting for pending/concluded
                else:
                    return j
            elif not j.get("busy") and (after is None or j["offset"] > after):
                key = (j["status"], j["offset"])
                if last == key:
                    return j
                last = key
            else:
                last = None
            if time.monotonic() > deadline:
                raise HarnessError(f"job {job_id} did not settle: {j}")
            self.pump(wait)

    def step(self, job_id: str) -> dict | None:
        """Let a throttled job copy exactly one more chunk (and skip any
        chunks after it that need no copy), then wait until it sleeps again
        or has finished running.  Returns the job as :meth:`settle`.

        Works by raising the speed by 1 B/s (``block-job-set-speed`` wakes a
        sleeping job only when the speed goes up); speeds stay tiny, so the
        next rate-limit sleep is minutes long."""
        j = self.job(job_id)
        if j is None:
            raise HarnessError(f"no job {job_id}")
        speed = j.get("speed", 0)
        if not 1 <= speed < MAX_STEP_SPEED:
            raise HarnessError(f"job {job_id} is not throttled for stepping (speed {speed})")
        self.ok("block-job-set-speed", {"device": job_id, "speed": speed + 1})
        return self.settle(job_id, after=j["offset"])

    def finish(self, job_id: str, timeout: float = 30.0) -> dict | None:
        """Unthrottle (speed 0) and wait until the job stops running: it is
        then pending, concluded, or gone (auto-dismissed)."""
        self.ok("block-job-set-speed", {"device": job_id, "speed": 0})
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(job_id)
            if j is None or j["status"] in ("pending", "concluded"):
                return j
            if time.monotonic() > deadline:
                raise HarnessError(f"job {job_id} did not finish: {j}")
            self.pump(0.03)

    def wait_gone(self, job_id: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.job(job_id) is not None:
            if time.monotonic() > deadline:
                raise HarnessError(f"job {job_id} still there: {self.job(job_id)}")
            self.pump(0.03)

    def wait_status(self, job_id: str, status: str, timeout: float = 10.0) -> dict | None:
        """Wait until ``query-jobs`` shows ``job_id`` in ``status``
        (``"gone"`` waits for it to disappear)."""
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(job_id)
            if (j is None and status == "gone") or (j is not None and j["status"] == status):
                return j
            if time.monotonic() > deadline:
                raise HarnessError(f"job {job_id} not {status}: {j}")
            self.pump(0.03)

    # ------------------------------------------------------------------
    # guest view

    def _ensure_nbd(self) -> str:
        if self._nbd_sock is None:
            assert self.sockdir
            sock = os.path.join(self.sockdir, "nbd.sock")
            self._check(self.execute_raw("nbd-server-start", {
                "addr": {"type": "unix", "data": {"path": sock}}}))
            self._nbd_sock = sock
        return self._nbd_sock

    def read_bytes(self, node: str) -> bytes:
        """All bytes ``node`` reads through its in-memory chain (via a
        temporary read-only NBD export on a unix socket)."""
        assert self.tmpdir
        sock = self._ensure_nbd()
        self._export_seq += 1
        eid = f"view{self._export_seq}"
        self._check(self.execute_raw("block-export-add", {
            "type": "nbd", "id": eid, "node-name": node, "name": eid,
            "writable": False}))
        out = os.path.join(self.tmpdir, f"{eid}.raw")
        try:
            _run(["qemu-img", "convert", "-f", "raw", "-O", "raw",
                  f"nbd+unix:///{eid}?socket={sock}", out])
            with open(out, "rb") as f:
                return f.read()
        finally:
            try:
                os.unlink(out)
            except OSError:
                pass
            self._check(self.execute_raw("block-export-del", {"id": eid}))
            self._wait_other("BLOCK_EXPORT_DELETED", id=eid)

    def _wait_other(self, event: str, timeout: float = 10.0, **data: Any) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._collect()
            for i, ev in enumerate(self.other_events):
                if ev["event"] == event and all(ev["data"].get(k) == v for k, v in data.items()):
                    del self.other_events[i]
                    return
            if time.monotonic() > deadline:
                raise HarnessError(f"no {event} {data}")
            self.pump(0.02)

    def view(self, node: str) -> tuple[int | str, ...]:
        """Per cluster, the byte ``node`` reads there (0 where no layer of its
        chain holds data; ``"mixed"`` if the cluster is not one byte)."""
        return classify(self.read_bytes(node), self.clusters)

    def views(self, nodes: Iterable[str] | None = None) -> dict[str, tuple[int | str, ...]]:
        return {n: self.view(n) for n in (nodes if nodes is not None else self.names)}

    def _layer_spec(self, name: str) -> str:
        """``json:`` filename opening layer ``name``'s file alone (no backing)."""
        return "json:" + json.dumps({
            "driver": "qcow2", "backing": None,
            "file": {"driver": "file", "filename": self.image(name)}})

    def layer_alloc(self, name: str) -> dict[int, int | str]:
        """What layer ``name``'s image *file* holds itself, in the form of the
        ``alloc`` argument: ``{cluster: pattern}``; ``"partial"`` for a
        cluster only partly allocated, ``"mixed"`` for one not of one byte.

        Reads the file alone (backing cut off) with ``qemu-img -U``.  Exact
        once :meth:`stop` has flushed and closed everything; before that the
        daemon may still hold qcow2 metadata in its caches."""
        assert self.tmpdir
        spec = self._layer_spec(name)
        extents = json.loads(_run(["qemu-img", "map", "-U", "--output=json", spec]))
        data = self._as_raw(spec, f"layer-{name}.raw")
        pats = classify(data, self.clusters)
        out: dict[int, int | str] = {}
        for c in range(self.clusters):
            lo, hi = c * CHUNK, (c + 1) * CHUNK
            flags = {bool(e["data"]) for e in extents
                     if e["start"] < hi and e["start"] + e["length"] > lo}
            if flags == {True}:
                out[c] = pats[c]
            elif flags == {True, False}:
                out[c] = "partial"
        return out

    def layer_allocs(self, names: Iterable[str] | None = None) -> dict[str, dict[int, int | str]]:
        """:meth:`layer_alloc` of every layer (default: all of ``names``)."""
        return {n: self.layer_alloc(n) for n in (names if names is not None else self.names)}

    def disk_backing(self, name: str) -> str | None:
        """The backing file string in the image header of layer ``name``
        (``qemu-img info -U``; exact after :meth:`stop`).

        Also exact while the daemon runs for a header that
        ``change-backing-file`` or a job's completion wrote: QEMU writes the
        qcow2 header in place before it answers (FACTS §8), so a read here
        shows the new string at once, whatever the live graph says."""
        info = json.loads(_run(["qemu-img", "info", "-U", "--output=json",
                                self._layer_spec(name)]))
        return info.get("backing-filename")

    def disk_view(self, name: str) -> tuple[int | str, ...]:
        """Per cluster, what layer ``name``'s image file reads when it is
        opened by its file name, as a restarted QEMU or ``qemu-img`` would
        open it: the backing chain is the one the *headers* name, not the
        daemon's live graph (the two differ once a header was rewritten,
        FACTS §8).

        Reads with ``qemu-img convert -U`` in the temporary directory, so
        relative backing strings resolve as the harness created them.  Exact
        after :meth:`stop`.  A header that names no openable file is a
        :class:`HarnessError` carrying qemu-img's message."""
        return classify(self._as_raw(f"{name}.qcow2", f"disk-{name}.raw"), self.clusters)

    def _as_raw(self, spec: str, scratch: str) -> bytes:
        """The bytes ``spec`` reads, through ``qemu-img convert -U`` into a
        scratch file of the temporary directory (relative names resolve there)."""
        assert self.tmpdir
        out_file = os.path.join(self.tmpdir, scratch)
        try:
            _run(["qemu-img", "convert", "-U", "-O", "raw", spec, out_file], cwd=self.tmpdir)
            with open(out_file, "rb") as f:
                return f.read()
        finally:
            try:
                os.unlink(out_file)
            except OSError:
                pass

    def disk_views(self, names: Iterable[str] | None = None) -> dict[str, tuple[int | str, ...]]:
        """:meth:`disk_view` of every layer (default: all of ``names``)."""
        return {n: self.disk_view(n) for n in (names if names is not None else self.names)}
