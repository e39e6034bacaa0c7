"""Properties: what must hold, written as plain Python predicates.

Each property has a name, a one-line meaning and a kind:

- ``always(pred)``: an invariant, checked on every reachable state;
- ``transition(pred)``: checked on every edge ``(before, action, after)``;
- ``sometimes(pred)``: a reachability witness; never reached means the
  checks around it may be vacuous;
- ``leads_to(p, q)``: every behaviour that reaches a ``p`` state later
  reaches a ``q`` state, under the model's declared fairness;
- ``eventually(q)``: every behaviour from an initial state reaches ``q``.

Any property may carry a ``witness``: a predicate that must be true in some
reachable state for the property's pass to mean something (for example "a
stream into an intermediate node completed while another job ran").  A
property whose witness is never reached gets the verdict *vacuous*, not
*holds*.

>>> p = always("positive", "the counter never goes below zero", lambda s: s >= 0)
>>> p.name, p.kind.value
('positive', 'always')
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .api import ModelDefinitionError

StatePredicate = Callable[[Any], bool]
EdgePredicate = Callable[[Any, Any, Any], bool]


class Kind(enum.Enum):
    ALWAYS = "always"
    TRANSITION = "transition"
    SOMETIMES = "sometimes"
    LEADS_TO = "leads_to"

    @property
    def is_liveness(self) -> bool:
        return self is Kind.LEADS_TO


@dataclass(frozen=True)
class Property:
    """One named claim about a model.  Build it with the functions below."""

    name: str
    meaning: str
    kind: Kind
    pred: Callable[..., bool]
    #: For LEADS_TO: the trigger; None means "an initial state" (eventually).
    trigger: StatePredicate | None = None
    witness: StatePredicate | None = None
    #: Free-form grouping, e.g. the issue's property family this check belongs to.
    group: str = ""


_NAME = re.compile(r"^[a-z0-9][A-Za-z0-9_.:-]*$")


def _make(name: str, meaning: str, kind: Kind, pred: Callable[..., bool], **extra: Any) -> Property:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModelDefinitionError(
            f"property name {name!r} is not an identifier; start with a lower-case letter or digit "
            "and use letters, digits and - _ . : such as 'no-leaked-blockers' or 'jobs-end:E'"
        )
    if not isinstance(meaning, str) or not meaning.strip():
        raise ModelDefinitionError(f"property {name!r} has no meaning; give it a one-line sentence")
    for label, fn in (("predicate", pred), ("trigger", extra.get("trigger")), ("witness", extra.get("witness"))):
        if fn is not None and not callable(fn):
            raise ModelDefinitionError(
                f"the {label} of property {name!r} is a {type(fn).__name__}, not a function; "
                "pass a function such as lambda state: ..."
            )
    return Property(name=name, meaning=meaning, kind=kind, pred=pred, **extra)


def always(name: str, meaning: str, pred: StatePredicate, *, witness: StatePredicate | None = None, group: str = "") -> Property:
    """An invariant: ``pred(state)`` is true in every reachable state."""
    return _make(name, meaning, Kind.ALWAYS, pred, witness=witness, group=group)


def transition(name: str, meaning: str, pred: EdgePredicate, *, witness: StatePredicate | None = None, group: str = "") -> Property:
    """An action property: ``pred(before, action, after)`` on every edge."""
    return _make(name, meaning, Kind.TRANSITION, pred, witness=witness, group=group)


def sometimes(name: str, meaning: str, pred: StatePredicate, *, group: str = "") -> Property:
    """A reachability witness: ``pred`` holds in at least one reachable state."""
    return _make(name, meaning, Kind.SOMETIMES, pred, group=group)


def leads_to(name: str, meaning: str, p: StatePredicate, q: StatePredicate, *, witness: StatePredicate | None = None, group: str = "") -> Property:
    """Liveness: from every reachable ``p`` state, every fair behaviour reaches ``q``."""
    return _make(name, meaning, Kind.LEADS_TO, q, trigger=p, witness=witness, group=group)


def eventually(name: str, meaning: str, q: StatePredicate, *, witness: StatePredicate | None = None, group: str = "") -> Property:
    """Liveness: every fair behaviour from an initial state reaches ``q``."""
    return _make(name, meaning, Kind.LEADS_TO, q, trigger=None, witness=witness, group=group)


def check_unique(properties: Sequence[Property]) -> None:
    """Refuse two properties with one name: results are keyed by name."""
    seen: set[str] = set()
    for prop in properties:
        if not isinstance(prop, Property):
            raise ModelDefinitionError(
                f"{prop!r} is not a Property; build properties with always(), transition(), "
                "sometimes(), leads_to() or eventually()"
            )
        if prop.name in seen:
            raise ModelDefinitionError(f"two properties are named {prop.name!r}; give each a name of its own")
        seen.add(prop.name)


def select(properties: Iterable[Property], names: Sequence[str]) -> list[Property]:
    """The properties whose name or group is in ``names``, in their declared order.

    An unknown name is a usage error, reported with the names that exist.
    """
    props = list(properties)
    known = {p.name for p in props} | {p.group for p in props if p.group}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown property {unknown[0]!r}; known: {', '.join(sorted(known))}")
    wanted = set(names)
    return [p for p in props if p.name in wanted or p.group in wanted]


def expectable(properties: Iterable[Property], names: Iterable[str]) -> frozenset[str]:
    """The names of ``expect-violated``, each checked to be one property that can be violated.

    Only exact property names count.  A family name would also accept a
    *new* violation of a sibling (``cancel-runs-complete`` is both a property
    and the family of its per-node liveness checks), and a known finding
    must fail the run again when anything else breaks.  An unknown name, a
    family or a ``sometimes`` (never violated) raises KeyError with one
    sentence, as :func:`select` does.
    """
    props = {p.name: p for p in properties}
    for name in names:
        prop = props.get(name)
        if prop is not None and prop.kind is Kind.SOMETIMES:
            raise KeyError(f"{name!r} is a reachability witness (sometimes), which is never violated; it cannot be expected to be")
        if prop is not None:
            continue
        members = [p.name for p in props.values() if p.group == name]
        if members:
            raise KeyError(
                f"{name!r} is a property family, not a property; expect-violated takes property names, "
                f"such as {', '.join(members)}"
            )
        raise KeyError(f"unknown property {name!r} in expect-violated; known properties: {', '.join(sorted(props))}")
    return frozenset(names)
