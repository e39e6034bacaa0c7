"""Counterexamples and run summaries as Markdown, for issues, PR comments and reviews.

A violation report is a table with one row per state: the command sent,
QEMU's (the model's) answer, the state after it, and only what changed, as
TLC's ``-difftrace`` shows it, since a full state per row hides the one
field that matters.  Table cells are escaped for GitHub-flavoured Markdown,
where a ``|`` ends a cell even inside a code span.  An expected violation
(expect-violated) is reported like any other, marked as known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from blockcheck.checker.api import Model
from blockcheck.checker.result import PropertyResult, Result, Verdict

from .stats import stats_line
from .trace_view import Violation, view_trace, violations

VERDICT_MARK = {
    Verdict.HOLDS: "✅ holds",
    Verdict.VIOLATED: "❌ violated",
    Verdict.VACUOUS: "⚠️ vacuous",
    Verdict.INCOMPLETE: "⏸️ incomplete",
    Verdict.UNCHECKED: "➖ unchecked",
}
#: Outcomes an expect-violated entry gives, shown instead of the verdict.
OUTCOME_MARK = {"expected violation": "🔶 expected violation", "stale expectation": "❌ stale expectation"}


def violation_markdown(model: Model, violation: Violation, model_name: str) -> str:
    """The report of one counterexample, as a Markdown document."""
    view = view_trace(model, violation.trace)
    out = [
        f"# `{violation.name}` is violated" + (" (expected violation)" if violation.expected else ""),
        "",
        f"**Property:** {_inline(violation.meaning)} ({violation.kind})",
        "",
        f"**What went wrong:** {_inline(violation.message)}",
        "",
    ]
    if violation.expected:
        out += [
            "**Expected violation:** named in expect-violated, so it does not fail the run; "
            "the run fails once it no longer occurs",
            "",
        ]
    out += [
        f"**Model:** {_code(model_name)}",
        "",
        "| state | command | answer | state after the step | what changed |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for step in view.steps:
        number = f"{step.number} ⟲" if step.loop_start else str(step.number)
        command = "(initial state)" if step.command is None else _code(_json(step.command))
        answer = "" if step.answer is None else _code(_json(step.answer))
        changed = "<br>".join(_code(c.text) for c in step.changes)
        out.append(_row(number, command, answer, _code(step.text), changed))
    if view.loop is not None:
        if view.loop.stutter:
            out.append(_row("⟲", "(stutters here forever)", "", "", ""))
        else:
            command = _code(_json(view.loop.command))
            answer = "" if view.loop.answer is None else _code(_json(view.loop.answer))
            out.append(_row(f"→ {view.loop.target}", command, answer, f"back to state {view.loop.target}", ""))
        out += ["", f"**Loop:** {view.loop.sentence}"]
    return "\n".join(out) + "\n"


def summary_markdown(
    result: Result, files: Mapping[str, Sequence[str]] | None = None, *, deterministic: bool = False
) -> str:
    """A short run summary for a PR comment: verdict table, one line per violation and stale expectation.

    ``files`` maps a property name (or ``deadlock``) to the report files
    written for it, relative to the summary, which are linked.
    """
    files = files or {}
    found = violations(result)
    out = [
        f"## blockcheck: {_code(result.model)}: {_headline(result, found)}",
        "",
        "| property | verdict | witness | counterexample |",
        "| --- | --- | --- | --- |",
    ]
    out += [_property_row(p) for p in result.properties]
    if found:
        out += ["", "**Violations**", ""]
        for v in found:
            links = ", ".join(f"[{name}]({name})" for name in files.get(v.name, ()))
            known = " (expected)" if v.expected else ""
            out.append(f"- {_code(v.name)}{known}: {_inline(v.message)}" + (f" ({links})" if links else ""))
    stale = result.stale_expectations
    if stale:
        out += ["", "**Stale expectations**", ""]
        out += [f"- {_code(p.name)}: {_inline(p.message)}" for p in stale]
    code = result.exit_code
    out += ["", f"{stats_line(result, deterministic=deterministic)}; exit code {int(code)} ({code.meaning})."]
    return "\n".join(out) + "\n"


def _headline(result: Result, found: list[Violation]) -> str:
    counts = [
        (sum(not v.expected for v in found), "violation"),
        (sum(v.expected for v in found), "expected violation"),
        (len(result.stale_expectations), "stale expectation"),
    ]
    parts = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in counts if n]
    if parts:
        return ", ".join(parts)
    if result.exit_code == 0:
        return "all properties hold"
    return result.exit_code.meaning.split(":")[0]


def _property_row(prop: PropertyResult) -> str:
    witness = {True: "reached", False: "**not reached**", None: ""}[prop.witness_reached]
    length = f"{len(prop.trace)} states" if prop.trace is not None else ""
    mark = OUTCOME_MARK.get(prop.outcome, VERDICT_MARK[prop.verdict])
    return _row(_code(prop.name), mark, witness, length)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _code(text: str) -> str:
    """A code span on one line that survives backticks in ``text``."""
    text = " ⏎ ".join(text.splitlines())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline(text: str) -> str:
    """Prose on one line, with the characters that would start HTML or Markdown escaped."""
    text = " ".join(text.split())
    for char in "\\`*_[]<>":
        text = text.replace(char, "\\" + char)
    return text
