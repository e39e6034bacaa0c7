"""ITF output follows ADR-015: every state sets every variable, ints are #bigint, loops index a state."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from blockcheck.reports import itf
from blockcheck.reports.trace_view import violations

BIGINT = re.compile(r"-?[0-9]+")
TAGS = {"#bigint", "#tup", "#set", "#map", "#unserializable"}


def check_expr(value: Any) -> None:
    """Raise AssertionError unless ``value`` is an ITF expression."""
    assert value is not None and not isinstance(value, float), value
    assert not (isinstance(value, int) and not isinstance(value, bool)), f"plain JSON number {value}"
    if isinstance(value, list):
        for item in value:
            check_expr(item)
    elif isinstance(value, dict):
        tags = [k for k in value if k.startswith("#")]
        if not tags:
            for item in value.values():
                check_expr(item)
            return
        assert len(value) == 1 and tags[0] in TAGS, value
        tag, body = tags[0], value[tags[0]]
        if tag == "#bigint":
            assert isinstance(body, str) and BIGINT.fullmatch(body), body
        elif tag == "#map":
            for pair in body:
                assert len(pair) == 2
                check_expr(pair[0])
                check_expr(pair[1])
        elif tag in ("#tup", "#set"):
            for item in body:
                check_expr(item)


def check_itf(doc: dict[str, Any]) -> None:
    assert set(doc) <= {"#meta", "params", "vars", "states", "loop"}
    meta = doc["#meta"]
    assert meta["format"] == "ITF" and meta["format-description"].startswith("https://")
    assert isinstance(meta["description"], str)
    names = doc["vars"]
    assert len(set(names)) == len(names) and all(isinstance(n, str) for n in names)
    assert doc["states"]
    for index, state in enumerate(doc["states"]):
        assert set(state) - {"#meta"} == set(names), f"state {index} does not set exactly the declared vars"
        assert state["#meta"]["index"] == index
        for name in names:
            check_expr(state[name])
    if "loop" in doc:
        assert type(doc["loop"]) is int and 0 <= doc["loop"] < len(doc["states"])


def test_every_counterexample_is_valid_itf(violating):
    found = violations(violating.result)
    assert found
    for violation in found:
        doc = json.loads(itf.dumps(itf.violation_to_itf(violating.model, violation)))
        check_itf(doc)
        assert len(doc["states"]) == len(violation.trace)
        assert doc.get("loop") == violation.trace.loop
        actions = [s[itf.ACTION_VAR] for s in doc["states"]]
        assert actions[0] == "init"
        assert actions[1:] == [violating.model.action_name(a) for a in violation.trace.actions]
        assert doc["states"][1]["#meta"]["action"] == violating.model.action_to_json(violation.trace.steps[1].action)


def test_lassos_say_how_they_close(hangs, cycle):
    stutter = itf.violation_to_itf(hangs.model, violations(hangs.result)[0])
    assert stutter["#meta"]["stutter"] is True and stutter["loop"] == len(stutter["states"]) - 1
    real = itf.violation_to_itf(cycle.model, violations(cycle.result)[-1])
    assert real["#meta"]["stutter"] is False and real["#meta"]["loop-action"] == "('tick',)"
    assert real["loop"] < len(real["states"]) - 1


def test_no_lasso_no_loop(skips):
    doc = itf.violation_to_itf(skips.model, violations(skips.result)[0])
    assert "loop" not in doc


def test_encode_tags_each_python_type():
    assert itf.encode(True) is True
    assert itf.encode(-3) == {"#bigint": "-3"}
    assert itf.encode((1, "a")) == {"#tup": [{"#bigint": "1"}, "a"]}
    assert itf.encode(frozenset({2, 1})) == {"#set": [{"#bigint": "1"}, {"#bigint": "2"}]}
    assert itf.encode({1: "x"}) == {"#map": [[{"#bigint": "1"}, "x"]]}
    assert itf.encode({"#a": 1}) == {"#map": [["#a", {"#bigint": "1"}]]}
    assert itf.encode({"a": [1]}) == {"a": [{"#bigint": "1"}]}
    assert itf.encode(None) == {"#unserializable": "None"}


def test_sets_are_written_in_one_order():
    one = itf.encode({"s": {3, 1, 2, 10}})
    two = itf.encode({"s": {10, 2, 1, 3}})
    assert json.dumps(one) == json.dumps(two)


def test_output_is_byte_identical(skips):
    violation = violations(skips.result)[0]
    first = itf.dumps(itf.violation_to_itf(skips.model, violation))
    second = itf.dumps(itf.violation_to_itf(skips.model, violation))
    assert first == second and first.endswith("\n")


def test_reserved_variable_names_are_refused(skips):
    class Hashy(type(skips.model)):
        def state_to_json(self, state):
            return {"#x": 1}

    model = Hashy(skips.model.scenario)
    with pytest.raises(ValueError, match="reserved"):
        itf.violation_to_itf(model, violations(skips.result)[0])
