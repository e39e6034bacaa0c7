"""How report files reach the disk: whole or not at all, marked complete, no leftovers.

A reader of a report directory (a person, a CI step that uploads
``junit.xml``) must never take a torn file, a partial set or an earlier
run's file for this run's.  So every file is written under a temporary
name in its own directory and renamed over its real name (a rename within
a directory is atomic); the manifest :data:`MANIFEST`, which lists the
files and the verdict, is written last and removed first, so a set without
it is incomplete; and before writing, the files an earlier run left (those
its manifest lists, and the names blockcheck writes) are removed -- never
any other file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

#: Written last, removed first: its presence marks a complete set.
MANIFEST = "blockcheck-reports.json"
_TMP_PREFIX = ".blockcheck-"
_TMP_SUFFIX = ".tmp"


def prepare_dir(out: Path) -> None:
    """Create ``out`` and prove it writable, raising OSError if not.

    Called before a search, so that a place no report can go (a file in
    the way, a read-only mount, a name too long) is refused at once rather
    than after minutes of search.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX):
        pass


def cannot_write(what: str, path: Path, exc: OSError, advice: str) -> str:
    """One sentence for a report, graph or conform folder the disk refused."""
    reason = "it exists and is not a directory" if isinstance(exc, FileExistsError) else (exc.strerror or str(exc)).lower()
    return f"cannot write {what} {path}: {reason}; {advice}"


def prepare_file(path: Path) -> None:
    """Raise OSError unless a file can be written at ``path`` (its folder exists and takes files)."""
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    with tempfile.TemporaryFile(dir=path.parent, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX):
        pass


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file in the same folder, then a rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _listed(out: Path) -> list[str]:
    """The plain file names an earlier manifest lists (nothing if it is missing or unreadable)."""
    try:
        files = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(files, list):
        return []
    # Only plain names of this folder: a manifest never makes us delete elsewhere.
    return [f for f in files if isinstance(f, str) and f and f == Path(f).name and f not in (".", "..")]


def remove_stale(out: Path, names: Iterable[str]) -> None:
    """Remove the manifest, then the files it listed, ``names`` and our temporary leftovers."""
    listed = _listed(out)
    with suppress(FileNotFoundError):
        (out / MANIFEST).unlink()
    leftovers = [p.name for p in out.glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}")]
    for name in {*listed, *names, *leftovers}:
        path = out / name
        if path.is_file() or path.is_symlink():
            with suppress(FileNotFoundError):
                path.unlink()


def write_manifest(out: Path, files: Iterable[str], exit_code: int, verdict: str) -> None:
    """Mark the set complete: the files written and the run's verdict."""
    manifest = {"complete": True, "exit_code": exit_code, "files": sorted(files), "tool": "blockcheck", "verdict": verdict}
    write_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
