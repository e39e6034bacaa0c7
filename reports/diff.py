"""What changed between two states, variable by variable, as TLC's -difftrace shows it.

Reports compare the ``state_to_json`` variables of consecutive states.  A
whole-variable diff is too coarse for a model whose variables are nested
records (one job's status changing would show the whole job list), so the
comparison descends into records and equal-length lists and reports the
innermost values that differ, each under a path such as ``jobs[0].status``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: A path into the variables: a variable name, then record keys and list indices.
Path = tuple[str | int, ...]


class _Absent:
    """Marks a record field that exists on one side of a change only."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Change:
    path: Path
    before: Any
    after: Any

    @property
    def where(self) -> str:
        """The path as text: ``jobs[0].status``, ``blocked.C``."""
        text = str(self.path[0])
        for part in self.path[1:]:
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
        return text

    @property
    def text(self) -> str:
        """One line: ``jobs[0].status: "running" → "finished"``."""
        return f"{self.where}: {show(self.before)} → {show(self.after)}"

    def touches(self, prefix: Path) -> bool:
        """True when this change is inside ``prefix`` or replaces a value that contains it."""
        n = min(len(prefix), len(self.path))
        return self.path[:n] == prefix[:n]


def show(value: Any) -> str:
    """A value as one line of JSON, or ``(absent)``."""
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=jsonable)


def jsonable(value: Any) -> Any:
    """Sets have no JSON form; write them sorted so the text is the same in every run."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Change, ...]:
    """The innermost differences between two variable maps, in a fixed order."""
    changes: list[Change] = []
    _walk((), dict(before), dict(after), changes)
    return tuple(changes)


def _walk(path: Path, before: Any, after: Any, out: list[Change]) -> None:
    if before == after and show(before) == show(after):  # 1 == True, but a report must show it
        return
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted({*before, *after}, key=str):
            _walk((*path, key), before.get(key, ABSENT), after.get(key, ABSENT), out)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after)):
            _walk((*path, index), old, new, out)
        return
    out.append(Change(path, before, after))
