"""The rules of the 2015 design ("Support streaming to an intermediate layer").

Every command and job step is a function from a state to a QMP answer and
the next state.  Sections cited as §N are those of qemu-domain.md.

The seed design, point by point:

1. ``block-stream``'s ``device`` takes a node name: the node that receives
   the data (§1, §2.1).  ``base`` names a node below it.  There is no ``top``.
2. Jobs are owned by any node, at most one per node (§3 ``bs->job``);
   ``block-job-*`` find the job by the owner's device or node name;
   ``query-block-jobs`` searches the whole tree and reports the node name
   where the owner has no device name.
3. While streaming from base B into E, E (all ops but DATAPLANE) and every
   node strictly between (all ops) carry the job's blocker; the base does
   not (§2.3, §3).
4. Before a stream starts, STREAM is checked on every node from the top
   down to, not including, the base (§2.2 step 5).
5. The job never ends without ``stream_complete``, which redirects the
   owner's backing link (on disk, then live) to the base only on success
   and removes every blocker the job set (§2.5, §2.6).

``change-backing-file`` is QEMU 2.8's, not the design's: it checks the
root's op blockers only, which the design's jobs on intermediate nodes
leave free (docs/op-blockers.md, docs/findings/).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from . import answers as A
from .scenario import Scenario
from .state import (
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
    between,
    chain_below,
    find_job,
    in_chain,
    put,
    replace_job,
)

#: Chunk size the model reports in query-block-jobs (one cluster per chunk).
CHUNK_BYTES = 65536

#: The op-blocker-guarded commands the model answers, with the op type each
#: checks (docs/op-blockers.md).  HMP's drive_del has no QMP form, so it is
#: not among them.
GUARDED_OPS: dict[str, str] = {
    "block_resize": "RESIZE",
    "blockdev-snapshot-sync": "EXTERNAL_SNAPSHOT",
    "change-backing-file": "CHANGE",
    "drive-mirror": "MIRROR_SOURCE",
}

#: Op types a backing link does not block on the backing node (§2.3, bdrv_set_backing_hd).
BACKING_EXEMPT = frozenset({"COMMIT_TARGET", "STREAM", "BACKUP_SOURCE", "BACKUP_TARGET"})
#: The fix variant exempts CHANGE too, so that CHANGE can be checked on backing nodes.
FIXED_BACKING_EXEMPT = BACKING_EXEMPT | {"CHANGE"}

#: Job type names, indexed by Kind.
JOB_TYPE = ("stream", "commit")

Step = tuple[A.Answer, tuple]

#: qmp_get_root_bs: the named node has a parent that is not a BlockBackend.
NEED_ROOT = A.error("Need a root block node")


def _set_chunk(data: tuple, node: int, chunk: int, value: int) -> tuple:
    """``data`` with one chunk of one node set to ``value``."""
    return _set_at(data, node, _set_at(data[node], chunk, value))


def _set_at(values: tuple, index: int, value: int) -> tuple:
    """``values`` with one position replaced."""
    return values[:index] + (value,) + values[index + 1 :]


def blocker_bit(owner: int, kind: int) -> int:
    """The bit a job's blocker sets in ``blockers[node]``: one per (owner, job type)."""
    return 1 << (owner * 2 + kind)


class SeedRules:
    """The seed profile's rules for one scenario and one fault variant."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.names = scenario.node_names
        self.root = scenario.root
        self.variant = scenario.variant
        self.chunks = scenario.chunks
        self.backing_exempt = FIXED_BACKING_EXEMPT if self.variant == "fix-change-checks-chain" else BACKING_EXEMPT

    # -- names ------------------------------------------------------------
    def device_or_node(self, node: int) -> str:
        """The name QEMU uses for ``node`` in messages: its device name, else its node name."""
        return self.scenario.device if node == self.root else self.names[node]

    def job_device_field(self, owner: int) -> str:
        """BlockJobInfo's ``device`` for the job owned by ``owner`` (seed point 2)."""
        if owner != self.root and self.variant == "device-field-empty":
            return ""
        return self.device_or_node(owner)

    # -- op blockers (§3) ---------------------------------------------------
    def blocked_reason(self, state: tuple, node: int, op: str) -> str | None:
        """The first reason ``op`` is blocked on ``node``, or None.

        Job blockers are added after the chain's backing blockers, and QEMU
        inserts new blockers at the head of the list, so a job's reason is
        the one reported first.
        """
        bits = state[BLOCKERS][node]
        if bits:
            low = (bits & -bits).bit_length() - 1
            return A.job_blocker_reason(JOB_TYPE[low % 2])
        if op not in self.backing_exempt:
            parent = self._backing_parent(state[BACKING], node)
            if parent != NONE:
                return A.backing_blocker_reason(self.device_or_node(parent))
        return None

    @staticmethod
    @lru_cache(maxsize=1 << 12)
    def _backing_parent(backing: tuple, node: int) -> int:
        """The node in the chain whose backing link holds ``node`` (NONE if none)."""
        for parent in range(len(backing)):
            if backing[parent] == node:
                return parent
        return NONE

    def check_op(self, state: tuple, node: int, op: str) -> A.Answer | None:
        """QEMU's refusal when ``op`` is blocked on ``node`` (bdrv_op_is_blocked), else None."""
        reason = self.blocked_reason(state, node, op)
        return None if reason is None else A.busy(self.device_or_node(node), reason)

    def guarded_op(self, state: tuple, op_name: str, node: int, device_arg: str | None = None) -> A.Answer:
        """QEMU 2.8's answer to an op-blocker-guarded command that acts on ``node``,
        named the natural way: the root by its device name, any other node by
        its node name (docs/op-blockers.md §2.3-§2.8).

        - ``change-backing-file`` is asked of its own rule, as sent through
          the guest's device (its answer does not depend on the new string);
        - ``drive-mirror`` takes a root only (qmp_get_root_bs), then checks
          MIRROR_SOURCE on it;
        - ``block_resize`` and ``blockdev-snapshot-sync`` act only on a node
          that is the first non-filter below some BlockBackend
          (bdrv_is_first_non_filter): the root, or the owner of a job, whose
          own BlockBackend sits on it in 2.8.  Resize checks RESIZE first
          and answers QERR_DEVICE_IN_USE with its ``device`` argument,
          ``device_arg`` ("(null)" when the node came by ``node-name``); snapshot checks
          EXTERNAL_SNAPSHOT before the first-non-filter test.
        The model tracks no effect of an accepted resize, snapshot or mirror.
        """
        if op_name == "change-backing-file":
            return self.change_backing_file(state, node, state[HEADERS][node])[0]
        if op_name == "drive-mirror" and node != self.root:
            return NEED_ROOT
        first_non_filter = node == self.root or find_job(state[JOBS], node) is not None
        if op_name == "block_resize" and not first_non_filter:
            return A.error("The feature 'resize' is not enabled")
        refusal = self.check_op(state, node, GUARDED_OPS[op_name])
        if refusal and op_name == "block_resize":
            return A.device_in_use("(null)" if device_arg is None else device_arg)
        if not refusal and op_name == "blockdev-snapshot-sync" and not first_non_filter:
            return A.error("The feature 'snapshot' is not enabled")
        return refusal or A.OK

    # -- change-backing-file (blockdev.c qmp_change_backing_file) ---------------
    def change_backing_file(self, state: tuple, image: int, target: int) -> Step:
        """Rewrite ``image``'s on-disk backing string to name ``target``.

        The device has been resolved to the root (qmp_get_root_bs) and
        ``image-node-name`` to ``image`` by the caller.  Then, in QEMU's
        order: an image without a backing file is refused; CHANGE is checked
        on the root only ("even though we are not necessarily operating on
        bs, we need it to determine if block ops are currently prohibited on
        the chain"); the image must be in the root's chain; and
        bdrv_change_backing_file rewrites the header alone, never the live
        link.  The fix variant checks every node from the root down to the
        image instead.
        """
        backing = state[BACKING]
        if backing[image] < 0:
            return A.error("not allowing backing file change on an image without a backing file"), state
        chain = (self.root, *chain_below(backing, self.root))
        checked = chain[: chain.index(image) + 1] if self.variant == "fix-change-checks-chain" and image in chain else chain[:1]
        for node in checked:
            refusal = self.check_op(state, node, "CHANGE")
            if refusal:
                return refusal, state
        if image not in chain:
            return A.error(f"'{self.scenario.device}' and image file are not in the same chain"), state
        left = state[CHANGES_LEFT]
        if left <= 0:
            return A.model_limit(f"the scenario allows {self.scenario.header_changes} header change(s)"), state
        headers = state[HEADERS][:image] + (target,) + state[HEADERS][image + 1 :]
        return A.OK, put(put(state, HEADERS, headers), CHANGES_LEFT, left - 1)

    # -- block-stream (§2.2) -------------------------------------------------
    def stream(self, state: tuple, top: int, base: int) -> Step:
        backing = state[BACKING]
        if base != NONE and base not in chain_below(backing, top):
            return A.base_not_found(self.names[base]), state
        checked = [top] if self.variant == "top-only-check" else [top, *between(backing, top, base)]
        for node in checked:
            refusal = self.check_op(state, node, "STREAM")
            if refusal:
                return refusal, state
        jobs = state[JOBS]
        if find_job(jobs, top) is not None:
            return A.device_in_use(self.device_or_node(top)), state
        limit = self._job_limit(state)
        if limit:
            return limit, state
        blocked = [top] if self.variant == "no-intermediate-block" else [top, *between(backing, top, base)]
        job = (top, Kind.STREAM, top, base, Status.RUNNING, 0, 0, 0)
        return A.OK, self._start(state, job, blocked)

    # -- block-commit (non-active commit, §3 table) ---------------------------
    def commit(self, state: tuple, top: int, base: int) -> Step:
        backing = state[BACKING]
        if top == self.root:
            return A.model_limit("active commit (top is the active layer) is not modelled"), state
        if base == NONE or base not in chain_below(backing, top):
            return A.base_not_found(self.names[base] if base != NONE else ""), state
        overlay = self.overlay(backing, top)
        checks = [(self.root, "COMMIT_SOURCE")]
        checks += [(n, "COMMIT_TARGET") for n in (top, *between(backing, top, base), base)]
        checks.append((overlay, "COMMIT_TARGET"))
        for node, op in checks:
            refusal = self.check_op(state, node, op)
            if refusal:
                return refusal, state
        jobs = state[JOBS]
        if find_job(jobs, self.root) is not None:
            return A.device_in_use(self.scenario.device), state
        limit = self._job_limit(state)
        if limit:
            return limit, state
        blocked = sorted({self.root, overlay, top, *between(backing, top, base), base})
        job = (self.root, Kind.COMMIT, top, base, Status.RUNNING, 0, 0, 0)
        return A.OK, self._start(state, job, blocked)

    def _job_limit(self, state: tuple) -> A.Answer | None:
        """A refusal when the scenario's job bounds are reached (not a QEMU rule)."""
        if len(state[JOBS]) >= self.scenario.max_jobs:
            return A.model_limit(f"the scenario allows at most {self.scenario.max_jobs} jobs at once")
        if state[JOBS_LEFT] <= 0:
            return A.model_limit(f"the scenario allows {self.scenario.jobs_per_run} jobs per run")
        return None

    def overlay(self, backing: tuple, node: int) -> int:
        """The node in the chain whose backing is ``node`` (NONE for the active layer)."""
        for parent in in_chain(backing, self.root):
            if backing[parent] == node:
                return parent
        return NONE

    def _start(self, state: tuple, job: tuple, blocked: list[int]) -> tuple:
        bit = blocker_bit(job[J_OWNER], job[J_KIND])
        blockers = tuple(b | bit if i in blocked else b for i, b in enumerate(state[BLOCKERS]))
        state = put(put(state, JOBS, tuple(sorted((*state[JOBS], job)))), BLOCKERS, blockers)
        return put(state, JOBS_LEFT, state[JOBS_LEFT] - 1)

    # -- block-job-* verbs (§2.6, §5.6) --------------------------------------
    def job_for(self, state: tuple, node: int) -> tuple[tuple | None, A.Answer | None]:
        job = find_job(state[JOBS], node)
        return (job, None) if job is not None else (None, A.no_job(self.device_or_node(node)))

    def cancel(self, state: tuple, node: int, force: bool) -> Step:
        job, refusal = self.job_for(state, node)
        if refusal:
            return refusal, state
        status = job[J_STATUS]
        if status == Status.PAUSED and not force:
            return A.job_paused(self.device_or_node(node)), state
        if job[J_FLAGS] & CANCELLED:
            return A.OK, state
        # A cancel that arrives after the coroutine returned still sets the
        # flag stream_complete reads, so the chain is then left alone (§2.5).
        new = list(job)
        new[J_FLAGS] |= CANCELLED
        if status == Status.PAUSED:
            new[J_STATUS] = Status.RUNNING  # force undoes the user pause
        return A.OK, self._with_job(state, job, tuple(new))

    def pause(self, state: tuple, node: int) -> Step:
        job, refusal = self.job_for(state, node)
        if refusal:
            return refusal, state
        if job[J_STATUS] != Status.RUNNING or job[J_FLAGS] & CANCELLED:
            # Already paused, finished, or cancelled (a cancelled job never
            # stops at a pause point): accepted, and nothing changes (§5.6).
            return A.OK, state
        if job[J_PAUSES] >= self.scenario.pauses_per_job:
            return A.model_limit(f"the scenario allows {self.scenario.pauses_per_job} pause(s) per job"), state
        new = list(job)
        new[J_STATUS] = Status.PAUSED
        new[J_PAUSES] += 1
        return A.OK, self._with_job(state, job, tuple(new))

    def resume(self, state: tuple, node: int) -> Step:
        job, refusal = self.job_for(state, node)
        if refusal:
            return refusal, state
        if job[J_STATUS] != Status.PAUSED:
            return A.OK, state
        new = list(job)
        new[J_STATUS] = Status.RUNNING
        return A.OK, self._with_job(state, job, tuple(new))

    def set_speed(self, state: tuple, node: int, speed: int) -> Step:
        job, refusal = self.job_for(state, node)
        if refusal:
            return refusal, state
        return (A.negative_speed() if speed < 0 else A.OK), state

    def complete(self, state: tuple, node: int) -> Step:
        job, refusal = self.job_for(state, node)
        if refusal:
            return refusal, state
        # Neither stream nor a non-active commit has a .complete callback (§5.3).
        return A.cannot_complete(self.device_or_node(node)), state

    def query_block_jobs(self, state: tuple) -> list[dict]:
        """Every job in the tree, from the active layer down (seed point 2)."""
        backing = state[BACKING]
        order = [self.root, *chain_below(backing, self.root)]
        order += [n for n in range(len(backing)) if n not in order]
        if self.variant == "root-only-query":
            order = [self.root]
        out = []
        for node in order:
            job = find_job(state[JOBS], node)
            if job is None:
                continue
            out.append(
                {
                    "type": JOB_TYPE[job[J_KIND]],
                    "device": self.job_device_field(node),
                    "len": self.chunks * CHUNK_BYTES,
                    "offset": job[J_CURSOR] * CHUNK_BYTES,
                    "busy": job[J_STATUS] == Status.RUNNING,
                    "paused": job[J_STATUS] == Status.PAUSED,
                    "speed": 0,
                    "io-status": "ok",
                    "ready": False,
                }
            )
        return out

    # -- the guest ------------------------------------------------------------
    def guest_write(self, state: tuple, chunk: int) -> Step:
        """The guest writes a new value into one chunk of its device (always allowed)."""
        left = state[WRITES_LEFT]
        if left <= 0:
            return A.model_limit("the scenario allows no more guest writes"), state
        value = 10 + self.scenario.guest_writes - left
        state = put(state, DATA, _set_chunk(state[DATA], self.root, chunk, value))
        return A.OK, put(state, WRITES_LEFT, left - 1)

    # -- job steps (§2.4-§2.6) --------------------------------------------------
    def job_steps(self, state: tuple) -> Iterator[tuple]:
        """The internal steps each job can take now, as actions.

        The coroutine returns right after its last chunk, so "all chunks
        copied" and "returned" are one step; a cancelled job returns at its
        next pause point (``job-exit``).  ``stream_complete`` ends with
        ``block_job_completed`` in the same main-loop callback in 2.8, so
        completing and ending the job are one step too.
        """
        for job in state[JOBS]:
            owner, status, flags = job[J_OWNER], job[J_STATUS], job[J_FLAGS]
            if status == Status.RUNNING:
                if flags & CANCELLED:
                    yield ("job-exit", owner)
                else:
                    yield ("job-copy", owner)
                    yield ("job-io-error", owner)
            elif status == Status.FINISHED:
                if not (self.variant == "cancel-never-completes" and flags & CANCELLED):
                    yield ("stream-complete" if job[J_KIND] == Kind.STREAM else "commit-complete", owner)

    def job_step(self, state: tuple, action: tuple) -> tuple:
        name, owner = action
        job = find_job(state[JOBS], owner)
        if name == "job-copy":
            return self._copy(state, job)
        if name == "job-io-error":
            # on-error=report: the job stops with the error (§2.4).
            return self._with_job(state, job, self._set(job, J_STATUS, Status.FINISHED, J_FLAGS, job[J_FLAGS] | FAILED))
        if name == "job-exit":
            return self._exit(state, job)
        if name in ("stream-complete", "commit-complete"):
            return self._complete(state, job)
        raise ValueError(f"unknown job step {name!r}")

    def _copy(self, state: tuple, job: tuple) -> tuple:
        """Copy one chunk: copy-on-read into the owner (stream) or into the base (commit)."""
        backing, data = state[BACKING], state[DATA]
        c = job[J_CURSOR]
        if job[J_KIND] == Kind.STREAM:
            target, sources = job[J_TOP], between(backing, job[J_TOP], job[J_BASE])
            if self.variant == "copy-reads-base":
                sources = (job[J_BASE], *chain_below(backing, job[J_BASE])) if job[J_BASE] != NONE else ()
            skip = bool(data[target][c])  # allocated in top: nothing to copy
        else:
            target, sources = job[J_BASE], [job[J_TOP], *between(backing, job[J_TOP], job[J_BASE])]
            skip = False
        moved = state
        if not skip:
            value = next((data[n][c] for n in sources if data[n][c]), 0)
            if value and data[target][c] != value:
                moved = put(state, DATA, _set_chunk(data, target, c, value))
        if c + 1 < self.chunks:
            return self._with_job(moved, job, self._set(job, J_CURSOR, c + 1))
        return self._exit(moved, self._set(job, J_CURSOR, c + 1), old=job)

    def _exit(self, state: tuple, job: tuple, old: tuple | None = None) -> tuple:
        """The job's coroutine returns; stream_complete is deferred to the main loop."""
        old = job if old is None else old
        if self.variant == "cancel-skips-complete" and job[J_FLAGS] & CANCELLED:
            # The early exit calls block_job_completed directly (the 2.5 bug, §2.6).
            return self._forget_removed(self._with_job(state, old, None))
        if self.variant == "early-unblock":
            state = self._unblock(state, job)
        return self._with_job(state, old, self._set(job, J_STATUS, Status.FINISHED))

    def _complete(self, state: tuple, job: tuple) -> tuple:
        """stream_complete / commit_complete: on success only, rewrite the header
        and then the live link of the node above the removed part to name the
        base (bdrv_change_backing_file, then bdrv_set_backing_hd); then drop
        every blocker and end the job (§2.5)."""
        flags = job[J_FLAGS]
        success = not flags & (CANCELLED | FAILED) and job[J_CURSOR] == self.chunks
        if success or (self.variant == "cancel-changes-chain" and flags & CANCELLED):
            redirected = job[J_TOP] if job[J_KIND] == Kind.STREAM else self._commit_overlay(state, job)
            if redirected != NONE:
                state = put(state, BACKING, _set_at(state[BACKING], redirected, job[J_BASE]))
                state = put(state, HEADERS, _set_at(state[HEADERS], redirected, job[J_BASE]))
        state = self._unblock(state, job)
        return self._forget_removed(self._with_job(state, job, None))

    def _commit_overlay(self, state: tuple, job: tuple) -> int:
        """The node whose link a finished commit redirects, or NONE when there is none.

        2.8's bdrv_drop_intermediate gives up, leaving the chain alone (the
        job then ends with its error), when the top has no overlay in the
        active layer's chain any more or the base is no longer below the top.
        """
        backing = state[BACKING]
        overlay = self.overlay(backing, job[J_TOP])
        if overlay == NONE or job[J_BASE] not in chain_below(backing, job[J_TOP]):
            return NONE
        return overlay

    def _forget_removed(self, state: tuple) -> tuple:
        """Delete nodes that left the chain and that no job or blocker still holds.

        2015 QEMU frees an intermediate once its last reference goes; the
        model forgets its links and contents so equal chains are equal states.
        """
        backing, data, jobs, blockers = state[BACKING], state[DATA], state[JOBS], state[BLOCKERS]
        held = set(in_chain(backing, self.root))
        for job in jobs:
            held |= {job[J_OWNER], job[J_TOP], *between(backing, job[J_TOP], job[J_BASE])}
            if job[J_BASE] != NONE:
                held.add(job[J_BASE])
        gone = [n for n in range(len(backing)) if n not in held and not blockers[n] and backing[n] != REMOVED]
        if not gone:
            return state
        new_backing = tuple(REMOVED if n in gone else b for n, b in enumerate(backing))
        new_headers = tuple(REMOVED if n in gone else h for n, h in enumerate(state[HEADERS]))
        empty = (0,) * self.chunks
        new_data = tuple(empty if n in gone else row for n, row in enumerate(data))
        return put(put(put(state, BACKING, new_backing), DATA, new_data), HEADERS, new_headers)

    def _unblock(self, state: tuple, job: tuple) -> tuple:
        mask = ~blocker_bit(job[J_OWNER], job[J_KIND])
        return put(state, BLOCKERS, tuple(b & mask for b in state[BLOCKERS]))

    @staticmethod
    def _set(job: tuple, *pairs: int) -> tuple:
        new = list(job)
        for i in range(0, len(pairs), 2):
            new[pairs[i]] = pairs[i + 1]
        return tuple(new)

    @staticmethod
    def _with_job(state: tuple, old: tuple, new: tuple | None) -> tuple:
        return put(state, JOBS, replace_job(state[JOBS], old, new))
