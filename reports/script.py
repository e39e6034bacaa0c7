"""A counterexample as a replayable JSON-lines script (one ``action_to_json`` per line).

The script is what a QEMU developer runs against a real QEMU (``blockcheck
replay``) to see whether QEMU does what the model did.  Comment lines
(``#``) name the property and model, and for a lasso say how the loop
closes: the loop step itself is not a line, so replaying the script ends in
the trace's last state, where the loop starts.
"""

from __future__ import annotations

import json

from blockcheck.checker.api import Model

from .trace_view import Violation, view_trace


def violation_to_script(model: Model, violation: Violation) -> str:
    """The script text, one JSON object per line, ending in a newline."""
    view = view_trace(model, violation.trace)
    lines = [
        f"# {violation.name} violated in model {model.name}: {_one_line(violation.meaning)}",
        f"# {_one_line(violation.message)}",
    ]
    lines += [_line(step.command) for step in view.steps[1:]]
    if view.loop is not None:
        lines.append(f"# {view.loop.sentence}")
        if view.loop.command is not None:
            lines.append(f"# loop step: {_line(view.loop.command)}")
    return "\n".join(lines) + "\n"


def _line(command: object) -> str:
    return json.dumps(command, ensure_ascii=False)


def _one_line(text: str) -> str:
    """Comments must stay on one line, or the rest would be read as a command."""
    return " ".join(text.split())
