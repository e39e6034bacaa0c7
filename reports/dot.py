"""A generic picture of a state in Graphviz DOT, drawn from its ``state_to_json`` variables.

Reports may not import a model, so the picture is guessed from the shape
of the variables.  A variable that maps names to names of the same kind
(``backing: {"B": "A", "C": "B"}``) is a graph: one box per name and an
arrow per link.  Variables keyed by those names (``data``, ``blocked``) are
shown inside the boxes, lists of those names (``in_chain``) as a mark in
the boxes of their members, and everything else in a table beside the
graph.  What differs from the previous state is highlighted, so the change
a step made is seen at once.  A model that draws better pictures itself
would provide the hook ``state_to_dot(state, previous)`` (see html.py).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from .diff import jsonable

CHANGED = "#ffd43b"
CHANGED_EDGE = "#e8590c"
HEADER = "#dee2e6"


def state_to_dot(variables: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> str:
    """DOT text for one state; ``previous`` (the state before the step) turns on highlighting."""
    before: Mapping[str, Any] = previous if previous is not None else variables
    links = {k: v for k, v in variables.items() if _is_link_map(v)}
    nodes = list(dict.fromkeys(n for links_of in links.values() for pair in links_of.items() for n in pair if n))
    names = set(nodes)
    per_node = {
        k: v for k, v in variables.items() if k not in links and names and isinstance(v, Mapping) and set(v) <= names
    }
    members = {
        k: v
        for k, v in variables.items()
        if k not in links
        and k not in per_node
        and names
        and isinstance(v, list)
        and all(isinstance(x, str) for x in v)
        and set(v) <= names
    }
    out = ["digraph state {", '  rankdir=RL; node [shape=plain, fontname="Helvetica", fontsize=11];']
    for node in nodes:
        rows = [_cell(f"<B>{_esc(node)}</B>", HEADER)]
        for var, values in per_node.items():
            if node in values:
                old = before.get(var, {})
                changed = not isinstance(old, Mapping) or old.get(node) != values[node]
                rows.append(_cell(_esc(f"{var}: {_show(values[node])}"), CHANGED if changed else None))
        for var, listed in members.items():
            was = before.get(var, [])
            if node in listed:
                changed = not isinstance(was, list) or node not in was
                rows.append(_cell(_esc(var), CHANGED if changed else None))
        out.append(f"  {_quote(node)} [label=<{_table(rows)}>];")
    for var, mapping in links.items():
        old = before.get(var, {})
        for source, target in mapping.items():
            if not target:
                continue
            changed = not isinstance(old, Mapping) or old.get(source) != target
            style = f', color="{CHANGED_EDGE}", penwidth=2.5' if changed else ""
            label = f", label={_quote(var)}" if len(links) > 1 else ""
            out.append(f"  {_quote(source)} -> {_quote(target)} [arrowsize=0.7{label}{style}];")
    rest = [k for k in variables if k not in links and k not in per_node and k not in members]
    if rest:
        rows = [
            _cell(
                f"<B>{_esc(k)}</B>: " + '<BR ALIGN="LEFT"/>'.join(_esc(line) for line in _lines(variables[k])),
                CHANGED if before.get(k) != variables[k] else None,
            )
            for k in rest
        ]
        out.append(f"  __variables__ [label=<{_table(rows)}>];")
    out.append("}")
    return "\n".join(out) + "\n"


def _is_link_map(value: Any) -> bool:
    """A map from names to names, at least one of which is itself a key."""
    if not isinstance(value, Mapping) or not value:
        return False
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return False
    return any(v in value for v in value.values())


def _lines(value: Any) -> list[str]:
    """A list of records is shown one element per line; anything else on one line."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [_show(v) for v in value]
    return [_show(value)]


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=jsonable)


def _cell(content: str, colour: str | None) -> str:
    fill = f' BGCOLOR="{colour}"' if colour else ""
    return f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"{fill}>{content}</TD></TR>'


def _table(rows: list[str]) -> str:
    return '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>"


def _esc(text: str) -> str:
    """Text for a DOT HTML-like label, where &, < and > are markup."""
    return html.escape(text, quote=False).replace('"', "&quot;")


def _quote(name: str) -> str:
    """A DOT ID for any name, quoted and escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
