"""Counterexamples in the Informal Trace Format (Apalache ADR-015), for ITF tools and MBT.

ITF readers (the ITF trace viewer, Quint Connect, the ``itf`` Rust crate)
are strict: every state sets every variable, integers are written only as
``{"#bigint": "N"}``, and tuples, sets and maps have tagged forms.  The
action that led to each state goes in the variable ``mbt::actionTaken``
(its name, ``init`` for the first state, as ``quint run --mbt`` writes it),
and the full command with the system's answer in the state's ``#meta``.
Output is byte-identical for the same trace: keys sorted, sets ordered by
their encoded text, no timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from blockcheck.checker.api import Model
from blockcheck.checker.result import Trace

from .trace_view import Violation

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
ACTION_VAR = "mbt::actionTaken"


def encode(value: Any) -> Any:
    """A JSON-compatible Python value in ITF's expression syntax."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"#bigint": str(int(value))}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"#tup": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"#set": sorted((encode(v) for v in value), key=_canonical)}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("#") for k in value):
            return {k: encode(v) for k, v in value.items()}
        pairs = [[encode(k), encode(v)] for k, v in value.items()]
        return {"#map": sorted(pairs, key=lambda kv: _canonical(kv[0]))}
    return {"#unserializable": repr(value)}


def _canonical(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True, ensure_ascii=False)


def trace_to_itf(model: Model, trace: Trace, description: str) -> dict[str, Any]:
    """The ITF trace object for ``trace``; ``description`` goes in ``#meta``."""
    rows = [_variables(model, step.state) for step in trace.steps]
    names = sorted({name for row in rows for name in row})
    for name in names:
        if name.startswith("#") or name == ACTION_VAR:
            raise ValueError(f"state variable {name!r} clashes with ITF's reserved names; rename it in state_to_json")
    missing = [(i + 1, n) for i, row in enumerate(rows) for n in names if n not in row]
    if missing:
        raise ValueError(f"ITF needs every variable in every state; state {missing[0][0]} lacks {missing[0][1]!r}")
    states = []
    previous = None
    for index, (step, row) in enumerate(zip(trace.steps, rows)):
        meta: dict[str, Any] = {"index": index}
        if previous is not None:
            meta["action"] = model.action_to_json(step.action)
            meta["answer"] = model.answer(previous, step.action)
        name = "init" if previous is None else model.action_name(step.action)
        states.append({"#meta": meta, ACTION_VAR: name, **{k: encode(v) for k, v in row.items()}})
        previous = step.state
    itf: dict[str, Any] = {
        "#meta": _trace_meta(model, trace, description),
        "vars": [*names, ACTION_VAR],
        "states": states,
    }
    if trace.loop is not None:
        itf["loop"] = trace.loop
    return itf


def _variables(model: Model, state: Any) -> dict[str, Any]:
    variables = model.state_to_json(state)
    return variables if isinstance(variables, dict) else {"state": variables}


def _trace_meta(model: Model, trace: Trace, description: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "description": description,
        "source": model.name,
    }
    if trace.loop is not None:
        meta["stutter"] = trace.stutter
        if not trace.stutter:
            meta["loop-action"] = model.action_to_json(trace.loop_action)
    return meta


def violation_to_itf(model: Model, violation: Violation) -> dict[str, Any]:
    description = f"Counterexample to {violation.name} ({violation.meaning}): {violation.message}"
    return trace_to_itf(model, violation.trace, description)


def dumps(itf: Mapping[str, Any]) -> str:
    """The ITF object as text, the same bytes for the same object."""
    return json.dumps(itf, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
