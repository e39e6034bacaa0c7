"""The safety properties of properties/block.py, restated as z3 formulas over a :class:`Sym`.

Every ``always`` and ``transition`` property of block.py has a twin here
under the same name, so BMC and the BFS are asked the same questions.  As
in block.py, each is computed from the state (or the pair of states) by
its own means: involved nodes are walked from the chain, touched nodes are
the difference of the two states.  What the properties must ask QEMU
(which guarded commands it refuses, what query-block-jobs reports) comes
from the encoding, as block.py asks the rules.

Liveness (``cancel-runs-complete.live:*``, ``jobs-end:*``) is not a safety
property and is not encoded: a bounded unrolling cannot refute "eventually".
Nor is guest-view-unchanged's exemption for a running commit: the encoding
has no commit jobs (it refuses scenarios with block-commit).
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from blockcheck.model.seed import GUARDED_OPS
from blockcheck.model.state import REMOVED

from .encoding import BlockEncoding, Sym

StateCheck = Callable[[Sym], z3.BoolRef]
EdgeCheck = Callable[[Sym, z3.ArithRef, Sym], z3.BoolRef]


def safety_properties(enc: BlockEncoding) -> tuple[dict[str, StateCheck], dict[str, EdgeCheck]]:
    """(state invariants, edge checks) by the names block.py gives them."""
    n, root, chunks = enc.n, enc.root, enc.chunks
    nodes = range(n)

    def is_action(act: z3.ArithRef, name: str, *args: int) -> z3.BoolRef:
        ids = [i for i, a in enumerate(enc.actions) if a[0] == name and a[1 : 1 + len(args)] == args]
        return z3.Or(*[act == i for i in ids]) if ids else z3.BoolVal(False)

    def involved(s: Sym, below: list, owner: int, y: int) -> z3.BoolRef:
        """A stream involves its owner and the nodes strictly between owner and base."""
        if y == owner:
            return s.has[owner]
        return z3.And(s.has[owner], enc.between(below, owner, s.base[owner], y))

    def isolation(pre: Sym, act: z3.ArithRef, post: Sym) -> z3.BoolRef:
        b_pre, b_post = enc.below(pre), enc.below(post)
        c_pre, c_post = enc.in_chain(pre, b_pre), enc.in_chain(post, b_post)
        guest = is_action(act, "guest-write")
        touched = []
        for y in nodes:
            changed = z3.Or(
                pre.back[y] != post.back[y],
                pre.head[y] != post.head[y],
                *[a != b for a, b in zip(pre.data[y], post.data[y], strict=True)],
                z3.And(c_pre[y], z3.Not(c_post[y])),
                z3.And(post.has[y], z3.Not(pre.has[y])),
            )
            touched.append(z3.And(changed, z3.Not(guest)) if y == root else changed)
        clauses = []
        for o in nodes:
            own = z3.Or(*[is_action(act, step, o) for step in ("job-copy", "job-io-error", "job-exit", "stream-complete")])
            hit = z3.Or(*[z3.And(touched[y], involved(pre, b_pre, o, y)) for y in nodes])
            clauses.append(z3.Implies(pre.has[o], z3.Or(own, z3.Not(hit))))
        return z3.And(*clauses)

    def guarded_ops(s: Sym) -> z3.BoolRef:
        # The names of the guarded commands are block.py's; what QEMU answers each is the encoding's.
        below = enc.below(s)
        return z3.And(
            *[
                z3.Implies(involved(s, below, o, y), z3.Not(enc.guarded_op_accepted(s, op, y)))
                for o in nodes
                for y in nodes
                for op in GUARDED_OPS
            ]
        )

    def stream_checked(pre: Sym, act: z3.ArithRef, post: Sym) -> z3.BoolRef:
        below = enc.below(pre)
        clauses = []
        for i, action in enumerate(enc.actions):
            if action[0] != "block-stream":
                continue
            top, base = action[1], action[2]
            checked = [z3.Or(*pre.blk[top])]
            checked += [z3.And(enc.between(below, top, z3.IntVal(base), y), z3.Or(*pre.blk[y])) for y in nodes if y != top]
            clauses.append(z3.Implies(act == i, z3.Not(z3.Or(*checked))))
        return z3.And(*clauses)

    def disjoint(s: Sym) -> z3.BoolRef:
        below = enc.below(s)
        return z3.And(
            *[
                z3.Not(z3.And(involved(s, below, a, y), involved(s, below, b, y)))
                for a in nodes
                for b in nodes
                if a < b
                for y in nodes
            ]
        )

    def ends_through_complete(pre: Sym, act: z3.ArithRef, post: Sym) -> z3.BoolRef:
        return z3.And(
            *[z3.Implies(z3.And(pre.has[o], z3.Not(post.has[o])), is_action(act, "stream-complete", o)) for o in nodes]
        )

    def no_leaked_blockers(s: Sym) -> z3.BoolRef:
        below = enc.below(s)
        return z3.And(*[z3.Implies(s.blk[y][o], involved(s, below, o, y)) for y in nodes for o in nodes])

    def acyclic(s: Sym) -> z3.BoolRef:
        below = enc.below(s)
        return z3.And(*[z3.Not(below[y][y]) for y in nodes])

    def links_change_only_on_success(pre: Sym, act: z3.ArithRef, post: Sym) -> z3.BoolRef:
        # Links and headers of nodes that stay (a removed node's are forgotten, not changed).
        link = [z3.And(pre.back[y] != post.back[y], post.back[y] != REMOVED) for y in nodes]
        header = [z3.And(pre.head[y] != post.head[y], post.head[y] != REMOVED) for y in nodes]
        changed = [z3.Or(a, b) for a, b in zip(link, header, strict=True)]
        rewrites = z3.Or(*[is_action(act, "change-backing-file", y) for y in nodes])
        # change-backing-file rewrites its image's header and nothing else of the chain.
        rewrite_ok = z3.And(
            *[z3.Not(a) for a in link],
            *[z3.Implies(header[y], is_action(act, "change-backing-file", y)) for y in nodes],
        )
        allowed = []
        for o in nodes:
            success = z3.And(z3.Not(pre.cancelled[o]), z3.Not(pre.failed[o]), pre.cursor[o] == chunks)
            only_owner = z3.And(*[z3.Not(changed[y]) for y in nodes if y != o])
            to_base = z3.And(post.back[o] == pre.base[o], post.head[o] == pre.base[o])
            allowed.append(z3.And(is_action(act, "stream-complete", o), pre.has[o], success, only_owner, to_base))
        return z3.If(rewrites, rewrite_ok, z3.Implies(z3.Or(*changed), z3.Or(*allowed)))

    def views_unchanged(pre: Sym, act: z3.ArithRef, post: Sym) -> z3.BoolRef:
        c_pre, c_post = enc.in_chain(pre, enc.below(pre)), enc.in_chain(post, enc.below(post))
        clauses = []
        for c in range(chunks):
            old, new = view_column(enc, pre, c), view_column(enc, post, c)
            wrote = is_action(act, "guest-write", c)
            for y in nodes:
                expected = z3.If(wrote, post.data[root][c], old[y]) if y == root else old[y]
                clauses.append(z3.Implies(z3.And(c_pre[y], c_post[y]), new[y] == expected))
        return z3.And(*clauses)

    def ownership(s: Sym) -> z3.BoolRef:
        # One job per owner holds by construction (one slot each); what can
        # fail is query-block-jobs listing every job under its expected name.
        return z3.And(*[z3.Implies(s.has[o], z3.BoolVal(enc.reported(o))) for o in nodes])

    invariants: dict[str, StateCheck] = {
        "isolation.guarded-ops": guarded_ops,
        "blockers-checked-everywhere.disjoint": disjoint,
        "no-leaked-blockers": no_leaked_blockers,
        "chain-integrity.acyclic": acyclic,
        "ownership-and-reporting": ownership,
    }
    edges: dict[str, EdgeCheck] = {
        "isolation": isolation,
        "blockers-checked-everywhere": stream_checked,
        "cancel-runs-complete": ends_through_complete,
        "chain-integrity": links_change_only_on_success,
        "guest-view-unchanged": views_unchanged,
    }
    return invariants, edges


def view_column(enc: BlockEncoding, s: Sym, chunk: int) -> list[z3.ArithRef]:
    """What each node reads at ``chunk``: its own value if allocated, else what its backing node reads."""
    n = enc.n
    column = [s.data[y][chunk] for y in range(n)]
    reads = list(column)
    for _ in range(n - 1):
        reads = [
            z3.If(column[y] != 0, column[y], _read_below(s, y, reads))
            for y in range(n)
        ]
    return reads


def _read_below(s: Sym, y: int, reads: list[z3.ArithRef]) -> z3.ArithRef:
    out: z3.ArithRef = z3.IntVal(0)
    for z in reversed(range(len(reads))):
        out = z3.If(s.back[y] == z, reads[z], out)
    return out
