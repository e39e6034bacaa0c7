"""A counterexample's script replays through the model's own command executor to the trace's end."""

from __future__ import annotations

from blockcheck.model.commands import Executor, parse_script
from blockcheck.reports.script import violation_to_script
from blockcheck.reports.trace_view import violations


def replay(run, violation):
    text = violation_to_script(run.model, violation)
    executor = Executor(run.model.rules)
    state = run.model.init_states()[0]
    states = [state]
    for _, line in parse_script(text):
        answer, state = executor.execute(state, line)
        assert answer.ok, f"{line} refused: {answer}"
        states.append(state)
    return text, states


def test_scripts_reach_each_trace_state(skips, hangs):
    for run in (skips, hangs):
        for violation in violations(run.result):
            _, states = replay(run, violation)
            assert states == [step.state for step in violation.trace.steps]


def test_script_starts_with_a_comment_naming_property_and_model(skips):
    violation = violations(skips.result)[0]
    text = violation_to_script(skips.model, violation)
    first = text.splitlines()[0]
    assert first.startswith("#") and violation.name in first and skips.model.name in first
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == len(violation.trace) - 1


def test_lasso_closes_in_a_comment(hangs, cycle):
    text = violation_to_script(hangs.model, violations(hangs.result)[0])
    assert text.splitlines()[-1].startswith("# The behaviour stutters")
    text = violation_to_script(cycle.model, violations(cycle.result)[-1])
    assert text.splitlines()[-1] == "# loop step: \"('tick',)\""


def test_multi_line_messages_stay_comments(skips):
    violation = violations(skips.result)[0]
    odd = type(violation)(violation.name, "two\nlines", violation.kind, 'a\n{"execute": 1}', violation.trace)
    text = violation_to_script(skips.model, odd)
    assert len(parse_script(text)) == len(violation.trace) - 1
