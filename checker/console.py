"""rich's Console for standard output, leaving a closed pipe to the command.

rich answers a closed pipe (``blockcheck check | head -1``) by exiting with
status 1, which reads as a failure of the run; this Console raises
BrokenPipeError instead, so that :func:`blockcheck.checker.cli.main` maps it
to its exit code like every other outcome.
"""

from __future__ import annotations

from rich.console import Console as _RichConsole


class Console(_RichConsole):
    """A rich Console whose closed pipe is an exception, not an exit."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError("standard output was closed")
