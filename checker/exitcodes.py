"""Every exit status of the ``blockcheck`` command, in one table.

The numbers follow TLC's ``EC.ExitStatus`` where TLC has one, so CI scripts
written for TLC read ours the same way.  The README's table is generated
from :data:`TABLE` (``blockcheck list --exit-codes``), and a test checks
that it matches.

An expected violation that did not occur (a stale ``expect-violated``
entry) is 13, as a failed proof is: in both the run was asked to confirm a
claim about the model and the claim is false.  TLC knows no such outcome,
and a number of our own would read as something else to a TLC script,
while every script already fails on 13.

A signal ends a run with 128 plus its number, as a shell reports a program
the signal killed: 130 for SIGINT (as TLC), 143 for SIGTERM, 141 for a
closed pipe (SIGPIPE) -- but only after the run has cleaned up, which the
default actions would not have let it do.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    DEADLOCK = 11
    INVARIANT = 12
    LIVENESS = 13
    VACUOUS = 77
    INTERRUPTED = 130
    PIPE_CLOSED = 141
    TERMINATED = 143
    MODEL_ERROR = 150
    USAGE_ERROR = 151
    BOUND = 152
    INTERNAL = 255

    @property
    def meaning(self) -> str:
        return TABLE[self]

    def precedence(self) -> int:
        """Lower wins when a run has several outcomes (see Result.exit_code)."""
        return _PRECEDENCE.index(self)


TABLE: dict[ExitCode, str] = {
    ExitCode.OK: "every property holds (or is violated as expected) and every witness was reached, on the whole state space",
    ExitCode.DEADLOCK: "a reachable state has no enabled action and the model does not declare it terminal",
    ExitCode.INVARIANT: "an invariant (always) is violated",
    ExitCode.LIVENESS: "a transition property or a liveness property (leads_to, eventually) is violated, a proof failed, or an expected violation did not occur",
    ExitCode.VACUOUS: "nothing was violated, but a property's witness was never reached: the pass is vacuous (mutants: a variant went uncaught or a property caught none)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, SIGINT): check prints the partial statistics; no temporary file or QEMU process is left",
    ExitCode.PIPE_CLOSED: "standard output was closed early (e.g. piped into head); the rest of the output was dropped, quietly",
    ExitCode.TERMINATED: "terminated (SIGTERM, what CI runners send on cancel); otherwise as 130",
    ExitCode.MODEL_ERROR: "the model or a property is defined wrongly",
    ExitCode.USAGE_ERROR: "bad command line, configuration or input file",
    ExitCode.BOUND: "a bound (max states, max depth) was hit before the search finished: nothing is proved",
    ExitCode.INTERNAL: "internal error in blockcheck (a bug: please report it)",
}

_PRECEDENCE = [
    ExitCode.INTERNAL,
    ExitCode.MODEL_ERROR,
    ExitCode.USAGE_ERROR,
    ExitCode.INVARIANT,
    ExitCode.LIVENESS,
    ExitCode.DEADLOCK,
    ExitCode.TERMINATED,
    ExitCode.INTERRUPTED,
    ExitCode.PIPE_CLOSED,
    ExitCode.BOUND,
    ExitCode.VACUOUS,
    ExitCode.OK,
]


def markdown_table() -> str:
    """The exit-code table as Markdown, as the README shows it."""
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| {int(code)} | {text} |" for code, text in TABLE.items()]
    return "\n".join(rows)
