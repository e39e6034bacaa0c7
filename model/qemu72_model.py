"""The qemu-7.2 profile as the engine sees it: states, actions, fairness.

As in :mod:`.block_model`, the edges are the commands QEMU would accept in a
state and that change it, plus the jobs' internal steps; refusals are
stuttering steps whose answers the properties check in every state.
The state is the seed's 8-tuple; a job record has the seed's eight fields
and six more (:data:`.qemu72.J_NODES` to :data:`.qemu72.J_READ`: the nodes
it holds, its options, an active commit's dirty chunks, and at the polling
granularity where its end stands), and its status is a
:class:`.qemu72.JobStatus`.  At the polling granularity the monitor and the
guest wait while a job's prepare polls: only job steps are tried then.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

from blockcheck.checker.api import Fairness

from . import answers as A
from .command_model import CommandModel
from .commands import format_line
from .qemu72 import (
    AUTO_DISMISS,
    AUTO_FINALIZE,
    JOB_STEPS,
    NAMED_FILTER,
    USER_PAUSED,
    JobStatus,
    Qemu72Rules,
    chain_nodes,
    job_type,
)
from .seed import blocker_bit
from .qemu72_script import GENERIC_VERBS, Executor72, action_to_line
from .scenario import Scenario
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
    J_STATUS,
    J_TOP,
    JOBS,
    JOBS_LEFT,
    NONE,
    OTHER,
    REMOVED,
    WRITES_LEFT,
    chain_below,
)

#: User actions, in the order the candidates are tried.
USER_ACTIONS = (
    "block-stream",
    "block-commit",
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "block-job-complete",
    "block-job-finalize",
    "block-job-dismiss",
    "change-backing-file",
    "blockdev-del",
    "guest-write",
)
#: The block-job-* verbs whose only argument is the job.
PLAIN_VERBS = ("block-job-pause", "block-job-resume", "block-job-complete", "block-job-finalize", "block-job-dismiss")
#: The option bit each QMP form adds to the streams the model tries.
FORM_OPTS = {"auto-finalize": AUTO_FINALIZE, "auto-dismiss": AUTO_DISMISS, "filter-node-name": NAMED_FILTER}
#: Verbs the user is assumed to send eventually when they are enabled:
#: whoever pauses a job resumes it, whoever starts an active commit
#: completes it once READY, and whoever starts a job with
#: auto-finalize/auto-dismiss false finalizes and dismisses it.
FAIR_VERBS = ("block-job-resume", "block-job-complete", "block-job-finalize", "block-job-dismiss")


class Qemu72Model(CommandModel):
    """One scenario of QEMU 7.2's block-stream rules (profile ``qemu-7.2``)."""

    def __init__(self, scenario: Scenario, rules: Qemu72Rules | None = None) -> None:
        self.scenario = scenario
        self.rules = rules or Qemu72Rules(scenario)
        self.name = f"qemu-block/{scenario.profile}" + ("" if scenario.variant == "none" else f"+{scenario.variant}")
        enabled = set(scenario.commands) | {"block-job-finalize", "block-job-dismiss", "guest-write"}
        if "block-commit" in enabled:
            # an active commit waits in READY for it (FACTS §12.2)
            enabled.add("block-job-complete")
        generic = [v for v in GENERIC_VERBS if "job-verbs" in scenario.qmp_forms and f"block-{v}" in enabled]
        steps = JOB_STEPS if scenario.completions == "polling" else JOB_STEPS[:1]
        self.action_names = tuple(a for a in USER_ACTIONS if a in enabled) + tuple(generic) + steps
        self._commands = frozenset(enabled)
        self._generic = tuple(generic)
        # every combination of the option bits the scenario's forms allow
        self._opts = [0]
        for form, bit in FORM_OPTS.items():
            if form in scenario.qmp_forms:
                self._opts += [o | bit for o in self._opts]
        self._bottoms = "bottom" in scenario.qmp_forms
        self._executor = Executor72(self.rules)

    def apply(self, state: tuple, action: tuple) -> tuple[A.Answer, tuple]:
        """QEMU's answer to ``action`` and the state after it (refusals keep the state)."""
        rules, name = self.rules, action[0]
        if name == "block-stream":
            return rules.stream(state, *action[1:])
        if name == "block-commit":
            return rules.commit(state, *action[1:])
        if name == "block-job-cancel":
            return rules.cancel(state, action[1], action[2])
        if name == "job-cancel":
            return rules.cancel(state, action[1], True)
        if name == "guest-write":
            return rules.guest_write(state, action[1])
        if name in JOB_STEPS:
            return A.OK, rules.job_step(state, action)
        if name in ("change-backing-file", "blockdev-del"):
            # QEMU's checks (root, image, chain; parents, blockers) are the executor's
            return self._executor.run(state, action_to_line(rules, action))
        verb = {
            "pause": rules.pause,
            "resume": rules.resume,
            "complete": rules.complete,
            "finalize": rules.finalize,
            "dismiss": rules.dismiss,
        }[name.removeprefix("block-").removeprefix("job-")]
        return verb(state, action[1])

    def candidates(self, state: tuple) -> Iterator[tuple]:
        """Every command the user could send now, accepted or not, then the job steps.

        Streams are offered from every node of the chain to every node below
        it or to the chain's end, in every form the scenario's QMP forms
        allow (option bits, and the base named by its lowest node as
        ``bottom``); commits from every node of the chain (the active layer:
        an active commit) to every node below it, in every form of the option
        bits; verbs to every job, whatever its status, as block-job-*
        and (with the job-verbs form) job-*; header rewrites (when enabled)
        of every chain node with a backing link, through the root.  While a
        job's prepare polls (the polling granularity), the monitor and the
        guest wait: only job steps.
        """
        if self.rules.poll_depth(state):
            yield from self.rules.job_steps(state)
            return
        commands, jobs, backing = self._commands, state[JOBS], state[BACKING]
        can_start = len(jobs) < self.scenario.max_jobs and state[JOBS_LEFT] > 0
        if can_start and "block-stream" in commands:
            for top in chain_nodes(state, self.rules.root):
                below = chain_below(backing, top)
                for depth, base in enumerate((*below, NONE)):
                    bottoms = (NONE, (top, *below)[depth]) if self._bottoms else (NONE,)
                    for opts in self._opts:
                        for bottom in bottoms:
                            yield ("block-stream", top, base, opts, bottom)
        if can_start and "block-commit" in commands:
            for top in chain_nodes(state, self.rules.root):
                for base in chain_below(backing, top):
                    for opts in self._opts:
                        yield ("block-commit", top, base, opts)
        for job in jobs:
            owner = job[J_OWNER]
            if "block-job-cancel" in commands:
                # force where a paused job needs it; in READY both, which differ (FACTS §12.2)
                status = job[J_STATUS]
                for force in (False, True) if status == JobStatus.READY else (status in USER_PAUSED,):
                    yield ("block-job-cancel", owner, force)
            for verb in PLAIN_VERBS:
                if verb in commands:
                    yield (verb, owner)
            for verb in self._generic:
                yield (verb, owner)
        if state[CHANGES_LEFT] and "change-backing-file" in commands:
            # through the root, as in the seed's BlockModel: re-point a chain
            # node's header at another node below it (the same string again
            # would change only the budget)
            backing = state[BACKING]
            for image in chain_nodes(state, self.rules.root):
                for target in chain_below(backing, image):
                    if target != state[HEADERS][image]:
                        yield ("change-backing-file", image, target)
        if "blockdev-del" in commands:
            # every node but the active layer, which the model keeps; those with parents or a job are refused
            for node, below in enumerate(backing):
                if below != REMOVED and node != self.rules.root:
                    yield ("blockdev-del", node)
        if state[WRITES_LEFT]:
            for chunk in range(self.scenario.chunks):
                yield ("guest-write", chunk)
        yield from self.rules.job_steps(state)

    # -- liveness and deadlock --------------------------------------------------------
    def fairness(self, action: tuple) -> tuple[Fairness, Hashable] | None:
        """A job's steps are weakly fair per job; so are the verbs the user who
        manages the job is assumed to send (resume, complete, finalize,
        dismiss)."""
        name = action[0]
        if name in JOB_STEPS:
            return (Fairness.WEAK, ("job", action[1]))
        if name in FAIR_VERBS:
            return (Fairness.WEAK, (name, action[1]))
        return None

    def is_terminal(self, state: tuple) -> bool:
        """A state without jobs may end the run."""
        return not state[JOBS]

    # -- presentation ---------------------------------------------------------------------
    def format_action(self, action: tuple) -> str:
        return format_line(action_to_line(self.rules, action))

    def action_to_json(self, action: tuple) -> dict[str, Any]:
        return action_to_line(self.rules, action)

    def format_state(self, state: tuple) -> str:
        """The chain top first as QEMU's graph shows it, then the jobs:
        ``E -> filter:stream-D -> D* -> C* -> B -> A | stream-D running 1/2``;
        a node whose header names another file than its live link shows it,
        as ``C*(disk: A.qcow2)``."""
        rules, below = self.rules, self.rules.graph(state)
        blockers = state[BLOCKERS]
        root = rules.names[rules.root]
        # a stream from the active layer puts its filter above it
        node: str | None = next((f for f, b in below.items() if b == root and f.startswith("filter:")), root)
        parts = []
        while node is not None:
            mark = "*" if not node.startswith("filter:") and blockers[rules.names.index(node)] else ""
            if not node.startswith("filter:"):
                index = rules.names.index(node)
                if state[HEADERS][index] != state[BACKING][index]:
                    mark += f"(disk: {_header_file(rules, state[HEADERS][index]) or 'none'})"
            parts.append(node + mark)
            node = below.get(node)
        jobs = [
            f"{rules.job_id(j[J_OWNER])} {JobStatus(j[J_STATUS]).name.lower()}"
            + (",cancelled" if j[J_FLAGS] & CANCELLED else "")
            + f" {j[J_CURSOR]}/{rules.chunks}"
            for j in state[JOBS]
        ]
        return " -> ".join(parts) + (" | " + "; ".join(jobs) if jobs else "")

    def state_to_json(self, state: tuple) -> dict[str, Any]:
        rules = self.rules
        names, blockers = rules.names, state[BLOCKERS]
        return {
            "graph": rules.graph(state),
            "data": {names[i]: list(row) for i, row in enumerate(state[DATA])},
            "blocked": sorted(names[i] for i, bits in enumerate(state[BLOCKERS]) if bits),
            "jobs": [
                {
                    "id": rules.job_id(j[J_OWNER]),
                    "type": job_type(j),
                    "top": names[j[J_TOP]],
                    "base": names[j[J_BASE]] if j[J_BASE] != NONE else "",
                    "status": JobStatus(j[J_STATUS]).name.lower(),
                    "done": j[J_CURSOR],
                    "holds": [names[n] for n, bits in enumerate(blockers) if bits & blocker_bit(j[J_OWNER], j[J_KIND])],
                    "cancelled": bool(j[J_FLAGS] & CANCELLED),
                }
                for j in state[JOBS]
            ],
            "guest_writes_left": state[WRITES_LEFT],
            "headers": {names[i]: _header_file(rules, h) for i, h in enumerate(state[HEADERS])},
            "header_changes_left": state[CHANGES_LEFT],
        }


def _header_file(rules: Qemu72Rules, header: int) -> str:
    """The backing file a header names: an image file, ``""`` for none, or a marker."""
    if header == OTHER:
        return "(not a file of the chain)"
    return rules.scenario.file_names[header] if header != NONE else ""
