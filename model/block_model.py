"""The seed profile as the engine sees it: its candidate actions, fairness, drawings.

How candidates become edges (accepted and state-changing only) is shared
with the qemu-7.2 profile in :mod:`.command_model`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

from blockcheck.checker.api import Fairness

from . import answers as A
from .command_model import CommandModel
from .commands import JOB_STEPS, action_to_line, format_line
from .drawing import state_to_dot
from .scenario import Scenario, ScenarioError
from .seed import JOB_TYPE, SeedRules
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
    J_STATUS,
    J_TOP,
    JOBS,
    JOBS_LEFT,
    NONE,
    OTHER,
    REMOVED,
    WRITES_LEFT,
    Status,
    chain_below,
    in_chain,
)

USER_ACTIONS = (
    "block-stream",
    "block-commit",
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "change-backing-file",
    "guest-write",
)


class BlockModel(CommandModel):
    """One profile, one scenario, one fault variant of QEMU's block-job rules."""

    def __init__(self, scenario: Scenario) -> None:
        if "blockdev-del" in scenario.commands:
            raise ScenarioError("blockdev-del is modelled in the qemu-7.2 profile only; drop it from the commands")
        self.scenario = scenario
        self.rules = SeedRules(scenario)
        self.name = f"qemu-block/{scenario.profile}" + ("" if scenario.variant == "none" else f"+{scenario.variant}")
        enabled = set(scenario.commands) | {"guest-write"}
        self.action_names = tuple(a for a in USER_ACTIONS if a in enabled) + tuple(
            s for s in JOB_STEPS if s != "commit-complete" or "block-commit" in enabled
        )
        self._commands = frozenset(scenario.commands)

    def apply(self, state: tuple, action: tuple) -> tuple[A.Answer, tuple]:
        """QEMU's answer to ``action`` and the state after it (refusals keep the state)."""
        rules = self.rules
        name = action[0]
        if name == "block-stream":
            return rules.stream(state, action[1], action[2])
        if name == "block-commit":
            return rules.commit(state, action[1], action[2])
        if name == "block-job-cancel":
            return rules.cancel(state, action[1], action[2])
        if name == "block-job-pause":
            return rules.pause(state, action[1])
        if name == "block-job-resume":
            return rules.resume(state, action[1])
        if name == "change-backing-file":
            return rules.change_backing_file(state, action[1], action[2])
        if name == "guest-write":
            return rules.guest_write(state, action[1])
        return A.OK, rules.job_step(state, action)

    def candidates(self, state: tuple) -> Iterator[tuple]:
        """Every command the user could send now, accepted or not, then the job steps."""
        commands, rules = self._commands, self.rules
        backing, jobs = state[BACKING], state[JOBS]
        chain = [rules.root, *chain_below(backing, rules.root)]
        can_start = len(jobs) < self.scenario.max_jobs and state[JOBS_LEFT] > 0
        if can_start and "block-stream" in commands:
            for top in chain:
                for base in (*chain_below(backing, top), NONE):
                    yield ("block-stream", top, base)
        if can_start and "block-commit" in commands:
            for top in chain[1:]:
                for base in chain_below(backing, top):
                    yield ("block-commit", top, base)
        for job in jobs:
            owner = job[J_OWNER]
            if "block-job-cancel" in commands:
                yield ("block-job-cancel", owner, job[J_STATUS] == Status.PAUSED)
            if "block-job-pause" in commands:
                yield ("block-job-pause", owner)
            if "block-job-resume" in commands:
                yield ("block-job-resume", owner)
        if state[CHANGES_LEFT] and "change-backing-file" in commands:
            # Re-point a header at any other node below the image in the chain
            # (rewriting the string it holds would change only the budget).
            for image in chain:
                for target in chain_below(backing, image):
                    if target != state[HEADERS][image]:
                        yield ("change-backing-file", image, target)
        if state[WRITES_LEFT]:
            for chunk in range(self.scenario.chunks):
                yield ("guest-write", chunk)
        yield from rules.job_steps(state)

    # -- liveness and deadlock ------------------------------------------------
    def fairness(self, action: tuple) -> tuple[Fairness, Hashable] | None:
        """Job steps are weakly fair per job (the job's coroutine and the main loop run);
        an I/O error is the environment's choice, never forced.  Resuming a paused job is
        weakly fair: the user is assumed to resume or cancel what they paused."""
        name = action[0]
        if name in JOB_STEPS and name != "job-io-error":
            return (Fairness.WEAK, ("job", action[1]))
        if name == "block-job-resume":
            return (Fairness.WEAK, ("resume", action[1]))
        return None

    def is_terminal(self, state: tuple) -> bool:
        """A state without jobs may end the run: the user need not send anything more."""
        return not state[JOBS]

    # -- presentation -----------------------------------------------------------
    def format_action(self, action: tuple) -> str:
        return format_line(action_to_line(self.rules, action))

    def format_state(self, state: tuple) -> str:
        return draw_chain(self.rules, state)

    def state_to_dot(self, state: tuple, previous: tuple | None) -> str:
        """A Graphviz picture of the chain, blockers and jobs; changes since ``previous`` outlined."""
        return state_to_dot(self.rules, state, previous)

    def state_group(self, state: tuple) -> str:
        """The statuses of the jobs in ``state``, e.g. ``running+paused``, or ``no job``."""
        statuses = sorted({Status(j[J_STATUS]).name.lower() for j in state[JOBS]})
        return "+".join(statuses) or "no job"

    def action_to_json(self, action: tuple) -> dict[str, Any]:
        """The action as a line of a replayable script (see model.commands)."""
        return action_to_line(self.rules, action)

    def state_to_json(self, state: tuple) -> dict[str, Any]:
        """The state as named variables, for ITF traces and JSON output."""
        rules = self.rules
        names = rules.names
        backing, data = state[BACKING], state[DATA]
        chain = in_chain(backing, rules.root)
        return {
            "backing": {names[i]: _backing_name(names, b) for i, b in enumerate(backing)},
            "in_chain": sorted(names[i] for i in chain),
            "data": {names[i]: list(row) for i, row in enumerate(data)},
            "blocked": {
                names[i]: sorted(rules.device_or_node(o // 2) for o in range(16) if bits >> o & 1)
                for i, bits in enumerate(state[BLOCKERS])
                if bits
            },
            "jobs": [_job_to_json(rules, job) for job in state[JOBS]],
            "guest_writes_left": state[WRITES_LEFT],
            "headers": {names[i]: _header_name(rules, h) for i, h in enumerate(state[HEADERS])},
            "header_changes_left": state[CHANGES_LEFT],
        }


def _backing_name(names: tuple[str, ...], backing: int) -> str:
    if backing == REMOVED:
        return "(removed)"
    return names[backing] if backing != NONE else ""


def _header_name(rules: SeedRules, header: int) -> str:
    """The backing file a header names: an image file, ``""`` for none, or a marker."""
    if header == OTHER:
        return "(not a file of the chain)"
    if header == REMOVED:
        return "(removed)"
    return rules.scenario.file_names[header] if header != NONE else ""


def _job_to_json(rules: SeedRules, job: tuple) -> dict[str, Any]:
    """A job record as it is (not as a faulty query-block-jobs variant would report it)."""
    return {
        "owner": rules.names[job[J_OWNER]],
        "type": JOB_TYPE[job[J_KIND]],
        "top": rules.names[job[J_TOP]],
        "base": rules.names[job[J_BASE]] if job[J_BASE] != NONE else "",
        "status": Status(job[J_STATUS]).name.lower(),
        "done": job[J_CURSOR],
        "cancelled": bool(job[J_FLAGS] & CANCELLED),
        "failed": bool(job[J_FLAGS] & FAILED),
    }


def draw_chain(rules: SeedRules, state: tuple) -> str:
    """The chain in QEMU's docs notation, with blocked nodes and job owners marked.

    ``[A] <- [B] <- [C]* <- [E]{stream->B,running} (drive0)``: ``*`` marks a
    blocked node, braces the job a node owns, ``(disk: X)`` a header that
    names another backing file than the live link; nodes that left the chain
    are listed after ``removed:``.
    """
    backing, blockers, jobs, headers = state[BACKING], state[BLOCKERS], state[JOBS], state[HEADERS]
    chain = [rules.root, *chain_below(backing, rules.root)][::-1]
    by_owner = {j[J_OWNER]: j for j in jobs}

    def label(node: int) -> str:
        text = f"[{rules.names[node]}]"
        if blockers[node]:
            text += "*"
        job = by_owner.get(node)
        if job is not None:
            status = Status(job[J_STATUS]).name.lower()
            if job[J_FLAGS] & CANCELLED:
                status += ",cancelled"
            base = rules.names[job[J_BASE]] if job[J_BASE] != NONE else "none"
            kind = JOB_TYPE[job[J_KIND]]
            text += f"{{{kind}->{base},{status},{job[J_CURSOR]}/{rules.chunks}}}"
        if headers[node] != backing[node]:
            text += f"(disk: {_header_name(rules, headers[node]) or 'none'})"
        return text

    line = " <- ".join(label(n) for n in chain) + f" ({rules.scenario.device})"
    removed = [n for n in range(len(backing)) if n not in chain]
    if removed:
        line += "   removed: " + ", ".join(label(n) for n in removed)
    return line
