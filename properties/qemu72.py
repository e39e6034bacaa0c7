"""The eight property families, rephrased for the qemu-7.2 profile.

The families are :mod:`.block`'s; each check is rephrased where QEMU 7.2's
design differs from the seed's (qemu-domain.md §2.5, §5; FACTS §3-§7):

- a job lives until it is *dismissed*, and holds its nodes until then, so
  "while a job runs" becomes "while a job exists" (CONCLUDED included);
  a job started with auto-dismiss is dismissed by the step that concludes
  it, and one started with auto-finalize is finalized by the step that ends
  its run (the option is read from the job's record, as its base is);
- the nodes a job holds are recorded when it starts (its top and the nodes
  between top and base; after finalize those are no longer below the top),
  and an edge check makes sure the record is what the chain said then;
- the copy-on-read filter is part of the walk a new stream must pass;
- the graph changes when a job is finalized, never at a cancel;
- jobs are reported and addressed by job ID, not by device or node name;
- a commit below the active layer (FACTS §12.1) holds the device, its top,
  the nodes down to its base and the base, and lets go of them all when
  it is cancelled; at its finalize every parent of its top backs onto its
  base; its data moves down into the base, which changes what the base
  and the nodes between it and the top read, but never what the active
  layer reads;
- the active commit (FACTS §12.2) holds the same nodes, and lets go of
  them all however it ends; it ends only from READY (complete, or a cancel
  without force, which completes it without the pivot) or by an abort,
  and leaves every backing link as it was.

As in :mod:`.block`, each check derives what it needs from the state
itself (the chain walk, the diff of two states, the verb table of §5.3
copied out here), not from the rules it checks.
"""

from __future__ import annotations


from blockcheck.checker.property import Property, always, leads_to, transition
from blockcheck.model.qemu72 import ABOVE_FILTER, AUTO_DISMISS, AUTO_FINALIZE, FROM_BOTTOM, J_OPTS, JobStatus, nodes_of
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    CHANGES_LEFT,
    DATA,
    J_BASE,
    J_CURSOR,
    J_FLAGS,
    J_KIND,
    J_OWNER,
    J_STATUS,
    J_TOP,
    JOBS,
    NONE,
    REMOVED,
    WRITES_LEFT,
    Kind,
    between,
    find_job,
    has_cycle,
    in_chain,
    put,
)

from .block import cancelled_on, guest_views_unchanged, job_on, negate, touched

S = JobStatus
#: Statuses in which QEMU 7.2 accepts block-job-set-speed (§5.3).
SET_SPEED_OK = frozenset({S.CREATED, S.RUNNING, S.PAUSED, S.READY, S.STANDBY})
#: Statuses in which a job is live: its filter is in the graph, and it keeps
#: the links it froze (an active commit alone is ever READY or STANDBY).
LIVE = frozenset({S.RUNNING, S.PAUSED, S.READY, S.STANDBY, S.PENDING})
#: Commands FACTS §3 lists as refused on a node a stream job holds.
REFUSED_ON_JOB_NODES = (
    ("blockdev-del", "node-name"),
    ("block_resize", "node-name"),
    ("blockdev-backup", "device"),
    ("blockdev-snapshot-sync", "node-name"),
    ("blockdev-snapshot", "node"),
)


def held(job: tuple, root: int) -> set[int]:
    """The nodes a job holds until it is dismissed: a stream its top and its
    recorded intermediates; a commit the device (the active layer), its
    recorded intermediates (the top among them) and its base, unless it was
    cancelled, which lets go of them all (FACTS §12.1), or it is an active
    commit (its top is the device) that has concluded in any way (FACTS
    §12.2)."""
    if job[J_KIND] == Kind.COMMIT:
        if job[J_FLAGS] & CANCELLED or (job[J_TOP] == root and job[J_STATUS] == S.CONCLUDED):
            return set()
        return {root, *nodes_of(job), job[J_BASE]}
    return {job[J_TOP], *nodes_of(job)}


def parents(backing: tuple, node: int) -> list[int]:
    """The nodes whose backing link is ``node``."""
    return [p for p, below in enumerate(backing) if below == node]


def promised_links(before: tuple, job: tuple) -> dict[int, int]:
    """The links a job's completion sets: a stream's top onto what lies below
    its lowest node then (its base, unless a commit moved the link out of a
    bottom-form stream's bottom); every parent of a commit's top onto the
    commit's base."""
    if job[J_KIND] == Kind.COMMIT:
        return {p: job[J_BASE] for p in parents(before[BACKING], job[J_TOP])}
    return {job[J_TOP]: before[BACKING][min((job[J_TOP], *nodes_of(job)))]}


CANCELS = ("block-job-cancel", "job-cancel")
#: (status, action) that end an active commit's run (FACTS §12.2): complete
#: in READY, or a complete sent in STANDBY acted on at the resume; a cancel
#: without force in READY; finalize in PENDING.
ACTIVE_COMMIT_ENDS = frozenset({
    (S.READY, "block-job-complete"), (S.READY, "job-complete"), (S.STANDBY, "block-job-resume"),
    (S.STANDBY, "job-resume"), (S.READY, "block-job-cancel"), (S.PENDING, "block-job-finalize"),
    (S.PENDING, "job-finalize"),
})
FINALIZES = ("block-job-finalize", "job-finalize")
DISMISSES = ("block-job-dismiss", "job-dismiss")
#: A job's own actions that let it run on, so that its run may end in them.
RUNS = ("job-copy", "block-job-resume", "job-resume")
#: A job's steps at the polling granularity: its job_exit bottom half, which
#: finalizes it with auto-finalize, and the parts of a stream's prepare,
#: whose last part finalizes it however its finalize began.
EXITS = ("job-exit", "job-prepare")


#: Actions whose second item is not a job's owner.
NOT_JOB_ACTIONS = ("block-stream", "block-commit", "guest-write", "change-backing-file", "blockdev-del")


def _own(action: tuple, job: tuple) -> bool:
    """An action of the job itself: its internal step, or a verb addressed to it
    (a change-backing-file names its image, not a job)."""
    return action[0] not in NOT_JOB_ACTIONS and action[1] == job[J_OWNER]


def qemu72_properties(model: Qemu72Model) -> list[Property]:
    """The eight families for one qemu-7.2 model's scenario."""
    rules, scenario = model.rules, model.scenario
    root, n, chunks, names = scenario.root, scenario.chain_length, scenario.chunks, scenario.node_names
    executor = Executor72(rules)
    initial = model.init_states()[0]

    def job_id(job: tuple) -> str:
        return ("commit-" if job[J_KIND] == Kind.COMMIT else "stream-") + names[job[J_TOP]]

    def started(action: tuple) -> int | None:
        """The owner of the job a block-stream or block-commit action starts."""
        if action[0] == "block-stream":
            return action[1]
        return action[1] + n if action[0] == "block-commit" else None

    # 1. isolation -------------------------------------------------------------------
    def isolation(before: tuple, action: tuple, after: tuple) -> bool:
        if not before[JOBS] or before == after:
            return True
        # touched() names a new job by its owner, which for a commit is its top + n
        changed = {node % n for node in touched(before, after, root)}
        if action[0] == "guest-write":
            changed.discard(root)
        return all(_own(action, job) or not (changed & guarded(job, before, action, after)) for job in before[JOBS])

    def guarded(job: tuple, before: tuple, action: tuple, after: tuple) -> set[int]:
        """The nodes of ``job`` that ``action`` may not touch: those it holds,
        but for the links, and headers, a commit's completion re-points (every
        parent of its top, bdrv_drop_intermediate) where ``job`` froze no
        link: op blockers guard against commands, frozen links against
        graph changes (FACTS §12.3)."""
        nodes = held(job, root)
        moved = finalized(before, action, after) or {}
        loose = {node for node in moved if before[DATA][node] == after[DATA][node]} - frozen(job)
        return nodes - loose

    def frozen(job: tuple) -> set[int]:
        """The nodes whose backing link ``job`` keeps frozen: while it is live,
        a commit its top and the nodes down to its base; a stream its top and
        its intermediates, but for a bottom-form stream's bottom, whose link
        out that form leaves free (stream_start freezes down to the base's
        overlay; a concluded job has unfrozen them all)."""
        if job[J_STATUS] not in LIVE:
            return set()
        if job[J_KIND] == Kind.COMMIT:
            return set(nodes_of(job))
        nodes = {job[J_TOP], *nodes_of(job)}
        return nodes - {min(nodes)} if job[J_OPTS] & FROM_BOTTOM else nodes

    def recorded_nodes_match_chain(before: tuple, action: tuple, after: tuple) -> bool:
        owner = started(action)
        if owner is None or before[JOBS] == after[JOBS]:
            return True
        job = find_job(after[JOBS], owner)
        top, base = action[1], action[2]
        expected = set(between(before[BACKING], top, base)) | ({top} if action[0] == "block-commit" else set())
        # a job started with QEMU's defaults may be gone already (nothing to copy)
        return job is None or set(nodes_of(job)) == expected

    # change-backing-file of a held node, sent through the root, when the
    # scenario lets the user send it; asked with the rewrite budget refilled,
    # so the scenario's bound does not stand in for a refusal
    header_lines = (
        [lambda node: {"execute": "change-backing-file",
                       "arguments": {"device": names[root], "image-node-name": names[node], "backing-file": "x.qcow2"}}]
        if "change-backing-file" in scenario.commands
        else []
    )

    def refused_on_held_nodes(state: tuple) -> bool:
        budget = put(state, CHANGES_LEFT, 1)
        for job in state[JOBS]:
            for node in held(job, root):
                for command, arg in REFUSED_ON_JOB_NODES:
                    line = {"execute": command, "arguments": {arg: names[node]}}
                    if executor.run(state, line)[0].ok:
                        return False
                for make in header_lines:
                    if executor.run(budget, make(node))[0].ok:
                        return False
        return True

    def concluded_job_holds_detached_node(state: tuple) -> bool:
        chain = in_chain(state[BACKING], root)
        return any(j[J_STATUS] == S.CONCLUDED and set(nodes_of(j)) - chain for j in state[JOBS])

    # 2. blockers-checked-everywhere ------------------------------------------------------
    def stream_refused_when_blocked(before: tuple, action: tuple, after: tuple) -> bool:
        if action[0] != "block-stream":
            return True
        top, base, bottom = action[1], action[2], action[4]
        walked = (top, *between(before[BACKING], top, base))
        if any(node in held(job, root) for job in before[JOBS] for node in walked):
            return False
        # a live stream's filter, its main node, sits right above its top: a
        # walk to that top crosses it, unless the walk ends at the stream's
        # bottom, above it (a commit's filter below the active layer is not
        # held, FACTS §12.3; an active commit's sits above the active layer,
        # which it holds)
        live = [j for j in before[JOBS] if j[J_STATUS] in (S.RUNNING, S.PAUSED, S.PENDING) and j[J_KIND] == Kind.STREAM]
        to_base = base != NONE and bottom == NONE
        return not any(j[J_TOP] in walked[1:] or (to_base and j[J_TOP] == base) for j in live)

    def jobs_disjoint(state: tuple) -> bool:
        seen: set[int] = set()
        for job in state[JOBS]:
            if seen & held(job, root):
                return False
            seen |= held(job, root)
        return True

    def two_jobs(state: tuple) -> bool:
        return len(state[JOBS]) >= 2

    # 3. cancel-runs-complete -------------------------------------------------------------
    def ends_only_by_dismiss(before: tuple, action: tuple, after: tuple) -> bool:
        after_owners = {j[J_OWNER] for j in after[JOBS]}
        for job in before[JOBS]:
            if job[J_OWNER] in after_owners:
                continue
            dismissed = action[0] in DISMISSES and _own(action, job) and job[J_STATUS] == S.CONCLUDED
            # auto-dismiss: gone with the cancel, or the completion, that concluded it;
            # an active commit completes only from READY, by the verbs that
            # end its run there (FACTS §12.2)
            if job[J_KIND] == Kind.COMMIT and job[J_TOP] == root:
                completed = (job[J_STATUS], action[0]) in ACTIVE_COMMIT_ENDS
            else:
                completed = all(after[BACKING][node] == link for node, link in promised_links(before, job).items())
            concluded = job[J_OPTS] & AUTO_DISMISS and _own(action, job) and (action[0] in CANCELS or completed)
            if not (dismissed or concluded):
                return False
        return True

    def cancel_concludes(before: tuple, action: tuple, after: tuple) -> bool:
        if action[0] not in CANCELS or before == after:
            return True
        old, job = find_job(before[JOBS], action[1]), find_job(after[JOBS], action[1])
        opts = old[J_OPTS]
        if old[J_STATUS] == S.READY and action[0] == "block-job-cancel" and not action[2]:
            # a mirror in READY completes instead: its run ends as a complete's would
            if not opts & AUTO_FINALIZE:
                ended = job is not None and job[J_STATUS] == S.PENDING
            elif not opts & AUTO_DISMISS:
                ended = job is not None and job[J_STATUS] == S.CONCLUDED
            else:
                ended = job is None
            concluded = ended and not (job is not None and job[J_FLAGS] & CANCELLED)
        elif job is None:
            concluded = bool(opts & AUTO_DISMISS)
        else:
            concluded = job[J_STATUS] == S.CONCLUDED and bool(job[J_FLAGS] & CANCELLED)
        return concluded and after[BACKING] == before[BACKING]

    def cancelled_concluded(state: tuple) -> bool:
        return any(j[J_FLAGS] & CANCELLED and j[J_STATUS] == S.CONCLUDED for j in state[JOBS])

    # 4. no-leaked-blockers ----------------------------------------------------------------
    def blockers_belong_to_jobs(state: tuple) -> bool:
        holders: dict[int, int] = {}
        for job in state[JOBS]:
            for node in held(job, root):
                holders[node] = holders.get(node, 0) + 1
        return all(bool(bits) == (node in holders) for node, bits in enumerate(state[BLOCKERS]))

    # 5. chain-integrity -------------------------------------------------------------------
    def finalized(before: tuple, action: tuple, after: tuple) -> dict[int, int] | None:
        """The links the job this step finalizes promised (:func:`promised_links`),
        if any: a finalize of a job that copied everything and was not
        cancelled, or, for a job started with auto-finalize, the step that
        ended its run (its start, a copy or a resume), which leaves it
        concluded or, dismissed too, gone."""
        name, owner = action[0], started(action)
        if name in FINALIZES:
            job = find_job(before[JOBS], action[1])
            done = job[J_STATUS] == S.PENDING and not job[J_FLAGS] & CANCELLED and job[J_CURSOR] == chunks
            return promised_links(before, job) if done else None
        if owner is not None:
            top, base, auto = action[1], action[2], action[3] & AUTO_FINALIZE
            links = {p: base for p in parents(before[BACKING], top)} if name == "block-commit" else {top: base}
        elif name in RUNS or name in EXITS:
            owner, job = action[1], find_job(before[JOBS], action[1])
            auto = name == "job-prepare" or (job[J_OPTS] & AUTO_FINALIZE and not job[J_FLAGS] & CANCELLED)
            links = promised_links(before, job)
        else:
            return None
        now = find_job(after[JOBS], owner)
        ended = now is None or (now[J_STATUS] == S.CONCLUDED and now[J_CURSOR] == chunks)
        return links if auto and ended else None

    def links_change_only_at_finalize(before: tuple, action: tuple, after: tuple) -> bool:
        changed = {i: after[BACKING][i] for i in range(n) if before[BACKING][i] != after[BACKING][i]}
        if not changed:
            return True
        if action[0] == "blockdev-del":
            # only the named node leaves, and only a free one: out of the chain, no parent, no job
            node = action[1]
            free = node not in in_chain(before[BACKING], root) and node not in before[BACKING] and not before[BLOCKERS][node]
            return changed == {node: REMOVED} and free
        return changed == finalized(before, action, after)

    def intermediate_link_redirected(state: tuple) -> bool:
        return any(state[BACKING][i] != initial[BACKING][i] for i in range(n - 1))

    def chain_only_shrinks(before: tuple, action: tuple, after: tuple) -> bool:
        return in_chain(after[BACKING], root) <= in_chain(before[BACKING], root)

    def chain_lost_a_node(state: tuple) -> bool:
        return in_chain(state[BACKING], root) != in_chain(initial[BACKING], root)

    def live_filter_of(state: tuple, top: int) -> tuple | None:
        """The commit below the active layer whose top is ``top`` while its
        filter is in the graph (LIVE, and not yet dropped by its prepare)."""
        commit = find_job(state[JOBS], top + n)
        if commit is None or commit[J_STATUS] not in LIVE or top == root:
            return None
        return commit

    def no_dangling_pointer(state: tuple) -> bool:
        # a stream whose above_base is a commit's filter reads it at its
        # prepare: that filter must still be in the graph until then
        return all(live_filter_of(state, j[J_BASE]) is not None for j in state[JOBS]
                   if j[J_FLAGS] & ABOVE_FILTER and j[J_STATUS] in LIVE)

    def stream_above_a_commit_filter(state: tuple) -> bool:
        streams = [j for j in state[JOBS] if j[J_KIND] == Kind.STREAM and j[J_STATUS] in LIVE]
        return any(live_filter_of(state, state[BACKING][min((j[J_TOP], *nodes_of(j)))]) for j in streams)

    # 6. guest-view-unchanged ---------------------------------------------------------------
    def views_unchanged(before: tuple, action: tuple, after: tuple) -> bool:
        # a commit moves data into its base, so the base and the nodes between
        # it and the top read more of the top's data (and the top reads the same)
        # only a commit that may still copy: running, or paused (a resume copies)
        commits = [(j[J_TOP], j[J_BASE]) for j in before[JOBS]
                   if j[J_KIND] == Kind.COMMIT and j[J_STATUS] in (S.RUNNING, S.PAUSED)]
        if action[0] == "block-commit":
            commits.append((action[1], action[2]))  # its start copies the first chunk
        moved = set()
        for top, base in commits:
            moved |= {*between(before[BACKING], top, base), base}
        return guest_views_unchanged(before, action, after, root, moved)

    def stream_finalized_after_guest_write(state: tuple) -> bool:
        return state[WRITES_LEFT] < scenario.guest_writes and state[BACKING] != initial[BACKING]

    # 7. ownership-and-reporting ------------------------------------------------------------
    def reporting(state: tuple) -> bool:
        tops = [j[J_OWNER] for j in state[JOBS]]
        if len(tops) != len(set(tops)):
            return False
        reported = sorted((j["device"], j["status"]) for j in rules.query_block_jobs(state))
        expected = sorted((job_id(j), S(j[J_STATUS]).name.lower()) for j in state[JOBS])
        if reported != expected:
            return False
        for job in state[JOBS]:
            by_id = {"execute": "block-job-set-speed", "arguments": {"device": job_id(job), "speed": 0}}
            if executor.run(state, by_id)[0].ok != (job[J_STATUS] in SET_SPEED_OK):
                return False
            by_node = {"execute": "block-job-set-speed", "arguments": {"device": names[job[J_TOP]], "speed": 0}}
            if executor.run(state, by_node)[0].ok:
                return False
        return True

    def concluded_job_reported(state: tuple) -> bool:
        return any(j[J_STATUS] == S.CONCLUDED for j in state[JOBS])

    props = [
        transition(
            "isolation",
            "while a job exists (until dismissed), no other action changes a node it holds (backing link, on-disk header, contents, new job); the guest may write through its device, and a commit's completion may re-point the links into its top that the job does not keep frozen",
            isolation,
            witness=concluded_job_holds_detached_node,
            group="isolation",
        ),
        transition(
            "isolation.recorded-nodes",
            "a new job holds exactly the nodes of the chain it started on that it names: a stream those between its top and its base, a commit its top and those down to its base",
            recorded_nodes_match_chain,
            witness=two_jobs,
            group="isolation",
        ),
        always(
            "isolation.guarded-ops",
            "on every node a job holds, until it is dismissed, blockdev-del, block_resize, blockdev-backup and blockdev-snapshot(-sync) are refused, and so is change-backing-file of that node's header sent through the root (when the scenario sends it)",
            refused_on_held_nodes,
            witness=concluded_job_holds_detached_node,
            group="isolation",
        ),
        transition(
            "blockers-checked-everywhere",
            "block-stream is accepted only if no node from the top down to the base is held by a job and no live stream's filter lies on that walk",
            stream_refused_when_blocked,
            witness=two_jobs,
            group="blockers-checked-everywhere",
        ),
        always(
            "blockers-checked-everywhere.disjoint",
            "no two jobs, dismissed or not, ever hold the same node",
            jobs_disjoint,
            witness=two_jobs,
            group="blockers-checked-everywhere",
        ),
        transition(
            "cancel-runs-complete",
            "a job leaves the job list only when it is dismissed: by block-job-dismiss (or job-dismiss) in CONCLUDED, or, started with auto-dismiss, by the cancel or completion that concluded it",
            ends_only_by_dismiss,
            witness=cancelled_concluded,
            group="cancel-runs-complete",
        ),
        transition(
            "cancel-runs-complete.abort",
            "an accepted cancel concludes the job as cancelled and changes no backing link, in any status; but block-job-cancel without force of an active commit in READY ends its run as block-job-complete would, without the pivot",
            cancel_concludes,
            witness=cancelled_concluded,
            group="cancel-runs-complete",
        ),
        always(
            "no-leaked-blockers",
            "a node is blocked exactly when a job that is not yet dismissed holds it",
            blockers_belong_to_jobs,
            witness=concluded_job_holds_detached_node,
            group="no-leaked-blockers",
        ),
        always(
            "chain-integrity.acyclic",
            "the backing graph stays acyclic",
            lambda s: not has_cycle(s[BACKING]),
            witness=intermediate_link_redirected,
            group="chain-integrity",
        ),
        transition(
            "chain-integrity",
            "a backing link changes only when a job that copied everything and was not cancelled is finalized (by block-job-finalize, or with auto-finalize by the step that ended its run"
            + ("; at the polling granularity by its job-exit or its last job-prepare step" if scenario.completions == "polling" else "")
            + "): a stream's top's link, to its base, or every link to a commit's top, to the commit's base; and a node out of the chain that no parent and no job holds leaves when the user deletes it",
            links_change_only_at_finalize,
            witness=intermediate_link_redirected,
            group="chain-integrity",
        ),
        transition(
            "chain-integrity.only-shrinks",
            "no step puts a node into the device's backing chain: jobs only ever take nodes out of it (the model adds no overlay)",
            chain_only_shrinks,
            witness=chain_lost_a_node,
            group="chain-integrity",
        ),
        transition(
            "guest-view-unchanged",
            "what every node in the chain reads is changed by nothing but the guest's own writes, and a commit's copies into its base (which only the base and the nodes above it up to the top read)",
            views_unchanged,
            witness=stream_finalized_after_guest_write,
            group="guest-view-unchanged",
        ),
        always(
            "ownership-and-reporting",
            "at most one job per ID; query-block-jobs reports every job until dismissed under its job ID and status; block-job-* reach a job by its ID (as the verb table allows) and never by a node name",
            reporting,
            witness=concluded_job_reported,
            group="ownership-and-reporting",
        ),
    ]
    if "block-commit" in scenario.commands:
        props.append(
            always(
                "chain-integrity.no-dangling",
                "no live job keeps a pointer to a node that has left the graph: a stream whose above_base is a commit's filter finds that filter still there until its own prepare",
                no_dangling_pointer,
                witness=stream_above_a_commit_filter,
                group="chain-integrity",
            )
        )
    return props + _per_node_liveness(model)


def _per_node_liveness(model: Qemu72Model) -> list[Property]:
    """Per job, as in :mod:`.block`: fairness is per job, so is the claim.
    A stream is named by its top (``:D``); a commit, when the scenario
    sends block-commit, by its ID (``:commit-D``), for every top above the
    bottom (the active layer's is the active commit)."""
    scenario = model.scenario
    owners = [(node, name) for node, name in enumerate(scenario.node_names)]
    if "block-commit" in scenario.commands:
        n = scenario.chain_length
        # a commit's top has a base below it (the active layer's is the active commit)
        owners += [(node + n, f"commit-{name}") for node, name in enumerate(scenario.node_names) if 0 < node]
    props = []
    for owner, name in owners:
        props.append(
            leads_to(
                f"cancel-runs-complete.live:{name}",
                f"once the job {'' if name.startswith('commit-') else 'on '}{name} is cancelled it is concluded, and the user dismissing it, it goes",
                cancelled_on(owner),
                negate(job_on(owner)),
                witness=cancelled_on(owner),
                group="cancel-runs-complete",
            )
        )
        props.append(
            leads_to(
                f"jobs-end:{name}",
                f"every job {'' if name.startswith('commit-') else 'on '}{name} eventually ends, given fair job steps and a user who resumes, completes, finalizes and dismisses",
                job_on(owner),
                negate(job_on(owner)),
                witness=job_on(owner),
                group="jobs-end",
            )
        )
    return props
