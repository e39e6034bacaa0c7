"""Generic z3 drivers: validity checks, induction, bounded model checking, result rows.

Nothing here knows the block layer.  A model hands in z3 terms (states are
whatever the caller makes of them); the drivers decide what to ask the
solver and turn its answers into :class:`Row` objects, which
:func:`render_rows` prints as one table.

Wording matters in the rows: a BMC run that finds nothing says "no
violation up to k", never "proved", because it says nothing of step k + 1;
a failed induction is a "counterexample to induction", never "violated",
because its state need not be reachable.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

import z3


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Let Ctrl-C and SIGTERM stop a z3 call at once, not when it returns.

    Python runs signal handlers between bytecodes, so while z3 works in C
    for minutes a SIGTERM waits for it; and z3's own SIGINT handler takes
    Ctrl-C for itself, answers ``unknown`` and the run goes on.  So z3 is
    told to leave SIGINT alone (from here on), and inside this block either
    signal wakes a watcher thread
    (through Python's wakeup fd) that interrupts z3; the call returns, and
    the program's handler raises as usual.  Should that exception be lost,
    the block still ends in KeyboardInterrupt, never in a table of
    interrupted (unknown) answers.
    """
    z3.set_param("ctrl_c", False)
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:  # not the main thread: signals wait for z3 as before
        os.close(read)
        os.close(write)
        yield
        return

    came, done = threading.Event(), threading.Event()

    def watch() -> None:
        if os.read(read, 64):
            # Every z3 call from now on is cut short too: the handler's KeyboardInterrupt
            # can be lost (raised inside a z3 object's __del__, Python only prints it).
            came.set()
            while not done.wait(0.02):
                z3.main_ctx().interrupt()

    watcher = threading.Thread(target=watch, name="z3-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    except ctypes.ArgumentError as exc:
        # the handler's KeyboardInterrupt came while ctypes converted an argument
        # of a z3 call, which wraps it: "argument 2: KeyboardInterrupt"
        if "KeyboardInterrupt" not in str(exc):
            raise
        raise KeyboardInterrupt from exc
    finally:
        done.set()
        signal.set_wakeup_fd(previous)
        os.close(write)  # a watcher still waiting reads end-of-file and ends
        watcher.join(timeout=5)
        os.close(read)
    if came.is_set():
        raise KeyboardInterrupt  # the signal's own exception was lost; its answers are "unknown", not results


class Status(enum.Enum):
    PROVED = "proved"
    VIOLATED = "violated"
    #: An induction (or a one-step claim assuming the invariant) has a counterexample:
    #: a state that satisfies the invariant, not necessarily a reachable one.
    CTI = "counterexample to induction"
    BOUNDED = "no violation up to k"
    UNKNOWN = "unknown"


@dataclass
class Outcome:
    """The solver's answer to one query: a status, the model of a counterexample, the time taken."""

    status: Status
    model: z3.ModelRef | None = None
    seconds: float = 0.0
    reason: str = ""
    #: Which part of a composite query this is (an action's name, say), for the report.
    where: str = ""


#: The solver's work budget per query, in z3 resource units ("rlimit").  A
#: budget, unlike a wall-clock timeout, gives the same answer on a loaded CI
#: machine as on an idle laptop: a query either finishes within it or is
#: "unknown", every time (for a given history of the process: z3 orders
#: arguments by term id, so what was built before still matters).
DEFAULT_BUDGET = 250_000_000


def check_valid(
    premises: Sequence[z3.BoolRef], goal: z3.BoolRef, budget: int = DEFAULT_BUDGET, prefer: Sequence[z3.BoolRef] = ()
) -> Outcome:
    """Is ``And(premises) => goal`` valid?  Violated comes with a model of premises and not goal.

    When it is violated and some counterexample also satisfies ``prefer``
    (small numbers, say), that one is returned: it reads better.  With
    quantifiers, a counterexample within ``prefer`` is also found much
    sooner, so ``prefer`` is tried first (in a pushed scope of the same
    solver); its model is a model of the unrestricted query too, so nothing
    is lost.  The solver has a fixed seed and a work budget, so its answers
    repeat.
    """
    solver = z3.Solver()
    solver.set("rlimit", budget)
    solver.set("random_seed", 0)
    solver.add(*premises)
    solver.add(z3.Not(goal))
    started = time.perf_counter()
    if prefer:
        solver.push()
        solver.add(*prefer)
        if solver.check() == z3.sat:
            return Outcome(Status.VIOLATED, solver.model(), time.perf_counter() - started)
        solver.pop()
    answer = solver.check()
    seconds = time.perf_counter() - started
    if answer == z3.unsat:
        return Outcome(Status.PROVED, seconds=seconds)
    if answer == z3.sat:
        return Outcome(Status.VIOLATED, solver.model(), seconds)
    return Outcome(Status.UNKNOWN, seconds=seconds, reason=solver.reason_unknown())


@dataclass
class Induction:
    """The three obligations of an inductive invariant, each with its own outcome."""

    initiation: Outcome
    consecution: Outcome
    safety: Outcome

    @property
    def status(self) -> Status:
        """PROVED only if all three are; a failed obligation with a model is a counterexample to
        induction (CTI), not a violation: its state satisfies the invariant but need not be reachable."""
        statuses = [self.initiation.status, self.consecution.status, self.safety.status]
        if Status.VIOLATED in statuses:
            return Status.CTI
        return Status.UNKNOWN if Status.UNKNOWN in statuses else Status.PROVED

    @property
    def failed(self) -> tuple[str, Outcome] | None:
        """The obligation that did not hold, by name: a violated one (it has a
        counterexample to show) before one that ended unknown, and the claim's
        own obligation (safety) before the invariant's, being the more specific."""
        for wanted in (Status.VIOLATED, Status.UNKNOWN):
            for name in ("safety", "initiation", "consecution"):
                outcome = getattr(self, name)
                if outcome.status is wanted:
                    return name, outcome
        return None


def all_proved(queries: Iterable[Callable[[], Outcome]]) -> Outcome:
    """Run the queries in order until one is not proved: that one (with the time spent so far), else PROVED."""
    total = 0.0
    for query in queries:
        outcome = query()
        total += outcome.seconds
        if outcome.status is not Status.PROVED:
            return replace(outcome, seconds=total)
    return Outcome(Status.PROVED, seconds=total)


@dataclass
class BmcHit:
    """The shortest violation BMC found: its number of steps and the model over all steps."""

    steps: int
    model: z3.ModelRef


@dataclass
class Bmc:
    """k-step bounded model checking of state and edge properties, shortest counterexample first.

    ``fresh(k)`` makes the variables of state k, ``init(s)`` constrains the
    first, ``trans(pre, act, post)`` relates neighbours (``act`` is an Int
    naming the action).  Properties are checked at every depth until
    violated, one solver query each, in one incremental solver.
    """

    fresh: Callable[[int], Any]
    init: Callable[[Any], z3.BoolRef]
    trans: Callable[[Any, z3.ArithRef, Any], z3.BoolRef]
    states: list[Any] = field(default_factory=list)
    acts: list[z3.ArithRef] = field(default_factory=list)

    def run(
        self,
        invariants: dict[str, Callable[[Any], z3.BoolRef]],
        edges: dict[str, Callable[[Any, z3.ArithRef, Any], z3.BoolRef]],
        depth: int,
    ) -> dict[str, BmcHit | None]:
        """For each property, its shortest violation within ``depth`` steps, or None."""
        solver = z3.Solver()
        self.states = [self.fresh(0)]
        self.acts = []
        solver.add(self.init(self.states[0]))
        found: dict[str, BmcHit | None] = {name: None for name in [*invariants, *edges]}
        for k in range(depth + 1):
            if k > 0:
                self.states.append(self.fresh(k))
                self.acts.append(z3.Int(f"act@{k}"))
                solver.add(self.trans(self.states[k - 1], self.acts[-1], self.states[k]))
            state = self.states[k]
            open_queries = [(name, pred(state)) for name, pred in invariants.items() if found[name] is None]
            if k > 0:
                before, act = self.states[k - 1], self.acts[-1]
                open_queries += [(name, pred(before, act, state)) for name, pred in edges.items() if found[name] is None]
            # One query for all properties first: at most depths none fails, and that is one check.
            if not open_queries or solver.check(z3.Or(*[z3.Not(f) for _, f in open_queries])) != z3.sat:
                continue
            for name, formula in open_queries:
                if solver.check(z3.Not(formula)) == z3.sat:
                    found[name] = BmcHit(k, solver.model())
        return found


def compile_terms(inputs: Sequence[z3.ExprRef], outputs: Sequence[z3.ExprRef]) -> Callable[[Sequence[int]], list]:
    """A Python function computing ``outputs`` from values of the constants ``inputs``.

    z3's own substitute-and-simplify costs milliseconds per term; a
    straight-line translation of the term DAG evaluates thousands of
    concrete states per second, which is what comparing a relation against
    an explicit model state by state needs.  Only the operators of
    linear integer and Boolean terms are translated; any other raises.
    """
    index = {_key(v): i for i, v in enumerate(inputs)}
    lines = ["def evaluate(x):"]
    names: dict[int, str] = {}

    def emit(term: z3.ExprRef) -> str:
        stack = [(term, False)]
        while stack:
            node, ready = stack.pop()
            key = _key(node)
            if key in names:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in node.children() if _key(child) not in names)
                continue
            names[key] = name = f"t{len(names)}"
            lines.append(f"    {name} = {_python(node, [names[_key(c)] for c in node.children()], index)}")
        return names[_key(term)]

    results = [emit(t) for t in outputs]
    lines.append(f"    return [{', '.join(results)}]")
    scope: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<compiled z3 terms>", "exec"), scope)  # noqa: S102 - code generated above
    return scope["evaluate"]


def _key(term: z3.ExprRef) -> int:
    return term.get_id()


_INFIX = {
    z3.Z3_OP_EQ: "==",
    z3.Z3_OP_LT: "<",
    z3.Z3_OP_LE: "<=",
    z3.Z3_OP_GT: ">",
    z3.Z3_OP_GE: ">=",
    z3.Z3_OP_ADD: "+",
    z3.Z3_OP_SUB: "-",
    z3.Z3_OP_MUL: "*",
}


def _python(node: z3.ExprRef, args: list[str], index: dict[int, int]) -> str:
    """One z3 operator application as a Python expression over its children's names."""
    kind = node.decl().kind()
    if kind == z3.Z3_OP_TRUE:
        return "True"
    if kind == z3.Z3_OP_FALSE:
        return "False"
    if kind == z3.Z3_OP_ANUM:
        return str(node.as_long())
    if kind == z3.Z3_OP_UNINTERPRETED and not args:
        if _key(node) not in index:
            raise ValueError(f"free constant {node} is not among the inputs")
        return f"x[{index[_key(node)]}]"
    if kind == z3.Z3_OP_ITE:
        return f"({args[1]} if {args[0]} else {args[2]})"
    if kind == z3.Z3_OP_AND:
        return "(" + " and ".join(args) + ")" if args else "True"
    if kind == z3.Z3_OP_OR:
        return "(" + " or ".join(args) + ")" if args else "False"
    if kind == z3.Z3_OP_NOT:
        return f"(not {args[0]})"
    if kind == z3.Z3_OP_IMPLIES:
        return f"((not {args[0]}) or {args[1]})"
    if kind == z3.Z3_OP_DISTINCT:
        return f"(len({{{', '.join(args)}}}) == {len(args)})"
    if kind == z3.Z3_OP_UMINUS:
        return f"(-{args[0]})"
    if kind in _INFIX:
        return "(" + f" {_INFIX[kind]} ".join(args) + ")"
    raise ValueError(f"cannot translate z3 operator {node.decl()} to Python")


@dataclass
class Row:
    """One line of the proof table."""

    claim: str
    scope: str
    status: Status
    seconds: float
    detail: str = ""


def render_rows(rows: Sequence[Row], title: str, out: IO[str] | None = None) -> None:
    """The proof table, then the details (counterexamples) of the rows that have any."""
    from .console import Console
    from rich.table import Table

    import sys

    # Off a terminal (CI logs, files) rich would wrap at 80 columns; logs are wider.
    wide = out is not None or not sys.stdout.isatty()
    console = Console(file=out, highlight=False, width=140 if wide else None)
    table = Table(title=title)
    for column in ("claim", "scope", "result", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    style = {Status.PROVED: "green", Status.BOUNDED: "cyan", Status.VIOLATED: "bold red", Status.CTI: "red", Status.UNKNOWN: "yellow"}
    for row in rows:
        table.add_row(row.claim, row.scope, f"[{style[row.status]}]{row.status.value}[/]", f"{row.seconds:.2f}")
    console.print(table)
    for row in rows:
        if row.detail:
            console.print(f"[bold]{row.claim}[/] ({row.scope}): {row.status.value}", markup=True)
            console.print(row.detail, markup=False)
