"""Script lines of the qemu-7.2 profile: model actions as QMP, and QMP as model answers.

The line format is :mod:`.commands`'s (``{"execute": ..., "arguments": ...}``
or ``{"step": ...}``), with QEMU 7.2's argument names: ``job-id`` and
``base-node`` for block-stream, the job ID as ``device`` of ``block-job-*``
and as ``id`` of ``block-job-finalize``/``-dismiss``.  Internal steps name
the job by its ID: ``{"step": "job-copy", "job": "stream-D"}``.

A script may name a job's copy-on-read filter as ``@filter:<job-id>``; QEMU
gives it an automatic name (``#block123``), which the replay substitutes.

:class:`Executor72` answers any such line from a model state.  Commands the
profile does not model are answered with the ``ModelLimit`` class; replays
skip those instead of pretending QEMU would refuse them.  Besides the
commands that change the state, it answers the refusals of FACTS §3: every
command QEMU 7.2 refuses because a stream job holds the node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import answers as A
from .qemu72 import STREAM_BUSY, Qemu72Rules, filter_label
from .state import BACKING, J_TOP, NONE, chain_below

#: A reference to a job's filter in a script (the replay puts in QEMU's name).
FILTER_REF = "@filter:"
#: QEMU's rule for IDs (id_wellformed): a letter, then letters, digits, - . _
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")

JOB_VERBS = (
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "block-job-set-speed",
    "block-job-complete",
    "block-job-finalize",
    "block-job-dismiss",
)


def action_to_line(rules: Qemu72Rules, action: tuple) -> dict[str, Any]:
    """The script line for a model action of the qemu-7.2 profile."""
    name = action[0]
    if name == "block-stream":
        top, base = action[1], action[2]
        args: dict[str, Any] = {"job-id": rules.job_id(top), "device": rules.names[top]}
        if base != NONE:
            args["base-node"] = rules.names[base]
        args.update({"auto-finalize": False, "auto-dismiss": False})
        return {"execute": name, "arguments": args}
    if name == "block-job-cancel":
        args = {"device": rules.job_id(action[1])}
        if action[2]:
            args["force"] = True
        return {"execute": name, "arguments": args}
    if name in ("block-job-pause", "block-job-resume"):
        return {"execute": name, "arguments": {"device": rules.job_id(action[1])}}
    if name in ("block-job-finalize", "block-job-dismiss"):
        return {"execute": name, "arguments": {"id": rules.job_id(action[1])}}
    if name == "guest-write":
        return {"step": name, "device": rules.scenario.device, "chunk": action[1]}
    if name == "job-copy":
        return {"step": name, "job": rules.job_id(action[1])}
    raise ValueError(f"no script form for action {action!r}")


def _not_modelled(what: str) -> A.Answer:
    return A.model_limit(f"{what} is not modelled in the qemu-7.2 profile")


class Executor72:
    """Answers script lines from a qemu-7.2 model state (and gives the next state)."""

    def __init__(self, rules: Qemu72Rules) -> None:
        self.rules = rules

    # -- names -------------------------------------------------------------------
    def label(self, state: tuple, name: Any) -> str | None:
        """The graph label a node name denotes: a node, or ``@filter:<id>`` for a
        live or concluded job's filter; None for an unknown name."""
        if not isinstance(name, str):
            return None
        if name.startswith(FILTER_REF):
            job_id = name[len(FILTER_REF) :]
            return filter_label(job_id) if self.rules.job_by_id(state, job_id) else None
        return name if name in self.rules.names else None

    def node(self, name: str) -> int:
        return self.rules.names.index(name)

    def parents(self, state: tuple, label: str) -> list[str]:
        return [n for n, below in self.rules.graph(state).items() if below == label]

    # -- dispatch ------------------------------------------------------------------
    def execute(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """QEMU's answer to one script line and the state after it."""
        if "execute" not in line:
            return self._step(state, line)
        name, args = line["execute"], dict(line.get("arguments") or {})
        if name == "block-stream":
            return self._stream(state, args)
        if name in JOB_VERBS:
            return self._verb(state, name, args)
        if name == "query-block-jobs":
            return A.ok(self.rules.query_block_jobs(state)), state
        return self._guarded(state, name, args), state

    def _step(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        rules, step = self.rules, line.get("step")
        if step == "guest-write":
            return rules.guest_write(state, int(line.get("chunk", 0)))
        job = rules.job_by_id(state, line.get("job"))
        if step != "job-copy" or job is None or ("job-copy", job[J_TOP]) not in set(rules.job_steps(state)):
            return A.model_limit(f"step {step} of job {line.get('job')!r} is not enabled in this state"), state
        return A.OK, rules.job_step(state, ("job-copy", job[J_TOP]))

    # -- block-stream, in QEMU 7.2's order of checks (§2.2 v8.2, FACTS §2) -----------
    def _stream(self, state: tuple, args: dict[str, Any]) -> tuple[A.Answer, tuple]:
        rules = self.rules
        if "base" in args and "base-node" in args:
            return A.error("'base' and 'base-node' cannot be specified at the same time"), state
        if "bottom" in args:
            return _not_modelled("block-stream with 'bottom'"), state
        device = args.get("device")
        top = self.label(state, device)
        if top is None:
            return A.error(f"Cannot find device='{device}' nor node-name='{device}'"), state
        if top.startswith("filter:"):
            return rules.first_busy(state, [top]) or _not_modelled("a stream from a filter"), state
        if "base" in args:
            # blockdev-add with an explicit backing gives json: file names (FACTS §2)
            return A.error(f"Can't find '{args['base']}' in the backing chain"), state
        base = NONE
        if "base-node" in args:
            label = self.label(state, args["base-node"])
            if label is None:
                return A.error(f"Cannot find device='' nor node-name='{args['base-node']}'"), state
            if label.startswith("filter:"):
                return _not_modelled("a stream whose base is a filter"), state
            base = self.node(label)
            if base not in chain_below(state[BACKING], self.node(top)):
                return A.error(f"Node '{label}' is not a backing image of '{top}'"), state
        walk = rules.walk(state, top, label if base != NONE else None)
        refusal = rules.first_busy(state, walk)
        if refusal:
            return refusal, state
        if "backing-file" in args and base == NONE:
            return A.error("backing file specified, but streaming the entire chain"), state
        job_id = args.get("job-id", "")
        if not isinstance(job_id, str) or not _ID.match(job_id):
            return A.error(f"Invalid job ID '{job_id}'"), state
        if rules.job_by_id(state, job_id) is not None:
            return A.error(f"Job ID '{job_id}' already in use"), state
        if args.get("speed", 0) < 0:
            return A.negative_speed(), state
        if job_id != rules.job_id(self.node(top)):
            return A.model_limit(f"the model names the job on {top} {rules.job_id(self.node(top))!r}"), state
        if args.get("auto-finalize", True) or args.get("auto-dismiss", True):
            return _not_modelled("a job without auto-finalize: false and auto-dismiss: false"), state
        return rules.stream(state, self.node(top), base)

    # -- block-job-* (§5.3) ----------------------------------------------------------
    def _verb(self, state: tuple, name: str, args: dict[str, Any]) -> tuple[A.Answer, tuple]:
        rules = self.rules
        key = "id" if name in ("block-job-finalize", "block-job-dismiss") else "device"
        job_id = args.get(key)
        job = rules.job_by_id(state, job_id)
        if job is None:
            return A.error(f"Block job '{job_id}' not found", A.DEVICE_NOT_ACTIVE), state
        top = job[J_TOP]
        if name == "block-job-cancel":
            return rules.cancel(state, top, bool(args.get("force", False)))
        if name == "block-job-pause":
            return rules.pause(state, top)
        if name == "block-job-resume":
            return rules.resume(state, top)
        if name == "block-job-set-speed":
            return rules.set_speed(state, top, int(args.get("speed", 0)))
        if name == "block-job-complete":
            return rules.complete(state, top)
        if name == "block-job-finalize":
            return rules.finalize(state, top)
        return rules.dismiss(state, top)

    # -- commands refused on a job's nodes (FACTS §3) -----------------------------------
    def _guarded(self, state: tuple, name: str, args: dict[str, Any]) -> A.Answer:
        """The refusals of FACTS §3's table; what QEMU would accept is not modelled."""
        rules = self.rules
        arg = {
            "blockdev-del": "node-name",
            "block_resize": "node-name",
            "blockdev-snapshot-sync": "node-name",
            "blockdev-snapshot": "node",
            "change-backing-file": "device",
        }.get(name, "device")
        label = self.label(state, args.get(arg))
        if label is None:
            return _not_modelled(f"{name} on a node that is not in the graph")
        is_filter = label.startswith("filter:")
        blocked = rules.blocked(state, label)
        has_parent = bool(self.parents(state, label))
        if name == "blockdev-del":
            if is_filter:
                return A.error(f"Node {rules.display(label)} is in use")
            if blocked:
                return A.busy(label, STREAM_BUSY)
            parents = [p for p in self.parents(state, label) if p in rules.names]
            in_chain = [p for p in parents if self.node(p) in (rules.root, *chain_below(state[BACKING], rules.root))]
            if in_chain or parents:
                # QEMU names the newest backing parent: the one in the chain (FACTS §1)
                return A.busy(label, A.backing_blocker_reason((in_chain or parents)[0]))
        elif name == "block_resize":
            # the RESIZE op blocker: a job's, or a backing parent's (FACTS §3)
            if blocked or has_parent:
                return A.error("Device '(null)' is in use")
        elif name in ("blockdev-mirror", "blockdev-snapshot-internal-sync", "change-backing-file"):
            if has_parent:
                return A.error("Need a root block node")
        elif name in ("blockdev-backup", "blockdev-snapshot-sync", "blockdev-snapshot"):
            if blocked:
                return A.busy(rules.display(label), STREAM_BUSY)
        elif name == "block-commit":
            return self._commit(state, label, args)
        return _not_modelled(f"{name} when no job holds the node")

    def _commit(self, state: tuple, device: str, args: dict[str, Any]) -> A.Answer:
        """block-commit's refusals (FACTS §3): a non-root device; then the
        COMMIT_TARGET walk from top down to the base, then the overlay of top
        (its backing string would change)."""
        rules = self.rules
        if self.parents(state, device):
            return A.error("Need a root block node")
        top = self.label(state, args.get("top-node", device)) or device
        base = self.label(state, args.get("base-node")) if "base-node" in args else None
        refusal = rules.first_busy(state, rules.walk(state, top, base))
        if refusal:
            return refusal
        overlay = self.parents(state, top)
        if overlay and rules.blocked(state, overlay[0]):
            return A.busy(rules.display(overlay[0]), STREAM_BUSY)
        return _not_modelled("a block-commit no job refuses")
