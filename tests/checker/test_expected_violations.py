"""Expected violations (expect-violated): known findings pass, stale ones fail, none stops the search.

The alarm clock with its alarm at 03:00 breaks ``quiet-nights`` in state 5
and ``hour-advances`` at midnight (state 25); at 07:00 ``quiet-nights``
holds, and at 25 (a typo) it is vacuous.
"""

from __future__ import annotations

import dataclasses

import pytest

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.property import expectable
from blockcheck.checker.result import StopReason, Verdict
from blockcheck.checker.search import explore
from examples.clock import Clock
from examples.two_phase import TwoPhase
from examples.worker import Worker


def night_alarm(**options):
    clock = Clock(alarm=3)
    return explore(clock, [clock.properties()[0], clock.hour_advances()], quiet=True, **options)


def test_an_expected_violation_is_reported_with_its_trace_and_passes():
    clock = Clock(alarm=3)
    result = explore(clock, [clock.properties()[0]], expected=["quiet-nights"], quiet=True)
    prop = result.by_name("quiet-nights")
    assert prop.verdict is Verdict.VIOLATED and prop.expected_violation
    assert prop.outcome == "expected violation"
    assert len(prop.trace) == 5 and prop.trace.steps[-1].state == (3, 1)
    assert result.exit_code == ExitCode.OK


def test_an_expected_violation_does_not_stop_the_search():
    assert night_alarm().by_name("hour-advances").verdict is Verdict.UNCHECKED
    result = night_alarm(expected=["quiet-nights"])
    found = result.by_name("hour-advances")
    assert found.verdict is Verdict.VIOLATED and not found.expected
    assert len(found.trace) == 25
    assert result.by_name("quiet-nights").expected_violation
    assert result.exit_code == ExitCode.LIVENESS  # hour-advances is a transition property


def test_every_property_is_checked_when_only_expected_ones_fail():
    result = night_alarm(expected=["quiet-nights", "hour-advances"])
    assert result.stop is StopReason.EXHAUSTED and result.stats.distinct == 25
    assert [p.outcome for p in result.properties] == ["expected violation", "expected violation"]
    assert result.exit_code == ExitCode.OK


def test_an_unexpected_violation_still_stops_the_search_first():
    result = night_alarm(expected=["hour-advances"])
    assert result.stop is StopReason.VIOLATION
    assert result.by_name("quiet-nights").verdict is Verdict.VIOLATED
    assert result.by_name("hour-advances").verdict is Verdict.UNCHECKED
    assert result.exit_code == ExitCode.INVARIANT


def test_an_expected_liveness_violation_does_not_end_the_liveness_checks():
    model = Worker()
    assert explore(model, model.properties(), quiet=True).by_name("tick-leads-to-done").verdict is Verdict.UNCHECKED
    result = explore(model, model.properties(), expected=["finishes"], quiet=True)
    assert result.by_name("finishes").expected_violation
    assert result.by_name("tick-leads-to-done").verdict is Verdict.VIOLATED
    assert result.exit_code == ExitCode.LIVENESS


@pytest.mark.parametrize(("alarm", "verdict"), [(7, Verdict.HOLDS), (25, Verdict.VACUOUS)])
def test_an_expectation_that_did_not_occur_is_stale_and_fails(alarm, verdict):
    clock = Clock(alarm=alarm)
    result = explore(clock, [clock.properties()[0]], expected=["quiet-nights"], quiet=True)
    prop = result.by_name("quiet-nights")
    assert prop.verdict is verdict and prop.stale_expectation and prop.outcome == "stale expectation"
    assert prop.message.startswith(
        "expected violation of quiet-nights did not occur: remove it from expect-violated"
    )
    assert result.stale_expectations == [prop]
    assert result.exit_code == ExitCode.LIVENESS


def test_a_bound_leaves_an_expectation_unjudged():
    clock = Clock(alarm=7)
    result = explore(clock, [clock.properties()[0]], expected=["quiet-nights"], max_states=3, quiet=True)
    prop = result.by_name("quiet-nights")
    assert prop.verdict is Verdict.INCOMPLETE and prop.expected and not prop.stale_expectation
    assert "the expectation is not judged" in prop.message
    assert result.exit_code == ExitCode.BOUND
    # A violation found before the bound is still a fact, but the run is not a pass.
    found = night_alarm(expected=["quiet-nights"], max_states=10)
    assert found.by_name("quiet-nights").expected_violation
    assert found.exit_code == ExitCode.BOUND


@pytest.mark.parametrize(
    ("names", "needle"),
    [
        (["nope"], "unknown property 'nope' in expect-violated; known properties: all-committed, tc-consistent, type-ok"),
        (["all-committed"], "'all-committed' is a reachability witness (sometimes), which is never violated"),
    ],
)
def test_names_that_cannot_be_expected_are_refused(names, needle):
    model = TwoPhase(2)
    with pytest.raises(KeyError) as caught:
        expectable(model.properties(), names)
    assert caught.value.args[0].startswith(needle)
    with pytest.raises(ValueError):
        explore(model, model.properties(), expected=names, quiet=True)


def test_a_family_name_is_refused_with_its_members():
    clock = Clock()
    props = [clock.properties()[0], clock.hour_advances()]
    grouped = [dataclasses.replace(p, group="clock") for p in props]
    with pytest.raises(KeyError) as caught:
        expectable(grouped, ["clock"])
    assert caught.value.args[0] == (
        "'clock' is a property family, not a property; expect-violated takes property names, "
        "such as quiet-nights, hour-advances"
    )
    assert expectable(grouped, ["quiet-nights"]) == {"quiet-nights"}
