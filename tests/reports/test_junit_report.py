"""JUnit XML: one testcase per property, failures for violations and vacuity, skips for the unproved."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore
from blockcheck.reports.junit import junit_xml
from report_support import block_run

from examples.clock import Clock


def cases(result, model) -> dict[str, ET.Element]:
    root = ET.fromstring(junit_xml(result, model))
    suite = root.find("testsuite")
    found = {case.get("name"): case for case in suite.iter("testcase")}
    assert suite.get("tests") == str(len(found))
    return found


def test_one_testcase_per_property_and_failures_for_violations(skips):
    found = cases(skips.result, skips.model)
    assert list(found) == [p.name for p in skips.result.properties]
    for prop in skips.result.properties:
        failure = found[prop.name].find("failure")
        assert (failure is not None) == (prop.verdict is Verdict.VIOLATED)
        if failure is not None:
            assert prop.message in failure.get("message") and "Trace: " in failure.get("message")
            assert failure.text.startswith("1. initial state")


def test_deadlock_is_one_more_failing_testcase(hangs):
    found = cases(hangs.result, hangs.model)
    assert list(found) == [p.name for p in hangs.result.properties] + ["deadlock"]
    assert found["deadlock"].find("failure").get("type") == "deadlock"


def test_clean_run_has_no_failures(passes):
    root = ET.fromstring(junit_xml(passes.result, passes.model))
    assert root.find("testsuite").get("failures") == "0"
    assert not list(root.iter("failure")) and not list(root.iter("skipped"))


def test_vacuous_fails_and_incomplete_is_skipped():
    clock = Clock(alarm=25)
    result = explore(clock, clock.properties(), stop_at_first=False, quiet=True)
    for case in cases(result, clock).values():
        assert case.find("failure").get("type") == "vacuous"
    bounded = block_run("none", max_states=50)
    for case in cases(bounded.result, bounded.model).values():
        assert "incomplete" in case.find("skipped").get("message")


def test_unchecked_is_skipped():
    stopped = block_run("cancel-skips-complete", stop_at_first=True)
    found = cases(stopped.result, stopped.model)
    for prop in stopped.result.properties:
        if prop.verdict is Verdict.UNCHECKED:
            assert "unchecked" in found[prop.name].find("skipped").get("message")
        else:
            assert found[prop.name].find("failure") is not None
