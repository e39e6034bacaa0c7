"""SIGTERM ends a run as Ctrl-C does, and the exit code says which came.

SIGTERM's default action kills Python on the spot: no ``finally`` runs, so
a cancelled CI job left ``conform``'s temporary directory and its QEMU
daemon behind.  With :func:`install` both signals raise
:class:`KeyboardInterrupt`, which every command already turns into cleanup
and a partial result; :func:`interrupted_code` then tells 130 (SIGINT)
from 143 (SIGTERM).  Only the console script installs the handlers, never
an import: the engine is also used as a library (pytest plugin, tests).
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from .exitcodes import ExitCode

_received: list[int] = []


def _raise(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if _in_finalizer(frame):
        # Python prints and drops an exception raised in a __del__ (z3's
        # objects free their C side there): send the signal again a moment
        # later, when the finalizer has returned.
        threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
        return
    raise KeyboardInterrupt


def _in_finalizer(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside a ``__del__`` method."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt (a signal the parent set to be ignored stays ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _raise)


def interrupted_code() -> ExitCode:
    """The exit code of an interrupted run: 143 once a SIGTERM came, else 130."""
    return ExitCode.TERMINATED if signal.SIGTERM in _received else ExitCode.INTERRUPTED


def interrupted_message() -> str:
    """The one sentence an interrupted run ends with."""
    return "terminated (SIGTERM)" if signal.SIGTERM in _received else "interrupted"
