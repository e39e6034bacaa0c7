"""Any chain length: an inductive invariant over position-indexed arrays with a symbolic length N.

The state keeps what the four claims (isolation, blockers checked
everywhere, no leaked blockers, ownership) depend on, as z3 Arrays indexed
by node position: chain membership, each owner's job (present, base,
finished, cancelled) and the blocker matrix ``blk[node][owner]``.  Contents
are left to data_proofs.py; the chain's backing links are implied by
membership (see :func:`chain_shape`).

Actions with symbolic arguments: start a stream (any top, any base), a job
returns (job-copy of the last chunk, job-io-error, job-exit), stream_complete,
and cancel.  Pause, resume and copies before the last chunk touch none of
these arrays and are stuttering steps here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import z3

from blockcheck.checker.smt import Induction, Outcome, Status, check_valid, induction

I, B = z3.IntSort(), z3.BoolSort()
N = z3.Int("N")


@dataclass
class PState:
    inch: z3.ArrayRef
    has: z3.ArrayRef
    base: z3.ArrayRef
    finished: z3.ArrayRef
    cancelled: z3.ArrayRef
    blk: z3.ArrayRef  # node -> owner -> blocked


def pstate(tag: str) -> PState:
    return PState(
        z3.Array(f"inch@{tag}", I, B),
        z3.Array(f"has@{tag}", I, B),
        z3.Array(f"base@{tag}", I, I),
        z3.Array(f"finished@{tag}", I, B),
        z3.Array(f"cancelled@{tag}", I, B),
        z3.Array(f"blk@{tag}", I, z3.ArraySort(I, B)),
    )


def node(x: z3.ArithRef) -> z3.BoolRef:
    return z3.And(x >= 0, x < N)


def involved(s: PState, o: z3.ArithRef, y: z3.ArithRef) -> z3.BoolRef:
    """The stream owned by ``o`` involves its owner and the chain nodes strictly between owner and base."""
    return z3.And(s.has[o], z3.Or(y == o, z3.And(s.inch[y], y > s.base[o], y < o)))


# -- the strengthening invariants ------------------------------------------------
def chain_shape(s: PState) -> z3.BoolRef:
    """chain-shape: the active layer (position N-1) is in the chain.

    Backing links are not stored: every chain node is backed by the next
    lower chain position (the explicit model keeps ``backing[i] < i``, and a
    stream_complete links the top to its base, the next chain node left
    below it).  So the chain is exactly the member positions in order.
    """
    return s.inch[N - 1]


def jobs_well_formed(s: PState) -> z3.BoolRef:
    """jobs-well-formed: a job's owner is a chain node and its base is none (-1) or a chain node below it."""
    o = z3.Int("o")
    shape = z3.And(node(o), s.inch[o], s.base[o] >= -1, s.base[o] < o, z3.Or(s.base[o] == -1, s.inch[s.base[o]]))
    return z3.ForAll([o], z3.Implies(s.has[o], shape))


def blockers_exact(s: PState) -> z3.BoolRef:
    """blockers-exact: a node carries owner o's blocker iff o's job involves it.

    Stronger than no-leaked-blockers (which is only "if"): the "only if"
    half is what makes a stream's start check see every running job.
    """
    y, o = z3.Ints("y o")
    return z3.ForAll([y, o], z3.Implies(z3.And(node(y), node(o)), s.blk[y][o] == involved(s, o, y)))


def jobs_disjoint(s: PState) -> z3.BoolRef:
    """jobs-disjoint: no node is involved in two jobs (blockers-checked-everywhere.disjoint)."""
    y, a, b = z3.Ints("y a b")
    return z3.ForAll([y, a, b], z3.Implies(z3.And(a != b, involved(s, a, y)), z3.Not(involved(s, b, y))))


STRENGTHENING = (chain_shape, jobs_well_formed, blockers_exact, jobs_disjoint)


def invariant(s: PState) -> z3.BoolRef:
    return z3.And(*[f(s) for f in STRENGTHENING])


# -- the rules, parametric ---------------------------------------------------------
def transition(pre: PState, post: PState, variant: str) -> tuple[z3.BoolRef, dict[str, z3.BoolRef]]:
    """Next, and per action the formula of its step (for edge claims)."""
    t, b, o = z3.Ints("t b owner")
    y, k = z3.Ints("ty tk")
    blocked = lambda n: z3.Exists([k], z3.And(node(k), pre.blk[n][k]))  # noqa: E731
    in_middle = lambda n: z3.And(pre.inch[n], n > b, n < t)  # noqa: E731
    checked = z3.Not(blocked(t))
    if variant != "top-only-check":
        checked = z3.And(checked, z3.ForAll([y], z3.Implies(in_middle(y), z3.Not(blocked(y)))))
    blocks = z3.Lambda([y], z3.Or(y == t, in_middle(y) if variant != "no-intermediate-block" else False))
    start = z3.And(
        node(t),
        pre.inch[t],
        b >= -1,
        b < t,
        z3.Or(b == -1, pre.inch[b]),
        checked,
        z3.Not(pre.has[t]),
        post.inch == pre.inch,
        post.has == z3.Store(pre.has, t, True),
        post.base == z3.Store(pre.base, t, b),
        post.finished == z3.Store(pre.finished, t, False),
        post.cancelled == z3.Store(pre.cancelled, t, False),
        post.blk == z3.Lambda([y], z3.Store(pre.blk[y], t, z3.Or(pre.blk[y][t], blocks[y]))),
    )
    unblocked = z3.Lambda([y], z3.Store(pre.blk[y], o, False))
    returns = z3.And(
        node(o),
        pre.has[o],
        z3.Not(pre.finished[o]),
        post.inch == pre.inch,
        post.base == pre.base,
        post.cancelled == pre.cancelled,
    )
    if variant == "cancel-skips-complete":
        skip = pre.cancelled[o]
        returns = z3.And(
            returns,
            post.has == z3.If(skip, z3.Store(pre.has, o, False), pre.has),
            post.finished == z3.If(skip, pre.finished, z3.Store(pre.finished, o, True)),
            post.blk == pre.blk,
        )
    else:
        returns = z3.And(
            returns,
            post.has == pre.has,
            post.finished == z3.Store(pre.finished, o, True),
            post.blk == (unblocked if variant == "early-unblock" else pre.blk),
        )
    success = z3.Bool("success")  # the job copied every chunk without error: the data proofs' business
    redirect = z3.Or(success, pre.cancelled[o]) if variant == "cancel-changes-chain" else z3.And(success, z3.Not(pre.cancelled[o]))
    dropped = z3.Lambda([y], z3.And(pre.inch[y], z3.Not(z3.And(redirect, y > pre.base[o], y < o))))
    complete = z3.And(
        node(o),
        pre.has[o],
        pre.finished[o],
        post.inch == dropped,
        post.has == z3.Store(pre.has, o, False),
        post.base == pre.base,
        post.finished == pre.finished,
        post.cancelled == pre.cancelled,
        post.blk == unblocked,
    )
    cancel = z3.And(
        node(o),
        pre.has[o],
        post.inch == pre.inch,
        post.has == pre.has,
        post.base == pre.base,
        post.finished == pre.finished,
        post.cancelled == z3.Store(pre.cancelled, o, True),
        post.blk == pre.blk,
    )
    steps = {"block-stream": start, "job returns": returns, "stream_complete": complete, "block-job-cancel": cancel}
    return z3.Or(*steps.values()), steps


def init(s: PState) -> z3.BoolRef:
    """The initial chain: every position 0..N-1 in the chain, no job, no blocker."""
    y, o = z3.Ints("iy io")
    return z3.And(
        N >= 2,
        z3.ForAll([y], s.inch[y] == node(y)),
        z3.ForAll([o], z3.Not(s.has[o])),
        z3.ForAll([y, o], z3.Not(s.blk[y][o])),
    )


# -- the claims ---------------------------------------------------------------------
def no_leaked_blockers(s: PState) -> z3.BoolRef:
    y, o = z3.Ints("ly lo")
    return z3.ForAll([y, o], z3.Implies(z3.And(node(y), node(o), s.blk[y][o]), involved(s, o, y)))


def guarded_ops_refused(s: PState) -> z3.BoolRef:
    """isolation.guarded-ops: every node a job involves carries a blocker (so guarded commands are refused)."""
    y, o = z3.Ints("gy go")
    return z3.ForAll([y, o], z3.Implies(z3.And(node(y), node(o), involved(s, o, y)), s.blk[y][o]))


def reported(variant: str) -> Callable[[PState], z3.BoolRef]:
    """ownership-and-reporting: every job is listed by query-block-jobs under its expected name."""

    def holds(s: PState) -> z3.BoolRef:
        o = z3.Int("ro")
        listed = z3.BoolVal(True) if variant not in ("root-only-query", "device-field-empty") else o == N - 1
        return z3.ForAll([o], z3.Implies(z3.And(node(o), s.has[o]), listed))

    return holds


def complete_enabled(variant: str) -> Callable[[PState], z3.BoolRef]:
    """jobs-end (its safety half): a finished job can always run stream_complete."""

    def holds(s: PState) -> z3.BoolRef:
        o = z3.Int("co")
        enabled = z3.BoolVal(True) if variant != "cancel-never-completes" else z3.Not(s.cancelled[o])
        return z3.ForAll([o], z3.Implies(z3.And(node(o), s.has[o], s.finished[o]), enabled))

    return holds


def chain_claims(variant: str) -> list[tuple[str, Callable[[], Induction], Callable[[Induction], str]]]:
    """(claim, proof, how to print its counterexample) for the all-lengths claims."""
    pre, post = pstate("pre"), pstate("post")
    trans, steps = transition(pre, post, variant)

    small = [N <= 4]
    shared: dict[str, Outcome] = {}

    def consecution() -> Outcome:
        """Inv and Next => Inv', one action at a time: z3 settles each much sooner than their disjunction."""
        total = 0.0
        for step in steps.values():
            outcome = check_valid([N >= 2, invariant(pre), step], invariant(post))
            total += outcome.seconds
            if outcome.status is not Status.PROVED:
                return outcome
        return Outcome(Status.PROVED, seconds=total)

    def by_induction(safety: Callable[[PState], z3.BoolRef]) -> Callable[[], Induction]:
        def prove() -> Induction:
            if "consecution" not in shared:
                shared["consecution"] = consecution()
            result = induction(
                init(pre), invariant, trans, pre, post, safety, [N >= 2], prefer=small, consecution=shared["consecution"]
            )
            shared["consecution"] = result.consecution
            return result

        return prove

    def edge(claim: Callable[[], Outcome]) -> Callable[[], Induction]:
        """An edge claim assumes the invariant in the pre-state, so it stands only if the invariant is inductive."""

        def prove() -> Induction:
            base = by_induction(lambda s: z3.BoolVal(True))()
            return Induction(base.initiation, base.consecution, claim())

        return prove

    def isolation() -> Outcome:
        """Every step changes (chain membership or a new job) only nodes no other job involves."""
        y, o = z3.Ints("iy io")
        changed = z3.Or(pre.inch[y] != post.inch[y], z3.And(post.has[y], z3.Not(pre.has[y])))
        owner = z3.Int("owner")
        own = z3.Or(steps["job returns"], steps["stream_complete"])
        isolated = z3.ForAll([y, o], z3.Implies(z3.And(changed, involved(pre, o, y)), z3.And(own, o == owner)))
        return check_valid([N >= 2, invariant(pre), trans], isolated, prefer=small)

    def stream_checked() -> Outcome:
        """An accepted stream finds no blocker from its top down to, not including, its base."""
        t, b, y, k = z3.Ints("t b sy sk")
        hit = z3.Exists([y, k], z3.And(node(k), z3.Or(y == t, z3.And(pre.inch[y], y > b, y < t)), pre.blk[y][k]))
        return check_valid([N >= 2, invariant(pre), steps["block-stream"]], z3.Not(hit), prefer=small)

    def show(result: Induction | Outcome) -> str:
        return describe(result, pre, post)

    return [
        ("isolation", edge(isolation), show),
        ("isolation.guarded-ops", by_induction(guarded_ops_refused), show),
        ("blockers-checked-everywhere", edge(stream_checked), show),
        ("blockers-checked-everywhere.disjoint", by_induction(jobs_disjoint), show),
        ("no-leaked-blockers", by_induction(no_leaked_blockers), show),
        ("ownership-and-reporting", by_induction(reported(variant)), show),
        ("jobs-end: a finished job can complete", by_induction(complete_enabled(variant)), show),
    ]


def describe(result: Induction | Outcome, pre: PState, post: PState) -> str:
    """The counterexample (to induction) as a readable pair of states, for chains up to 8 nodes."""
    outcome = result
    label = ""
    if isinstance(result, Induction):
        failed = result.failed
        if failed is None:
            return ""
        label, outcome = failed
        label = f"{label} fails: "
    model = outcome.model
    if model is None:
        return f"{label}{outcome.reason}" if label else ""
    n = model.eval(N, model_completion=True).as_long()

    def show(s: PState) -> str:
        def v(term: z3.ExprRef) -> object:
            r = model.eval(term, model_completion=True)
            return z3.is_true(r) if z3.is_bool(r) else r.as_long()

        cells = []
        for p in range(min(n, 8)):
            if not v(s.inch[p]):
                continue
            text = f"[{p}]"
            owners = [o for o in range(min(n, 8)) if v(s.blk[p][o])]
            if owners:
                text += "*" + ",".join(map(str, owners))
            if v(s.has[p]):
                flags = "finished" if v(s.finished[p]) else "running"
                flags += ",cancelled" if v(s.cancelled[p]) else ""
                text += f"{{stream->{v(s.base[p])},{flags}}}"
            cells.append(text)
        return " <- ".join(cells) + ("   (first 8 positions)" if n > 8 else "")

    lines = [f"{label}N = {n}; [p]*o: node p blocked by job of o", f"  before: {show(pre)}"]
    if isinstance(result, Outcome) or label.startswith("consecution"):
        lines.append(f"  after:  {show(post)}")
    return "\n".join(lines)
