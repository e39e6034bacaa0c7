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
- jobs are reported and addressed by job ID, not by device or node name.

As in :mod:`.block`, each check derives what it needs from the state
itself (the chain walk, the diff of two states, the verb table of §5.3
copied out here), not from the rules it checks.
"""

from __future__ import annotations


from blockcheck.checker.property import Property, always, leads_to, transition
from blockcheck.model.qemu72 import AUTO_DISMISS, AUTO_FINALIZE, J_OPTS, JobStatus, nodes_of
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    CHANGES_LEFT,
    J_BASE,
    J_CURSOR,
    J_FLAGS,
    J_OWNER,
    J_STATUS,
    J_TOP,
    JOBS,
    NONE,
    REMOVED,
    WRITES_LEFT,
    between,
    find_job,
    has_cycle,
    in_chain,
    put,
)

from .block import cancelled_on, guest_views_unchanged, job_on, negate, touched

S = JobStatus
#: Statuses in which QEMU 7.2 accepts block-job-set-speed (§5.3).
SET_SPEED_OK = frozenset({S.RUNNING, S.PAUSED})
#: Commands FACTS §3 lists as refused on a node a stream job holds.
REFUSED_ON_JOB_NODES = (
    ("blockdev-del", "node-name"),
    ("block_resize", "node-name"),
    ("blockdev-backup", "device"),
    ("blockdev-snapshot-sync", "node-name"),
    ("blockdev-snapshot", "node"),
)


def held(job: tuple) -> set[int]:
    """The nodes a job holds until it is dismissed: its top and its recorded intermediates."""
    return {job[J_TOP], *nodes_of(job)}


CANCELS = ("block-job-cancel", "job-cancel")
FINALIZES = ("block-job-finalize", "job-finalize")
DISMISSES = ("block-job-dismiss", "job-dismiss")
#: A job's own actions that let it run on, so that its run may end in them.
RUNS = ("job-copy", "block-job-resume", "job-resume")


def _own(action: tuple, job: tuple) -> bool:
    """An action of the job itself: its internal step, or a verb addressed to it
    (a change-backing-file names its image, not a job)."""
    return action[0] not in ("block-stream", "guest-write", "change-backing-file", "blockdev-del") and action[1] == job[J_TOP]


def qemu72_properties(model: Qemu72Model) -> list[Property]:
    """The eight families for one qemu-7.2 model's scenario."""
    rules, scenario = model.rules, model.scenario
    root, n, chunks, names = scenario.root, scenario.chain_length, scenario.chunks, scenario.node_names
    executor = Executor72(rules)
    initial = model.init_states()[0]

    def job_id(top: int) -> str:
        return f"stream-{names[top]}"

    # 1. isolation -------------------------------------------------------------------
    def isolation(before: tuple, action: tuple, after: tuple) -> bool:
        if not before[JOBS] or before == after:
            return True
        changed = touched(before, after, root)
        if action[0] == "guest-write":
            changed.discard(root)
        return all(_own(action, job) or not (changed & held(job)) for job in before[JOBS])

    def recorded_nodes_match_chain(before: tuple, action: tuple, after: tuple) -> bool:
        if action[0] != "block-stream" or before[JOBS] == after[JOBS]:
            return True
        job = find_job(after[JOBS], action[1])
        # a job started with QEMU's defaults may be gone already (nothing to copy)
        return job is None or set(nodes_of(job)) == set(between(before[BACKING], action[1], action[2]))

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
            for node in held(job):
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
        if any(node in held(job) for job in before[JOBS] for node in walked):
            return False
        # a live job's filter sits right above its top: a walk to that top
        # crosses it, unless the walk ends at the stream's bottom, above it
        live = [j for j in before[JOBS] if j[J_STATUS] in (S.RUNNING, S.PAUSED, S.PENDING)]
        to_base = base != NONE and bottom == NONE
        return not any(j[J_TOP] in walked[1:] or (to_base and j[J_TOP] == base) for j in live)

    def jobs_disjoint(state: tuple) -> bool:
        seen: set[int] = set()
        for job in state[JOBS]:
            if seen & held(job):
                return False
            seen |= held(job)
        return True

    def two_jobs(state: tuple) -> bool:
        return len(state[JOBS]) >= 2

    # 3. cancel-runs-complete -------------------------------------------------------------
    def ends_only_by_dismiss(before: tuple, action: tuple, after: tuple) -> bool:
        after_tops = {j[J_TOP] for j in after[JOBS]}
        for job in before[JOBS]:
            top = job[J_TOP]
            if top in after_tops:
                continue
            dismissed = action[0] in DISMISSES and action[1] == top and job[J_STATUS] == S.CONCLUDED
            # auto-dismiss: gone with the cancel, or the completion, that concluded it
            concluded = job[J_OPTS] & AUTO_DISMISS and _own(action, job) and (
                action[0] in CANCELS or after[BACKING][top] == job[J_BASE]
            )
            if not (dismissed or concluded):
                return False
        return True

    def cancel_concludes(before: tuple, action: tuple, after: tuple) -> bool:
        if action[0] not in CANCELS or before == after:
            return True
        job = find_job(after[JOBS], action[1])
        if job is None:
            concluded = bool(find_job(before[JOBS], action[1])[J_OPTS] & AUTO_DISMISS)
        else:
            concluded = job[J_STATUS] == S.CONCLUDED and bool(job[J_FLAGS] & CANCELLED)
        return concluded and after[BACKING] == before[BACKING]

    def cancelled_concluded(state: tuple) -> bool:
        return any(j[J_FLAGS] & CANCELLED and j[J_STATUS] == S.CONCLUDED for j in state[JOBS])

    # 4. no-leaked-blockers ----------------------------------------------------------------
    def blockers_belong_to_jobs(state: tuple) -> bool:
        holders: dict[int, int] = {}
        for job in state[JOBS]:
            for node in held(job):
                holders[node] = holders.get(node, 0) + 1
        return all(bool(bits) == (node in holders) for node, bits in enumerate(state[BLOCKERS]))

    # 5. chain-integrity -------------------------------------------------------------------
    def finalized(before: tuple, action: tuple, after: tuple) -> tuple[int, int] | None:
        """(top, base) of the job this step finalizes, if any: a finalize of
        a job that copied everything and was not cancelled, or, for a job
        started with auto-finalize, the step that ended its run (its start,
        a copy or a resume), which leaves it concluded or, dismissed too, gone."""
        name, top = action[0], action[1]
        if name in FINALIZES:
            job = find_job(before[JOBS], top)
            done = job[J_STATUS] == S.PENDING and not job[J_FLAGS] & CANCELLED and job[J_CURSOR] == chunks
            return (top, job[J_BASE]) if done else None
        if name == "block-stream":
            auto, base = action[3] & AUTO_FINALIZE, action[2]
        elif name in RUNS:
            job = find_job(before[JOBS], top)
            auto, base = job[J_OPTS] & AUTO_FINALIZE and not job[J_FLAGS] & CANCELLED, job[J_BASE]
        else:
            return None
        now = find_job(after[JOBS], top)
        ended = now is None or (now[J_STATUS] == S.CONCLUDED and now[J_CURSOR] == chunks)
        return (top, base) if auto and ended else None

    def links_change_only_at_finalize(before: tuple, action: tuple, after: tuple) -> bool:
        changed = [i for i in range(n) if before[BACKING][i] != after[BACKING][i]]
        if not changed:
            return True
        if action[0] == "blockdev-del":
            # only the named node leaves, and only a free one: out of the chain, no parent, no job
            node = action[1]
            free = node not in in_chain(before[BACKING], root) and node not in before[BACKING] and not before[BLOCKERS][node]
            return changed == [node] and after[BACKING][node] == REMOVED and free
        job = finalized(before, action, after)
        return job is not None and changed == [job[0]] and after[BACKING][job[0]] == job[1]

    def intermediate_link_redirected(state: tuple) -> bool:
        return any(state[BACKING][i] != initial[BACKING][i] for i in range(n - 1))

    # 6. guest-view-unchanged ---------------------------------------------------------------
    def views_unchanged(before: tuple, action: tuple, after: tuple) -> bool:
        return guest_views_unchanged(before, action, after, root)

    def stream_finalized_after_guest_write(state: tuple) -> bool:
        return state[WRITES_LEFT] < scenario.guest_writes and state[BACKING] != initial[BACKING]

    # 7. ownership-and-reporting ------------------------------------------------------------
    def reporting(state: tuple) -> bool:
        tops = [j[J_OWNER] for j in state[JOBS]]
        if len(tops) != len(set(tops)):
            return False
        reported = sorted((j["device"], j["status"]) for j in rules.query_block_jobs(state))
        expected = sorted((job_id(j[J_TOP]), S(j[J_STATUS]).name.lower()) for j in state[JOBS])
        if reported != expected:
            return False
        for job in state[JOBS]:
            by_id = {"execute": "block-job-set-speed", "arguments": {"device": job_id(job[J_TOP]), "speed": 0}}
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
            "while a job exists (until dismissed), no other action changes a node it holds (backing link, on-disk header, contents, new job); the guest may write through its device",
            isolation,
            witness=concluded_job_holds_detached_node,
            group="isolation",
        ),
        transition(
            "isolation.recorded-nodes",
            "a new stream job holds exactly the nodes between its top and its base in the chain it started on",
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
            "block-stream is accepted only if no node from the top down to the base is held by a job and no live job's filter lies on that walk",
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
            "an accepted cancel concludes the job as cancelled and changes no backing link, in any status",
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
            "a backing link changes only when a job that copied everything and was not cancelled is finalized (by block-job-finalize, or with auto-finalize by the step that ended its run): its top's link, to its base; and a node out of the chain that no parent and no job holds leaves when the user deletes it",
            links_change_only_at_finalize,
            witness=intermediate_link_redirected,
            group="chain-integrity",
        ),
        transition(
            "guest-view-unchanged",
            "what every node in the chain reads is changed by nothing but the guest's own writes",
            views_unchanged,
            witness=stream_finalized_after_guest_write,
            group="guest-view-unchanged",
        ),
        always(
            "ownership-and-reporting",
            "at most one job per top; query-block-jobs reports every job until dismissed under its job ID and status; block-job-* reach a job by its ID (as the verb table allows) and never by a node name",
            reporting,
            witness=concluded_job_reported,
            group="ownership-and-reporting",
        ),
    ]
    return props + _per_node_liveness(model)


def _per_node_liveness(model: Qemu72Model) -> list[Property]:
    """Per top node, as in :mod:`.block`: fairness is per job, so is the claim."""
    props = []
    for node, name in enumerate(model.scenario.node_names):
        props.append(
            leads_to(
                f"cancel-runs-complete.live:{name}",
                f"once the job on {name} is cancelled it is concluded, and the user dismissing it, it goes",
                cancelled_on(node),
                negate(job_on(node)),
                witness=cancelled_on(node),
                group="cancel-runs-complete",
            )
        )
        props.append(
            leads_to(
                f"jobs-end:{name}",
                f"every job on {name} eventually ends, given fair job steps and a user who resumes, finalizes and dismisses",
                job_on(node),
                negate(job_on(node)),
                witness=job_on(node),
                group="jobs-end",
            )
        )
    return props
