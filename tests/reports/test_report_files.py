"""Report files reach the disk whole, marked complete by a manifest, without an earlier run's files."""

from __future__ import annotations

import errno
import json

import pytest
from blockcheck.reports import FORMATS, MANIFEST, files, write_reports


def _names(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_the_manifest_lists_the_files_and_the_verdict(skips, tmp_path):
    paths = write_reports(skips.result, skips.model, tmp_path, FORMATS)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["complete"] is True
    assert manifest["files"] == sorted(p.name for p in paths)
    assert manifest["exit_code"] == int(skips.result.exit_code) != 0
    assert _names(tmp_path) == {*manifest["files"], MANIFEST}  # no temporary file left


def test_a_full_disk_leaves_no_torn_file_and_no_manifest(skips, tmp_path, monkeypatch):
    real_fsync = files.os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        write_reports(skips.result, skips.model, tmp_path, ("itf",))
    left = _names(tmp_path)
    assert MANIFEST not in left and not any(name.endswith(".tmp") for name in left)
    assert len(left) == 1  # the first file, whole; the second never appeared under its name
    json.loads((tmp_path / left.pop()).read_text())


def test_a_passing_run_removes_the_failing_run_s_files_and_no_other(skips, passes, tmp_path):
    write_reports(skips.result, skips.model, tmp_path, FORMATS)
    assert "<failure" in (tmp_path / "junit.xml").read_text()
    (tmp_path / "notes.md").write_text("mine\n")
    (tmp_path / "other.itf.json").write_text("{}\n")
    paths = write_reports(passes.result, passes.model, tmp_path, ("junit",))
    assert _names(tmp_path) == {"junit.xml", MANIFEST, "notes.md", "other.itf.json"}
    assert "<failure" not in (tmp_path / "junit.xml").read_text()
    assert [p.name for p in paths] == ["junit.xml"]


def test_files_named_in_an_old_manifest_go_but_never_outside_the_folder(passes, tmp_path):
    outside = tmp_path / "keep.txt"
    outside.write_text("keep\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "renamed-report.md").write_text("old\n")
    (out / ".blockcheck-x.tmp").write_text("half a file")
    (out / MANIFEST).write_text(json.dumps({"files": ["renamed-report.md", "../keep.txt", str(outside)]}))
    write_reports(passes.result, passes.model, out, ("json",))
    assert _names(out) == {"result.json", MANIFEST}
    assert outside.read_text() == "keep\n"


def test_an_unreadable_old_manifest_is_replaced(passes, tmp_path):
    (tmp_path / MANIFEST).write_text("{torn")
    write_reports(passes.result, passes.model, tmp_path, ("json",))
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["result.json"]
