"""Guest data for all contents: one-step proofs over symbolic arrays, for chains of any length.

A chain is a set of positions ``inch`` (an Array Int -> Bool) read in
position order: node ``i`` is backed by the next lower position in the
set (the ``chain-links`` invariant of chain_proofs.py).  Each node has an
allocation map and contents, ``alloc[node][chunk]`` and ``data[node][chunk]``,
as z3 Arrays, so nothing about chain length, chunk count or values is
enumerated.  What node ``r`` reads at chunk ``c`` is the contents of the
highest allocating position at or below ``r`` (0 when none allocates):
:func:`reads` states that with a witness position and a quantified "nothing
allocated in between", which z3 instantiates by E-matching.

Each claim is: if the pre-state and the action's effect are as the rules
say, every node in the chain before *and* after reads the same at every
chunk.  A claim that fails prints the chain and the contents z3 found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import z3

from blockcheck.checker.smt import Outcome, check_valid

I = z3.IntSort()
B = z3.BoolSort()


@dataclass
class Chain:
    """One state's chain and contents as arrays."""

    inch: z3.ArrayRef  # position -> in chain
    alloc: z3.ArrayRef  # node -> chunk -> allocated
    data: z3.ArrayRef  # node -> chunk -> value


def chain(tag: str) -> Chain:
    return Chain(
        z3.Array(f"inch@{tag}", I, B),
        z3.Array(f"alloc@{tag}", I, z3.ArraySort(I, B)),
        z3.Array(f"data@{tag}", I, z3.ArraySort(I, I)),
    )


def reads(s: Chain, r: z3.ArithRef, c: z3.ArithRef, tag: str) -> tuple[z3.BoolRef, z3.ArithRef]:
    """(constraints, value): node ``r`` reads ``value`` at chunk ``c`` (witness position ``j``, -1 for none)."""
    j, v, k = z3.Int(f"j@{tag}"), z3.Int(f"v@{tag}"), z3.Int(f"k@{tag}")
    nothing_above_j = z3.ForAll(
        [k], z3.Implies(z3.And(k > j, k <= r, k >= 0, s.inch[k]), z3.Not(s.alloc[k][c])), patterns=[s.inch[k]]
    )
    found = z3.And(j >= 0, j <= r, s.inch[j], s.alloc[j][c], v == s.data[j][c])
    return z3.And(nothing_above_j, z3.Or(z3.And(j == -1, v == 0), found)), v


READER, CHUNK = z3.Ints("reader chunk")
TOP, BASE, CURSOR, CHUNKS = z3.Ints("top base cursor chunks")
OVERLAY = z3.Int("overlay")
#: Counterexamples on a short chain with few chunks, when one exists.
SMALL = [z3.And(0 <= v, v <= 6) for v in (READER, CHUNK, TOP, CURSOR, CHUNKS)]


def views_unchanged(before: Chain, after: Chain, premises: list[z3.BoolRef]) -> Outcome:
    """Every node in both chains reads the same at every chunk."""
    pre, v1 = reads(before, READER, CHUNK, "before")
    post, v2 = reads(after, READER, CHUNK, "after")
    reader = z3.And(READER >= 0, before.inch[READER], after.inch[READER])
    return check_valid([*premises, reader, pre, post], v1 == v2, prefer=SMALL)


def _first_allocated(s: Chain, lo: z3.ArithRef, hi: z3.ArithRef, c: z3.ArithRef, tag: str) -> tuple[z3.BoolRef, z3.ArithRef, z3.ArithRef]:
    """(constraints, position, found): the highest chain position in (lo, hi) allocating ``c``, if ``found``."""
    j, k, found = z3.Int(f"src@{tag}"), z3.Int(f"k@{tag}"), z3.Bool(f"found@{tag}")
    none_above = z3.ForAll(
        [k], z3.Implies(z3.And(k > z3.If(found, j, lo), k < hi, s.inch[k]), z3.Not(s.alloc[k][c])), patterns=[s.inch[k]]
    )
    where = z3.Implies(found, z3.And(j > lo, j < hi, s.inch[j], s.alloc[j][c]))
    return z3.And(none_above, where), j, found


def _write(s: Chain, node: z3.ArithRef, c: z3.ArithRef, value: z3.ArithRef, when: z3.BoolRef, tag: str) -> tuple[Chain, z3.BoolRef]:
    """``s`` with chunk ``c`` of ``node`` allocated and set to ``value`` when ``when``."""
    out = chain(tag)
    alloc = z3.Store(s.alloc, node, z3.Store(s.alloc[node], c, True))
    data = z3.Store(s.data, node, z3.Store(s.data[node], c, value))
    same_chain = out.inch == s.inch
    return out, z3.And(same_chain, out.alloc == z3.If(when, alloc, s.alloc), out.data == z3.If(when, data, s.data))


def _job(top: z3.ArithRef, base: z3.ArithRef, s: Chain) -> z3.BoolRef:
    """A stream from ``top`` to ``base`` (-1 for none) on chain ``s``."""
    return z3.And(s.inch[top], base >= -1, base < top, z3.Or(base == -1, s.inch[base]))


def copied_prefix(s: Chain, top: z3.ArithRef, base: z3.ArithRef, cursor: z3.ArithRef) -> z3.BoolRef:
    """The stream job invariant: below the cursor, top allocates the chunk or no node between top and base does."""
    c, k = z3.Ints("pc pk")
    nothing_between = z3.ForAll([k], z3.Implies(z3.And(k > base, k < top, s.inch[k]), z3.Not(s.alloc[k][c])))
    return z3.ForAll([c], z3.Implies(z3.And(c >= 0, c < cursor), z3.Or(s.alloc[top][c], nothing_between)))


def _commit_job(top: z3.ArithRef, base: z3.ArithRef, s: Chain) -> z3.BoolRef:
    """A non-active commit of ``top`` into ``base`` on chain ``s``: base is a chain node strictly
    below top, and some chain node lies above top (the model refuses to commit the active layer)."""
    return z3.And(s.inch[top], base >= 0, base < top, s.inch[base], OVERLAY > top, s.inch[OVERLAY])


def committed_prefix(s: Chain, top: z3.ArithRef, base: z3.ArithRef, cursor: z3.ArithRef) -> z3.BoolRef:
    """The commit job invariant: below the cursor, base holds the chunk of the highest node in
    (base, top] that allocates it (no condition when none does).

    On completion the nodes above top read through base instead of (base, top]; their view
    stays the same only if base already holds what they read there, which the one step of
    commit-complete cannot see: earlier copies must have left it, and this says they did.
    "Highest" matters: a lower node of (base, top] may allocate the chunk with older data.
    """
    c, k, m = z3.Ints("qc qk qm")
    nothing_higher = z3.ForAll(
        [m], z3.Implies(z3.And(m > k, m <= top, s.inch[m]), z3.Not(s.alloc[m][c])), patterns=[s.inch[m]]
    )
    highest = z3.And(k > base, k <= top, s.inch[k], s.alloc[k][c], nothing_higher)
    in_base = z3.And(s.alloc[base][c], s.data[base][c] == s.data[k][c])
    return z3.ForAll([c, k], z3.Implies(z3.And(c >= 0, c < cursor, highest), in_base))


def _commit_complete(variant: str, cancelled: bool, *, all_copied: bool = True) -> Outcome:
    """commit-complete: a success (or, under cancel-changes-chain, a cancel) makes base the
    backing of top's overlay, so (base, top] leaves the chain; contents stay as they are.

    A success has copied every chunk; a cancelled job may stop at any cursor.  A success with
    ``all_copied=False`` is a broken rule (redirect before the last copy), for the test that
    shows the claim can fail.
    """
    before = chain("before")
    redirect = not cancelled or variant == "cancel-changes-chain"
    return _redirect_keeps_views(
        before, "after-commit", _commit_job(TOP, BASE, before), committed_prefix(before, TOP, BASE, CURSOR),
        lambda k: z3.And(redirect, k > BASE, k <= TOP), every_chunk_copied=all_copied and not cancelled)


def _redirect_keeps_views(before: Chain, after_tag: str, job: z3.BoolRef, prefix: z3.BoolRef,
                          leaves: Callable[[z3.ArithRef], z3.BoolRef], *, every_chunk_copied: bool) -> Outcome:
    """The views are unchanged when the positions ``leaves`` picks drop out of the chain and
    nothing else changes, given the job, its prefix invariant, and its progress: every chunk
    copied, or (a cancelled job) any cursor."""
    after = chain(after_tag)
    k = z3.Int("ck")
    dropped = z3.ForAll([k], after.inch[k] == z3.And(before.inch[k], z3.Not(leaves(k))))
    progress = CURSOR == CHUNKS if every_chunk_copied else z3.And(CURSOR >= 0, CURSOR <= CHUNKS)
    premises = [job, CHUNKS >= 1, progress, prefix, dropped, after.alloc == before.alloc, after.data == before.data]
    return views_unchanged(before, after, [*premises, CHUNK >= 0, CHUNK < CHUNKS])


def data_claims(variant: str) -> list[tuple[str, Callable[[], Outcome], Callable[[Outcome], str]]]:
    """(claim, proof, how to print its counterexample) for every data-moving action."""
    top, base, cursor = TOP, BASE, CURSOR
    before = chain("before")
    job = _job(top, base, before)

    def stream_copy() -> Outcome:
        src_lo = base if variant != "copy-reads-base" else z3.IntVal(-1)
        src_hi = top if variant != "copy-reads-base" else base + 1
        found_src, j, found = _first_allocated(before, src_lo, src_hi, cursor, "copy")
        copy = z3.And(z3.Not(before.alloc[top][cursor]), found)
        after, effect = _write(before, top, cursor, before.data[j][cursor], copy, "after-copy")
        return views_unchanged(before, after, [job, cursor >= 0, found_src, effect])

    def complete(cancelled: bool) -> Callable[[], Outcome]:
        def prove() -> Outcome:
            redirect = not cancelled or variant == "cancel-changes-chain"
            return _redirect_keeps_views(
                before, "after-complete", job, copied_prefix(before, top, base, cursor),
                lambda k: z3.And(redirect, k > base, k < top), every_chunk_copied=not cancelled)

        return prove

    def prefix_kept_by_copy() -> Outcome:
        found_src, j, found = _first_allocated(before, base, top, cursor, "copy")
        copy = z3.And(z3.Not(before.alloc[top][cursor]), found)
        after, effect = _write(before, top, cursor, before.data[j][cursor], copy, "after-copy")
        premises = [job, cursor >= 0, found_src, effect, copied_prefix(before, top, base, cursor)]
        return check_valid(premises, copied_prefix(after, top, base, cursor + 1))

    def commit_copy_step() -> tuple[Chain, list[z3.BoolRef]]:
        """One commit copy: base gets the chunk of the highest node in (base, top] allocating it,
        found in the pre-state (the write changes base, which is outside that range)."""
        found_src, j, found = _first_allocated(before, base, top + 1, cursor, "commit-copy")
        after, effect = _write(before, base, cursor, before.data[j][cursor], found, "after-commit-copy")
        return after, [_commit_job(top, base, before), cursor >= 0, found_src, effect]

    def commit_copy() -> Outcome:
        """Only nodes above top or below base must read the same: base and the nodes from top
        down to it are what is being committed, and base legitimately reads the new data."""
        after, premises = commit_copy_step()
        return views_unchanged(before, after, [*premises, z3.Or(READER > top, READER < base)])

    def prefix_kept_by_commit_copy() -> Outcome:
        after, premises = commit_copy_step()
        return check_valid([*premises, committed_prefix(before, top, base, cursor)], committed_prefix(after, top, base, cursor + 1))

    def show(after: str, job: str = "stream") -> Callable[[Outcome], str]:
        return lambda outcome: describe_chains(outcome.model, [before, chain(after)], top, base, cursor, job=job)

    return [
        ("guest-view: a stream copies one chunk", stream_copy, show("after-copy")),
        ("guest-view: stream_complete after success", complete(False), show("after-complete")),
        ("guest-view: stream_complete of a cancelled job", complete(True), show("after-complete")),
        ("guest-view: copies keep the copied-prefix invariant", prefix_kept_by_copy, show("after-copy")),
        ("guest-view: a commit copies one chunk", commit_copy, show("after-commit-copy", "commit")),
        ("guest-view: commit-complete after success", lambda: _commit_complete(variant, False), show("after-commit", "commit")),
        ("guest-view: commit-complete of a cancelled job", lambda: _commit_complete(variant, True), show("after-commit", "commit")),
        ("guest-view: commit copies keep the committed-prefix invariant", prefix_kept_by_commit_copy, show("after-commit-copy", "commit")),
    ]


def describe_chains(
    model: z3.ModelRef | None, states: list[Chain], top: z3.ArithRef, base: z3.ArithRef, cursor: z3.ArithRef, job: str = "stream"
) -> str:
    """The counterexample as chains with per-node contents, for the positions the model mentions."""
    if model is None:
        return ""

    def val(term: z3.ExprRef) -> int | bool:
        v = model.eval(term, model_completion=True)
        return z3.is_true(v) if z3.is_bool(v) else v.as_long()

    t, b, cur, reader, chunk = val(top), val(base), val(cursor), val(READER), val(CHUNK)
    lines = [
        f"{job} top=position {t}, base={'none' if b == -1 else f'position {b}'}, cursor={cur}; "
        f"node {reader} reads chunk {chunk} differently"
    ]
    positions = range(max(0, min(b, t, reader) - 2), max(t, reader) + 1)
    for s in states:
        name = str(s.inch).split("@")[1]
        cells = []
        for p in positions:
            if not val(s.inch[p]):
                continue
            cell = str(val(s.data[p][chunk])) if val(s.alloc[p][chunk]) else "-"
            cells.append(f"[{p}: {cell}]")
        lines.append(f"  {name}: " + " <- ".join(cells) + f"   (position: contents of chunk {chunk}; - = unallocated)")
    return "\n".join(lines)

