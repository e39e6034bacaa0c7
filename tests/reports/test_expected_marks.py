"""Every report marks expected violations as known and stale expectations as failures."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

from blockcheck.reports import FORMATS, write_reports
from blockcheck.reports.html import html_report
from blockcheck.reports.jsonresult import result_to_json
from blockcheck.reports.junit import junit_xml
from blockcheck.reports.markdown import summary_markdown, violation_markdown
from blockcheck.reports.table import print_summary
from blockcheck.reports.trace_view import violations
from report_support import block_run
from rich.console import Console

EXPECTED = ("no-leaked-blockers", "cancel-runs-complete.live:B")
STALE = "expected violation of no-leaked-blockers did not occur: remove it from expect-violated"


def table(run) -> str:
    buffer = io.StringIO()
    print_summary(run.result, Console(file=buffer, width=160), deterministic=True)
    return buffer.getvalue()


def test_the_result_keeps_the_verdict_and_judges_the_run(known, stale):
    assert {p.name for p in known.result.properties if p.expected_violation} == set(EXPECTED)
    assert all(p.verdict.value == "violated" for p in known.result.properties if p.expected)
    assert int(known.result.exit_code) == 13  # cancel-runs-complete and its other liveness checks
    assert [p.name for p in stale.result.stale_expectations] == ["no-leaked-blockers"]
    assert int(stale.result.exit_code) == 13


def test_terminal_table(known, stale):
    text = table(known)
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in text.splitlines() if line.startswith("│")}
    assert rows["no-leaked-blockers"] == rows["cancel-runs-complete.live:B"] == "expected violation"
    assert rows["cancel-runs-complete"] == rows["cancel-runs-complete.live:A"] == "violated"
    assert "expected violations (known, they do not fail the run): no-leaked-blockers, cancel-runs-complete.live:B" in text
    text = table(stale)
    assert "│ no-leaked-blockers " in text and "stale expectation" in text
    assert f"\n{STALE}\nexit code 13: " in text


def test_json(known, stale):
    doc = result_to_json(known.result, known.model, deterministic=True)
    props = {p["name"]: p for p in doc["properties"]}
    assert props["no-leaked-blockers"]["verdict"] == "violated" and props["no-leaked-blockers"]["expected"] is True
    assert props["no-leaked-blockers"]["outcome"] == "expected violation"
    assert props["no-leaked-blockers"]["trace"] is not None
    assert props["cancel-runs-complete"]["outcome"] == "violated" and props["cancel-runs-complete"]["expected"] is False
    prop = next(p for p in result_to_json(stale.result, stale.model)["properties"] if p["name"] == "no-leaked-blockers")
    assert (prop["verdict"], prop["outcome"], prop["message"]) == ("holds", "stale expectation", STALE)


def test_junit_skips_expected_violations_and_fails_stale_expectations(known, stale):
    cases = {c.get("name"): c for c in ET.fromstring(junit_xml(known.result, known.model)).iter("testcase")}
    for name in EXPECTED:
        skipped = cases[name].find("skipped")
        assert cases[name].find("failure") is None
        assert skipped.get("message").startswith("expected violation: ") and "Trace: " in skipped.get("message")
        assert skipped.text.startswith("1. initial state")
    assert cases["cancel-runs-complete"].find("failure").get("type") == "violated"
    suite = ET.fromstring(junit_xml(stale.result, stale.model)).find("testsuite")
    failure = next(c for c in suite.iter("testcase") if c.get("name") == "no-leaked-blockers").find("failure")
    assert failure.get("type") == "stale-expectation" and failure.get("message") == STALE
    assert suite.get("failures") == "1" and suite.get("skipped") == "0"


def test_markdown_reports_and_summary(known, stale):
    violation = next(v for v in violations(known.result) if v.name == "no-leaked-blockers")
    text = violation_markdown(known.model, violation, known.result.model)
    assert text.startswith("# `no-leaked-blockers` is violated (expected violation)\n")
    assert "**Expected violation:** named in expect-violated" in text
    other = next(v for v in violations(known.result) if v.name == "cancel-runs-complete")
    assert "expected" not in violation_markdown(known.model, other, known.result.model)
    summary = summary_markdown(known.result, deterministic=True)
    assert summary.startswith("## blockcheck: `qemu-block/seed+cancel-skips-complete`: 3 violations, 2 expected violations\n")
    assert summary.count("🔶 expected violation") == 2
    assert "- `no-leaked-blockers` (expected): " in summary and "- `cancel-runs-complete`: " in summary
    summary = summary_markdown(stale.result, deterministic=True)
    assert summary.startswith("## blockcheck: `qemu-block/seed`: 1 stale expectation\n")
    assert "| `no-leaked-blockers` | ❌ stale expectation |" in summary
    assert f"**Stale expectations**\n\n- `no-leaked-blockers`: {STALE}\n" in summary


def test_html(known, stale):
    page = html_report(known.result, known.model, pictures=False)
    assert page.count('<td class="expected-violation">expected violation</td>') == 2
    assert "<h2>Counterexample: <code>no-leaked-blockers</code> (expected violation)</h2>" in page
    assert "<h2>Counterexample: <code>cancel-runs-complete</code></h2>" in page
    page = html_report(stale.result, stale.model, pictures=False)
    assert '<td class="stale-expectation">stale expectation</td>' in page


def test_expected_runs_write_identical_bytes(known, tmp_path):
    again = block_run("cancel-skips-complete", expected=EXPECTED)
    first = write_reports(known.result, known.model, tmp_path / "a", FORMATS, deterministic=True)
    second = write_reports(again.result, again.model, tmp_path / "b", FORMATS, deterministic=True)
    assert [p.name for p in first] == [p.name for p in second]
    assert "no-leaked-blockers.md" in {p.name for p in first}
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert json.loads((tmp_path / "a" / "result.json").read_text())["exit_code"] == 13
