"""The explored state graph as DOT: states coloured by group, edges labelled by action.

For small scenarios only: a drawing of a few hundred states is already
hard to read, so the command refuses larger graphs before it draws.
A counterexample path, when given, is drawn in red.
"""

from __future__ import annotations

from collections.abc import Sequence

from blockcheck.checker.api import Model
from blockcheck.checker.graph import StateGraph

from .dot import _esc

#: Fill colours given to state groups in order of first appearance (BFS order).
PALETTE = ("#e8f1fb", "#fde9c8", "#d9f2d9", "#f6d5d5", "#e6dcf5", "#fff7b3", "#d5f0f0", "#eeeeee")


def _quote(text: str) -> str:
    """A DOT quoted string; newlines become DOT's centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_to_dot(graph: StateGraph, model: Model, path: Sequence[int] = ()) -> str:
    """DOT text for ``graph``; ``path`` is a list of state ids to draw in red (a counterexample)."""
    colours: dict[str, str] = {}
    on_path = set(path)
    path_edges = set(zip(path, path[1:]))
    lines = [
        "digraph states {",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    for ident, state in enumerate(graph.states):
        group = model.state_group(state)
        colour = colours.setdefault(group, PALETTE[len(colours) % len(PALETTE)])
        title = f"{ident + 1}: {group}" if group else str(ident + 1)
        label = _quote(f"{title}\n{model.format_state(state)}")
        extra = ', color="red", penwidth=2' if ident in on_path else ""
        lines.append(f'  s{ident} [label={label}, fillcolor="{colour}"{extra}];')
    for source, target, action in graph.edges():
        extra = ', color="red", fontcolor="red", penwidth=2' if (source, target) in path_edges else ""
        lines.append(f"  s{source} -> s{target} [label={_quote(model.format_action(action))}{extra}];")
    cells = "".join(f'<td bgcolor="{c}">{_esc(group or "state")}</td>' for group, c in colours.items())
    lines.append(f'  legend [shape=plaintext, style="", label=<<table border="0" cellspacing="2"><tr>{cells}</tr></table>>];')
    lines.append("}")
    return "\n".join(lines) + "\n"
