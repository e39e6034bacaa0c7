"""Rebuilding traces by re-executing the model.

The search keeps, per state, only its fingerprint and its parent's id: no
state, no action.  A trace is rebuilt by walking the parent ids back to an
initial state, then going forward again: at each step the model's
successors are computed and the first one (in the model's action order)
whose fingerprint is the next one on the chain is taken.  That costs a few
successor computations per step instead of a stored state per state.
"""

from __future__ import annotations

from collections.abc import Sequence

from .api import Action, Model, ModelDefinitionError, State
from .fingerprint import fingerprint
from .result import Step


def chain(parents: Sequence[int], ident: int) -> list[int]:
    """The ids from an initial state to ``ident``, following parent links.

    >>> chain([-1, 0, 0, 2], 3)
    [0, 2, 3]
    """
    ids = [ident]
    while parents[ids[-1]] >= 0:
        ids.append(parents[ids[-1]])
    ids.reverse()
    return ids


def shortest_trace(model: Model, fingerprints: Sequence[int], parents: Sequence[int], ident: int) -> list[Step]:
    """The steps from an initial state to state ``ident`` along parent links.

    Parent links are BFS tree edges, so the trace is a shortest one.
    """
    ids = chain(parents, ident)
    first = fingerprints[ids[0]]
    state = next((s for s in model.init_states() if fingerprint(s) == first), None)
    if state is None:
        raise _not_deterministic(model, "no initial state has the fingerprint the search recorded")
    steps = [Step(None, state)]
    for target in ids[1:]:
        fp = fingerprints[target]
        found = next(((a, t) for a, t in model.successors(state) if fingerprint(t) == fp), None)
        if found is None:
            raise _not_deterministic(model, f"no successor of {model.format_state(state)} matches the one the search found")
        action, state = found
        steps.append(Step(action, state))
    return steps


def step_by_position(model: Model, state: State, position: int) -> Step:
    """The ``position``-th successor of ``state`` (0-based, model order) as a Step."""
    for i, (action, after) in enumerate(model.successors(state)):
        if i == position:
            return Step(action, after)
    raise _not_deterministic(model, f"{model.format_state(state)} has fewer successors than during the search")


def replay_actions(model: Model, init_state: State, actions: Sequence[Action]) -> list[State]:
    """The states that ``actions`` lead through from ``init_state``, it included.

    Raises ValueError naming the step (1-based) whose action is not enabled.
    An action is matched by equality with the actions the model enables.
    """
    states = [init_state]
    for number, action in enumerate(actions, start=1):
        state = states[-1]
        after = next((t for a, t in model.successors(state) if a == action), _MISSING)
        if after is _MISSING:
            raise ValueError(
                f"step {number}: {model.format_action(action)} is not enabled in {model.format_state(state)}"
            )
        states.append(after)
    return states


_MISSING = object()


def _not_deterministic(model: Model, detail: str) -> ModelDefinitionError:
    return ModelDefinitionError(
        f"{model.name}: replaying a trace failed ({detail}); the model must give the same "
        "initial states and successors every time it is asked"
    )
