"""File names for per-property reports.

Property names carry characters that are awkward or illegal in file names
on some systems (``jobs-end:E``); they become ``jobs-end_E``.  Two names
may then coincide, also on case-insensitive file systems, or coincide with
a per-run file (``summary.md``), so later ones get a numbered suffix
instead of overwriting a report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(name: str) -> str:
    """``jobs-end:E`` -> ``jobs-end_E``; never empty, never hidden, never ``..``."""
    return _UNSAFE.sub("_", name).strip(".") or "_"


def file_stems(names: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """A distinct stem for each name, in order; a clash gets ``-2``, ``-3``, ..."""
    stems: dict[str, str] = {}
    taken = {r.casefold() for r in reserved}
    for name in names:
        base = stem = file_stem(name)
        count = 1
        while stem.casefold() in taken:
            count += 1
            stem = f"{base}-{count}"
        taken.add(stem.casefold())
        stems[name] = stem
    return stems
