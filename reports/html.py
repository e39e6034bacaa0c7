"""One self-contained HTML page per run: verdicts, statistics, and each counterexample drawn.

Verdicts are shown as the run judged them (``expected violation``,
``stale expectation``), and an expected violation's counterexample is drawn
like any other, marked as expected.

Every step of a counterexample shows the command, the answer and a picture
of the state after it, with what changed highlighted, since a reviewer
reads a trace by looking at what each step did.  Pictures are DOT rendered
to inline SVG by Graphviz (the ``graphviz`` package and the ``dot``
program); without them the page shows ``format_state`` text instead, so the
report never fails for want of a picture.  The page links no external file
and carries no timings, so the same result gives the same bytes.

The picture comes from the model when it has the proposed hook
``state_to_dot(state, previous) -> str | None``, otherwise from
:func:`.dot.state_to_dot` applied to ``state_to_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from blockcheck.checker.api import Model
from blockcheck.checker.result import Result
from markupsafe import Markup

from .dot import state_to_dot
from .naming import file_stems
from .stats import stats_line
from .trace_view import StepView, Violation, view_trace, violations

try:
    import graphviz
except ImportError:  # the report degrades to text pictures
    graphviz = None

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("blockcheck.reports", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def html_report(result: Result, model: Model, *, pictures: bool = True) -> str:
    """The HTML page; ``pictures=False`` shows states as text even when Graphviz is there."""
    renderer = _SvgRenderer() if pictures and graphviz is not None else None
    found = violations(result)
    anchors = {name: f"v-{stem}" for name, stem in file_stems(v.name for v in found).items()}
    return _ENV.get_template("report.html.j2").render(
        result=result,
        stats=stats_line(result, deterministic=True),
        exit_code=int(result.exit_code),
        exit_meaning=result.exit_code.meaning,
        anchors=anchors,
        violations=[_violation(model, v, anchors[v.name], renderer) for v in found],
    )


def _violation(model: Model, violation: Violation, anchor: str, renderer: _SvgRenderer | None) -> dict[str, Any]:
    view = view_trace(model, violation.trace)
    steps = []
    previous: StepView | None = None
    for step in view.steps:
        svg = renderer.render(_dot(model, step, previous)) if renderer is not None else None
        steps.append(
            {
                "view": step,
                "command": None if step.command is None else _json(step.command),
                "answer": None if step.answer is None else _json(step.answer),
                "refused": isinstance(step.answer, Mapping) and "error" in step.answer,
                "svg": None if svg is None else Markup(svg),
            }
        )
        previous = step
    loop = view.loop
    return {
        "violation": violation,
        "anchor": anchor,
        "steps": steps,
        "loop": loop,
        "loop_command": None if loop is None or loop.command is None else _json(loop.command),
        "loop_answer": None if loop is None or loop.answer is None else _json(loop.answer),
    }


def _dot(model: Model, step: StepView, previous: StepView | None) -> str | None:
    """The model's own picture if it draws one, else the generic picture of its variables."""
    hook = getattr(model, "state_to_dot", None)
    if hook is not None:
        dot = hook(step.state, None if previous is None else previous.state)
        if dot is not None:
            return dot
    if not isinstance(step.variables, Mapping):
        return None
    return state_to_dot(step.variables, None if previous is None else previous.variables)


class _SvgRenderer:
    """DOT to inline SVG, once per distinct picture, with ids made unique within the page."""

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}
        self._count = 0

    def render(self, dot: str | None) -> str | None:
        if dot is None:
            return None
        if dot not in self._cache:
            self._cache[dot] = _to_svg(dot)
        svg = self._cache[dot]
        if svg is None:
            return None
        self._count += 1
        return re.sub(r'\bid="', f'id="p{self._count}-', svg)


def _to_svg(dot: str) -> str | None:
    """The ``<svg>`` element Graphviz draws, without its XML prolog; None if ``dot`` is missing."""
    try:
        svg = graphviz.Source(dot).pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError):
        return None
    return svg[svg.index("<svg") :]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
