"""The seed rules as a z3 transition relation over one fixed scenario (for BMC).

A state is a :class:`Sym`: one z3 term per field of the explicit tuple
(model/state.py), with the job list stored as one slot per owner (the
seed allows at most one job per owner, and a stream's top is its owner).
Each action the explicit model can take is one *concrete* action tuple, as
``BlockModel._candidates`` yields it; :meth:`BlockEncoding.step` gives its
guard and its effect as terms over the pre-state.  The relation is

    Or_i (act == i  and  guard_i(pre)  and  post == effect_i(pre))  and  post != pre

The last conjunct drops accepted no-ops, which the explicit model does not
count as edges either.  The rules here are written again from seed.py's
text, not derived from its code: tests/proofs/test_encoding.py checks
that the two agree on every reachable state, so neither can drift.

Encoded: stream, cancel, pause, resume, change-backing-file (when the
scenario's commands have it) and the guest's writes, and the answers to the
op-blocker-guarded commands the properties ask about.  Non-active commit
would need a top distinct from the owner and is refused with a ValueError
rather than encoded wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import z3

from blockcheck.checker.smt import compile_terms
from blockcheck.model.scenario import Scenario
from blockcheck.model.state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    CHANGES_LEFT,
    DATA,
    FAILED,
    HEADERS,
    J_BASE,
    J_CURSOR,
    J_FLAGS,
    J_KIND,
    J_OWNER,
    J_PAUSES,
    J_STATUS,
    J_TOP,
    JOBS,
    JOBS_LEFT,
    NONE,
    REMOVED,
    WRITES_LEFT,
    Kind,
    Status,
    initial_state,
)

RUNNING, PAUSED, FINISHED = int(Status.RUNNING), int(Status.PAUSED), int(Status.FINISHED)

JOB_ACTIONS = ("job-copy", "job-io-error", "job-exit", "stream-complete")


@dataclass
class Sym:
    """One state as z3 terms; lists are indexed by node (or owner) number."""

    back: list[z3.ArithRef]
    data: list[list[z3.ArithRef]]
    has: list[z3.BoolRef]
    base: list[z3.ArithRef]
    status: list[z3.ArithRef]
    cursor: list[z3.ArithRef]
    cancelled: list[z3.BoolRef]
    failed: list[z3.BoolRef]
    pauses: list[z3.ArithRef]
    #: blk[node][owner]: the stream job owned by ``owner`` blocks ``node``.
    blk: list[list[z3.BoolRef]]
    writes_left: z3.ArithRef
    jobs_left: z3.ArithRef
    #: head[node]: the node its on-disk header names as backing file (state.py's headers).
    head: list[z3.ArithRef]
    changes_left: z3.ArithRef

    def terms(self) -> list[z3.ExprRef]:
        """Every field as a flat list, in a fixed order."""
        out: list[z3.ExprRef] = []
        for f in fields(self):
            out += _flatten(getattr(self, f.name))
        return out

    def replace(self, **changes: object) -> Sym:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Sym(**values)


def _value(term: z3.ExprRef) -> int:
    """A z3 constant as an int (Booleans as 0/1)."""
    return int(z3.is_true(term)) if z3.is_bool(term) else term.as_long()


def _flatten(value: object) -> list:
    if isinstance(value, list):
        return [t for item in value for t in _flatten(item)]
    return [value]


def _pick(index: z3.ArithRef, items: Sequence[z3.ExprRef], default: z3.ExprRef) -> z3.ExprRef:
    """``items[index]`` for a symbolic index (``default`` when out of range)."""
    out = default
    for i in reversed(range(len(items))):
        out = z3.If(index == i, items[i], out)
    return out


class BlockEncoding:
    """The seed rules of one scenario and one variant as z3 terms."""

    def __init__(self, scenario: Scenario, variant: str | None = None) -> None:
        if "block-commit" in scenario.commands:
            raise ValueError("the z3 encoding covers stream, cancel, pause and resume; drop block-commit from the scenario")
        self.scenario = scenario
        self.variant = scenario.variant if variant is None else variant
        self.n = scenario.chain_length
        self.chunks = scenario.chunks
        self.root = scenario.root
        self.actions = self._action_list()
        self._shape = self.fresh("shape")
        #: id(Sym) -> (Sym, below matrix); the Sym is kept so its id is not reused.
        self._below: dict[int, tuple[Sym, list]] = {}

    # -- actions ------------------------------------------------------------
    def _action_list(self) -> list[tuple]:
        """Every action tuple the explicit model could yield, in a fixed order.

        A cancel's ``force`` argument is chosen by the model from the job's
        status; here it is left as None and filled in by :meth:`action_of`.
        """
        sc, n = self.scenario, self.n
        out: list[tuple] = []
        if "block-stream" in sc.commands:
            out += [("block-stream", top, base) for top in range(n) for base in (*range(top), NONE)]
        for owner in range(n):
            if "block-job-cancel" in sc.commands:
                out.append(("block-job-cancel", owner, None))
            if "block-job-pause" in sc.commands:
                out.append(("block-job-pause", owner))
            if "block-job-resume" in sc.commands:
                out.append(("block-job-resume", owner))
        if "change-backing-file" in sc.commands:
            out += [("change-backing-file", image, target) for image in range(n) for target in range(n) if target != image]
        out += [("guest-write", c) for c in range(self.chunks)]
        out += [(name, owner) for owner in range(n) for name in JOB_ACTIONS]
        return out

    def action_of(self, index: int, pre_status: int) -> tuple:
        """The explicit action tuple of action ``index`` taken in a state where its job has ``pre_status``."""
        action = self.actions[index]
        if action[0] == "block-job-cancel":
            return (action[0], action[1], pre_status == PAUSED)
        return action

    # -- states -------------------------------------------------------------
    def fresh(self, tag: str) -> Sym:
        n, c = self.n, self.chunks

        def ints(name: str) -> list[z3.ArithRef]:
            return [z3.Int(f"{name}{i}@{tag}") for i in range(n)]

        def bools(name: str) -> list[z3.BoolRef]:
            return [z3.Bool(f"{name}{i}@{tag}") for i in range(n)]

        return Sym(
            back=ints("back"),
            data=[[z3.Int(f"data{i}.{k}@{tag}") for k in range(c)] for i in range(n)],
            has=bools("has"),
            base=ints("base"),
            status=ints("status"),
            cursor=ints("cursor"),
            cancelled=bools("cancelled"),
            failed=bools("failed"),
            pauses=ints("pauses"),
            blk=[[z3.Bool(f"blk{i}.{o}@{tag}") for o in range(n)] for i in range(n)],
            writes_left=z3.Int(f"writes_left@{tag}"),
            jobs_left=z3.Int(f"jobs_left@{tag}"),
            head=ints("head"),
            changes_left=z3.Int(f"changes_left@{tag}"),
        )

    def constant(self, state: tuple) -> Sym:
        """A concrete explicit state as a Sym of z3 constants."""
        n = self.n
        jobs = {job[J_OWNER]: job for job in state[JOBS]}
        for job in jobs.values():
            if job[J_KIND] != Kind.STREAM or job[J_TOP] != job[J_OWNER]:
                raise ValueError(f"job {job} is not a stream into its owner; the encoding has no slot for it")
        if len(jobs) != len(state[JOBS]):
            raise ValueError(f"two jobs share an owner in {state}; the encoding has one slot per owner")

        def job_field(owner: int, field: int, absent: int) -> int:
            return jobs[owner][field] if owner in jobs else absent

        return Sym(
            back=[z3.IntVal(b) for b in state[BACKING]],
            data=[[z3.IntVal(v) for v in row] for row in state[DATA]],
            has=[z3.BoolVal(o in jobs) for o in range(n)],
            base=[z3.IntVal(job_field(o, J_BASE, NONE)) for o in range(n)],
            status=[z3.IntVal(job_field(o, J_STATUS, RUNNING)) for o in range(n)],
            cursor=[z3.IntVal(job_field(o, J_CURSOR, 0)) for o in range(n)],
            cancelled=[z3.BoolVal(bool(job_field(o, J_FLAGS, 0) & CANCELLED)) for o in range(n)],
            failed=[z3.BoolVal(bool(job_field(o, J_FLAGS, 0) & FAILED)) for o in range(n)],
            pauses=[z3.IntVal(job_field(o, J_PAUSES, 0)) for o in range(n)],
            blk=[[z3.BoolVal(bool(state[BLOCKERS][i] >> (2 * o) & 1)) for o in range(n)] for i in range(n)],
            writes_left=z3.IntVal(state[WRITES_LEFT]),
            jobs_left=z3.IntVal(state[JOBS_LEFT]),
            head=[z3.IntVal(h) for h in state[HEADERS]],
            changes_left=z3.IntVal(state[CHANGES_LEFT]),
        )

    def decode(self, model: z3.ModelRef, s: Sym) -> tuple:
        """The explicit state tuple a model gives ``s``."""
        return self.decode_values([_value(model.eval(t, model_completion=True)) for t in s.terms()])

    def values(self, state: tuple) -> list[int]:
        """A concrete explicit state as the values of :meth:`Sym.terms`, Booleans as 0/1."""
        return [_value(t) for t in self.constant(state).terms()]

    def decode_values(self, values: list) -> tuple:
        """The explicit state tuple whose :meth:`Sym.terms` values are ``values``."""
        s = _rebuild(self._shape, [int(v) for v in values])
        n = self.n
        jobs = []
        for o in range(n):
            if s.has[o]:
                flags = CANCELLED * s.cancelled[o] | FAILED * s.failed[o]
                jobs.append((o, Kind.STREAM, o, s.base[o], s.status[o], s.cursor[o], flags, s.pauses[o]))
        blockers = tuple(sum(s.blk[i][o] << (2 * o) for o in range(n)) for i in range(n))
        data = tuple(tuple(row) for row in s.data)
        return (tuple(s.back), data, tuple(jobs), blockers, s.writes_left, s.jobs_left, tuple(s.head), s.changes_left)

    def init(self, s: Sym) -> z3.BoolRef:
        sc = self.scenario
        start = self.constant(initial_state(sc.chain_length, sc.chunks, sc.guest_writes, sc.jobs_per_run, sc.header_changes))
        return equal(s, start)

    # -- the chain ------------------------------------------------------------
    def below(self, s: Sym) -> list[list[z3.BoolRef]]:
        """``below[x][y]``: y is reached from x by one or more backing links (built once per Sym)."""
        cached = self._below.get(id(s))
        if cached is not None and cached[0] is s:
            return cached[1]
        reach = self._reach(s)
        self._below[id(s)] = (s, reach)
        return reach

    def _reach(self, s: Sym) -> list[list[z3.BoolRef]]:
        n = self.n
        reach = [[s.back[x] == y for y in range(n)] for x in range(n)]
        for _ in range(n - 1):
            reach = [
                [z3.Or(reach[x][y], *[z3.And(s.back[x] == z, reach[z][y]) for z in range(n)]) for y in range(n)]
                for x in range(n)
            ]
        return reach

    def in_chain(self, s: Sym, below: list[list[z3.BoolRef]]) -> list[z3.BoolRef]:
        return [z3.BoolVal(True) if y == self.root else below[self.root][y] for y in range(self.n)]

    def between(self, below: list[list[z3.BoolRef]], top: int, base: z3.ArithRef, y: int) -> z3.BoolRef:
        """y is strictly between ``top`` and ``base``; all of top's chain when base is not below top."""
        n = self.n
        base_below = z3.Or(*[z3.And(base == z, below[top][z]) for z in range(n)])
        y_above_base = z3.Or(*[z3.And(base == z, below[y][z]) for z in range(n)])
        return z3.And(below[top][y], z3.Or(z3.Not(base_below), y_above_base))

    def blocked(self, s: Sym, node: int) -> z3.BoolRef:
        """A job's op blocker is on ``node``."""
        return z3.Or(*s.blk[node])

    def backed_onto(self, s: Sym, node: int) -> z3.BoolRef:
        """Some node backs onto ``node``: its backing link's blocker is on it (one that left
        the chain too, while a job holds it: §2.3)."""
        return z3.Or(*[s.back[p] == node for p in range(self.n)])

    def guarded_op_accepted(self, s: Sym, op: str, node: int) -> z3.BoolRef:
        """QEMU 2.8 accepts the op-blocker-guarded command ``op`` on ``node`` (docs/op-blockers.md §2.3-§2.8).

        - drive-mirror takes a root only, then its op type must be free
          there (of job blockers and of a backing link's);
        - block_resize and blockdev-snapshot-sync act only on a first
          non-filter node: the root, or a node that owns a job (its own
          BlockBackend sits on it in 2.8); their op types must be free;
        - change-backing-file, sent through the guest's device for
          ``node``'s own header: :meth:`change_accepted`.
        """
        free = z3.Not(z3.Or(self.blocked(s, node), self.backed_onto(s, node)))
        if op == "drive-mirror":
            return free if node == self.root else z3.BoolVal(False)
        if op in ("block_resize", "blockdev-snapshot-sync"):
            first_non_filter = z3.BoolVal(True) if node == self.root else s.has[node]
            return z3.And(first_non_filter, free)
        if op == "change-backing-file":
            return self.change_accepted(s, self.below(s), node)
        raise ValueError(f"no encoding of the guarded command {op!r}")

    def change_accepted(self, s: Sym, below: list, image: int) -> z3.BoolRef:
        """change-backing-file for ``image`` is accepted (whatever string it writes).

        The image needs a backing file and must be in the active layer's
        chain, and the scenario must allow one more rewrite.  QEMU 2.8 checks
        CHANGE on the root only, where a backing link would block it too;
        the fix checks every node from the root down to the image, on which
        only a job's blocker counts (a backing link no longer blocks CHANGE).
        """
        in_chain = self.in_chain(s, below)
        if self.variant == "fix-change-checks-chain":
            walk = [z3.And(in_chain[z], z3.BoolVal(True) if z == image else below[z][image]) for z in range(self.n)]
            free = z3.And(*[z3.Implies(on_walk, z3.Not(self.blocked(s, z))) for z, on_walk in enumerate(walk)])
        else:
            free = z3.Not(z3.Or(self.blocked(s, self.root), self.backed_onto(s, self.root)))
        return z3.And(s.back[image] >= 0, free, in_chain[image], s.changes_left > 0)

    def reported(self, owner: int) -> bool:
        """query-block-jobs lists the job owned by ``owner`` under its expected name (seed point 2)."""
        if owner == self.root:
            return True
        return self.variant not in ("root-only-query", "device-field-empty")

    # -- the rules ------------------------------------------------------------
    def step(self, s: Sym, index: int) -> tuple[z3.BoolRef, Sym]:
        """Guard and effect of action ``index`` on state ``s``."""
        action = self.actions[index]
        name = action[0]
        below = self.below(s)
        if name == "block-stream":
            return self._stream(s, below, action[1], action[2])
        owner = action[1]
        has, st, canc = s.has[owner], s.status[owner], s.cancelled[owner]
        if name == "block-job-cancel":
            guard = z3.And(has, z3.Not(canc))
            new_status = z3.If(st == PAUSED, z3.IntVal(RUNNING), st)
            return guard, self._job(s, owner, status=new_status, cancelled=z3.BoolVal(True))
        if name == "block-job-pause":
            guard = z3.And(has, st == RUNNING, z3.Not(canc), s.pauses[owner] < self.scenario.pauses_per_job)
            return guard, self._job(s, owner, status=z3.IntVal(PAUSED), pauses=s.pauses[owner] + 1)
        if name == "block-job-resume":
            return z3.And(has, st == PAUSED), self._job(s, owner, status=z3.IntVal(RUNNING))
        if name == "guest-write":
            return self._guest_write(s, owner)
        if name == "change-backing-file":
            return self._change_backing_file(s, below, action[1], action[2])
        if name == "job-copy":
            return z3.And(has, st == RUNNING, z3.Not(canc)), self._copy(s, below, owner)
        if name == "job-io-error":
            guard = z3.And(has, st == RUNNING, z3.Not(canc))
            return guard, self._job(s, owner, status=z3.IntVal(FINISHED), failed=z3.BoolVal(True))
        if name == "job-exit":
            return z3.And(has, st == RUNNING, canc), self._exit(s, owner)
        if name == "stream-complete":
            guard = z3.And(has, st == FINISHED)
            if self.variant == "cancel-never-completes":
                guard = z3.And(guard, z3.Not(canc))
            return guard, self._complete(s, below, owner)
        raise ValueError(f"no encoding for action {action!r}")

    def _stream(self, s: Sym, below: list, top: int, base: int) -> tuple[z3.BoolRef, Sym]:
        n = self.n
        in_chain = self.in_chain(s, below)
        jobs = z3.Sum(*[z3.If(h, 1, 0) for h in s.has])
        base_term = z3.IntVal(base)
        middle = [y for y in range(n) if y != top]
        between = {y: self.between(below, top, base_term, y) for y in middle}
        base_ok = z3.BoolVal(True) if base == NONE else below[top][base]
        checked = [] if self.variant == "top-only-check" else middle
        unblocked = z3.And(z3.Not(self.blocked(s, top)), *[z3.Implies(between[y], z3.Not(self.blocked(s, y))) for y in checked])
        guard = z3.And(
            in_chain[top],
            base_ok,
            unblocked,
            z3.Not(s.has[top]),
            jobs < self.scenario.max_jobs,
            s.jobs_left > 0,
        )
        blocks = [] if self.variant == "no-intermediate-block" else middle
        blk = [
            [
                (z3.BoolVal(True) if y == top else z3.Or(s.blk[y][o], between[y]) if y in blocks else s.blk[y][o])
                if o == top
                else s.blk[y][o]
                for o in range(n)
            ]
            for y in range(n)
        ]
        new = self._job(
            s,
            top,
            has=z3.BoolVal(True),
            base=base_term,
            status=z3.IntVal(RUNNING),
            cursor=z3.IntVal(0),
            cancelled=z3.BoolVal(False),
            failed=z3.BoolVal(False),
            pauses=z3.IntVal(0),
        )
        return guard, new.replace(blk=blk, jobs_left=s.jobs_left - 1)

    def _change_backing_file(self, s: Sym, below: list, image: int, target: int) -> tuple[z3.BoolRef, Sym]:
        """Rewrite the image's header to name ``target``, a node below it other than the one it names now.

        The live link stays as it is.  Which targets are tried is the
        user's choice (block_model's candidates), whether it is accepted the rule's.
        """
        guard = z3.And(below[image][target], s.head[image] != target, self.change_accepted(s, below, image))
        head = list(s.head)
        head[image] = z3.IntVal(target)
        return guard, s.replace(head=head, changes_left=s.changes_left - 1)

    def _guest_write(self, s: Sym, chunk: int) -> tuple[z3.BoolRef, Sym]:
        value = 10 + self.scenario.guest_writes - s.writes_left
        data = [list(row) for row in s.data]
        data[self.root][chunk] = value
        return s.writes_left > 0, s.replace(data=data, writes_left=s.writes_left - 1)

    def _copy(self, s: Sym, below: list, owner: int) -> Sym:
        """Copy the chunk at the cursor into the owner, then move the cursor (and return after the last chunk)."""
        n, c = self.n, s.cursor[owner]
        base = s.base[owner]
        column = [_pick(c, s.data[i], z3.IntVal(0)) for i in range(n)]
        if self.variant == "copy-reads-base":
            value = self._first_allocated(s, column, base, stop=None)
        else:
            value = self._first_allocated(s, column, s.back[owner], stop=base)
        own = column[owner]
        write = z3.And(own == 0, value != 0)
        row = [z3.If(z3.And(write, c == k), value, s.data[owner][k]) for k in range(self.chunks)]
        data = [row if i == owner else list(s.data[i]) for i in range(n)]
        moved = self._job(s.replace(data=data), owner, cursor=c + 1)
        last = c + 1 == self.chunks
        exited = self._exit(moved, owner)
        return _ite_sym(last, exited, moved)

    def _first_allocated(self, s: Sym, column: list, start: z3.ArithRef, stop: z3.ArithRef | None) -> z3.ArithRef:
        """The first non-zero ``column`` value walking down from ``start``, before reaching ``stop``."""
        n = self.n
        value: z3.ArithRef = z3.IntVal(0)
        # Unrolled walk: node_k is the k-th node from start; n steps reach past any acyclic chain.
        nodes = [start]
        for _ in range(n - 1):
            nodes.append(_pick(nodes[-1], s.back, z3.IntVal(NONE)))
        for node in reversed(nodes):
            alive = node >= 0 if stop is None else z3.And(node >= 0, node != stop)
            here = _pick(node, column, z3.IntVal(0))
            value = z3.If(z3.And(alive, here != 0), here, z3.If(alive, value, z3.IntVal(0)))
        return value

    def _exit(self, s: Sym, owner: int) -> Sym:
        """The coroutine returns: FINISHED, or (cancel-skips-complete, cancelled) the job just ends."""
        finished = self._job(s, owner, status=z3.IntVal(FINISHED))
        if self.variant == "early-unblock":
            finished = self._unblock(finished, owner)
        if self.variant == "cancel-skips-complete":
            return _ite_sym(s.cancelled[owner], self._forget(self._drop(s, owner)), finished)
        return finished

    def _complete(self, s: Sym, below: list, owner: int) -> Sym:
        """stream_complete: on success the owner's header, then its live link, name the base; the job ends."""
        success = z3.And(z3.Not(s.cancelled[owner]), z3.Not(s.failed[owner]), s.cursor[owner] == self.chunks)
        if self.variant == "cancel-changes-chain":
            success = z3.Or(success, s.cancelled[owner])
        back, head = list(s.back), list(s.head)
        back[owner] = z3.If(success, s.base[owner], s.back[owner])
        head[owner] = z3.If(success, s.base[owner], s.head[owner])
        return self._forget(self._drop(self._unblock(s.replace(back=back, head=head), owner), owner))

    def _forget(self, s: Sym) -> Sym:
        """Nodes out of the chain that no job holds and no blocker marks are removed (contents and header forgotten)."""
        n = self.n
        below = self.below(s)
        in_chain = self.in_chain(s, below)
        back, data, head = [], [], []
        for y in range(n):
            held_by_job = [
                z3.And(s.has[o], z3.Or(y == o, s.base[o] == y, self.between(below, o, s.base[o], y))) for o in range(n)
            ]
            held = z3.Or(in_chain[y], *held_by_job)
            gone = z3.And(z3.Not(held), z3.Not(self.blocked(s, y)), s.back[y] != REMOVED)
            back.append(z3.If(gone, z3.IntVal(REMOVED), s.back[y]))
            data.append([z3.If(gone, z3.IntVal(0), v) for v in s.data[y]])
            head.append(z3.If(gone, z3.IntVal(REMOVED), s.head[y]))
        return s.replace(back=back, data=data, head=head)

    def _unblock(self, s: Sym, owner: int) -> Sym:
        blk = [[z3.BoolVal(False) if o == owner else s.blk[y][o] for o in range(self.n)] for y in range(self.n)]
        return s.replace(blk=blk)

    def _drop(self, s: Sym, owner: int) -> Sym:
        """The job slot emptied, its fields back to the values :meth:`constant` gives an absent job."""
        return self._job(
            s,
            owner,
            has=z3.BoolVal(False),
            base=z3.IntVal(NONE),
            status=z3.IntVal(RUNNING),
            cursor=z3.IntVal(0),
            cancelled=z3.BoolVal(False),
            failed=z3.BoolVal(False),
            pauses=z3.IntVal(0),
        )

    @staticmethod
    def _job(s: Sym, owner: int, **fields_: z3.ExprRef) -> Sym:
        changes = {}
        for name, value in fields_.items():
            column = list(getattr(s, name))
            column[owner] = value
            changes[name] = column
        return s.replace(**changes)

    # -- the relation ---------------------------------------------------------
    def transition(self, pre: Sym, act: z3.ArithRef, post: Sym) -> z3.BoolRef:
        """One step of the explicit model: some enabled action, taken, that changes the state."""
        cases = []
        for i in range(len(self.actions)):
            guard, effect = self.step(pre, i)
            cases.append(z3.And(act == i, guard, equal(post, effect)))
        return z3.And(z3.Or(*cases), z3.Not(equal(pre, post)))


    def compiled_successors(self) -> Callable[[tuple], set[tuple[tuple, tuple]]]:
        """The relation, evaluated on a concrete pre-state: every (action, post-state) it admits.

        Each action's guard and effect is built once over a symbolic
        pre-state and translated to Python (checker.smt.compile_terms); the
        post-state is the effect, kept when the guard holds and it differs
        from the pre-state, exactly as :meth:`transition` states.
        """
        pre = self.fresh("pre")
        outputs: list[z3.ExprRef] = []
        for i in range(len(self.actions)):
            guard, effect = self.step(pre, i)
            outputs += [guard, *effect.terms()]
        evaluate = compile_terms(pre.terms(), outputs)
        width = 1 + len(pre.terms())
        owner_status = {i: a[1] for i, a in enumerate(self.actions) if a[0] == "block-job-cancel"}

        def successors(state: tuple) -> set[tuple[tuple, tuple]]:
            before = self.values(state)
            results = evaluate(before)
            out = set()
            for i in range(len(self.actions)):
                row = results[i * width : (i + 1) * width]
                after = [int(v) for v in row[1:]]
                if row[0] and after != before:
                    status = before[self._status_offset + owner_status[i]] if i in owner_status else RUNNING
                    out.add((self.action_of(i, status), self.decode_values(after)))
            return out

        return successors

    @property
    def _status_offset(self) -> int:
        """Where the status fields start in :meth:`Sym.terms` order."""
        n = self.n
        return n + n * self.chunks + 2 * n


def equal(a: Sym, b: Sym) -> z3.BoolRef:
    return z3.And(*[x == y for x, y in zip(a.terms(), b.terms(), strict=True)])


def _ite_sym(cond: z3.BoolRef, then: Sym, other: Sym) -> Sym:
    """Field-wise If(cond, then, other)."""
    values = [z3.If(cond, x, y) for x, y in zip(then.terms(), other.terms(), strict=True)]
    return _rebuild(then, values)


def _rebuild(shape: Sym, values: list[z3.ExprRef]) -> Sym:
    """A Sym shaped like ``shape`` holding ``values`` in :meth:`Sym.terms` order."""
    it = iter(values)

    def take(like: object) -> object:
        return [take(item) for item in like] if isinstance(like, list) else next(it)

    return Sym(**{f.name: take(getattr(shape, f.name)) for f in fields(shape)})


EdgeCheck = Callable[[Sym, z3.ArithRef, Sym], z3.BoolRef]
