"""Pictures of a block-model state in Graphviz DOT, for the HTML report.

The chain is drawn left to right as in QEMU's docs (``[A] <- [B]``: B's
backing file is A), with the device on the active layer, blocked nodes
shaded, each job on its owner with a dashed edge to its base, and nodes
that left the chain set apart.  What changed since the previous state is
outlined in orange.
"""

from __future__ import annotations

from html import escape

from .seed import JOB_TYPE, SeedRules
from .state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    DATA,
    FAILED,
    J_BASE,
    J_CURSOR,
    J_FLAGS,
    J_KIND,
    J_OWNER,
    J_STATUS,
    JOBS,
    NONE,
    REMOVED,
    Status,
    chain_below,
    find_job,
)

CHANGED = "#e67e00"


def _node_facts(rules: SeedRules, state: tuple, node: int) -> tuple:
    """Everything the picture shows of one node, to tell what changed."""
    return (state[BACKING][node], state[DATA][node], state[BLOCKERS][node], find_job(state[JOBS], node))


def _job_text(rules: SeedRules, job: tuple) -> str:
    base = rules.names[job[J_BASE]] if job[J_BASE] != NONE else "none"
    status = Status(job[J_STATUS]).name.lower()
    flags = [name for bit, name in ((CANCELLED, "cancelled"), (FAILED, "failed")) if job[J_FLAGS] & bit]
    text = f"{JOB_TYPE[job[J_KIND]]} → base {base}: {status} {job[J_CURSOR]}/{rules.chunks}"
    return text + (f" ({', '.join(flags)})" if flags else "")


def state_to_dot(rules: SeedRules, state: tuple, previous: tuple | None) -> str:
    backing = state[BACKING]
    chain = [rules.root, *chain_below(backing, rules.root)][::-1]
    others = [n for n in range(len(backing)) if n not in chain and backing[n] != REMOVED]
    lines = [
        "digraph state {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.3];',
        '  node [shape=plaintext, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in [*chain, *others]:
        changed = previous is not None and _node_facts(rules, previous, node) != _node_facts(rules, state, node)
        lines.append(f"  n{node} [label=<{_node_label(rules, state, node, node in chain, changed)}>];")
    for upper, lower in zip(chain[1:], chain):
        lines.append(f'  n{lower} -> n{upper} [dir=back, label="backing"];')
    for node in others:
        if backing[node] >= 0:
            lines.append(f'  n{backing[node]} -> n{node} [dir=back, style=dotted, color=grey];')
    lines.append(f'  device [shape=box, style=rounded, label="{escape(rules.scenario.device)}"];')
    lines.append(f"  n{rules.root} -> device [dir=back, style=bold];")
    for job in state[JOBS]:
        if job[J_BASE] != NONE:
            lines.append(f'  n{job[J_OWNER]} -> n{job[J_BASE]} [style=dashed, color="#c0392b", constraint=false, label="base"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_label(rules: SeedRules, state: tuple, node: int, in_chain: bool, changed: bool) -> str:
    blocked_by = [rules.device_or_node(bit // 2) for bit in range(2 * len(rules.names)) if state[BLOCKERS][node] >> bit & 1]
    fill = "#f6d5d5" if blocked_by else ("#ffffff" if in_chain else "#eeeeee")
    border = f' color="{CHANGED}"' if changed else ""
    width = 3 if changed else 1
    rows = [f'<tr><td bgcolor="#dfe8f3"><b>{escape(rules.names[node])}</b>{"" if in_chain else " (left the chain)"}</td></tr>']
    data = " ".join(str(v) if v else "·" for v in state[DATA][node])
    rows.append(f"<tr><td>data {escape(data)}</td></tr>")
    if blocked_by:
        rows.append(f"<tr><td>blocked by {escape(', '.join(blocked_by))}</td></tr>")
    job = find_job(state[JOBS], node)
    if job is not None:
        rows.append(f'<tr><td bgcolor="#fde9c8">{escape(_job_text(rules, job))}</td></tr>')
    return f'<table border="{width}" cellborder="0" cellspacing="0" cellpadding="3" bgcolor="{fill}"{border}>{"".join(rows)}</table>'
