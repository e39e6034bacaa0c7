"""A counterexample as every report shows it: numbered states with command, answer and diff.

The Markdown, HTML, JSON and JUnit writers all read traces through
:func:`view_trace`, so they number states the same way (1 for the initial
state, as TLC and the engine's messages do), ask the model for each answer
in the state the command was sent in, and agree on where a lasso loops.
A deadlock is reported like a violated property (see :func:`violations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blockcheck.checker.api import Model
from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.result import Result, Trace, Verdict

from .diff import Change, diff


@dataclass(frozen=True)
class StepView:
    #: The state's number, 1 for the initial state.
    number: int
    #: The model's action, None for the initial state.
    action: Any
    #: ``model.action_to_json(action)``, None for the initial state.
    command: Any
    #: ``model.answer(previous state, action)``, None for the initial state.
    answer: Any
    state: Any
    #: ``model.state_to_json(state)``.
    variables: Any
    #: ``model.format_state(state)``.
    text: str
    #: What differs from the previous state (empty for the initial state).
    changes: tuple[Change, ...]
    #: True for the state a lasso goes back to.
    loop_start: bool


@dataclass(frozen=True)
class LoopView:
    """How a lasso closes: the last state goes back to state ``target``, or stays."""

    target: int
    stutter: bool
    #: The step back (``action_to_json`` and its answer); None when stuttering.
    command: Any
    answer: Any

    @property
    def sentence(self) -> str:
        if self.stutter:
            return f"The behaviour stutters here forever: it stays in state {self.target} and never reaches the goal."
        return f"The behaviour goes back to state {self.target} and repeats the loop forever."


@dataclass(frozen=True)
class TraceView:
    steps: tuple[StepView, ...]
    loop: LoopView | None


@dataclass(frozen=True)
class Violation:
    """A counterexample to report: a violated property, or the deadlock."""

    name: str
    meaning: str
    kind: str
    message: str
    trace: Trace
    #: Named in expect-violated: reported like any violation, marked as known.
    expected: bool = False


def violations(result: Result) -> list[Violation]:
    """Every violated property with its trace (expected ones too), then the deadlock if one was found."""
    found = [
        Violation(p.name, p.meaning, p.kind, p.message, p.trace, p.expected)
        for p in result.properties
        if p.verdict is Verdict.VIOLATED and p.trace is not None
    ]
    if result.deadlock is not None:
        last = len(result.deadlock)
        found.append(
            Violation(
                "deadlock",
                ExitCode.DEADLOCK.meaning,
                "deadlock",
                f"state {last} has no enabled action and the model does not accept it as terminal",
                result.deadlock,
            )
        )
    return found


def view_trace(model: Model, trace: Trace) -> TraceView:
    """Ask the model's report hooks about every step of ``trace``."""
    steps: list[StepView] = []
    previous: StepView | None = None
    for index, step in enumerate(trace.steps):
        variables = model.state_to_json(step.state)
        first = previous is None
        view = StepView(
            number=index + 1,
            action=step.action,
            command=None if first else model.action_to_json(step.action),
            answer=None if first else model.answer(previous.state, step.action),
            state=step.state,
            variables=variables,
            text=model.format_state(step.state),
            changes=() if first else _changes(previous.variables, variables),
            loop_start=trace.loop == index,
        )
        steps.append(view)
        previous = view
    return TraceView(tuple(steps), _loop(model, trace))


def _changes(before: Any, after: Any) -> tuple[Change, ...]:
    """The diff of two ``state_to_json`` values; a model's non-dict value counts as one variable."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        before, after = {"state": before}, {"state": after}
    return diff(before, after)


def _loop(model: Model, trace: Trace) -> LoopView | None:
    if trace.loop is None:
        return None
    if trace.stutter:
        return LoopView(trace.loop + 1, True, None, None)
    last = trace.steps[-1].state
    return LoopView(
        trace.loop + 1,
        False,
        model.action_to_json(trace.loop_action),
        model.answer(last, trace.loop_action),
    )
