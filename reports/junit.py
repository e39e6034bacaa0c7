"""JUnit XML, so CI systems show one test per property and fail the build on a violation.

JUnit has pass, failure, error and skipped, and only a failure fails a
build in most CI viewers.  A vacuous pass is a failure here too (exit code
77 is non-zero: the property was never exercised); incomplete and
unchecked properties are skipped with the reason, never counted as passed.
An expected violation (expect-violated) is skipped as pytest reports an
xfail, with its counterexample; an expectation that did not occur is a
failure, as a strict xfail that passes is.
Timing attributes are optional in JUnit and left out, so the file is the
same in every run.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from blockcheck.checker.api import Model
from blockcheck.checker.result import PropertyResult, Result, Verdict

from .stats import stats_line
from .trace_view import Violation, view_trace, violations


def junit_xml(result: Result, model: Model) -> str:
    """The JUnit XML document: one testsuite, one testcase per property (and the deadlock)."""
    found = violations(result)
    by_name = {v.name: v for v in found if v.kind != "deadlock"}
    suite = ET.Element("testsuite", name=result.model)
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="statistics", value=stats_line(result, deterministic=True))
    ET.SubElement(props, "property", name="exit-code", value=str(int(result.exit_code)))
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for prop in result.properties:
        case = ET.SubElement(suite, "testcase", name=prop.name, classname=result.model)
        counts["tests"] += 1
        outcome = _outcome(result, prop, model, by_name.get(prop.name))
        if outcome is not None:
            case.append(outcome)
            counts["failures" if outcome.tag == "failure" else "skipped"] += 1
    if result.deadlock is not None:
        case = ET.SubElement(suite, "testcase", name="deadlock", classname=result.model)
        case.append(_failure(model, found[-1], "deadlock"))
        counts["tests"] += 1
        counts["failures"] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("errors", "0")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _outcome(result: Result, prop: PropertyResult, model: Model, violation: Violation | None) -> ET.Element | None:
    """The child element for a property's verdict; None for a pass."""
    if prop.expected_violation and violation is not None:
        return _with_trace(ET.Element("skipped"), model, violation, "expected violation: ")
    if prop.stale_expectation:
        return ET.Element("failure", type="stale-expectation", message=prop.message)
    if prop.verdict is Verdict.VIOLATED and violation is not None:
        return _failure(model, violation, "violated")
    if prop.verdict is Verdict.VIOLATED:
        return ET.Element("failure", type="violated", message=f"{prop.meaning}: {prop.message}")
    if prop.verdict is Verdict.VACUOUS:
        return ET.Element(
            "failure", type="vacuous", message=f"holds vacuously: the witness of {prop.name} was never reached"
        )
    if prop.verdict is Verdict.INCOMPLETE:
        return ET.Element("skipped", message=f"incomplete: no counterexample, but {result.stop.value}")
    if prop.verdict is Verdict.UNCHECKED:
        return ET.Element("skipped", message="unchecked: the search stopped at another violation")
    return None


def _failure(model: Model, violation: Violation, kind: str) -> ET.Element:
    """A failure whose message is the sentence and the short trace, and whose text is the long trace."""
    return _with_trace(ET.Element("failure", type=kind), model, violation)


def _with_trace(element: ET.Element, model: Model, violation: Violation, prefix: str = "") -> ET.Element:
    """``element`` with the sentence and the short trace as its message, and the long trace as its text."""
    view = view_trace(model, violation.trace)
    short = " -> ".join(model.format_action(s.action) for s in view.steps[1:]) or "the initial state"
    if view.loop is not None:
        short += " (loops)" if not view.loop.stutter else " (stutters)"
    element.set("message", f"{prefix}{violation.meaning}: {violation.message}. Trace: {short}")
    lines = []
    for step in view.steps:
        command = "initial state" if step.action is None else model.format_action(step.action)
        lines.append(f"{step.number}. {command}\n   {step.text}")
    if view.loop is not None:
        lines.append(view.loop.sentence)
    element.text = "\n".join(lines)
    return element
