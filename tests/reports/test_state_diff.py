"""The diff names the innermost values that changed, as TLC's -difftrace would."""

from __future__ import annotations

from blockcheck.reports.diff import ABSENT, diff


def test_nested_records_and_equal_length_lists_are_entered():
    before = {"jobs": [{"status": "running", "done": 0}], "n": 1}
    after = {"jobs": [{"status": "finished", "done": 0}], "n": 1}
    (change,) = diff(before, after)
    assert change.where == "jobs[0].status"
    assert change.text == 'jobs[0].status: "running" → "finished"'


def test_added_keys_and_resized_lists():
    changes = diff({"blocked": {}, "jobs": []}, {"blocked": {"C": ["drive0"]}, "jobs": [1]})
    assert [c.where for c in changes] == ["blocked.C", "jobs"]
    assert changes[0].before is ABSENT and changes[0].text == 'blocked.C: (absent) → ["drive0"]'


def test_types_count_not_only_equality():
    assert [c.where for c in diff({"x": 1}, {"x": True})] == ["x"]
    assert diff({"x": 1}, {"x": 1}) == ()


def test_touches_covers_parents_and_children():
    (change,) = diff({"a": {"b": 1}}, {"a": {"b": 2}})
    assert change.touches(("a",)) and change.touches(("a", "b", 0)) and not change.touches(("c",))
