"""Any chain length: an inductive invariant over position-indexed functions with a symbolic length N.

The state keeps what the claims (isolation, blockers checked everywhere,
no leaked blockers, chain integrity, ownership) depend on, as uninterpreted
functions of node positions (position-indexed maps, like arrays): chain
membership, backing links, on-disk headers, each owner's job (present,
base, finished, cancelled) and the blocker relation ``blk(node, owner)``;
and the header rewrites the user has left.  Contents are left to
data_proofs.py, which relies on the ``chain-links`` invariant proved here.

Actions with symbolic arguments: start a stream (any top, any base), a job
returns (job-copy of the last chunk, job-io-error, job-exit), stream_complete,
cancel, and (when the scenario's commands have it) change-backing-file
(any image, any target below it).  Pause, resume and copies before the last
chunk touch none of these functions and are stuttering steps here.  No
scenario bound limits the steps (jobs at once, jobs per run, pauses), and
the header rewrites left start at any number: a claim proved here holds in
every scenario with those commands.

Every ``∀`` is a :class:`~blockcheck.checker.ground.Forall` and reaches z3
only as instances (checker/ground.py says why): each query is decided
exactly on chains of 2 to 5 nodes (a counterexample there is real) and
proved for every length from instances at the terms a step mentions.  The
formulas are *position-guarded*: what they say of values outside
``-1 .. N-1`` (chain members and owners are positions, bases and backing
links lie below their node, frames copy) can be met whatever the values
inside, which is what makes the small-chain checks exact.

The rules a claim is about (which jobs query-block-jobs lists, when
stream_complete is scheduled) are functions here, used by the claims (and
the second by the stream_complete step), so a variant changes the rule and
the claim finds out; tests/proofs/test_chain_steps_conform.py checks
both against the explicit model, and the steps edge by edge.  So are the
answers to the op-blocker-guarded commands (:func:`guarded_refusals`),
whose refusal reads "some node carries a blocker": an ∃ under the claim's
∀, which checker/ground.py's :class:`~blockcheck.checker.ground.ForallExists`
decides without a quantifier.  Their one approximation: a backing link's
blocker is looked for on links from chain nodes only (the state keeps no
other links), so a command may count as accepted where QEMU refuses it
because a node outside the chain still backs onto the node: a claim that
the commands are refused can only be harder to prove for it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

import z3

from blockcheck.checker.ground import Clause, Domain, Forall, ForallExists, Goal, check_every_size
from blockcheck.checker.smt import Induction, Outcome, all_proved

I, B = z3.IntSort(), z3.BoolSort()
N = z3.Int("N")

#: Chains of 2 to 5 nodes are checked exactly; the symbolic check covers every length.
CHAINS = Domain(size=N, small_sizes=range(2, 6), elements=lambda n: [z3.IntVal(p) for p in range(-1, n)])


@dataclass
class PState:
    inch: z3.FuncDeclRef  # position -> in the chain
    bk: z3.FuncDeclRef  # position -> its backing position (-1: none)
    has: z3.FuncDeclRef  # owner -> has a job
    base: z3.FuncDeclRef  # owner -> its job's base (-1: none)
    finished: z3.FuncDeclRef
    cancelled: z3.FuncDeclRef
    blk: z3.FuncDeclRef  # (node, owner) -> node carries owner's blocker
    hd: z3.FuncDeclRef  # position -> the position its on-disk header names (-1: none)
    left: z3.FuncDeclRef  # () -> header rewrites (change-backing-file) the scenario still allows


def pstate(tag: str) -> PState:
    return PState(
        z3.Function(f"inch@{tag}", I, B),
        z3.Function(f"backing@{tag}", I, I),
        z3.Function(f"has@{tag}", I, B),
        z3.Function(f"base@{tag}", I, I),
        z3.Function(f"finished@{tag}", I, B),
        z3.Function(f"cancelled@{tag}", I, B),
        z3.Function(f"blk@{tag}", I, I, B),
        z3.Function(f"header@{tag}", I, I),
        z3.Function(f"left@{tag}", I),
    )


def node(x: z3.ArithRef) -> z3.BoolRef:
    return z3.And(x >= 0, x < N)


def involved(s: PState, o: z3.ArithRef, y: z3.ArithRef) -> z3.BoolRef:
    """The stream owned by ``o`` involves its owner and the chain nodes strictly between owner and base."""
    return z3.And(s.has(o), z3.Or(y == o, z3.And(s.inch(y), y > s.base(o), y < o)))


# -- the strengthening invariants ------------------------------------------------
def chain_shape(s: PState) -> Clause:
    """chain-shape: the active layer (position N-1) is in the chain, and only positions are."""
    return Forall(1, lambda y: z3.And(s.inch(N - 1), z3.Implies(s.inch(y), node(y))))


def chain_links(s: PState) -> Clause:
    """chain-links: every chain node is backed by the next lower chain position (-1 when none).

    So the chain is exactly its member positions in order, the backing graph
    is acyclic (links point down), and reading through the chain means
    reading down the member positions: what data_proofs.py assumes.  The
    explicit model keeps ``backing[i] < i`` and a stream_complete links the
    top to its base, the next chain node left below it once the middle is dropped.
    """

    def body(y: z3.ArithRef, z: z3.ArithRef) -> z3.BoolRef:
        below = s.bk(y)
        down = z3.And(below >= -1, below < y, z3.Or(below == -1, s.inch(below)))
        return z3.Implies(s.inch(y), z3.And(down, z3.Implies(z3.And(z > below, z < y), z3.Not(s.inch(z)))))

    return Forall(2, body)


def jobs_well_formed(s: PState) -> Clause:
    """jobs-well-formed: a job's owner is a chain node and its base is none (-1) or a chain node below it."""

    def body(o: z3.ArithRef) -> z3.BoolRef:
        base = s.base(o)
        return z3.Implies(s.has(o), z3.And(node(o), s.inch(o), base >= -1, base < o, z3.Or(base == -1, s.inch(base))))

    return Forall(1, body)


def blockers_exact(s: PState) -> Clause:
    """blockers-exact: a node carries owner o's blocker iff o's job involves it.

    Stronger than no-leaked-blockers (which is only "if"): the "only if"
    half is what makes a stream's start check see every running job.
    """
    return Forall(2, lambda y, o: z3.Implies(z3.And(node(y), node(o)), s.blk(y, o) == involved(s, o, y)))


def jobs_disjoint(s: PState) -> Clause:
    """jobs-disjoint: no node is involved in two jobs (blockers-checked-everywhere.disjoint)."""
    return Forall(3, lambda y, a, b: z3.Implies(z3.And(a != b, involved(s, a, y)), z3.Not(involved(s, b, y))))


def headers_point_down(s: PState) -> Clause:
    """headers-point-down: a chain node's header names a lower position, and none (-1) exactly when its link does."""

    def body(y: z3.ArithRef) -> z3.BoolRef:
        header = s.hd(y)
        return z3.Implies(s.inch(y), z3.And(header >= -1, header < y, (header == -1) == (s.bk(y) == -1)))

    return Forall(1, body)


def headers_follow_links(s: PState) -> Clause:
    """headers-follow-links: a chain node's header names its backing node (without change-backing-file)."""
    return Forall(1, lambda y: z3.Implies(s.inch(y), s.hd(y) == s.bk(y)))


STRENGTHENING = (chain_shape, chain_links, jobs_well_formed, blockers_exact, jobs_disjoint)


def invariant(s: PState, commands: Collection[str] = ()) -> list[Clause]:
    """The strengthening parts, and what headers can name given the commands.

    No claim's proof needs the headers' part: it keeps a counterexample a
    state the model can reach, where a header could otherwise name a node
    no rewrite or completion could have written (one above it, say; or,
    with no change-backing-file, anything but the backing node).
    """
    headers = headers_point_down if "change-backing-file" in commands else headers_follow_links
    return [*(f(s) for f in STRENGTHENING), headers(s)]


# -- the rules, parametric ---------------------------------------------------------
TOP, BASE, OWNER = z3.Ints("top base owner")
#: change-backing-file's arguments: the image whose header is rewritten, the node it will name.
IMAGE, TARGET = z3.Ints("image target")
#: The job copied every chunk without error: the data proofs' business, free here.
SUCCESS = z3.Bool("success")
#: The job returned by an I/O error (job-io-error), which skips the exit path, rather than by job-exit or its last copy.
IO_ERROR = z3.Bool("io_error")


def query_lists(variant: str) -> Callable[[PState, z3.ArithRef], z3.BoolRef]:
    """The rule of query-block-jobs: whose job it lists under the right device field.

    As designed it walks every node of the tree, so every position;
    root-only-query looks at the active layer only; device-field-empty
    lists every job but gives a device only for the active layer's.
    """
    if variant in ("root-only-query", "device-field-empty"):
        return lambda s, o: o == N - 1
    return lambda s, o: node(o)


def job_blocked(s: PState, y: z3.ArithRef, k: z3.ArithRef) -> z3.BoolRef:
    """Node ``y`` carries the blocker of the job owned by ``k``."""
    return z3.And(node(k), s.blk(y, k))


def op_blocked(s: PState, y: z3.ArithRef, z: z3.ArithRef, k: z3.ArithRef) -> z3.BoolRef:
    """An op type a backing link does not exempt is blocked on ``y``: by the job owned by
    ``k``, or by the backing link of chain node ``z`` (bdrv_op_is_blocked)."""
    return z3.Or(job_blocked(s, y, k), z3.And(s.inch(z), s.bk(z) == y))


def change_blocked(variant: str) -> Callable[[PState, z3.ArithRef, z3.ArithRef, z3.ArithRef], z3.BoolRef]:
    """The CHANGE check of change-backing-file for an image: it refuses iff this holds for some z, k.

    QEMU 2.8 looks at the root only (position N-1), where a backing link
    would count too; the fix looks at every chain node from the root down
    to the image (positions at or above it, the chain being its positions
    in order), where only a job's blocker counts.
    """
    if variant == "fix-change-checks-chain":
        return lambda s, image, z, k: z3.And(s.inch(z), z >= image, job_blocked(s, z, k))
    return lambda s, image, z, k: op_blocked(s, N - 1, z, k)


Refusal = Callable[[PState, z3.ArithRef, z3.ArithRef, z3.ArithRef], z3.BoolRef]


def guarded_refusals(variant: str) -> dict[str, Refusal]:
    """QEMU 2.8's answer to each op-blocker-guarded command on node y: refused iff the
    command's formula holds for some z, k (docs/op-blockers.md §2.3-§2.8).

    A node is first-non-filter (resize and snapshot act only there) when it
    is the root or owns a job, whose own BlockBackend sits on it in 2.8;
    drive-mirror takes a root only; change-backing-file is sent through the
    guest's device for y's own header, and needs y in the chain with a
    backing file and a rewrite left.
    """
    blocked = change_blocked(variant)

    def first_non_filter(s: PState, y: z3.ArithRef) -> z3.BoolRef:
        return z3.Or(y == N - 1, s.has(y))

    return {
        "block_resize": lambda s, y, z, k: z3.Or(z3.Not(first_non_filter(s, y)), op_blocked(s, y, z, k)),
        "blockdev-snapshot-sync": lambda s, y, z, k: z3.Or(op_blocked(s, y, z, k), z3.Not(first_non_filter(s, y))),
        "change-backing-file": lambda s, y, z, k: z3.Or(
            z3.Not(s.inch(y)), s.bk(y) < 0, s.left() <= 0, blocked(s, y, z, k)
        ),
        "drive-mirror": lambda s, y, z, k: z3.Or(y != N - 1, op_blocked(s, N - 1, z, k)),
    }


def complete_scheduled(variant: str) -> Callable[[PState, z3.ArithRef], z3.BoolRef]:
    """The rule that schedules stream_complete: for every finished job, except a cancelled one under cancel-never-completes."""
    if variant == "cancel-never-completes":
        return lambda s, o: z3.And(s.has(o), s.finished(o), z3.Not(s.cancelled(o)))
    return lambda s, o: z3.And(s.has(o), s.finished(o))


def unary(pre: z3.FuncDeclRef, post: z3.FuncDeclRef, value: Callable[[z3.ArithRef], z3.ExprRef] | None = None) -> Forall:
    """``post(x) = value(x)`` for every x; by default ``post`` is ``pre``."""
    return Forall(1, lambda x: post(x) == (value(x) if value else pre(x)))


def blockers(pre: PState, post: PState, value: Callable[[z3.ArithRef, z3.ArithRef], z3.BoolRef] | None = None) -> Forall:
    return Forall(2, lambda y, o: post.blk(y, o) == (value(y, o) if value else pre.blk(y, o)))


def headers_kept(pre: PState, post: PState) -> list[Clause]:
    """The frame of a step that writes no header."""
    return [unary(pre.hd, post.hd), post.left() == pre.left()]


#: Each step's arguments: where the symbolic checks of the step instantiate, besides the goal's witnesses.
ARGUMENTS: dict[str, tuple[z3.ArithRef, ...]] = {
    "block-stream": (TOP, BASE),
    "job returns": (OWNER,),
    "stream_complete": (OWNER,),
    "block-job-cancel": (OWNER,),
    "change-backing-file": (IMAGE, TARGET),
}


def steps(pre: PState, post: PState, variant: str, commands: Collection[str] = ()) -> dict[str, list[Clause]]:
    """Each action's step as clauses over (pre, post) and its :data:`ARGUMENTS`.

    change-backing-file is a step only when it is among ``commands``; the
    others are steps whatever the commands (more steps can only make a
    claim harder to prove).
    """
    t, b, o = TOP, BASE, OWNER
    in_middle = lambda y: z3.And(pre.inch(y), y > b, y < t)
    checked: list[Clause] = [Forall(1, lambda k: z3.Implies(node(k), z3.Not(pre.blk(t, k))))]
    if variant != "top-only-check":
        checked.append(Forall(2, lambda y, k: z3.Implies(z3.And(in_middle(y), node(k)), z3.Not(pre.blk(y, k)))))
    blocks = (lambda y: y == t) if variant == "no-intermediate-block" else (lambda y: z3.Or(y == t, in_middle(y)))
    start = [
        z3.And(node(t), pre.inch(t), b >= -1, b < t, z3.Or(b == -1, pre.inch(b)), z3.Not(pre.has(t))),
        *checked,
        unary(pre.inch, post.inch),
        unary(pre.bk, post.bk),
        unary(pre.has, post.has, lambda x: z3.Or(x == t, pre.has(x))),
        unary(pre.base, post.base, lambda x: z3.If(x == t, b, pre.base(x))),
        unary(pre.finished, post.finished, lambda x: z3.And(x != t, pre.finished(x))),
        unary(pre.cancelled, post.cancelled, lambda x: z3.And(x != t, pre.cancelled(x))),
        blockers(pre, post, lambda y, x: z3.If(x == t, z3.Or(pre.blk(y, t), blocks(y)), pre.blk(y, x))),
        *headers_kept(pre, post),
    ]
    unblocked = lambda y, x: z3.And(x != o, pre.blk(y, x))
    returns = [
        z3.And(node(o), pre.has(o), z3.Not(pre.finished(o))),
        unary(pre.inch, post.inch),
        unary(pre.bk, post.bk),
        unary(pre.base, post.base),
        unary(pre.cancelled, post.cancelled),
        *headers_kept(pre, post),
    ]
    if variant == "cancel-skips-complete":
        # The early exit ends a cancelled job without stream_complete; an I/O error (which the
        # model only takes for a job not cancelled) goes the normal way.
        skip = z3.And(pre.cancelled(o), z3.Not(IO_ERROR))
        returns += [
            unary(pre.has, post.has, lambda x: z3.And(pre.has(x), z3.Not(z3.And(x == o, skip)))),
            unary(pre.finished, post.finished, lambda x: z3.Or(pre.finished(x), z3.And(x == o, z3.Not(skip)))),
            blockers(pre, post),
        ]
    else:
        returns += [
            unary(pre.has, post.has),
            unary(pre.finished, post.finished, lambda x: z3.Or(x == o, pre.finished(x))),
            blockers(pre, post, (lambda y, x: z3.If(IO_ERROR, pre.blk(y, x), unblocked(y, x))) if variant == "early-unblock" else None),
        ]
    cancelled = pre.cancelled(o)
    redirect = z3.Or(SUCCESS, cancelled) if variant == "cancel-changes-chain" else z3.And(SUCCESS, z3.Not(cancelled))
    complete = [
        z3.And(node(o), complete_scheduled(variant)(pre, o)),
        unary(pre.inch, post.inch, lambda y: z3.And(pre.inch(y), z3.Not(z3.And(redirect, y > pre.base(o), y < o)))),
        unary(pre.bk, post.bk, lambda y: z3.If(z3.And(redirect, y == o), pre.base(o), pre.bk(y))),
        unary(pre.has, post.has, lambda x: z3.And(x != o, pre.has(x))),
        unary(pre.base, post.base),
        unary(pre.finished, post.finished),
        unary(pre.cancelled, post.cancelled),
        blockers(pre, post, unblocked),
        # The header is rewritten with the live link (bdrv_change_backing_file, then bdrv_set_backing_hd).
        unary(pre.hd, post.hd, lambda y: z3.If(z3.And(redirect, y == o), pre.base(o), pre.hd(y))),
        post.left() == pre.left(),
    ]
    cancel = [
        z3.And(node(o), pre.has(o)),
        unary(pre.inch, post.inch),
        unary(pre.bk, post.bk),
        unary(pre.has, post.has),
        unary(pre.base, post.base),
        unary(pre.finished, post.finished),
        unary(pre.cancelled, post.cancelled, lambda x: z3.Or(x == o, pre.cancelled(x))),
        blockers(pre, post),
        *headers_kept(pre, post),
    ]
    out = {"block-stream": start, "job returns": returns, "stream_complete": complete, "block-job-cancel": cancel}
    if "change-backing-file" in commands:
        out["change-backing-file"] = change_backing_file(pre, post, variant)
    return out


def change_backing_file(pre: PState, post: PState, variant: str) -> list[Clause]:
    """IMAGE's header comes to name TARGET, a chain node below it other than the one it names now
    (the candidates the user tries), when the rule accepts: the image is in the chain with a
    backing file, a rewrite is left, and the CHANGE check finds no blocker.  The live link stays."""
    image, target = IMAGE, TARGET
    blocked = change_blocked(variant)
    return [
        z3.And(node(image), pre.inch(image), pre.bk(image) >= 0, pre.left() > 0),
        z3.And(target >= 0, target < image, pre.inch(target), target != pre.hd(image)),
        Forall(2, lambda z, k: z3.Not(blocked(pre, image, z, k))),
        unary(pre.inch, post.inch),
        unary(pre.bk, post.bk),
        unary(pre.has, post.has),
        unary(pre.base, post.base),
        unary(pre.finished, post.finished),
        unary(pre.cancelled, post.cancelled),
        blockers(pre, post),
        unary(pre.hd, post.hd, lambda y: z3.If(y == image, target, pre.hd(y))),
        post.left() == pre.left() - 1,
    ]


def init(s: PState) -> list[Clause]:
    """The initial chain: every position 0..N-1 in the chain, each backed by the one below
    and naming it in its header, no job, no blocker, any number of header rewrites left."""
    return [
        N >= 2,
        Forall(1, lambda y: s.inch(y) == node(y)),
        Forall(1, lambda y: s.bk(y) == y - 1),
        Forall(1, lambda y: s.hd(y) == y - 1),
        Forall(1, lambda o: z3.Not(s.has(o))),
        Forall(2, lambda y, o: z3.Not(s.blk(y, o))),
        s.left() >= 0,
    ]


# -- the claims ---------------------------------------------------------------------
def no_leaked_blockers(s: PState) -> Clause:
    return Forall(2, lambda y, o: z3.Implies(z3.And(node(y), node(o), s.blk(y, o)), involved(s, o, y)))


def links_point_down(s: PState) -> Clause:
    """chain-integrity.acyclic: every chain node's backing is a lower position, so no walk down the chain cycles."""
    return Forall(1, lambda y: z3.Implies(s.inch(y), s.bk(y) < y))


def guarded_ops_refused(variant: str) -> Callable[[PState], list[Goal]]:
    """isolation.guarded-ops: every op-blocker-guarded command on a node a job involves is refused (by its rule)."""
    refusals = guarded_refusals(variant)

    def claim(s: PState) -> list[Goal]:
        def for_op(refused: Refusal) -> ForallExists:
            return ForallExists(2, 2, lambda y, o, z, k: z3.Implies(z3.And(node(y), node(o), involved(s, o, y)), refused(s, y, z, k)))

        return [for_op(refused) for refused in refusals.values()]

    return claim


def reported(variant: str) -> Callable[[PState], Clause]:
    """ownership-and-reporting: query-block-jobs lists every job under its expected name (by its rule)."""
    lists = query_lists(variant)
    return lambda s: Forall(1, lambda o: z3.Implies(s.has(o), lists(s, o)))


def complete_enabled(variant: str) -> Callable[[PState], Clause]:
    """jobs-end (its safety half): every finished job has its stream_complete scheduled (by its rule)."""
    scheduled = complete_scheduled(variant)
    return lambda s: Forall(1, lambda o: z3.Implies(z3.And(s.has(o), s.finished(o)), scheduled(s, o)))


def chain_claims(
    variant: str, commands: Collection[str] = ()
) -> list[tuple[str, Callable[[], Induction], Callable[[Induction], str]]]:
    """(claim, proof, how to print its counterexample) for the all-lengths claims.

    ``commands``: the scenario's; change-backing-file among them makes
    header rewrites a step (:func:`steps`).
    """
    pre, post = pstate("pre"), pstate("post")
    actions = steps(pre, post, variant, commands)

    def terms(arguments: Sequence[z3.ExprRef]) -> Callable[[Sequence[z3.ExprRef]], list[z3.ExprRef]]:
        """Where the symbolic check instantiates: the step's arguments, the goal's witnesses, the active layer, their bases and backing nodes."""

        def named_and_below(witnesses: Sequence[z3.ExprRef]) -> list[z3.ExprRef]:
            named = [*arguments, *witnesses, N - 1]
            # No post-state terms: the step's frames equate each post(x) with pre-state terms already here.
            return [*named, *(pre.base(x) for x in named), *(pre.bk(x) for x in named)]

        return named_and_below

    def valid(premises: Sequence[Clause], goal: Sequence[Goal], arguments: Sequence[z3.ExprRef] = ()) -> Outcome:
        """Each goal clause on its own: fewer witnesses, so fewer instances."""
        at = terms(arguments)
        return all_proved(lambda c=c: check_every_size(CHAINS, [N >= 2, *premises], [c], at) for c in goal)

    def every_step(goal: Callable[[str], Sequence[Goal]]) -> Outcome:
        """Inv and each action's step imply ``goal(action)``, one action at a time; a failure names its action."""
        return all_proved(
            lambda n=n, s=s: replace(valid([*invariant(pre, commands), *s], goal(n), ARGUMENTS[n]), where=n) for n, s in actions.items()
        )

    shared: dict[str, Outcome] = {}

    def inductive() -> tuple[Outcome, Outcome]:
        """Initiation and consecution of the invariant, computed once per variant."""
        if not shared:
            shared["initiation"] = valid(init(pre), invariant(pre, commands))
            shared["consecution"] = every_step(lambda _: invariant(post, commands))
        return shared["initiation"], shared["consecution"]

    def by_induction(safety: Callable[[PState], Goal | list[Goal]]) -> Callable[[], Induction]:
        def prove() -> Induction:
            initiation, consecutive = inductive()
            goal = safety(pre)
            return Induction(initiation, consecutive, valid(invariant(pre, commands), goal if isinstance(goal, list) else [goal]))

        return prove

    def edge(claim: Callable[[], Outcome]) -> Callable[[], Induction]:
        """An edge claim assumes the invariant in the pre-state, so it stands only if the invariant is inductive."""

        def prove() -> Induction:
            initiation, consecutive = inductive()
            return Induction(initiation, consecutive, claim())

        return prove

    def isolation() -> Outcome:
        """Every step changes (chain membership, a backing link, a header, a new job) only nodes no other job involves."""

        def isolated(own: bool) -> Forall:
            def body(y: z3.ArithRef, o: z3.ArithRef) -> z3.BoolRef:
                relinked = z3.And(pre.inch(y), z3.Or(pre.bk(y) != post.bk(y), pre.hd(y) != post.hd(y)))
                changed = z3.Or(pre.inch(y) != post.inch(y), relinked, z3.And(post.has(y), z3.Not(pre.has(y))))
                return z3.Implies(z3.And(changed, involved(pre, o, y)), z3.And(z3.BoolVal(own), o == OWNER))

            return Forall(2, body)

        return every_step(lambda action: [isolated(action in ("job returns", "stream_complete"))])

    def links_change_on_success() -> Outcome:
        """A chain node's backing link and header change only by its own job's successful
        stream_complete, both to the job's base; change-backing-file changes its image's header only."""

        def body(y: z3.ArithRef, action: str) -> z3.BoolRef:
            relinked = z3.And(post.inch(y), pre.bk(y) != post.bk(y))
            rewritten = z3.And(post.inch(y), pre.hd(y) != post.hd(y))
            if action == "change-backing-file":
                return z3.And(z3.Not(relinked), z3.Implies(rewritten, y == IMAGE))
            to_base = z3.And(post.bk(y) == pre.base(OWNER), post.hd(y) == pre.base(OWNER))
            allowed = z3.And(z3.BoolVal(action == "stream_complete"), y == OWNER, SUCCESS, z3.Not(pre.cancelled(OWNER)), to_base)
            return z3.Implies(z3.Or(relinked, rewritten), allowed)

        return every_step(lambda action: [Forall(1, lambda y: body(y, action))])

    def stream_checked() -> Outcome:
        """A stream is accepted only if no job involves a node from its top down to, not including, its base.

        Said of the jobs, not of the blockers the rule looks at: it holds
        only because blockers are checked on every such node *and* mark
        exactly what each job involves.
        """

        def free(y: z3.ArithRef, k: z3.ArithRef) -> z3.BoolRef:
            checked = z3.Or(y == TOP, z3.And(pre.inch(y), y > BASE, y < TOP))
            return z3.Not(z3.And(node(k), checked, involved(pre, k, y)))

        checked = valid([*invariant(pre, commands), *actions["block-stream"]], [Forall(2, free)], ARGUMENTS["block-stream"])
        return replace(checked, where="block-stream")

    def show(result: Induction) -> str:
        return describe(result, pre, post)

    def show_step(result: Induction) -> str:
        return describe(result, pre, post, step_claim=True)

    return [
        ("isolation", edge(isolation), show_step),
        ("isolation.guarded-ops", by_induction(guarded_ops_refused(variant)), show),
        ("blockers-checked-everywhere", edge(stream_checked), show_step),
        ("blockers-checked-everywhere.disjoint", by_induction(jobs_disjoint), show),
        ("no-leaked-blockers", by_induction(no_leaked_blockers), show),
        ("chain-integrity", edge(links_change_on_success), show_step),
        ("chain-integrity.acyclic", by_induction(links_point_down), show),
        ("ownership-and-reporting", by_induction(reported(variant)), show),
        ("jobs-end: a finished job can complete", by_induction(complete_enabled(variant)), show),
    ]


def describe(result: Induction, pre: PState, post: PState, step_claim: bool = False) -> str:
    """The failed obligation and its counterexample (to induction) as a readable state, or state pair.

    ``step_claim``: the "safety" obligation is a claim about one step (the
    edge claims), so its counterexample is a pair too.
    """
    failed = result.failed
    if failed is None:
        return ""
    name, outcome = failed
    if name == "safety" and step_claim:
        name = "the step claim"
    label = f"{name} fails" + (f" at {outcome.where}" if outcome.where else "")
    model = outcome.model
    if model is None:
        return f"{label}: {outcome.reason}"

    def v(term: z3.ExprRef) -> int | bool:
        r = model.eval(term, model_completion=True)
        return z3.is_true(r) if z3.is_bool(r) else r.as_long()

    n = v(N)

    def position(p: int) -> str:
        return "none" if p == -1 else str(p)

    def show(s: PState) -> str:
        cells = []
        below = -1
        for p in range(n):
            if not v(s.inch(p)):
                continue
            text = f"[{p}]" if v(s.bk(p)) == below else f"[{p}](backing {position(v(s.bk(p)))})"
            if v(s.hd(p)) != v(s.bk(p)):
                text += f"(disk {position(v(s.hd(p)))})"
            below = p
            owners = [o for o in range(n) if v(s.blk(p, o))]
            if owners:
                text += "*" + ",".join(map(str, owners))
            if v(s.has(p)):
                flags = "finished" if v(s.finished(p)) else "running"
                flags += ",cancelled" if v(s.cancelled(p)) else ""
                text += f"{{stream->{position(v(s.base(p)))},{flags}}}"
            cells.append(text)
        return " <- ".join(cells) + f"; header rewrites left: {v(s.left())}"

    arguments = {
        "block-stream": f" (top={v(TOP)}, base={position(v(BASE))})",
        "job returns": f" (owner={v(OWNER)}, io_error={v(IO_ERROR)})",
        "stream_complete": f" (owner={v(OWNER)}, success={v(SUCCESS)})",
        "block-job-cancel": f" (owner={v(OWNER)})",
        "change-backing-file": f" (image={v(IMAGE)}, target={v(TARGET)})",
    }
    legend = (
        "[p]*o: p carries o's blocker; (backing q): p's backing, when not the chain node to its left; "
        "(disk q): what p's header names, when not its backing"
    )
    lines = [f"{label}{arguments.get(outcome.where, '')}: N = {n}; {legend}"]
    lines.append(f"  before: {show(pre)}")
    if name in ("consecution", "the step claim"):
        lines.append(f"  after:  {show(post)}")
    return "\n".join(lines)
