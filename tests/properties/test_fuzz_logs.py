"""Bad QMP logs never crash the trace validator and never pass when changed.

A valid log (tests/properties/test_trace_validation.py's) is mutated: a
value replaced by one of another JSON type, a member dropped or added, a
line dropped or repeated.  Derandomised, so CI sees the same cases every
run.  Each case ends in one of the validator's documented outcomes: a
verdict (0, 12, 13, 152) or, for a log that cannot be read, a
:class:`ScriptError` (the CLI's one sentence and 151); never another
exception.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.model.qmp_schema import ScriptError
from blockcheck.properties.trace_validation import validate_log
from tests.properties.test_trace_validation import GOOD

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                suppress_health_check=list(HealthCheck))
LINES = [json.loads(line) for line in GOOD.splitlines()]
VERDICTS = {ExitCode.OK, ExitCode.INVARIANT, ExitCode.LIVENESS, ExitCode.BOUND}
OTHER = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=4), st.just([]), st.just({}),
                  st.just("top"), st.just("job0"), st.just("#block1"))


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw) -> str:
    lines = list(LINES)
    index = draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["value", "drop-member", "add-member", "drop-line", "repeat-line"]))
    line = lines[index]
    if how == "value":
        path = draw(st.sampled_from(_paths(line)[1:]))
        lines[index] = _replace(line, path, draw(OTHER))
    elif how == "drop-member":
        path = draw(st.sampled_from(_paths(line)[1:]))
        lines[index] = _replace(line, path[:-1], {k: v for k, v in _get(line, path[:-1]).items() if k != path[-1]})
    elif how == "add-member":
        lines[index] = {**line, draw(st.sampled_from(["id", "foo", "return", "event"])): draw(OTHER)}
    elif how == "drop-line":
        del lines[index]
    else:
        lines.insert(index, line)
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def _get(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


@FUZZ
@given(mutated())
def test_a_mutated_log_gets_a_verdict_or_one_sentence(text):
    try:
        code = validate_log(text, echo=lambda line: None)
    except ScriptError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert code in VERDICTS
    if text == GOOD:
        assert code == ExitCode.OK


@pytest.mark.parametrize("line, change", [
    (3, ('"/images/base.qcow2"', '"top"')),  # a file named as a node: the node's name wins
    (9, ('"device": "top"', '"device": []')),  # a device that is no string: QEMU's type error
])
def test_found_by_the_fuzzing(line, change):
    lines = GOOD.splitlines()
    lines[line] = lines[line].replace(*change)
    assert change[1] in lines[line]
    assert validate_log("\n".join(lines) + "\n", echo=lambda text: None) in VERDICTS
