"""Breadth-first search over a model's states, checking properties as it goes.

What the search keeps per state is small on purpose: its 64-bit fingerprint
in a set and in a list (the list gives id -> fingerprint, ids being BFS
order), and its parent's id in an array.  States themselves live only in
the queue until they are expanded, unless a graph is kept.  Traces are
rebuilt afterwards by re-executing the model along parent links (see
:mod:`.traces`), so they are shortest and no action is stored.

The fingerprint (:func:`.fingerprint.fingerprint`) is Python's hash taken
over the state's items, with -1 counted as ``2**61 - 2`` and each nested
tuple or frozenset as its own fingerprint: CPython hashes -1 as it hashes
-2, inside tuples too, so with plain ``hash(state)`` two states that differ
only by those two values (the block model's NONE and REMOVED) would share
a fingerprint and the second would be dropped unseen.  It is the same in
every process for the state types the model API allows, which also keeps
ints below ``2**61 - 2`` in magnitude, so two distinct states share a
fingerprint only by chance: for n states with probability about
n(n-1)/2**65, 2.7e-8 for 10**6 states and 2.7e-4 for 10**8 (plus a like,
smaller term for the distinct nested parts, see the module).  Such a
collision would still drop a state unseen, and the search, keeping no
states, cannot tell; the bound is what its count rests on
(``Stats.collision_probability`` is TLC's estimate for one run).  The
fingerprint is computed once per successor, for the visited set and the
graph alike; with a memo of the states' parts it costs about three times
``hash(state)``.

The loop in :meth:`_Search._loop` is the program's hot spot, written for
CPython: names bound to locals, one comparison per state for everything
rare (progress, bounds, hash checks, BFS levels), coverage counted per
expanded state in C, and the checks that may change (a property violated,
a witness reached) kept in lists the loop rebinds.  Anything else belongs
outside it.
"""

from __future__ import annotations

import time
from array import array
from collections import _count_elements, deque  # type: ignore[attr-defined]
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from .api import Model, ModelDefinitionError, State, check_hash_stable
from .fingerprint import fingerprint, forget
from .graph import StateGraph, build_graph
from .progress import Progress, wanted
from .property import Kind, Property, check_unique, expectable
from .result import Result, StopReason
from .traces import replay_actions
from .verdicts import Finding, Findings, assemble

__all__ = ["explore", "replay_actions"]

#: States whose hash stability is checked, the first ones in BFS order.
HASH_CHECKS = 1000
#: New states between two looks at the clock (progress) and the bounds.
CHECK_EVERY = 4096

_state_of = itemgetter(1)


def explore(
    model: Model,
    properties: Iterable[Property],
    *,
    max_states: int | None = None,
    max_depth: int | None = None,
    check_deadlock: bool = True,
    stop_at_first: bool = True,
    expected: Iterable[str] = (),
    keep_graph: bool = False,
    progress: bool | None = None,
    quiet: bool = False,
) -> Result:
    """Explore every state of ``model`` reachable from its initial states.

    Invariants are checked on every state, transition properties on every
    edge, ``sometimes`` predicates and witnesses until they are reached,
    deadlocks (a state with no successor that ``model.is_terminal`` does not
    accept) when ``check_deadlock``; leads-to properties on the whole graph
    afterwards.  ``stop_at_first`` ends the search at the first violation;
    otherwise each property is reported with its own shortest
    counterexample and no longer checked once violated.

    ``expected`` names properties known to be violated (``expect-violated``):
    their violations are reported but do not fail the result, and never
    stop the search, since stopping there would leave every other property
    unchecked; if one holds on the whole state space the expectation is
    stale and the result fails (see PropertyResult.stale_expectation).

    ``max_states`` caps the distinct states, ``max_depth`` the steps from an
    initial state (initial states are at depth 0); hitting either makes the
    result incomplete, never a pass.  ``keep_graph`` (implied by a liveness
    property) keeps the graph as ``result.graph``.  ``progress`` forces the
    live status line on or off; by default it shows on a terminal unless
    ``quiet``.  Ctrl-C ends the search with the partial statistics.

    Raises ModelDefinitionError for a model or property that is defined
    wrongly (a predicate that raises, an unstable state hash, ...) and
    ValueError for a bad bound or an ``expected`` name that is not one of
    the properties' (or names a ``sometimes``, which is never violated).
    """
    props = list(properties)
    check_unique(props)
    try:
        expected_names = expectable(props, expected)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    if max_states is not None and max_states < 1:
        raise ValueError(f"max_states must be at least 1, not {max_states}")
    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be at least 0, not {max_depth}")
    started = time.perf_counter()
    liveness = [p for p in props if p.kind is Kind.LEADS_TO]
    search = _Search(
        model,
        props,
        max_states=max_states,
        max_depth=max_depth,
        check_deadlock=check_deadlock,
        stop_at_first=stop_at_first,
        expected=expected_names,
        keep_graph=keep_graph or bool(liveness),
        progress=Progress(wanted(progress, quiet)),
    )
    try:
        search.run()
        graph = search.graph() if search.keeps_graph and search.stop is not StopReason.INTERRUPTED else None
        return assemble(
            model,
            props,
            search.findings(),
            graph,
            stop=search.stop,
            stop_at_first=stop_at_first,
            expected=expected_names,
            started=started,
        )
    finally:
        forget()


class _Stop(BaseException):
    """Ends the search from inside the loop.

    A BaseException, like KeyboardInterrupt, so that the loop's handlers for
    errors raised by model code do not take it for one.
    """

    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason)
        self.reason = reason


class _Numbering(dict):
    """Action -> number, numbering each new action in order of first appearance."""

    def __missing__(self, key: Any) -> int:
        number = self[key] = len(self)
        return number


def _drain(queue: deque) -> Iterator[Any]:
    """The states of ``queue`` in FIFO order, including those added meanwhile."""
    popleft = queue.popleft
    while queue:
        yield popleft()


class _Search:
    """One BFS run: its visited set, parent links, queue and findings."""

    def __init__(
        self,
        model: Model,
        props: Sequence[Property],
        *,
        max_states: int | None,
        max_depth: int | None,
        check_deadlock: bool,
        stop_at_first: bool,
        expected: frozenset[str],
        keep_graph: bool,
        progress: Progress,
    ) -> None:
        self.model = model
        self.max_states = max_states
        self.max_depth = max_depth
        self.check_deadlock = check_deadlock
        self.stop_at_first = stop_at_first
        #: Properties whose violation is known: recorded, but never a reason to stop.
        self.expected = expected
        self.keeps_graph = keep_graph
        self.progress = progress

        self.invariants = [(p.pred, p) for p in props if p.kind is Kind.ALWAYS]
        self.transitions = [(p.pred, p) for p in props if p.kind is Kind.TRANSITION]
        #: Predicates to look out for until some state satisfies them.
        self.pending = [(p.pred, p, "sometimes") for p in props if p.kind is Kind.SOMETIMES]
        self.pending += [(p.witness, p, "witness") for p in props if p.witness is not None]

        self.seen: set[int] = set()
        self.fingerprints: list[int] = []
        self.parents = array("q")
        #: The FIFO queue; with a graph, the list of every state by id.
        self.queue: deque | list = [] if keep_graph else deque()
        self.offsets = array("q")
        self.target_fps = array("q")
        self.action_ids = array("i")
        self.numbering = _Numbering()

        #: action -> successors generated by it; action -> states it found first.
        self.generated: dict[Any, int] = {}
        self.found: dict[Any, int] = {}
        self.violations: dict[str, Finding] = {}
        self.reached: dict[tuple[str, str], int] = {}
        self.deadlock: int | None = None
        self.expanded = 0
        self.level_end = 0
        self.frozen = False
        self.beyond_depth = False
        self.stop = StopReason.EXHAUSTED

    # -- running ----------------------------------------------------------

    def run(self) -> None:
        try:
            self._discover_initial()
            self._loop()
            if self.beyond_depth:
                self.stop = StopReason.MAX_DEPTH
        except _Stop as stop:
            self.stop = stop.reason
        except KeyboardInterrupt:
            self.stop = StopReason.INTERRUPTED
        finally:
            self.progress.close()

    def _discover_initial(self) -> None:
        init = self.model.init_states()
        if not init:
            raise ModelDefinitionError(f"{self.model.name}: init_states() returned no state; a model needs at least one")
        for state in init:
            fp = self._fingerprint(state, "an initial state")
            if fp in self.seen:
                continue
            n = len(self.fingerprints)
            if n == self.max_states:
                raise _Stop(StopReason.MAX_STATES)
            self.seen.add(fp)
            self.fingerprints.append(fp)
            self.parents.append(-1)
            self.queue.append(state)
            self._check_state(state, n)

    def _check_state(self, state: State, n: int) -> None:
        """The per-state checks the loop inlines, for the initial states."""
        try:
            for pred, prop in self.invariants:
                if not pred(state):
                    self.invariants = self._violated(prop, Finding(state=n), self.invariants)
            for pred, prop, role in self.pending:
                if pred(state):
                    self.pending = self._reached(prop, role, n, self.pending)
        except Exception as exc:
            raise self._predicate_error(prop, state, exc) from exc

    def _loop(self) -> None:
        successors = self.model.successors
        fp = fingerprint
        seen = self.seen
        add_seen = seen.add
        add_fp = self.fingerprints.append
        add_parent = self.parents.append
        push = self.queue.append
        source = iter(self.queue) if isinstance(self.queue, list) else _drain(self.queue)
        record = self._record_edges if self.keeps_graph else None
        generated = self.generated
        found = self.found
        found_get = found.get
        count = _count_elements
        action_of = itemgetter(0)
        next_ft = None
        invariants = self.invariants
        pending = self.pending
        transitions = self.transitions
        n = len(self.fingerprints)
        checkpoint = self._next_checkpoint(n)
        p = -1
        depth = -1
        pop_event = 0
        s = None
        try:
            for s in source:
                p += 1
                if p == pop_event:
                    pop_event, depth, checkpoint = self._on_pop(s, p, n, depth, checkpoint)
                pairs = successors(s)
                if type(pairs) is not list:
                    pairs = list(pairs)
                if record is not None:
                    next_ft = iter(record(pairs)).__next__
                if not pairs:
                    self._dead_end(s, p)
                    continue
                count(generated, map(action_of, pairs))
                if transitions:
                    transitions = self._check_edges(s, p, pairs, transitions)
                for a, t in pairs:
                    if next_ft is not None:
                        ft = next_ft()  # computed for the graph already
                    elif type(t) is int and t != -1:
                        ft = hash(t)  # what fp(t) gives, without the call
                    else:
                        ft = fp(t)
                    if ft in seen:
                        continue
                    if n == checkpoint:
                        checkpoint = self._on_checkpoint(n, p, depth)
                        if checkpoint == n:
                            continue
                    add_seen(ft)
                    add_fp(ft)
                    add_parent(p)
                    push(t)
                    found[a] = found_get(a, 0) + 1
                    try:
                        for pred, prop in invariants:
                            if not pred(t):
                                invariants = self._violated(prop, Finding(state=n), invariants)
                        for pred, prop, role in pending:
                            if pred(t):
                                pending = self._reached(prop, role, n, pending)
                    except Exception as exc:
                        raise self._predicate_error(prop, t, exc) from exc
                    n += 1
        except ModelDefinitionError:
            raise
        except Exception as exc:
            raise self._model_error(s, exc) from exc
        except BaseException:
            # Stopped or interrupted: the state being expanded is not done.
            self.expanded = p
            raise
        self.expanded = p + 1

    # -- rare events, out of the loop -------------------------------------

    def _on_pop(self, state: State, p: int, n: int, depth: int, checkpoint: int) -> tuple[int, int, int]:
        """Hash checks on the first states, and BFS level changes.

        Returns the next pop at which to come back, the depth, and the
        checkpoint (moved to ``n`` when max_depth freezes the state set).
        """
        if p < HASH_CHECKS:
            try:
                check_hash_stable(state)
            except ModelDefinitionError as exc:
                raise ModelDefinitionError(f"{self.model.name}: {exc} (in {self.model.format_state(state)})") from None
        if p == self.level_end:
            depth += 1
            self.level_end = n
            if depth == self.max_depth:
                self.frozen = True
                checkpoint = n
        next_pop = p + 1 if p + 1 < HASH_CHECKS else self.level_end
        return min(next_pop, self.level_end), depth, checkpoint

    def _next_checkpoint(self, n: int) -> int:
        checkpoint = n + CHECK_EVERY
        return checkpoint if self.max_states is None else min(checkpoint, self.max_states)

    def _on_checkpoint(self, n: int, p: int, depth: int) -> int:
        """Bounds and progress, every CHECK_EVERY new states.

        Returns the next checkpoint, or ``n`` itself when the new state lies
        beyond max_depth and must not be added.
        """
        if self.frozen:
            self.beyond_depth = True
            return n
        if n == self.max_states:
            raise _Stop(StopReason.MAX_STATES)
        self.progress.update(n, depth, n - p - 1)
        return self._next_checkpoint(n)

    def _dead_end(self, state: State, p: int) -> None:
        if not self.check_deadlock or self.deadlock is not None or self.model.is_terminal(state):
            return
        self.deadlock = p
        if self.stop_at_first:
            raise _Stop(StopReason.VIOLATION)

    def _check_edges(self, state: State, p: int, pairs: list, checks: list) -> list:
        """Transition properties on every edge leaving ``state``; returns those still unviolated."""
        for position, (action, after) in enumerate(pairs):
            try:
                for pred, prop in checks:
                    if not pred(state, action, after):
                        checks = self._violated(prop, Finding(state=p, position=position), checks)
            except Exception as exc:
                where = f"{self.model.format_state(state)} --{self.model.format_action(action)}-->"
                raise self._predicate_error(prop, after, exc, where) from exc
        return checks

    def _violated(self, prop: Property, finding: Finding, checks: list) -> list:
        """Record a violation; stop (unless it was expected), or return ``checks`` without ``prop``."""
        self.violations[prop.name] = finding
        if self.stop_at_first and prop.name not in self.expected:
            raise _Stop(StopReason.VIOLATION)
        return [c for c in checks if c[1] is not prop]

    def _reached(self, prop: Property, role: str, n: int, pending: list) -> list:
        self.reached[prop.name, role] = n
        return [c for c in pending if c[1] is not prop or c[2] != role]

    def _record_edges(self, pairs: list) -> list[int]:
        """Append the out-edges of the state being expanded, for the graph.

        Returns the targets' fingerprints, which the loop then uses rather
        than computing them a second time.
        """
        fts = list(map(fingerprint, map(_state_of, pairs)))
        self.offsets.append(len(self.target_fps))
        self.target_fps.extend(fts)
        self.action_ids.extend(map(self.numbering.__getitem__, [a for a, _ in pairs]))
        return fts

    # -- errors -------------------------------------------------------------

    def _fingerprint(self, state: State, what: str) -> int:
        try:
            return fingerprint(state)
        except TypeError as exc:
            raise ModelDefinitionError(
                f"{self.model.name}: {what} is not hashable ({exc}); build states from ints, tuples and frozensets"
            ) from exc

    def _predicate_error(self, prop: Property, state: State, exc: Exception, where: str = "") -> ModelDefinitionError:
        return ModelDefinitionError(
            f"property {prop.name!r} raised {type(exc).__name__}: {exc} on {where + ' ' if where else ''}"
            f"state {self.model.format_state(state)}; a predicate must return a bool for every reachable state"
        )

    def _model_error(self, state: State, exc: Exception) -> ModelDefinitionError:
        return ModelDefinitionError(
            f"{self.model.name}: computing the successors of {self.model.format_state(state)} raised "
            f"{type(exc).__name__}: {exc}; successors must be (action, state) pairs of hashable states"
        )

    # -- results ------------------------------------------------------------

    def graph(self) -> StateGraph:
        return build_graph(
            self.queue, self.fingerprints, self.offsets, self.target_fps, self.action_ids, list(self.numbering)
        )

    def findings(self) -> Findings:
        """What the search found, for :func:`.verdicts.assemble`.

        After Ctrl-C the arrays may differ by the one state being added;
        the parent array, appended last, decides what counts.
        """
        distinct = len(self.parents)
        return Findings(
            fingerprints=self.fingerprints,
            parents=self.parents,
            violations=self.violations,
            reached=self.reached,
            deadlock=self.deadlock,
            generated=self.generated,
            found=self.found,
            distinct=distinct,
            expanded=min(self.expanded, distinct),
        )
