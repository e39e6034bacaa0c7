"""From what a search found to a Result: liveness, traces, verdicts, statistics.

The search records only ids (which state broke which property); traces are
rebuilt here, once per finding, and liveness runs here on the finished
graph.  One function decides every verdict, so the rules stay in one place:

- violated: a counterexample exists (it wins over everything else);
- ``sometimes``: holds once reached, even in a search cut short (a reached
  state is a fact); never reached is vacuous on a complete search;
- otherwise unchecked if the search stopped at another violation,
  incomplete if a bound or Ctrl-C cut it short, vacuous if the property's
  witness (or a leads-to's trigger) never held, else holds.

A property named in ``expect-violated`` keeps its verdict and is marked
``expected``; its message says when the expectation is stale (no
violation on the whole state space) or could not be judged (a bound).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .api import Model
from .graph import StateGraph
from .liveness import FairnessClasses, check_leads_to
from .property import Kind, Property
from .result import PropertyResult, Result, Stats, StopReason, Trace, Verdict
from .traces import chain, shortest_trace, step_by_position


@dataclass(frozen=True)
class Finding:
    """Where a safety check failed: a state id, plus the successor's position for an edge."""

    state: int
    position: int | None = None


@dataclass
class Findings:
    """Everything a search hands over, by state id (BFS order)."""

    fingerprints: Sequence[int]
    parents: Sequence[int]
    #: property name -> where it was first violated
    violations: dict[str, Finding]
    #: (property name, "sometimes" or "witness") -> first state satisfying it
    reached: dict[tuple[str, str], int]
    deadlock: int | None
    #: action -> successors it generated; action -> new states it found first
    generated: dict[Any, int]
    found: dict[Any, int]
    distinct: int
    expanded: int


def assemble(
    model: Model,
    props: Sequence[Property],
    findings: Findings,
    graph: StateGraph | None,
    *,
    stop: StopReason,
    stop_at_first: bool,
    expected: frozenset[str],
    started: float,
) -> Result:
    """Check liveness on ``graph`` if the search was complete, and build the Result.

    With ``stop_at_first`` liveness checks end at the first violation that
    was not ``expected``, as the search does.
    """
    live: dict[str, tuple[Trace | None, bool]] = {}
    if stop is StopReason.EXHAUSTED and graph is not None:
        try:
            fair = FairnessClasses.of(graph.actions, model.fairness)
            for prop in props:
                if prop.kind is Kind.LEADS_TO:
                    live[prop.name] = check_leads_to(model, graph, fair, prop, findings.fingerprints, findings.parents)
                    if live[prop.name][0] is not None and stop_at_first and prop.name not in expected:
                        break
        except KeyboardInterrupt:
            stop = StopReason.INTERRUPTED
    results = [_verdict(model, prop, findings, live, stop) for prop in props]
    for result in results:
        if result.name in expected:
            _expect(result)
    deadlock = None
    if findings.deadlock is not None:
        deadlock = Trace(tuple(shortest_trace(model, findings.fingerprints, findings.parents, findings.deadlock)))
    return Result(
        model=model.name,
        properties=results,
        stats=_stats(model, findings, time.perf_counter() - started),
        stop=stop,
        deadlock=deadlock,
        graph=graph,
    )


def _verdict(
    model: Model,
    prop: Property,
    findings: Findings,
    live: dict[str, tuple[Trace | None, bool]],
    stop: StopReason,
) -> PropertyResult:
    witness = None if prop.witness is None else (prop.name, "witness") in findings.reached
    result = PropertyResult(prop.name, prop.meaning, prop.kind.value, Verdict.HOLDS, witness_reached=witness)
    lasso, triggered = live.get(prop.name, (None, True))
    if prop.name in findings.violations:
        result.verdict = Verdict.VIOLATED
        result.trace, result.message = _safety_counterexample(model, prop, findings)
    elif lasso is not None:
        result.verdict = Verdict.VIOLATED
        result.trace, result.message = lasso, _liveness_message(prop, lasso)
    elif prop.kind is Kind.SOMETIMES:
        result.witness_reached = (prop.name, "sometimes") in findings.reached
        if not result.witness_reached:
            result.verdict, result.message = _unfinished(stop) or (Verdict.VACUOUS, "no reachable state satisfies it")
    elif _unfinished(stop):
        result.verdict, result.message = _unfinished(stop)
    elif prop.kind is Kind.LEADS_TO and prop.name not in live:
        result.verdict, result.message = Verdict.UNCHECKED, "not checked: an earlier liveness property was violated"
    elif witness is False:
        result.verdict, result.message = Verdict.VACUOUS, "its witness was never reached, so its pass says nothing"
    elif not triggered:
        result.verdict, result.message = Verdict.VACUOUS, "its trigger holds in no reachable state, so it cannot fail"
    return result


def _expect(result: PropertyResult) -> None:
    """Mark ``result`` as expected to be violated, and say so where that changes its meaning."""
    result.expected = True
    if result.stale_expectation:
        result.message = f"expected violation of {result.name} did not occur: remove it from expect-violated" + (
            f" ({result.message})" if result.message else ""
        )
    elif result.verdict is Verdict.INCOMPLETE:
        result.message += "; its expected violation was not found before that, so the expectation is not judged"


def _unfinished(stop: StopReason) -> tuple[Verdict, str] | None:
    """The verdict of an unviolated property when the search did not finish."""
    if stop is StopReason.VIOLATION:
        return Verdict.UNCHECKED, "not checked: the search stopped at the first violation"
    if stop is not StopReason.EXHAUSTED:
        return Verdict.INCOMPLETE, f"nothing violated it, but the search ended early ({stop.value})"
    return None


def _safety_counterexample(model: Model, prop: Property, findings: Findings) -> tuple[Trace, str]:
    finding = findings.violations[prop.name]
    steps = shortest_trace(model, findings.fingerprints, findings.parents, finding.state)
    if finding.position is None:
        return Trace(tuple(steps)), f"it is false in state {len(steps)}, the last of this shortest trace"
    steps.append(step_by_position(model, steps[-1].state, finding.position))
    return Trace(tuple(steps)), "the last step of this shortest trace breaks it"


def _liveness_message(prop: Property, trace: Trace) -> str:
    start = "from the initial state" if prop.trigger is None else "after a state where its trigger holds"
    if trace.stutter:
        return (
            f"{start}, the behaviour can stay in state {len(trace)} forever without reaching the goal; "
            "no fairness assumption forbids stopping there"
        )
    return (
        f"{start}, the behaviour can loop back to state {trace.loop + 1} forever without reaching the goal, "
        "and the loop respects every fairness assumption"
    )


def _stats(model: Model, findings: Findings, seconds: float) -> Stats:
    coverage: dict[str, list[int]] = {name: [0, 0] for name in model.action_names}
    for action, count in findings.generated.items():
        coverage.setdefault(model.action_name(action), [0, 0])[1] += count
    for action, count in findings.found.items():
        coverage[model.action_name(action)][0] += count
    depth = len(chain(findings.parents, findings.distinct - 1)) - 1 if findings.distinct else 0
    return Stats(
        distinct=findings.distinct,
        generated=sum(findings.generated.values()),
        depth=depth,
        seconds=seconds,
        coverage=coverage,
        never_enabled=[name for name in model.action_names if coverage[name][1] == 0],
        queue_left=findings.distinct - findings.expanded,
    )
