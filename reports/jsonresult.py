"""The whole result as one JSON document: ``--json`` on stdout and ``result.json``.

Scripts and dashboards read this instead of scraping the terminal table.
A property keeps the engine's ``verdict``; ``expected`` says it is named in
expect-violated and ``outcome`` what the run made of it (``expected
violation``, ``stale expectation``, else the verdict), so a reader that
filters on ``verdict == "violated"`` still finds every counterexample.
Traces are lists of ``{action, answer, state}`` through the model's report
hooks, so a reader needs no model code.  The search's seconds are the only
value that differs between two identical runs; ``deterministic=True``
leaves them out.
"""

from __future__ import annotations

import json
from typing import Any

from blockcheck.checker.api import Model
from blockcheck.checker.result import Result, Trace

from .diff import jsonable
from .trace_view import view_trace


def result_to_json(result: Result, model: Model, *, deterministic: bool = False) -> dict[str, Any]:
    """Verdicts, statistics, exit code and every trace, as JSON-compatible values."""
    stats = result.stats
    stats_json: dict[str, Any] = {
        "distinct": stats.distinct,
        "generated": stats.generated,
        "depth": stats.depth,
        "queue_left": stats.queue_left,
        "coverage": {name: {"distinct": d, "generated": g} for name, (d, g) in stats.coverage.items()},
        "never_enabled": list(stats.never_enabled),
        "collision_probability": stats.collision_probability,
    }
    if not deterministic:
        stats_json["seconds"] = stats.seconds
        stats_json["states_per_second"] = stats.states_per_second
    code = result.exit_code
    return {
        "model": result.model,
        "stop": result.stop.name.lower(),
        "stop_reason": result.stop.value,
        "complete": result.complete,
        "exit_code": int(code),
        "exit_meaning": code.meaning,
        "properties": [
            {
                "name": p.name,
                "meaning": p.meaning,
                "kind": p.kind,
                "verdict": p.verdict.value,
                "expected": p.expected,
                "outcome": p.outcome,
                "witness_reached": p.witness_reached,
                "message": p.message,
                "trace": None if p.trace is None else trace_to_json(model, p.trace),
            }
            for p in result.properties
        ],
        "deadlock": None if result.deadlock is None else trace_to_json(model, result.deadlock),
        "stats": stats_json,
    }


def trace_to_json(model: Model, trace: Trace) -> dict[str, Any]:
    """``{"steps": [{action, answer, state}, ...], "loop": ...}``; ``loop`` counts states from 1."""
    view = view_trace(model, trace)
    out: dict[str, Any] = {
        "steps": [{"action": s.command, "answer": s.answer, "state": s.variables} for s in view.steps],
        "loop": None,
    }
    if view.loop is not None:
        out["loop"] = {
            "back_to": view.loop.target,
            "stutter": view.loop.stutter,
            "action": view.loop.command,
            "answer": view.loop.answer,
        }
    return out


def dumps(document: Any) -> str:
    """JSON text with sorted keys and a final newline; sets become sorted lists."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, default=jsonable) + "\n"
