"""A signal stops a long z3 call at once inside ``interruptible()``, not when z3 is done."""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

import pytest
import z3

from blockcheck.checker.smt import interruptible


def _raise(signum, frame):
    raise KeyboardInterrupt


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_interrupts_a_long_z3_call(sig):
    previous = signal.signal(sig, _raise)
    x, y = z3.BitVec("x", 512), z3.BitVec("y", 512)
    solver = z3.Solver()
    solver.add(x * y == 2**511 + 123456789, x > 1, y > 1, x < y)  # factoring: minutes at least
    timer = threading.Timer(1.0, os.kill, (os.getpid(), sig))
    started = time.monotonic()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt), interruptible():
            solver.check()
    finally:
        timer.cancel()
        signal.signal(sig, previous)
    assert time.monotonic() - started < 15


def test_a_ctrl_c_that_ctypes_wrapped_is_still_a_ctrl_c():
    """A full test run saw `prove` end in "internal error ... ArgumentError:
    argument 2: KeyboardInterrupt" (exit 255): the handler raised while ctypes
    converted a z3 call's argument.  Any other ArgumentError stays one."""
    with pytest.raises(KeyboardInterrupt), interruptible():
        raise ctypes.ArgumentError("argument 2: KeyboardInterrupt: ")
    with pytest.raises(ctypes.ArgumentError), interruptible():
        raise ctypes.ArgumentError("argument 1: TypeError: wrong type")
