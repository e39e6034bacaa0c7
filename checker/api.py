"""The model API: what a model gives the engine.

A model is a transition system split the way stateright splits it: the
initial states, the actions enabled in a state (the guards, with their
parameters) and the state an action leads to (the effect).  Keeping guards
apart from effects lets the engine count per-action coverage, replay a trace
by action, and lets z3 encodings reuse the same guard.

States must be immutable and *hash-stable*: built only of ints, bools,
IntEnums, floats, and tuples or frozensets of those.  Python salts the hash
of ``str`` and ``bytes`` per process (and in 3.11 ``hash(None)`` is an
address), but not the hash of ints and tuples of ints, so for such states
the engine's 64-bit fingerprint (:mod:`.fingerprint`: Python's hash with -1
told apart from -2) is the same in every process and every run.  Ints
must have a magnitude below ``2**61 - 2``: Python hashes ints modulo
``2**61 - 1``, so larger ones would share fingerprints with smaller ones.
:func:`check_hash_stable` enforces both on the states the engine sees
first, so a wrong state type fails at once, not as a count that drifts
between runs or a state silently dropped.

Actions are any hashable values; by convention a tuple whose first item is
the action's name, such as ``("copy_chunk", 3)``.  Names are what coverage,
fairness and reports group by.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

State = Hashable
Action = Hashable


class ModelDefinitionError(Exception):
    """A model or property is defined wrongly; the message names the fix.

    The command maps it to exit code 150, as TLC does for a spec that does
    not parse.
    """


class Fairness(enum.Enum):
    """How an action class is assumed to be scheduled in infinite behaviours.

    WEAK: an action class that stays enabled is eventually taken (TLA+'s WF).
    STRONG: one that is enabled infinitely often is taken infinitely often (SF).
    """

    WEAK = "weak"
    STRONG = "strong"


class Model(ABC):
    """Base class of every model the engine can explore.

    Subclasses implement :meth:`init_states`, :meth:`actions` and
    :meth:`next_state`; everything else has a sensible default.
    """

    #: Short name used in reports and error messages.
    name: str = "model"

    #: Every action name the model can produce; coverage flags the ones
    #: that were never enabled in the explored state space.
    action_names: tuple[str, ...] = ()

    @abstractmethod
    def init_states(self) -> Sequence[State]:
        """The initial states, in a fixed order (it decides trace order)."""

    @abstractmethod
    def actions(self, state: State) -> Iterable[Action]:
        """The actions enabled in ``state`` (the guards), in a fixed order."""

    @abstractmethod
    def next_state(self, state: State, action: Action) -> State:
        """The state that ``action``, enabled in ``state``, leads to."""

    def successors(self, state: State) -> Iterable[tuple[Action, State]]:
        """Pairs (action, next state) for every enabled action.

        The engine calls only this; a model may override it with a faster
        equivalent, and the test suite checks that the two agree.  Returning
        a list is fastest: the engine would otherwise build one.
        """
        next_state = self.next_state
        for action in self.actions(state):
            yield action, next_state(state, action)

    def action_name(self, action: Action) -> str:
        """The name coverage and reports group ``action`` under."""
        if isinstance(action, tuple) and action and isinstance(action[0], str):
            return action[0]
        return str(action)

    def fairness(self, action: Action) -> tuple[Fairness, Hashable] | None:
        """The fairness class ``action`` belongs to, or None if it is unfair.

        The class key groups the actions one fairness assumption covers, for
        example every step of the job owned by node 3; the class is enabled
        in a state when any of its actions is, and taken on an edge whose
        action belongs to it.  As in TLA+ (``WF_vars(A)`` is about
        ``<<A>>_vars`` steps), a step that leaves the state unchanged is
        stuttering: it neither enables nor takes its class.
        """
        return None

    def is_terminal(self, state: State) -> bool:
        """True for a state the model expects to end in (not a deadlock)."""
        return False

    def format_state(self, state: State) -> str:
        """A one-line human description of ``state`` for reports."""
        return repr(state)

    def format_action(self, action: Action) -> str:
        """A one-line human description of ``action`` for reports."""
        return repr(action)

    def action_to_json(self, action: Action) -> Any:
        """The action as one JSON value, for ITF traces and replayable scripts.

        The block model returns the QMP command (or job step) as a script
        line that ``blockcheck replay`` accepts.
        """
        return self.format_action(action)

    def answer(self, state: State, action: Action) -> Any:
        """What the system under model answers to ``action`` in ``state``, as JSON.

        For the block model, QEMU's QMP reply (``{"return": ...}`` or
        ``{"error": {...}}``); None where a model has no notion of an answer.
        """
        return None

    def state_to_dot(self, state: State, previous: State | None) -> str | None:
        """A Graphviz DOT picture of ``state`` for the HTML report, or None for the generic one.

        ``previous`` is the state before the step (None for the first), so a
        model can mark what changed.
        """
        return None

    def state_group(self, state: State) -> str:
        """A short class of ``state`` that state-graph drawings colour by (e.g. its job statuses)."""
        return ""

    def state_to_json(self, state: State) -> Any:
        """The state as JSON-compatible variables for ITF traces.

        Returns a dict of variable name to value.  The default exposes the
        raw state as one variable.
        """
        return {"state": state}


_STABLE_ATOMS = (bool, int, float)

#: Ints of this magnitude or more are refused: Python hashes an int modulo
#: 2**61 - 1, and the fingerprint takes 2**61 - 2 to stand for -1.
INT_LIMIT = 2**61 - 2


def check_hash_stable(value: Any, where: str = "state") -> None:
    """Raise ModelDefinitionError unless ``value`` hashes the same in every process.

    Also unless every int in it has a magnitude below INT_LIMIT, where
    Python's hash, and so the fingerprint, tells ints apart.

    >>> check_hash_stable((1, (2, 3), frozenset({4})))
    >>> check_hash_stable((1, "a"))
    Traceback (most recent call last):
    ...
    blockcheck.checker.api.ModelDefinitionError: state contains a str ('a'), whose hash Python salts per process; encode it as an int (an index or an IntEnum) so fingerprints stay stable across runs
    """
    if isinstance(value, _STABLE_ATOMS):
        if isinstance(value, int) and not -INT_LIMIT < value < INT_LIMIT:
            raise ModelDefinitionError(
                f"{where} contains an int ({value}) of magnitude 2**61 - 2 or more; fingerprints tell ints apart only "
                "below that (Python hashes ints modulo 2**61 - 1); split it into a tuple of smaller ints"
            )
        return
    if isinstance(value, (tuple, frozenset)):
        for item in value:
            check_hash_stable(item, where)
        return
    kind = type(value).__name__
    if value is None:
        reason = "whose hash is its address in Python 3.11"
        fix = "use -1 or 0 for 'none'"
    elif isinstance(value, (str, bytes)):
        reason = "whose hash Python salts per process"
        fix = "encode it as an int (an index or an IntEnum)"
    else:
        reason = "whose hash is not known to be stable across processes"
        fix = "build states from ints, bools, IntEnums and tuples or frozensets of them"
    raise ModelDefinitionError(
        f"{where} contains a {kind} ({value!r}), {reason}; {fix} so fingerprints stay stable across runs"
    )
