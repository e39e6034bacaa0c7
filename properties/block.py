"""What must hold of the block-layer model: the eight properties of the design.

Each property is computed from the state (or the state change) by its own
means, not from the rules it checks: "involved nodes" are walked from the
chain, the nodes an action touches are the diff of the two states, the
expected ``device`` field is derived from the scenario.  A property that
asked the rules what they meant to do would pass on any bug in them.

Property families (the ``group`` of each check) follow the issue's list;
a family may hold a state invariant, an edge check and liveness checks.
"""

from __future__ import annotations

from collections.abc import Callable

from blockcheck.checker.property import Property, always, leads_to, transition
from blockcheck.model.block_model import BlockModel
from blockcheck.model.commands import JOB_STEPS, Executor
from blockcheck.model.seed import GUARDED_OPS
from blockcheck.model.state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    DATA,
    FAILED,
    HEADERS,
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
    Status,
    between,
    find_job,
    has_cycle,
    in_chain,
    view,
)

FAMILIES = (
    "isolation",
    "blockers-checked-everywhere",
    "cancel-runs-complete",
    "no-leaked-blockers",
    "chain-integrity",
    "guest-view-unchanged",
    "ownership-and-reporting",
    "jobs-end",
)


def involved(state: tuple, job: tuple, root: int) -> set[int]:
    """The nodes a job involves, walked from the chain in ``state``.

    A stream involves its owner and the nodes strictly between owner and
    base; a commit its owner (the active layer), the overlay of its top, and
    top down to base inclusive (qemu-domain.md §3 "What each job blocks").
    """
    backing = state[BACKING]
    if job[J_KIND] == Kind.STREAM:
        return {job[J_OWNER], *between(backing, job[J_TOP], job[J_BASE])}
    top, base = job[J_TOP], job[J_BASE]
    overlay = {n for n in in_chain(backing, root) if backing[n] == top}
    return {job[J_OWNER], top, *between(backing, top, base), base, *overlay}


def touched(before: tuple, after: tuple, root: int) -> set[int]:
    """Nodes whose backing link, on-disk header, contents or chain membership changed,
    or that got a new job."""
    b_back, a_back = before[BACKING], after[BACKING]
    b_head, a_head = before[HEADERS], after[HEADERS]
    nodes = {
        n
        for n in range(len(b_back))
        if b_back[n] != a_back[n] or b_head[n] != a_head[n] or before[DATA][n] != after[DATA][n]
    }
    nodes |= in_chain(b_back, root) - in_chain(a_back, root)
    old_owners = {j[J_OWNER] for j in before[JOBS]}
    nodes |= {j[J_OWNER] for j in after[JOBS] if j[J_OWNER] not in old_owners}
    return nodes


def guest_views_unchanged(before: tuple, action: tuple, after: tuple, root: int, exempt: set[int] = frozenset()) -> bool:
    """Every node in the chain before and after reads the same data, but for the guest's own write.

    ``exempt`` nodes (those a commit moves data into or through) may change.
    """
    if before[BACKING] == after[BACKING] and before[DATA] == after[DATA]:
        return True
    readers = (in_chain(before[BACKING], root) & in_chain(after[BACKING], root)) - exempt
    for node in readers:
        old = view(before[BACKING], before[DATA], node)
        new = view(after[BACKING], after[DATA], node)
        if action[0] == "guest-write" and node == root:
            chunk = action[1]
            old = old[:chunk] + (after[DATA][root][chunk],) + old[chunk + 1 :]
        if old != new:
            return False
    return True


def _own_step(action: tuple, job: tuple) -> bool:
    return action[0] in JOB_STEPS and action[1] == job[J_OWNER]


def block_properties(model: BlockModel) -> list[Property]:
    """The properties of the design, bound to one model's scenario."""
    rules, scenario = model.rules, model.scenario
    root, n, chunks = scenario.root, scenario.chain_length, scenario.chunks
    executor = Executor(rules)
    initial = model.init_states()[0]

    def expected_device(owner: int) -> str:
        return scenario.device if owner == root else scenario.node_names[owner]

    # 1. isolation ------------------------------------------------------------
    def isolation(before: tuple, action: tuple, after: tuple) -> bool:
        if before[JOBS] == () or before == after:
            return True
        changed = touched(before, after, root)
        if action[0] == "guest-write":
            changed.discard(root)  # the guest's own writes through its device
        if not changed:
            return True
        return all(_own_step(action, job) or not (changed & involved(before, job, root)) for job in before[JOBS])

    def guarded_ops_refused(state: tuple) -> bool:
        for job in state[JOBS]:
            for node in involved(state, job, root):
                for op in GUARDED_OPS:
                    if rules.guarded_op(state, op, node).ok:
                        return False
        return True

    def intermediate_link_redirected_while_job_runs(state: tuple) -> bool:
        return intermediate_link_redirected(state) and bool(state[JOBS])

    # 2. blockers-checked-everywhere --------------------------------------------
    def stream_refused_when_blocked(before: tuple, action: tuple, after: tuple) -> bool:
        if action[0] != "block-stream":
            return True
        top, base = action[1], action[2]
        return not any(before[BLOCKERS][node] for node in (top, *between(before[BACKING], top, base)))

    def jobs_disjoint(state: tuple) -> bool:
        seen: set[int] = set()
        for job in state[JOBS]:
            nodes = involved(state, job, root)
            if seen & nodes:
                return False
            seen |= nodes
        return True

    def two_jobs_on_one_chain(state: tuple) -> bool:
        return len(state[JOBS]) >= 2

    # 3. cancel-runs-complete -----------------------------------------------------
    def ends_through_complete(before: tuple, action: tuple, after: tuple) -> bool:
        after_owners = {j[J_OWNER] for j in after[JOBS]}
        for job in before[JOBS]:
            if job[J_OWNER] not in after_owners:
                if action[0] not in ("stream-complete", "commit-complete") or action[1] != job[J_OWNER]:
                    return False
        return True

    def cancelled_job_finishing(state: tuple) -> bool:
        return any(j[J_FLAGS] & CANCELLED and j[J_STATUS] == Status.FINISHED for j in state[JOBS])

    # 4. no-leaked-blockers ----------------------------------------------------------
    def blockers_belong_to_jobs(state: tuple) -> bool:
        for node, bits in enumerate(state[BLOCKERS]):
            owner_kind = 0
            while bits:
                if bits & 1:
                    owner, kind = divmod(owner_kind, 2)
                    job = find_job(state[JOBS], owner)
                    if job is None or job[J_KIND] != kind or node not in involved(state, job, root):
                        return False
                bits >>= 1
                owner_kind += 1
        return True

    def intermediate_blocked(state: tuple) -> bool:
        return any(state[BLOCKERS][node] and find_job(state[JOBS], node) is None for node in range(n))

    # 5. chain-integrity ------------------------------------------------------------
    def acyclic(state: tuple) -> bool:
        return not has_cycle(state[BACKING])

    def links_change_only_on_success(before: tuple, action: tuple, after: tuple) -> bool:
        changed = [i for i in range(n) if before[BACKING][i] != after[BACKING][i] and after[BACKING][i] != REMOVED]
        headers = [i for i in range(n) if before[HEADERS][i] != after[HEADERS][i] and after[HEADERS][i] != REMOVED]
        if action[0] == "change-backing-file":
            return not changed and set(headers) <= {action[1]}
        if not changed and not headers:
            return True
        if action[0] not in ("stream-complete", "commit-complete"):
            return False
        job = find_job(before[JOBS], action[1])
        success = not job[J_FLAGS] & (CANCELLED | FAILED) and job[J_CURSOR] == chunks
        if job[J_KIND] == Kind.STREAM:
            redirected = job[J_TOP]
        else:
            redirected = next((p for p in in_chain(before[BACKING], root) if before[BACKING][p] == job[J_TOP]), NONE)
        # Either may already name the base (nothing to stream, or a user's rewrite).
        rewritten = set(changed) | set(headers) <= {redirected}
        return success and rewritten and after[BACKING][redirected] == after[HEADERS][redirected] == job[J_BASE]

    def intermediate_link_redirected(state: tuple) -> bool:
        backing = state[BACKING]
        return any(REMOVED != backing[i] != initial[BACKING][i] for i in range(n - 1))

    # 6. guest-view-unchanged -----------------------------------------------------------
    def views_unchanged(before: tuple, action: tuple, after: tuple) -> bool:
        # A commit moves its top's data down into its base on purpose: what the
        # base and the nodes between it and the top read may change, what the
        # top, the device and every node outside top..base read may not (the
        # same exemption as data_proofs' commit claims).
        committed: set[int] = set()
        for job in before[JOBS]:
            if job[J_KIND] == Kind.COMMIT:
                committed |= {job[J_TOP], *between(before[BACKING], job[J_TOP], job[J_BASE]), job[J_BASE]}
        return guest_views_unchanged(before, action, after, root, committed)

    def stream_completed_after_guest_write(state: tuple) -> bool:
        wrote = state[WRITES_LEFT] < scenario.guest_writes or scenario.guest_writes == 0
        return wrote and state[BACKING] != initial[BACKING]

    # 7. ownership-and-reporting ------------------------------------------------------------
    def one_job_per_node(state: tuple) -> bool:
        owners = [j[J_OWNER] for j in state[JOBS]]
        return len(owners) == len(set(owners))

    def query_reports_every_job(state: tuple) -> bool:
        reported = sorted(info["device"] for info in rules.query_block_jobs(state))
        return reported == sorted(expected_device(j[J_OWNER]) for j in state[JOBS])

    def job_commands_reach_owner(state: tuple) -> bool:
        owners = {j[J_OWNER] for j in state[JOBS]}
        for node in in_chain(state[BACKING], root) | owners:
            line = {"execute": "block-job-set-speed", "arguments": {"device": expected_device(node), "speed": 0}}
            if executor.run(state, line)[0].ok != (node in owners):
                return False
        return True

    def node_owned_job_reported(state: tuple) -> bool:
        return any(j[J_OWNER] != root for j in state[JOBS])

    props = [
        transition(
            "isolation",
            "while a job runs, no other action changes a node it involves (backing link, on-disk header, contents, chain membership, new job); the guest may write through its device",
            isolation,
            witness=intermediate_link_redirected_while_job_runs,
            group="isolation",
        ),
        always(
            "isolation.guarded-ops",
            "while a job runs, every op-blocker-guarded command that acts on a node it involves is refused: block_resize, blockdev-snapshot-sync, drive-mirror, and change-backing-file of that node's header sent through the device",
            guarded_ops_refused,
            witness=intermediate_blocked,
            group="isolation",
        ),
        transition(
            "blockers-checked-everywhere",
            "block-stream is accepted only if no node from the top down to, not including, the base carries a job's blocker",
            stream_refused_when_blocked,
            witness=two_jobs_on_one_chain,
            group="blockers-checked-everywhere",
        ),
        always(
            "blockers-checked-everywhere.disjoint",
            "no two jobs ever involve the same node",
            jobs_disjoint,
            witness=two_jobs_on_one_chain,
            group="blockers-checked-everywhere",
        ),
        transition(
            "cancel-runs-complete",
            "a job ends only through its stream_complete (which runs once and ends it), whatever path it took",
            ends_through_complete,
            witness=cancelled_job_finishing,
            group="cancel-runs-complete",
        ),
        always(
            "no-leaked-blockers",
            "every blocker belongs to a running job that involves the node; with no job left no node is blocked",
            blockers_belong_to_jobs,
            witness=intermediate_blocked,
            group="no-leaked-blockers",
        ),
        always(
            "chain-integrity.acyclic",
            "the backing graph stays acyclic",
            acyclic,
            witness=intermediate_link_redirected,
            group="chain-integrity",
        ),
        transition(
            "chain-integrity",
            "a backing link changes only when a job completes successfully: the owner's link (a commit: its top's overlay), to the requested base, live and in the image header alike; change-backing-file rewrites its image's header only",
            links_change_only_on_success,
            witness=intermediate_link_redirected,
            group="chain-integrity",
        ),
        transition(
            "guest-view-unchanged",
            "what every node in the chain reads is changed by nothing but the guest's own writes; a running commit may change what its base and the nodes down to it read",
            views_unchanged,
            witness=stream_completed_after_guest_write,
            group="guest-view-unchanged",
        ),
        always(
            "ownership-and-reporting",
            "at most one job per node; query-block-jobs reports exactly the jobs, each under its device name or else its node name; block-job-* on a node reach the job it owns",
            lambda s: one_job_per_node(s) and query_reports_every_job(s) and job_commands_reach_owner(s),
            witness=node_owned_job_reported,
            group="ownership-and-reporting",
        ),
    ]
    props += _per_node_liveness(model)
    return props


def _per_node_liveness(model: BlockModel) -> list[Property]:
    """Liveness per owning node: fairness is per job, so is the claim."""
    props = []
    for node, name in enumerate(model.scenario.node_names):
        props.append(
            leads_to(
                f"cancel-runs-complete.live:{name}",
                f"once the job owned by {name} is cancelled, its coroutine returns and stream_complete is scheduled",
                cancelled_on(node),
                finished_on(node),
                witness=cancelled_on(node),
                group="cancel-runs-complete",
            )
        )
        props.append(
            leads_to(
                f"jobs-end:{name}",
                f"every job owned by {name} eventually ends, given fair job steps and that a paused job is resumed",
                job_on(node),
                negate(job_on(node)),
                witness=job_on(node),
                group="jobs-end",
            )
        )
    return props


def job_on(node: int) -> Callable[[tuple], bool]:
    """A predicate: a job owned by ``node`` exists."""
    return lambda state: find_job(state[JOBS], node) is not None


def cancelled_on(node: int) -> Callable[[tuple], bool]:
    """A predicate: the job owned by ``node`` has been cancelled."""

    def cancelled(state: tuple) -> bool:
        job = find_job(state[JOBS], node)
        return job is not None and bool(job[J_FLAGS] & CANCELLED)

    return cancelled


def finished_on(node: int) -> Callable[[tuple], bool]:
    """A predicate: the job owned by ``node`` has returned and waits for stream_complete."""

    def finished(state: tuple) -> bool:
        job = find_job(state[JOBS], node)
        return job is not None and job[J_STATUS] == Status.FINISHED

    return finished


def negate(pred: Callable[[tuple], bool]) -> Callable[[tuple], bool]:
    return lambda state: not pred(state)
