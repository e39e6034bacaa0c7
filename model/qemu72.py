"""The rules of the ``qemu-7.2`` profile: block-stream as QEMU 7.2 implements it.

Every rule cites qemu-domain.md (§N) or conformance/FACTS.md (FACTS §N), the
answers QEMU 7.2 gave to the harness.  What the profile shares with the seed
(the chain, the data, op blockers as bits per node, the guest) comes from
:mod:`.state` and :class:`.seed.SeedRules`; what differs:

1. Jobs have IDs, and ``block-job-*``'s ``device`` is the ID (§2.1, FACTS §0).
   qemu-storage-daemon has no device names, so the ID must always be given;
   the model names a stream of node X ``stream-X`` and a commit whose top
   is X ``commit-X``.  A job record's owner is its top for a stream and
   the top plus the chain length for a commit, so that every job has its
   own owner, and the ID follows from it (:meth:`Qemu72Rules.job_id`).
2. A stream inserts a copy-on-read filter above its top (§2.2 v8.2 step 8,
   FACTS §7).  The filter is the job's main node: it is blocked and sits in
   the graph between the top and the top's overlay, so a block-stream whose
   walk crosses it is refused with ``Node '#blockN' is busy`` (FACTS §3, §6).
   The filter is not a node of the state: it exists while its job is
   running, paused or pending (an active commit's also in READY and
   STANDBY), and is dropped at finalize or abort.
3. Jobs follow JobStatus and the verb table (§5.1-§5.3, FACTS §5).  A job
   started with ``auto-finalize: false`` waits in PENDING for
   ``block-job-finalize``, where the graph changes (§2.5 stream_prepare);
   with ``auto-dismiss: false`` it stays CONCLUDED, keeping its op blockers,
   until ``block-job-dismiss`` (§2.5, FACTS §4).  QEMU's defaults (both
   true) take those steps by themselves when the job's run ends or it is
   cancelled (job_completed_txn_success, job_conclude; FACTS §1, §11), in
   the same model step.
4. A job advances the way a throttled 7.2 stream does (FACTS §0): it skips
   the chunks that need no copy without sleeping, copies the next chunk that
   needs one and sleeps; copying the last chunk ends the run (PENDING).  Its
   start includes the first such advance, and so does a resume (a resume
   wakes the sleeping job).  Each other advance is the internal step
   ``job-copy``.  Transient statuses (created, waiting, aborting) are never
   seen between two commands, so the model goes straight through them.
5. Nodes are monitor-owned (blockdev-add): a node a stream cuts out of the
   chain stays a node with its own backing link (FACTS §1) until the user
   deletes it with ``blockdev-del``; then its backing is REMOVED and it
   leaves the graph, while its image file keeps its data and header.
6. Every answer carries the QMP events the command or step emits (FACTS §1,
   §4, §5, §11): JOB_STATUS_CHANGE for each status a job passes through
   (transient ones included), BLOCK_JOB_PENDING, BLOCK_JOB_COMPLETED and
   BLOCK_JOB_CANCELLED.  ``speed`` is left out of the last two: the model
   does not track a job's rate.
7. block-commit below the active layer (FACTS §12.1, block/commit.c) runs
   as a stream does, with three differences.  It holds the device (the
   active layer), every node from its top down to its base, and the base
   (commit_start's block_job_add_bdrv calls); its ``commit_top`` filter
   above the top is not held.  Each copy moves the chunk the uppermost of
   those nodes holds into the base.  At finalize (commit_prepare,
   bdrv_drop_intermediate) every parent of the top backs onto the base,
   live and in its header, and the filter goes without a trace; a cancel
   (commit_abort) drops the filter and the job's hold on its nodes at
   once.
8. The active commit (top = the device, FACTS §12.2, block/mirror.c) is a
   mirror job of type commit.  Its ``mirror_top`` filter sits above the
   active layer and is held, as are the active layer, the nodes down to the
   base and the base.  A wake copies the next run of adjacent chunks some
   node above the base holds (mirror_iteration); a wake with none left
   makes it READY (job_transition_to_ready), where it waits for
   ``block-job-complete`` or a cancel.  Complete, and a cancel without
   force in READY, end the run (waiting, pending, then finalize); a force
   cancel, or any cancel before READY, aborts.  Every ending lets go of
   every node at once (mirror_exit_common).  The pivot moves the active
   layer's parents onto the base; the model's active layer has none (an
   overlay added above it is not modelled), so the graph stays as it was.
   The guest's device moves with the pivot, which the model does not
   follow: the model's guest leaves with its last write (the replay ends
   its export then), and an active commit is started only once the
   scenario's guest writes are spent.
9. At the polling granularity (scenario ``completions = "polling"``;
   qemu-domain.md §7's lesson, §8.2 job_exit) a job's end is split where
   QEMU 7.2 polls.  When a stream's or a commit's run returns, job_exit is
   scheduled as a bottom half (job_co_entry: deferred_to_main_loop), and a
   later step ``job-exit`` runs it: waiting, pending and, with
   auto-finalize, the finalize.  A commit's prepare (commit_prepare,
   bdrv_drop_intermediate) stays one step.  A stream's (stream_prepare)
   takes three: bdrv_cor_filter_drop drops the filter and polls in its
   drain; bdrv_subtree_drained_begin polls again; then the base is read
   below above_base, the link set and the header written, and the job
   concludes.  Each poll runs the other jobs' pending ``job-exit`` bottom
   halves, whose own prepares nest inside it; only the innermost prepare
   goes on (``job-prepare``), and the monitor and the guest wait until the
   outermost returns.  A cancel of a job whose exit is pending aborts it at
   once (job_cancel_locked: job_completed_txn_abort_locked); a pause then is
   not modelled.  The active commit's end stays one step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from . import answers as A
from .scenario import Scenario, ScenarioError
from .variants import HISTORICAL, NEEDS_POLLING
from .seed import NEED_ROOT, SeedRules, Step, _set_chunk
from .state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    CHANGES_LEFT,
    DATA,
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
    NONE,
    REMOVED,
    WRITES_LEFT,
    Kind,
    between,
    chain_below,
    find_job,
    put,
)

#: Job record field after the seed's eight: bit n set when node n was an
#: intermediate node of the job at its start (the nodes it holds, §2.3).
J_NODES = 8
#: Job record field: how the job was started, as bits (below).
J_OPTS = 9
#: Job record field: bit c set when chunk c was to copy at the job's start
#: (an active commit's dirty bitmap, mirror_dirty_init: some node above the
#: base holds it); 0 for every other job.  Kept because query-block-jobs'
#: ``len`` is fixed at the start while those nodes may change once the job
#: has let go of them.
J_DIRTY = 10
#: Job record field, at the polling granularity (point 9): where the job's
#: end stands, one of the stages below; 0 before its run ends.
J_EXIT = 11
#: Job record field: the depth of the poll the job's prepare runs in (1: the
#: main loop's own, 2: inside another job's poll); 0 when it is not polling.
J_NEST = 12
#: Job record field: the base a historical variant's stream read before it
#: uses it (:data:`UNREAD` when it has read none yet).
J_READ = 13
UNREAD = -4

#: J_EXIT stages (point 9): the run has returned and job_exit waits as a
#: bottom half; the stream's prepare has dropped its filter and polls in that
#: drop's drain; it polls in the drain around the graph change; it has
#: written its header before setting its link and polls in that write's
#: yield (the 8441d82d51 variant only).
DEFERRED, DROPPING, DRAINING, HEADER = 1, 2, 3, 4
#: A job's internal steps: its copies, and at the polling granularity its
#: job_exit bottom half and the parts of its prepare (point 9).
JOB_STEPS = ("job-copy", "job-exit", "job-prepare")

#: Option bits of a job's start (an item of the block-stream and block-commit
#: actions, J_OPTS of the job).
AUTO_FINALIZE, AUTO_DISMISS, NAMED_FILTER = 1, 2, 4
#: J_FLAGS bit (after the seed's CANCELLED and FAILED): ``block-job-complete``
#: reached the job while it was paused in READY (STANDBY); mirror_complete
#: sets should_complete and the job completes when it is resumed.
COMPLETE_ASKED = 4
#: J_OPTS bit of a stream started with ``bottom``: it froze no link out of
#: its bottom, so that link may change under it (a commit's finalize), and
#: its completion follows it (stream_prepare reads the base at the end).
#: Only a commit can move that link, so the bit is recorded only in
#: scenarios that send block-commit; elsewhere the two forms reach the same
#: states, and recording it would triple the default check's states.
FROM_BOTTOM = 8
#: J_FLAGS bit, in the 6585493369 variant only: the stream's above_base is
#: the filter of the commit whose top is the stream's base (a stream that
#: did not freeze its chain started across that filter).
ABOVE_FILTER = 8

#: Bytes per chunk in query-block-jobs: QEMU 7.2's STREAM_CHUNK (FACTS §0).
CHUNK_BYTES = 512 * 1024

#: The name QEMU gives an automatically named filter, after normalisation
#: (FACTS "#blockN stands for an automatic node name").
AUTO_FILTER = "#blockN"


class JobStatus(enum.IntEnum):
    """QEMU's JobStatus (qapi/job.json, §5.1), in the order of the QAPI enum."""

    UNDEFINED = 0
    CREATED = 1
    RUNNING = 2
    PAUSED = 3
    READY = 4
    STANDBY = 5
    WAITING = 6
    PENDING = 7
    ABORTING = 8
    CONCLUDED = 9
    NULL = 10


S = JobStatus
#: JobVerbTable (§5.3): the statuses in which each verb is accepted.
VERBS: dict[str, frozenset[JobStatus]] = {
    "cancel": frozenset({S.CREATED, S.RUNNING, S.PAUSED, S.READY, S.STANDBY, S.WAITING, S.PENDING}),
    "pause": frozenset({S.CREATED, S.RUNNING, S.PAUSED, S.READY, S.STANDBY}),
    "resume": frozenset({S.CREATED, S.RUNNING, S.PAUSED, S.READY, S.STANDBY}),
    "set-speed": frozenset({S.CREATED, S.RUNNING, S.PAUSED, S.READY, S.STANDBY}),
    "complete": frozenset({S.READY, S.STANDBY}),
    "finalize": frozenset({S.PENDING}),
    "dismiss": frozenset({S.CONCLUDED}),
}
#: Statuses in which the job's filter is in the graph (§2.5: stream_prepare
#: or stream_clean drops it when the job finalizes or aborts; only an active
#: commit is ever READY or STANDBY).
FILTER_LIVE = frozenset({S.RUNNING, S.PAUSED, S.READY, S.STANDBY, S.PENDING})
#: Statuses of a job paused by the user: PAUSED, or STANDBY in READY.
USER_PAUSED = frozenset({S.PAUSED, S.STANDBY})


# Answers only QEMU 7.2 gives (FACTS §2, §5; §5.3 "Extra conditions").
def verb_refused(job_id: str, status: JobStatus, verb: str) -> A.Answer:
    return A.error(f"Job '{job_id}' in state '{status.name.lower()}' cannot accept command verb '{verb}'")


def job_not_found(job_id: str) -> A.Answer:
    return A.error(f"Block job '{job_id}' not found", A.DEVICE_NOT_ACTIVE)


ALREADY_PAUSED = A.error("Job is already paused")
NOT_PAUSED = A.error("Can't resume a job that was not paused")
#: Every commit job's blocker bits (seed.blocker_bit: one bit per owner and job type).
_COMMIT_BITS = sum(1 << (2 * owner + Kind.COMMIT) for owner in range(64))


def filter_label(job_id: str) -> str:
    """The model's name for a job's filter in graphs: QEMU's name is ``#blockN``."""
    return f"filter:{job_id}"


def filter_node_name(job_id: str) -> str:
    """The ``filter-node-name`` the model gives a job's filter when it names
    it: ``stream-X-cor`` (copy-on-read), ``commit-X-top`` (commit_top)."""
    return f"{job_id}-top" if job_id.startswith("commit-") else f"{job_id}-cor"


def job_type(job: tuple) -> str:
    """The job's type as QMP reports it."""
    return "commit" if job[J_KIND] == Kind.COMMIT else "stream"


def status_event(job_id: str, status: JobStatus) -> dict:
    return {"event": "JOB_STATUS_CHANGE", "data": {"id": job_id, "status": status.name.lower()}}


class Qemu72Rules(SeedRules):
    """The qemu-7.2 profile's rules for one scenario (fault variants are seed-only)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        if self.variant != "none" and self.variant not in HISTORICAL:
            raise ScenarioError(
                f"variant {self.variant!r} belongs to the seed profile; the qemu-7.2 profile's variants are "
                f"{', '.join(HISTORICAL)}"
            )
        self.polling = scenario.completions == "polling"
        if self.variant in NEEDS_POLLING and not self.polling:
            raise ScenarioError(f"variant {self.variant!r} lies inside a job's end; add --completions polling")

    # -- names (point 1) -----------------------------------------------------
    def job_id(self, owner: int) -> str:
        """The ID of the job with this owner: ``stream-X`` for a stream of X,
        ``commit-X`` for a commit whose top is X (owner X + chain length)."""
        n = len(self.names)
        return f"stream-{self.names[owner]}" if owner < n else f"commit-{self.names[owner - n]}"

    def commit_owner(self, top: int) -> int:
        return top + len(self.names)

    def is_active(self, job: tuple) -> bool:
        """Whether the job is an active commit: a commit whose top is the
        active layer (point 8)."""
        return job[J_KIND] == Kind.COMMIT and job[J_TOP] == self.root

    def job_by_id(self, state: tuple, job_id: object) -> tuple | None:
        for job in state[JOBS]:
            if self.job_id(job[J_OWNER]) == job_id:
                return job
        return None

    # -- the graph QEMU shows (point 2) -------------------------------------
    def graph(self, state: tuple) -> dict[str, str | None]:
        """Node -> the node below it, filters included, as the harness's
        ``QemuChain.graph`` reads it: a live filter sits between the top and
        the top and every node whose backing link held the top (bdrv_insert_node
        and commit_start's bdrv_replace_node move all parents, detached ones
        too); a concluded stream's filter is detached (None), a concluded
        commit's is gone (FACTS §12.1)."""
        backing = state[BACKING]
        below: dict[str, str | None] = {
            self.names[n]: (self.names[b] if b >= 0 else None) for n, b in enumerate(backing) if b != REMOVED
        }
        for job in state[JOBS]:
            label, top = filter_label(self.job_id(job[J_OWNER])), job[J_TOP]
            if not filter_in_graph(job):
                if job[J_KIND] == Kind.STREAM:
                    below[label] = None
                continue
            for parent, below_parent in enumerate(backing):
                if below_parent == top:
                    below[self.names[parent]] = label
            below[label] = self.names[top]
        return below

    def walk(self, state: tuple, top: str, base: str | None) -> list[str]:
        """The nodes QEMU's op-blocker walk visits: from ``top`` down through
        filters and backing links to, not including, ``base`` (§2.2 v8.2 step 6)."""
        below, out, node = self.graph(state), [], top
        while node is not None and node != base:
            out.append(node)
            node = below.get(node)
        return out

    def blocked(self, state: tuple, label: str) -> bool:
        """A stream's filter and an active commit's are always blocked by
        their job (each is its job's main node); a commit's below the active
        layer is not held (FACTS §12.1, §12.2); a node is blocked when a job
        holds it (§2.3)."""
        if label.startswith("filter:"):
            job = self.job_by_id(state, label[len("filter:") :])
            return job is None or job[J_KIND] == Kind.STREAM or self.is_active(job)
        return bool(state[BLOCKERS][self.names.index(label)])

    def is_root(self, state: tuple, label: str) -> bool:
        """``bdrv_is_root_node`` (block.c), as ``qmp_get_root_bs`` asks it:
        true when every parent of the node is a BlockBackend.

        A graph parent (a backing link, detached nodes' links included, or
        the filter's ``file`` link) is not one.  Nor is a job that holds the
        node: ``block_job_add_bdrv`` attaches a ``child_job`` parent to the
        top, every intermediate and the filter, and keeps it until the job
        is dismissed.  So a held node is never a root, even a top without an
        overlay (stream E) or a node a finalized job cut out (FACTS §9).  In
        7.2 a node is held exactly when it is blocked (the same call sets
        both), so :meth:`blocked` answers for the job's parent."""
        if self.blocked(state, label):
            return False
        return all(below != label for below in self.graph(state).values())

    def filter_live(self, state: tuple, label: str) -> bool:
        """Whether a job's filter is still in the graph (FILTER_LIVE).  A
        concluded stream keeps it, detached and childless, until dismiss
        (FACTS §7, §9)."""
        job = self.job_by_id(state, label[len("filter:") :])
        return job is not None and filter_in_graph(job)

    def display(self, state: tuple, label: str) -> str:
        """The name QEMU prints for a node: a filter's ``filter-node-name``, or
        its automatic name (FACTS §7)."""
        if not label.startswith("filter:"):
            return label
        job_id = label[len("filter:") :]
        job = self.job_by_id(state, job_id)
        return filter_node_name(job_id) if job is not None and job[J_OPTS] & NAMED_FILTER else AUTO_FILTER

    def busy(self, state: tuple, label: str) -> A.Answer:
        """The refusal a job's op blocker gives on ``label``: it names the type
        of the job that holds it (block_job_create's error_setg)."""
        if label.startswith("filter:"):
            kind = self.job_by_id(state, label[len("filter:") :])[J_KIND]
        else:
            kind = Kind.COMMIT if state[BLOCKERS][self.names.index(label)] & _COMMIT_BITS else Kind.STREAM
        return A.busy(self.display(state, label), A.job_blocker_reason("commit" if kind == Kind.COMMIT else "stream"))

    def first_busy(self, state: tuple, labels: list[str]) -> A.Answer | None:
        for label in labels:
            if self.blocked(state, label):
                return self.busy(state, label)
        return None

    # -- block-stream (§2.2 v8.2, FACTS §2, §3, §6) ----------------------------
    def walk_end(self, state: tuple, base: int, bottom: int) -> str | None:
        """Where the op-blocker walk of a new stream stops (qmp_block_stream):
        at the base, or, when the stream names its ``bottom`` node, at
        whatever sits right below that node, which may be another job's
        filter (FACTS §6: stream E bottom D passes C's filter, base-node C
        does not)."""
        if bottom != NONE:
            return self.graph(state)[self.names[bottom]]
        return self.names[base] if base != NONE else None

    def crossed_filter(self, state: tuple, walk: list[str], bottom: int) -> str | None:
        """The live commit filter a new stream's walk to its base crosses:
        the filter right above the base when the base is that commit's top
        (its other nodes are held).  A walk to a bottom ends above such a
        filter."""
        if bottom != NONE:
            return None
        return next((label for label in walk if label.startswith("filter:") and not self.blocked(state, label)), None)

    def freeze_refusal(self, state: tuple, walk: list[str], bottom: int) -> A.Answer | None:
        """stream_start freezes the backing links from the top down to the
        base's overlay (bdrv_freeze_backing_chain), which fails on a link
        into a node that is never frozen: a live commit's filter (FACTS
        §12.3).  The 6585493369 variant freezes nothing, so refuses nothing."""
        label = self.crossed_filter(state, walk, bottom)
        if label is None or self.variant == "6585493369-no-chain-freeze":
            return None
        return A.error(f"Cannot freeze 'backing' link to '{self.display(state, label)}'")

    def stream(self, state: tuple, top: int, base: int, opts: int = 0, bottom: int = NONE) -> Step:
        """Start ``stream-<top>`` down to ``base`` (NONE: the whole chain).

        The caller has resolved the names, so what is left is the blocker
        walk and the chain's freeze, then the job: its blockers on the top
        and every node between top and base (not the base), and its first
        advance.  ``opts`` are
        the option bits (AUTO_FINALIZE, ...); ``bottom`` is the node the
        stream named as ``bottom`` (its base is the node below it), NONE
        when it named a ``base-node`` or nothing.
        """
        walk = self.walk(state, self.names[top], self.walk_end(state, base, bottom))
        refusal = self.first_busy(state, walk) or self.freeze_refusal(state, walk, bottom)
        if refusal:
            return refusal, state
        # only without the freeze (6585493369) does a stream start across a
        # commit's filter, and bdrv_find_overlay then names it above_base
        flags = ABOVE_FILTER if self.crossed_filter(state, walk, bottom) else 0
        limit = self._job_limit(state)
        if limit:
            return limit, state
        nodes = between(state[BACKING], top, base)
        mask = sum(1 << n for n in nodes)
        form = FROM_BOTTOM if bottom != NONE and "block-commit" in self.scenario.commands else 0
        job = (top, Kind.STREAM, top, base, S.RUNNING, 0, flags, 0, mask, opts | form, 0, 0, 0, UNREAD)
        state = self._start(state, job, [top, *nodes])
        job_id = self.job_id(top)
        events = [status_event(job_id, S.CREATED), status_event(job_id, S.RUNNING)]
        state = self.advance(state, job, events)
        return A.with_events(A.OK, events), state

    # -- block-commit below the active layer (point 7, FACTS §12.1, §12.3) ---------
    def commit_walk(self, state: tuple, top: int, base: int) -> list[str]:
        """The nodes qmp_block_commit checks for the COMMIT_TARGET op blocker:
        from the top down through filters and backing links to the base,
        the base included."""
        return self.walk(state, self.names[top], self.graph(state)[self.names[base]])

    def overlay_label(self, state: tuple, top: int) -> str:
        """What sits right above ``top`` in the active layer's chain (a filter
        or a node): the node bdrv_find_overlay gives qmp_block_commit."""
        chain = self.walk(state, self.names[self.root], None)
        return chain[chain.index(self.names[top]) - 1]

    def commit(self, state: tuple, top: int, base: int, opts: int = 0) -> Step:
        """Start ``commit-<top>`` into ``base`` with the device the active layer
        and ``top`` below it.  The caller has resolved the names, so what is
        left is qmp_block_commit's root check of the device (qmp_get_root_bs),
        its op-blocker checks (the walk, then the top's overlay), then the
        job (commit_start): it holds the device, the top and every node down
        to the base (the intermediate nodes), and the base; its first
        advance copies the first chunk.  Its ID must
        be free (block_job_create), which a concluded commit of the same top
        may not be, as it holds no node once cancelled.  With ``top`` the
        active layer it is the active commit (point 8, commit_active_start):
        no overlay to check, and it holds its filter too."""
        if not self.is_root(state, self.names[self.root]):
            return NEED_ROOT, state
        refusal = self.first_busy(state, self.commit_walk(state, top, base))
        if top != self.root:
            refusal = refusal or self.first_busy(state, [self.overlay_label(state, top)])
        if refusal:
            return refusal, state
        owner = self.commit_owner(top)
        if find_job(state[JOBS], owner) is not None:
            # block_job_create: the model's ID for this commit is taken by a
            # concluded one (a cancelled commit holds no node)
            return A.error(f"Job ID '{self.job_id(owner)}' already in use"), state
        limit = self._job_limit(state)
        if limit:
            return limit, state
        if top == self.root and state[WRITES_LEFT]:
            return A.model_limit("an active commit while the scenario's guest writes are not spent (the guest's "
                                 "device moves to the base at the pivot)"), state
        nodes = (top, *between(state[BACKING], top, base))
        job = (owner, Kind.COMMIT, top, base, S.RUNNING, 0, 0, 0, sum(1 << n for n in nodes), opts, 0, 0, 0, UNREAD)
        if top == self.root:
            dirty = sum(1 << c for c in range(self.chunks) if self.needs_copy(state, job, c))
            job = self._set(job, J_DIRTY, dirty)
        state = self._start(state, job, [self.root, *nodes, base])
        job_id = self.job_id(job[J_OWNER])
        events = [status_event(job_id, S.CREATED), status_event(job_id, S.RUNNING)]
        state = self.advance(state, job, events)
        return A.with_events(A.OK, events), state

    # -- the job's run (point 4) ---------------------------------------------------
    def needs_copy(self, state: tuple, job: tuple, chunk: int) -> int:
        """The value the job copies at ``chunk``, or 0 when the chunk needs no
        copy.  A stream copies into its top what the first node between top
        and base holds, unless the top holds the chunk itself (§2.4); a
        commit copies into its base what the first node from its top down
        to the base's overlay holds (commit_run: allocated above the base,
        FACTS §12.1)."""
        data, top = state[DATA], job[J_TOP]
        if job[J_KIND] == Kind.STREAM and data[top][chunk]:
            return 0
        # the recorded nodes, uppermost first: links point to lower indices,
        # and the links among them are frozen (the job's start froze them)
        for node in sorted(nodes_of(job), reverse=True):
            if data[node][chunk]:
                return data[node][chunk]
        return 0

    @staticmethod
    def target(job: tuple) -> int:
        """The node a job writes: a stream's top, a commit's base."""
        return job[J_BASE] if job[J_KIND] == Kind.COMMIT else job[J_TOP]

    def advance(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        """Skip the chunks that need no copy, copy the next one, sleep; the
        last chunk ends the run: the job waits in PENDING, or with
        auto-finalize goes on to finalize (FACTS §0, §5, §11).  The events
        are appended to ``events``.  An active commit advances as a mirror
        does (:meth:`_mirror_advance`)."""
        if self.is_active(job):
            return self._mirror_advance(state, job, events)
        cursor, new_data = job[J_CURSOR], state[DATA]
        while cursor < self.chunks:
            value = self.needs_copy(state, job, cursor)
            cursor += 1
            if value:
                new_data = _set_chunk(new_data, self.target(job), cursor - 1, value)
                break
        state = put(state, DATA, new_data)
        if cursor < self.chunks:
            return self._with_job(state, job, self._set(job, J_CURSOR, cursor))
        return self._run_ended(state, job, self._set(job, J_CURSOR, cursor), events)

    def _mirror_advance(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        """One wake of an active commit (mirror_run, FACTS §12.2): copy the
        next run of adjacent chunks some node above the base holds
        (mirror_iteration takes a contiguous dirty area), then sleep; a wake
        that finds none left makes the job READY, and it copies no more."""
        cursor, new_data, dirty = job[J_CURSOR], state[DATA], job[J_DIRTY]
        while cursor < self.chunks and not dirty >> cursor & 1:
            cursor += 1
        if cursor == self.chunks:
            ready = self._set(job, J_CURSOR, cursor, J_STATUS, S.READY)
            events += [status_event(self.job_id(job[J_OWNER]), S.READY), self._block_job_event("BLOCK_JOB_READY", ready)]
            return self._with_job(state, job, ready)
        while cursor < self.chunks and dirty >> cursor & 1:
            new_data = _set_chunk(new_data, job[J_BASE], cursor, self.needs_copy(state, job, cursor))
            cursor += 1
        return self._with_job(put(state, DATA, new_data), job, self._set(job, J_CURSOR, cursor))

    def _run_ended(self, state: tuple, job: tuple, done: tuple, events: list[dict]) -> tuple:
        """``job``, now ``done``, has ended its run.  At the polling
        granularity a stream or a commit below the active layer now waits for
        its job_exit bottom half, still RUNNING (point 9); otherwise its exit
        follows in the same step (:meth:`_job_exit`)."""
        if self.polling and not self.is_active(job):
            return self._with_job(state, job, self._set(done, J_EXIT, DEFERRED))
        return self._job_exit(state, job, done, events)

    def _job_exit(self, state: tuple, job: tuple, done: tuple, events: list[dict]) -> tuple:
        """job_exit (job_completed: waiting, pending): ``job``, now ``done``,
        waits in PENDING, or with auto-finalize goes on to finalize (FACTS
        §5, §11)."""
        pending = self._set(done, J_STATUS, S.PENDING, J_EXIT, 0)
        state = self._with_job(state, job, pending)
        job_id = self.job_id(job[J_OWNER])
        events += [status_event(job_id, S.WAITING), status_event(job_id, S.PENDING)]
        if job[J_OPTS] & AUTO_FINALIZE:
            return self._finalize(state, pending, events)
        events.append({"event": "BLOCK_JOB_PENDING", "data": {"type": job_type(job), "id": job_id}})
        return state

    def _finalize(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        """job_finalize_single's prepare of a PENDING ``job``: in one step
        (:meth:`_complete`), or at the polling granularity for a stream the
        start of stream_prepare: bdrv_cor_filter_drop drops the filter and
        polls, one level deeper than any poll already running (point 9)."""
        if not self.polling or job[J_KIND] == Kind.COMMIT:
            return self._complete(state, job, events)
        read = self.base_now(state, job) if self.variant == "8d3dd037d9-base-before-filter-drop" else UNREAD
        dropping = self._set(job, J_EXIT, DROPPING, J_NEST, self.poll_depth(state) + 1, J_READ, read)
        return self._with_job(state, job, dropping)

    def base_now(self, state: tuple, job: tuple) -> int:
        """What a stream's prepare reads as its base at this moment:
        bdrv_filter_or_cow_bs(above_base), the node below the stream's lowest
        node (FACTS §12.7: a commit's finalize may have moved it), or, when
        above_base is a commit's filter (the 6585493369 variant), that
        filter's child, the stream's base, whether the filter is still in
        the graph or freed."""
        if job[J_FLAGS] & ABOVE_FILTER:
            return job[J_BASE]
        return state[BACKING][min((job[J_TOP], *nodes_of(job)))]

    def _prepare_step(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        """The next part of a stream's prepare at the polling granularity
        (stream_prepare, 7.2): after the filter's drop, the drain around the
        graph change (bdrv_subtree_drained_begin, which polls); after it,
        the base read, the link set and the header written, and the job
        concludes.  The historical variants read the base earlier, or write
        the header, then poll, then set the link."""
        stage = job[J_EXIT]
        if stage == DROPPING:
            read = self.base_now(state, job) if self.variant == "b1e1af394d-base-before-drain" else job[J_READ]
            return self._with_job(state, job, self._set(job, J_EXIT, DRAINING, J_READ, read))
        if stage == DRAINING and self.variant == "8441d82d51-header-before-link":
            # bdrv_change_backing_file first, with the base read now; it yields
            base, top = self.base_now(state, job), job[J_TOP]
            state = put(state, HEADERS, state[HEADERS][:top] + (base,) + state[HEADERS][top + 1 :])
            return self._with_job(state, job, self._set(job, J_EXIT, HEADER, J_READ, base))
        base = job[J_READ] if job[J_READ] != UNREAD else self.base_now(state, job)
        done = self._set(job, J_EXIT, 0, J_NEST, 0, J_READ, UNREAD)
        return self._complete(self._with_job(state, job, done), done, events, base, write_header=stage != HEADER)

    def poll_depth(self, state: tuple) -> int:
        """How deeply nested the running polls are: 0 in the main loop itself."""
        return max((j[J_NEST] for j in state[JOBS] if j[J_EXIT] >= DROPPING), default=0)

    def job_steps(self, state: tuple) -> Iterator[tuple]:
        """A running job that is not user-paused can always advance: it sleeps
        only right after a copy, with chunks left (FACTS §0), or, an active
        commit, until it is READY.  At the polling granularity (point 9) a
        job whose run has returned has its ``job-exit`` bottom half pending,
        which any poll may run, and the innermost prepare goes on
        (``job-prepare``); while a poll runs, jobs sleep (the drains quiesce
        them)."""
        depth = self.poll_depth(state)
        for job in state[JOBS]:
            if job[J_EXIT] == DEFERRED:
                yield ("job-exit", job[J_OWNER])
            elif job[J_EXIT] >= DROPPING:
                if job[J_NEST] == depth:
                    yield ("job-prepare", job[J_OWNER])
            elif job[J_STATUS] == S.RUNNING and not depth:
                yield ("job-copy", job[J_OWNER])

    def job_step(self, state: tuple, action: tuple) -> tuple:
        return self.job_step_events(state, action)[0]

    def job_step_events(self, state: tuple, action: tuple) -> tuple[tuple, list[dict]]:
        """The state after a job's internal step, and the events it emits."""
        name, job, events = action[0], find_job(state[JOBS], action[1]), []
        if name == "job-copy":
            return self.advance(state, job, events), events
        if name == "job-exit" and self.polling:
            return self._job_exit(state, job, job, events), events
        if name == "job-prepare" and self.polling:
            return self._prepare_step(state, job, events), events
        raise ValueError(f"unknown job step {name!r} in the qemu-7.2 profile at the {self.scenario.completions} granularity")

    # -- the end of a job (§2.5, FACTS §1, §4, §5) --------------------------------
    def _block_job_event(self, name: str, job: tuple) -> dict:
        """BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED, with the job's progress
        as query-block-jobs shows it (``speed`` left out, see point 6)."""
        info = self._info(job)
        data = {"device": info["device"], "len": info["len"], "offset": info["offset"], "type": job_type(job)}
        return {"event": name, "data": data}

    def _complete(self, state: tuple, job: tuple, events: list[dict], base: int | None = None,
                  write_header: bool = True) -> tuple:
        """stream_prepare: drop the filter, point the top at the base, in its
        header (bdrv_change_backing_file, the base's filename; no base: no
        backing string) and live (§2.5, FACTS §1).  The header is written
        whatever it said, so a user's change-backing-file of the top is lost
        (FACTS §8).  commit_prepare (bdrv_drop_intermediate): every parent
        of the commit's top (its filter's parents) backs onto the base, live
        and in its header, and the filter goes (FACTS §12.1).  An active
        commit's (mirror_exit_common) pivots the active layer's parents onto
        the base, which the model's active layer has none of (point 8), and
        lets go of every node.  Then the job concludes.  ``base`` is what a
        stream read as its base, when it read it before this step (point 9);
        ``write_header`` is false when its header is written already."""
        top = job[J_TOP]
        if self.is_active(job):
            events.append(self._block_job_event("BLOCK_JOB_COMPLETED", job))
            return self._conclude(self._unblock(state, job), job, job, events)
        if job[J_KIND] == Kind.COMMIT:
            moved, base = {p for p, below in enumerate(state[BACKING]) if below == top}, job[J_BASE]
        else:
            # unless read before, the base is read now (base_now)
            moved, base = {top}, self.base_now(state, job) if base is None else base
        state = put(state, BACKING, tuple(base if i in moved else b for i, b in enumerate(state[BACKING])))
        if write_header:
            state = put(state, HEADERS, tuple(base if i in moved else h for i, h in enumerate(state[HEADERS])))
        events.append(self._block_job_event("BLOCK_JOB_COMPLETED", job))
        return self._conclude(state, job, job, events)

    def _conclude(self, state: tuple, old: tuple, job: tuple, events: list[dict]) -> tuple:
        """``old``, now ``job``, goes to CONCLUDED (job_conclude), and with
        auto-dismiss on to NULL at once: freed, its blockers dropped."""
        job_id = self.job_id(job[J_OWNER])
        events.append(status_event(job_id, S.CONCLUDED))
        concluded = self._set(job, J_STATUS, S.CONCLUDED)
        if job[J_OPTS] & AUTO_DISMISS:
            events.append(status_event(job_id, S.NULL))
            return self._with_job(self._unblock(state, old), old, None)
        return self._with_job(state, old, concluded)

    # -- verbs (§5.3, FACTS §4, §5) -------------------------------------------------
    def _find(self, state: tuple, owner: int) -> tuple[tuple | None, A.Answer | None]:
        job = find_job(state[JOBS], owner)
        return (job, None) if job is not None else (None, job_not_found(self.job_id(owner)))

    def _verb(self, job: tuple, verb: str) -> A.Answer | None:
        status = S(job[J_STATUS])
        return None if status in VERBS[verb] else verb_refused(self.job_id(job[J_OWNER]), status, verb)

    def cancel(self, state: tuple, owner: int, force: bool) -> Step:
        """Cancel the job of ``owner``: refused on a user-paused job
        without force (qmp_block_job_cancel checks before the verb table);
        otherwise every cancel of a stream or a commit is a force cancel that
        aborts at once, without prepare, so the graph never changes, even in
        PENDING (§2.6, FACTS §4, §12.1).  A user-paused job is resumed first
        (job_cancel_locked), then aborts.  ``force`` is true for
        ``job-cancel``, which has no such check (FACTS §4).  A commit lets go
        of its nodes as it aborts (commit_abort: block_job_remove_all_bdrv),
        so its CONCLUDED job holds none (FACTS §12.1).  An active commit in
        READY cancelled without force completes instead, without the pivot
        (mirror_cancel, mirror_run: FACTS §12.2); paused in READY (STANDBY)
        it is resumed to READY first."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        if job[J_STATUS] in USER_PAUSED and not force:
            return A.job_paused(self.job_id(owner)), state
        refusal = self._verb(job, "cancel")
        if refusal:
            return refusal, state
        job_id = self.job_id(owner)
        if job[J_STATUS] == S.READY and not force:
            events: list[dict] = []
            state = self._run_ended(state, job, job, events)
            return A.with_events(A.OK, events), state
        resumed = {S.PAUSED: [status_event(job_id, S.RUNNING)], S.STANDBY: [status_event(job_id, S.READY)]}
        events = resumed.get(job[J_STATUS], [])
        events += [status_event(job_id, S.ABORTING), self._block_job_event("BLOCK_JOB_CANCELLED", job)]
        if job[J_KIND] == Kind.COMMIT:
            state = self._unblock(state, job)
        # a complete sent in STANDBY is moot once the job aborts
        flags = (job[J_FLAGS] | CANCELLED) & ~COMPLETE_ASKED
        # a pending job_exit finds the job aborted and does nothing (point 9)
        state = self._conclude(state, job, self._set(job, J_FLAGS, flags, J_EXIT, 0), events)
        return A.with_events(A.OK, events), state

    def pause(self, state: tuple, owner: int) -> Step:
        """Verb table first, then "Job is already paused" (§5.3)."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        refusal = self._verb(job, "pause")
        if refusal:
            return refusal, state
        if job[J_STATUS] in USER_PAUSED:
            return ALREADY_PAUSED, state
        if job[J_EXIT] == DEFERRED:
            return A.model_limit("a pause between a job's run end and its job_exit (the polling granularity) is not modelled"), state
        if job[J_PAUSES] >= self.scenario.pauses_per_job:
            return A.model_limit(f"the scenario allows {self.scenario.pauses_per_job} pause(s) per job"), state
        status = S.STANDBY if job[J_STATUS] == S.READY else S.PAUSED
        paused = self._set(job, J_STATUS, status, J_PAUSES, job[J_PAUSES] + 1)
        events = [status_event(self.job_id(owner), status)]
        return A.with_events(A.OK, events), self._with_job(state, job, paused)

    def resume(self, state: tuple, owner: int) -> Step:
        """"not paused" comes before the verb table (§5.3); the woken job
        advances once before it sleeps again (FACTS §0).  An active commit
        paused in READY goes back to READY, and completes if a complete
        reached it meanwhile (FACTS §12.2)."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        if job[J_STATUS] not in USER_PAUSED:
            return NOT_PAUSED, state
        if job[J_STATUS] == S.STANDBY:
            ready = self._set(job, J_STATUS, S.READY, J_FLAGS, job[J_FLAGS] & ~COMPLETE_ASKED)
            events = [status_event(self.job_id(owner), S.READY)]
            state = self._with_job(state, job, ready)
            if job[J_FLAGS] & COMPLETE_ASKED:
                state = self._run_ended(state, ready, ready, events)
            return A.with_events(A.OK, events), state
        running = self._set(job, J_STATUS, S.RUNNING)
        events = [status_event(self.job_id(owner), S.RUNNING)]
        state = self.advance(self._with_job(state, job, running), running, events)
        return A.with_events(A.OK, events), state

    def set_speed(self, state: tuple, owner: int, speed: int) -> Step:
        """Verb table first, then the sign of the speed (FACTS §5)."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        refusal = self._verb(job, "set-speed")
        if refusal:
            return refusal, state
        return (A.negative_speed() if speed < 0 else A.OK), state

    def complete(self, state: tuple, owner: int) -> Step:
        """Only an active commit becomes READY, so the verb table refuses every
        other job (FACTS §5, §12.1).  In READY the job ends its run at once
        (mirror_complete wakes it; FACTS §12.2); paused in READY (STANDBY) it
        is answered without an event and completes when resumed."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        refusal = self._verb(job, "complete")
        if refusal:
            return refusal, state
        if job[J_STATUS] == S.STANDBY:
            return A.OK, self._with_job(state, job, self._set(job, J_FLAGS, job[J_FLAGS] | COMPLETE_ASKED))
        events: list[dict] = []
        state = self._run_ended(state, job, job, events)
        return A.with_events(A.OK, events), state

    def finalize(self, state: tuple, owner: int) -> Step:
        """PENDING -> the job's completion (:meth:`_complete`).  Only a job
        that copied everything is PENDING (a cancel aborts it, and writes no
        header)."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        refusal = self._verb(job, "finalize")
        if refusal:
            return refusal, state
        events: list[dict] = []
        state = self._finalize(state, job, events)
        return A.with_events(A.OK, events), state

    def dismiss(self, state: tuple, owner: int) -> Step:
        """CONCLUDED -> NULL: the job is freed and only now drops its blockers (§2.5)."""
        job, refusal = self._find(state, owner)
        if refusal:
            return refusal, state
        refusal = self._verb(job, "dismiss")
        if refusal:
            return refusal, state
        events = [status_event(self.job_id(owner), S.NULL)]
        return A.with_events(A.OK, events), self._with_job(self._unblock(state, job), job, None)

    # -- blockdev-del (FACTS §1, §3, §12) -------------------------------------------------
    def blockdev_del(self, state: tuple, node: int) -> Step:
        """qmp_blockdev_del of a node the caller found free (no job holds it,
        no backing parent, not the active layer): the node leaves the graph,
        and so does its backing link (bdrv_unref).  Its image file keeps its
        data and its header."""
        return A.OK, put(state, BACKING, state[BACKING][:node] + (REMOVED,) + state[BACKING][node + 1 :])

    # -- change-backing-file (FACTS §8) ------------------------------------------------
    def change_backing_file(self, state: tuple, image: int, target: int) -> Step:
        """qmp_change_backing_file (blockdev.c), once QEMU 7.2's checks have
        passed (the caller, :class:`.qemu72_script.Executor72`, makes them in
        QEMU's order: device a root, image known, with a backing file, in the
        device's chain, no filter): bdrv_change_backing_file writes ``image``'s
        qcow2 header to name ``target`` (NONE for ``backing-file: ""``, OTHER
        for a string naming no file of the chain) and nothing else: the live
        link, the data and the jobs stay (FACTS §8).  The CHANGE op blocker is
        checked on the root only, which no job sets (FACTS §9), so a job's
        nodes are rewritten too.

        A read-only image is reopened read-write and back, two drains that
        wake a sleeping throttled job above it (FACTS §0, §8).  As for the
        refused commands that drain (FACTS §3), the model does not take those
        wake-ups here: each is one of the job's own ``job-copy`` steps, which
        the model can take next, and the replay follows them so.

        The scenario's bound on rewrites comes after every QEMU check."""
        left = state[CHANGES_LEFT]
        if left <= 0:
            return A.model_limit(f"the scenario allows {self.scenario.header_changes} header change(s)"), state
        headers = state[HEADERS][:image] + (target,) + state[HEADERS][image + 1 :]
        return A.OK, put(put(state, HEADERS, headers), CHANGES_LEFT, left - 1)

    # -- query-block-jobs, query-jobs -------------------------------------------------
    def _info(self, job: tuple) -> dict:
        """A job as query-block-jobs shows it.  ``len`` is 0 for a stream with
        nothing between top and base (FACTS §0, §1), the image size for a
        commit (FACTS §12.1); ``busy`` is false
        because the model is read between commands, when jobs sleep.  The
        model does not track ``speed``, so it is left out.  A cancelled job
        carries strerror(ECANCELED) as its ``error`` (FACTS §11).  An active
        commit counts only the chunks some node above its base holds, its
        ``len`` and ``offset`` those in all and those copied (FACTS §12.2);
        it is ``ready`` in READY and STANDBY (job_is_ready)."""
        status = S(job[J_STATUS])
        if self.is_active(job):
            dirty = job[J_DIRTY]
            length = dirty.bit_count() * CHUNK_BYTES
            offset = (dirty & ((1 << job[J_CURSOR]) - 1)).bit_count() * CHUNK_BYTES
        else:
            length = self.chunks * CHUNK_BYTES if job[J_NODES] or job[J_KIND] == Kind.COMMIT else 0
            offset = job[J_CURSOR] * CHUNK_BYTES if length else 0
        error = {"error": "Operation canceled"} if job[J_FLAGS] & CANCELLED else {}
        return error | {
            "type": job_type(job),
            "device": self.job_id(job[J_OWNER]),
            "status": status.name.lower(),
            "len": length,
            "offset": offset,
            "busy": False,
            "paused": status in USER_PAUSED,
            "io-status": "ok",
            "ready": status in (S.READY, S.STANDBY),
            "auto-finalize": bool(job[J_OPTS] & AUTO_FINALIZE),
            "auto-dismiss": bool(job[J_OPTS] & AUTO_DISMISS),
        }

    def query_block_jobs(self, state: tuple) -> list[dict]:
        """Every job until it is dismissed, under its ID."""
        return [self._info(job) for job in state[JOBS]]

    def query_jobs(self, state: tuple) -> list[dict]:
        """query-jobs (job_query_single): the same jobs by ``id``, progress in
        bytes as query-block-jobs' offset and len, and the same error."""
        out = []
        for job in state[JOBS]:
            info = self._info(job)
            entry = {"id": info["device"], "type": info["type"], "status": info["status"],
                     "current-progress": info["offset"], "total-progress": info["len"]}
            out.append(entry | ({"error": info["error"]} if "error" in info else {}))
        return out


def filter_in_graph(job: tuple) -> bool:
    """Whether the job's filter is in the graph: its status is one of
    FILTER_LIVE and, at the polling granularity, its prepare has not dropped
    it yet (point 9)."""
    return job[J_STATUS] in FILTER_LIVE and job[J_EXIT] < DROPPING


def nodes_of(job: tuple) -> tuple[int, ...]:
    """The intermediate nodes a job holds, from its record (J_NODES): a
    stream's nodes between top and base, a commit's from its top down to
    the base's overlay."""
    mask, out, n = job[J_NODES], [], 0
    while mask:
        if mask & 1:
            out.append(n)
        mask >>= 1
        n += 1
    return tuple(out)


def chain_nodes(state: tuple, root: int) -> list[int]:
    """The chain from the active layer down (nearest first)."""
    return [root, *chain_below(state[BACKING], root)]
