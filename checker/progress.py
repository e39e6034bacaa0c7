"""A live progress line on stderr for searches that take a while.

The search calls :meth:`Progress.update` every few thousand new states, never
per state, so the clock is read rarely and a short run prints nothing: the
line appears only once a run has lasted ``delay`` seconds.  On a terminal it
is redrawn in place and erased when the run ends; when forced on elsewhere
(a CI log) it becomes a plain line every ``LOG_EVERY`` seconds.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

#: Seconds a run lasts before the line appears.
DELAY = 2.0
#: Seconds between two redraws; rendering is not free.
REDRAW = 0.5
#: Seconds between two lines when stderr is not a terminal.
LOG_EVERY = 10.0


def wanted(progress: bool | None, quiet: bool) -> bool:
    """Whether to show the line: forced on or off by ``progress``, else on a terminal.

    >>> wanted(None, quiet=True), wanted(False, quiet=False), wanted(True, quiet=False)
    (False, False, True)
    """
    if quiet or progress is False:
        return False
    return progress is True or sys.stderr.isatty()


class Progress:
    """Distinct states, depth, rate and queue length, redrawn in place."""

    def __init__(self, enabled: bool, delay: float | None = None) -> None:
        self.enabled = enabled
        self.start = time.monotonic()
        self.next_draw = self.start + (DELAY if delay is None else delay)
        self.console = Console(stderr=True)
        self.live: Live | None = None

    def update(self, distinct: int, depth: int, queue: int) -> None:
        """Redraw if the line is on and it is time to; otherwise return at once."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self.next_draw:
            return
        rate = distinct / max(now - self.start, 1e-9)
        line = Text(f"{distinct:,} distinct states  depth {depth}  {rate:,.0f} states/s  queue {queue:,}")
        if not self.console.is_terminal:
            self.next_draw = now + LOG_EVERY
            self.console.print(line)
            return
        self.next_draw = now + REDRAW
        if self.live is None:
            self.live = Live(line, console=self.console, transient=True, auto_refresh=False)
            self.live.start()
        self.live.update(line, refresh=True)

    def close(self) -> None:
        """Erase the line."""
        if self.live is not None:
            self.live.stop()
            self.live = None
