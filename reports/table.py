"""The terminal summary: a verdict per property, the statistics and the coverage table.

Printed with ``rich``, which writes colour only to a terminal: captured
output and pipes get plain text, so CI logs and golden files carry no ANSI
codes.  Rows never contain timings, so the tables are the same in every
run; only the footer has the seconds, and ``deterministic=True`` drops them.
"""

from __future__ import annotations

import sys

from blockcheck.checker.console import Console
from blockcheck.checker.result import PropertyResult, Result, Verdict
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .stats import stats_line

VERDICT_STYLE = {
    Verdict.HOLDS: "green",
    Verdict.VIOLATED: "bold red",
    Verdict.VACUOUS: "yellow",
    Verdict.INCOMPLETE: "yellow",
    Verdict.UNCHECKED: "dim",
}
#: Outcomes an expect-violated entry gives, styled over the verdict's style.
OUTCOME_STYLE = {"expected violation": "magenta", "stale expectation": "bold red"}


def property_table(result: Result) -> Table:
    """One row per property: name, verdict, witness reached, counterexample length."""
    table = Table(title=f"blockcheck: {result.model}", title_justify="left")
    table.add_column("property")
    table.add_column("verdict")
    table.add_column("witness")
    table.add_column("counterexample", justify="right")
    for prop in result.properties:
        table.add_row(
            Text(prop.name),
            Text(prop.outcome, style=OUTCOME_STYLE.get(prop.outcome, VERDICT_STYLE[prop.verdict])),
            {True: "reached", False: Text("not reached", style="yellow"), None: "-"}[prop.witness_reached],
            _trace_length(prop),
        )
    return table


def _trace_length(prop: PropertyResult) -> str:
    trace = prop.trace
    if trace is None:
        return ""
    text = f"{len(trace)} states"
    if trace.loop is not None:
        text += ", stutters" if trace.stutter else f", back to {trace.loop + 1}"
    return text


def coverage_table(result: Result) -> Table:
    """Per action: distinct states it found first and successors it generated, as TLC's -coverage."""
    table = Table(title="coverage", title_justify="left")
    table.add_column("action")
    table.add_column("distinct", justify="right")
    table.add_column("generated", justify="right")
    table.add_column("")
    never = set(result.stats.never_enabled)
    for name, (distinct, generated) in result.stats.coverage.items():
        flag = Text("never enabled", style="bold yellow") if name in never else ""
        table.add_row(Text(name), str(distinct), str(generated), flag)
    for name in result.stats.never_enabled:
        if name not in result.stats.coverage:
            table.add_row(Text(name), "0", "0", Text("never enabled", style="bold yellow"))
    return table


def footer(result: Result, *, deterministic: bool = False) -> Text:
    """States, depth, time, speed and why the search stopped; a deadlock, expected and stale violations."""
    text = Text(stats_line(result, deterministic=deterministic))
    if result.deadlock is not None:
        text.append(f"\ndeadlock reached in state {len(result.deadlock)}", style="bold red")
    expected = [p.name for p in result.properties if p.expected_violation]
    if expected:
        text.append(f"\nexpected violations (known, they do not fail the run): {', '.join(expected)}", style="magenta")
    for prop in result.stale_expectations:
        text.append(f"\n{prop.message}", style="bold red")
    code = result.exit_code
    text.append(f"\nexit code {int(code)}: {code.meaning}")
    return text


def print_summary(
    result: Result, console: Console | None = None, *, coverage: bool = True, deterministic: bool = False
) -> None:
    """Print the property table, the coverage table (unless ``coverage`` is off) and the footer."""
    # Off a terminal (CI logs) rich would wrap at 80 columns; logs are wider.
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    parts = [property_table(result)]
    if coverage:
        parts.append(coverage_table(result))
    parts.append(footer(result, deterministic=deterministic))
    console.print(Group(*parts))
