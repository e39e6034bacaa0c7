"""What a search returns: a verdict per property, traces and statistics.

Everything downstream (the terminal table, Markdown, ITF, JUnit, the exit
code) is computed from a :class:`Result`, so the outputs cannot disagree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .exitcodes import ExitCode

if TYPE_CHECKING:
    from .graph import StateGraph


class Verdict(enum.Enum):
    HOLDS = "holds"
    VIOLATED = "violated"
    #: No counterexample, but the property's witness was never reached.
    VACUOUS = "vacuous"
    #: No counterexample, but the search stopped at a bound or was interrupted.
    INCOMPLETE = "incomplete"
    #: Not checked: --continue was off and the search stopped at another violation.
    UNCHECKED = "unchecked"


class StopReason(enum.Enum):
    EXHAUSTED = "all reachable states explored"
    VIOLATION = "stopped at the first violation"
    MAX_STATES = "max_states bound hit"
    MAX_DEPTH = "max_depth bound hit"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Step:
    """One state of a trace and the action that led to it (None for the first)."""

    action: Any
    state: Any


@dataclass(frozen=True)
class Trace:
    """A counterexample: the states from an initial state, each with its action.

    For a lasso (a liveness counterexample) ``loop`` is the index of the
    state the last step goes back to ("Back to state N" in TLC), or equal to
    ``len(steps) - 1`` with ``stutter`` set when the behaviour stays in the
    last state forever.  ``loop_action`` is the action of that step back
    from the last state to ``steps[loop]`` (None when stuttering).
    """

    steps: tuple[Step, ...]
    loop: int | None = None
    stutter: bool = False
    loop_action: Any = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def actions(self) -> list[Any]:
        return [s.action for s in self.steps[1:]]


@dataclass
class PropertyResult:
    name: str
    meaning: str
    kind: str
    verdict: Verdict
    witness_reached: bool | None = None
    trace: Trace | None = None
    #: One sentence on what went wrong, for violations.
    message: str = ""
    #: Named in expect-violated: a known violation that does not fail the run.
    #: The verdict still says what the search found, so code that knows
    #: nothing of expectations (the mutation matrix, conformance) still sees
    #: a violation; the run's judgement is :attr:`outcome`.
    expected: bool = False

    @property
    def expected_violation(self) -> bool:
        """Violated as expected: reported with its counterexample, never a failure."""
        return self.expected and self.verdict is Verdict.VIOLATED

    @property
    def stale_expectation(self) -> bool:
        """Expected to be violated, yet no state or behaviour of the whole space violates it.

        Holds and vacuous are verdicts of a finished search only (a
        ``sometimes``, the one kind that may hold early, cannot be expected to
        be violated), so a bound or an early stop leaves an expectation
        unjudged, never stale.
        """
        return self.expected and self.verdict in (Verdict.HOLDS, Verdict.VACUOUS)

    @property
    def outcome(self) -> str:
        """What every report prints: the verdict, or what an expectation made of it."""
        if self.expected_violation:
            return "expected violation"
        if self.stale_expectation:
            return "stale expectation"
        return self.verdict.value


@dataclass
class Stats:
    distinct: int = 0
    generated: int = 0
    depth: int = 0
    seconds: float = 0.0
    #: action name -> [distinct states it found first, successors it generated]
    coverage: dict[str, list[int]] = field(default_factory=dict)
    #: action names the model declares but that were never enabled
    never_enabled: list[str] = field(default_factory=list)
    queue_left: int = 0

    @property
    def states_per_second(self) -> float:
        return self.distinct / self.seconds if self.seconds > 0 else 0.0

    @property
    def collision_probability(self) -> float:
        """TLC's estimate that two distinct states shared a 64-bit fingerprint."""
        return self.distinct * self.generated / 2.0**64


@dataclass
class Result:
    model: str
    properties: list[PropertyResult]
    stats: Stats
    stop: StopReason
    #: The deadlock found, if deadlock detection was on and one was reached.
    deadlock: Trace | None = None
    #: The explored graph, kept when asked for or when liveness needed it.
    graph: StateGraph | None = None

    @property
    def complete(self) -> bool:
        return self.stop in (StopReason.EXHAUSTED, StopReason.VIOLATION)

    def by_name(self, name: str) -> PropertyResult:
        for prop in self.properties:
            if prop.name == name:
                return prop
        raise KeyError(name)

    @property
    def violations(self) -> list[PropertyResult]:
        """Every violated property, expected or not."""
        return [p for p in self.properties if p.verdict is Verdict.VIOLATED]

    @property
    def stale_expectations(self) -> list[PropertyResult]:
        return [p for p in self.properties if p.stale_expectation]

    @property
    def exit_code(self) -> ExitCode:
        """The single exit status, by a fixed precedence (see exitcodes)."""
        codes = [ExitCode.OK]
        if self.deadlock is not None:
            codes.append(ExitCode.DEADLOCK)
        for prop in self.violations:
            if not prop.expected:
                codes.append(ExitCode.INVARIANT if prop.kind == "always" else ExitCode.LIVENESS)
        if self.stale_expectations:
            codes.append(ExitCode.LIVENESS)
        if self.stop is StopReason.INTERRUPTED:
            codes.append(ExitCode.INTERRUPTED)
        elif not self.complete:
            codes.append(ExitCode.BOUND)
        if any(p.verdict is Verdict.VACUOUS for p in self.properties):
            codes.append(ExitCode.VACUOUS)
        return min(codes, key=ExitCode.precedence)
