"""write_reports: the files per violation and per run, safe names, identical bytes across runs."""

from __future__ import annotations

import json

import pytest
from blockcheck.reports import FORMATS, result_to_json, write_reports
from report_support import HAVE_GRAPHVIZ, block_run


def test_files_per_violation_use_safe_names(hangs, tmp_path):
    paths = write_reports(hangs.result, hangs.model, tmp_path)
    names = {p.name for p in paths}
    assert hangs.result.deadlock is not None  # a hung job with nothing left to do
    stems = [f"jobs-end_{n}" for n in "ABC"] + ["deadlock"]
    assert names == {stem + ext for stem in stems for ext in (".md", ".itf.json", ".qmp.jsonl")}
    assert all(p.parent == tmp_path for p in paths)


def test_every_format(skips, tmp_path):
    paths = write_reports(skips.result, skips.model, tmp_path / "out", FORMATS)
    names = {p.name for p in paths}
    assert {"summary.md", "junit.xml", "report.html", "result.json"} <= names
    assert "cancel-runs-complete.live_A.qmp.jsonl" in names
    assert "(cancel-runs-complete.live_A.md)" in (tmp_path / "out" / "summary.md").read_text()


def test_clean_run_writes_only_run_files(passes, tmp_path):
    paths = write_reports(passes.result, passes.model, tmp_path, FORMATS)
    assert sorted(p.name for p in paths) == ["junit.xml", "report.html", "result.json", "summary.md"]


def test_unknown_format_is_refused(skips, tmp_path):
    with pytest.raises(ValueError, match="known formats"):
        write_reports(skips.result, skips.model, tmp_path, ["pdf"])


def test_two_searches_write_identical_bytes(skips, tmp_path):
    again = block_run("cancel-skips-complete")
    first = write_reports(skips.result, skips.model, tmp_path / "a", FORMATS, deterministic=True)
    second = write_reports(again.result, again.model, tmp_path / "b", FORMATS, deterministic=True)
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    html = (tmp_path / "a" / "report.html").read_text()
    assert ("<svg" in html) == HAVE_GRAPHVIZ
    for path in first:
        text = path.read_text()
        assert str(tmp_path) not in text and " s (" not in text and '"seconds"' not in text


def test_result_json(skips):
    doc = json.loads(json.dumps(result_to_json(skips.result, skips.model)))
    assert doc["exit_code"] == 12 and doc["stop"] == "exhausted"
    assert "seconds" in doc["stats"]
    prop = next(p for p in doc["properties"] if p["name"] == "cancel-runs-complete.live:A")
    assert prop["verdict"] == "violated" and prop["trace"]["loop"] == {
        "back_to": 4,
        "stutter": True,
        "action": None,
        "answer": None,
    }
    first, second = prop["trace"]["steps"][:2]
    assert first["action"] is None and first["state"]["in_chain"] == ["A", "B", "C"]
    assert second["action"]["execute"] == "block-stream" and second["answer"] == {"return": {}}
    assert "seconds" not in result_to_json(skips.result, skips.model, deterministic=True)["stats"]
