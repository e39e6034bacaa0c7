"""Markdown reports: a numbered step table with answers and diffs, lasso marks, a PR summary."""

from __future__ import annotations

import dataclasses
import json
import re

from blockcheck.checker.result import Verdict
from blockcheck.reports.markdown import summary_markdown, violation_markdown
from blockcheck.reports.trace_view import violations


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")][1:]


def test_report_has_title_model_and_one_row_per_state(skips):
    violation = next(v for v in violations(skips.result) if v.name == "no-leaked-blockers")
    text = violation_markdown(skips.model, violation, skips.result.model)
    assert text.startswith("# `no-leaked-blockers` is violated\n")
    assert f"`{skips.result.model}`" in text and violation.message in text
    rows = table_rows(text)
    assert len(rows) == len(violation.trace) + 1  # the separator row, then one row per state
    second = rows[2]
    command = json.dumps(skips.model.action_to_json(violation.trace.steps[1].action))
    assert second.startswith("| 2 | ") and f"`{command}`" in second
    assert '`{"return": {}}`' in second and '`blocked.C: (absent) → ["drive0"]`' in second
    assert "jobs[0].cancelled: false → true" in rows[3]


def test_stuttering_lasso_is_marked(hangs):
    violation = violations(hangs.result)[0]
    text = violation_markdown(hangs.model, violation, hangs.result.model)
    rows = table_rows(text)
    assert rows[-2].startswith(f"| {len(violation.trace)} ⟲ |")
    assert "stutters here forever" in rows[-1]


def test_real_cycle_goes_back_to_its_state(cycle):
    violation = violations(cycle.result)[-1]
    text = violation_markdown(cycle.model, violation, cycle.result.model)
    target = violation.trace.loop + 1
    assert f"| {target} ⟲ |" in text and f"| → {target} |" in text
    assert f"goes back to state {target}" in text


def test_pipes_and_backticks_cannot_break_the_table(skips):
    violation = violations(skips.result)[0]

    class Odd(type(skips.model)):
        def format_state(self, state):
            return "a | b `c`"

    text = violation_markdown(Odd(skips.model.scenario), violation, "m|x")
    assert "a \\| b `c`" in text and "`` a \\| b `c` ``" in text
    assert all(len(re.split(r"(?<!\\)\|", row)) == 7 for row in table_rows(text))  # five cells


def test_summary_lists_verdicts_violations_and_links(skips):
    files = {"no-leaked-blockers": ["no-leaked-blockers.md"]}
    text = summary_markdown(skips.result, files, deterministic=True)
    assert len(table_rows(text)) == len(skips.result.properties) + 1
    assert "- `no-leaked-blockers`: " in text and "[no-leaked-blockers.md](no-leaked-blockers.md)" in text
    assert "exit code 12" in text and " s (" not in text
    assert " s (" in summary_markdown(skips.result)


def test_summary_of_a_clean_run(passes):
    text = summary_markdown(passes.result, deterministic=True)
    assert "all properties hold" in text and "Violations" not in text and "❌" not in text


def test_summary_marks_vacuous_properties(passes):
    props = [dataclasses.replace(p, verdict=Verdict.VACUOUS, witness_reached=False) for p in passes.result.properties]
    text = summary_markdown(dataclasses.replace(passes.result, properties=props), deterministic=True)
    assert text.count("⚠️ vacuous") == len(props) and "**not reached**" in text
    assert "exit code 77" in text
