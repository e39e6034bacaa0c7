"""Script lines of the qemu-7.2 profile: model actions as QMP, and QMP as model answers.

The line format is :mod:`.commands`'s (``{"execute": ..., "arguments": ...}``
or ``{"step": ...}``), with QEMU 7.2's argument names: ``job-id`` and
``base-node`` for block-stream, the job ID as ``device`` of ``block-job-*``
and as ``id`` of ``block-job-finalize``/``-dismiss``.  Internal steps name
the job by its ID: ``{"step": "job-copy", "job": "stream-D"}`` (a commit:
``commit-D``).

A script may name a job's copy-on-read filter as ``@filter:<job-id>``; QEMU
gives it an automatic name (``#block123``), which the replay substitutes.

:class:`Executor72` answers any such line from a model state.  Commands the
profile does not model are answered with the ``ModelLimit`` class; replays
skip those instead of pretending QEMU would refuse them.  Besides the
commands that change the state (block-stream, block-commit below the
active layer and of it, the job verbs, blockdev-del), it answers the refusals of
FACTS §3, §9, §10 and §12.3 (every command QEMU 7.2 refuses because a job
holds the node, or because the node is not a root) and
``change-backing-file``, every refusal and the accepted header rewrite
(FACTS §8).

The model's nodes are the chain's and the live jobs' filters: a name
outside them is answered as QEMU answers an unknown node, where the model
answers for unknown names at all (block-stream, change-backing-file,
block-commit's device).  Each layer X of the chain sits on its protocol
node ``X-file``, as the conformance chain is built; the model does not
model those, so a line that names one is answered ``ModelLimit`` by name.
QEMU may have more nodes still (the harness's extra images), and a script
that names those gets the unknown-node answer, not QEMU's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import answers as A
from .qmp_schema import (
    BITMAP_MODE,
    BLOCK_RESIZE,
    CHANGE_BACKING_FILE,
    COPY_MODE,
    JOB_VERB_COMMANDS,
    MODE,
    ON_ERROR,
    QUERY_BLOCK_JOBS,
    SNAPSHOT_SYNC,
    SYNC,
    Command,
    check_line,
    opt,
    req,
    table,
)
from .qemu72 import (
    AUTO_DISMISS,
    AUTO_FINALIZE,
    J_OPTS,
    JOB_STEPS,
    NAMED_FILTER,
    FILTER_LIVE,
    NEED_ROOT,
    JobStatus,
    Qemu72Rules,
    filter_label,
    filter_node_name,
    status_event,
)
from .state import BACKING, CANCELLED, J_BASE, J_FLAGS, J_KIND, J_OWNER, J_STATUS, J_TOP, JOBS, NONE, OTHER, REMOVED, Kind, chain_below

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
#: The generic job verbs (job-qmp.c): ``id`` names the job, an unknown one is
#: "Job not found" (FACTS §5), and job-cancel is always a forced cancel.
GENERIC_VERBS = ("job-cancel", "job-pause", "job-resume", "job-complete", "job-finalize", "job-dismiss")
#: The script's internal steps in this profile (job-exit and job-prepare at
#: the polling granularity only: elsewhere no state enables them).
STEPS = ("guest-write", *JOB_STEPS)

_JOB = (opt("job-id", "str"), req("device", "str"))
_AUTO = (opt("auto-finalize", "bool"), opt("auto-dismiss", "bool"))
_BACKUP = (*_JOB, req("sync", SYNC), opt("speed", "int"), opt("bitmap", "str"), opt("bitmap-mode", BITMAP_MODE),
           opt("compress", "bool"), opt("on-source-error", ON_ERROR), opt("on-target-error", ON_ERROR), *_AUTO,
           opt("filter-node-name", "str"), opt("x-perf", "object"), req("target", "str"))
#: The commands this profile answers, with QEMU 7.2's arguments in schema
#: order (query-qmp-schema of qemu-storage-daemon 7.2).  block-stream models
#: all but ``on-error`` (the model has no I/O errors); the other commands
#: are answered for their refusals, which look at the node alone, so all
#: their members pass.
SCHEMA = table(
    Command("block-stream", (*_JOB, opt("base", "str"), opt("base-node", "str"), opt("backing-file", "str"),
                             opt("bottom", "str"), opt("speed", "int"), opt("on-error", ON_ERROR),
                             opt("filter-node-name", "str"), *_AUTO),
            frozenset({"job-id", "device", "base", "base-node", "backing-file", "bottom", "speed", "filter-node-name",
                       *(m.name for m in _AUTO)})),
    Command("block-commit", (*_JOB, opt("base-node", "str"), opt("base", "str"), opt("top-node", "str"), opt("top", "str"),
                             opt("backing-file", "str"), opt("speed", "int"), opt("on-error", ON_ERROR),
                             opt("filter-node-name", "str"), *_AUTO),
            frozenset({"job-id", "device", "base-node", "base", "top-node", "top", "backing-file", "speed",
                       "filter-node-name", *(m.name for m in _AUTO)})),
    *JOB_VERB_COMMANDS,
    Command("block-job-finalize", (req("id", "str"),)),
    Command("block-job-dismiss", (req("id", "str"),)),
    *(Command(name, (req("id", "str"),)) for name in GENERIC_VERBS),
    QUERY_BLOCK_JOBS,
    Command("query-jobs", ()),
    CHANGE_BACKING_FILE,
    Command("blockdev-del", (req("node-name", "str"),)),
    BLOCK_RESIZE,
    SNAPSHOT_SYNC,
    Command("blockdev-snapshot", (req("node", "str"), req("overlay", "str"))),
    Command("blockdev-mirror", (*_JOB, req("target", "str"), opt("replaces", "str"), req("sync", SYNC),
                                opt("speed", "int"), opt("granularity", "int"), opt("buf-size", "int"),
                                opt("on-source-error", ON_ERROR), opt("on-target-error", ON_ERROR),
                                opt("filter-node-name", "str"), opt("copy-mode", COPY_MODE), *_AUTO)),
    Command("drive-mirror", (*_JOB, req("target", "str"), opt("format", "str"), opt("node-name", "str"),
                             opt("replaces", "str"), req("sync", SYNC), opt("mode", MODE), opt("speed", "int"),
                             opt("granularity", "int"), opt("buf-size", "int"), opt("on-source-error", ON_ERROR),
                             opt("on-target-error", ON_ERROR), opt("unmap", "bool"), opt("copy-mode", COPY_MODE), *_AUTO)),
    Command("blockdev-snapshot-internal-sync", (req("device", "str"), req("name", "str"))),
    Command("blockdev-backup", _BACKUP),
    Command("drive-backup", (*_BACKUP, opt("format", "str"), opt("mode", MODE))),
)


def action_to_line(rules: Qemu72Rules, action: tuple) -> dict[str, Any]:
    """The script line for a model action of the qemu-7.2 profile."""
    name = action[0]
    if name == "block-stream":
        return {"execute": name, "arguments": stream_arguments(rules, *action[1:])}
    if name == "block-commit":
        return {"execute": name, "arguments": commit_arguments(rules, *action[1:])}
    if name in GENERIC_VERBS:
        return {"execute": name, "arguments": {"id": rules.job_id(action[1])}}
    if name == "blockdev-del":
        return {"execute": name, "arguments": {"node-name": rules.names[action[1]]}}
    if name == "block-job-cancel":
        args = {"device": rules.job_id(action[1])}
        if action[2]:
            args["force"] = True
        return {"execute": name, "arguments": args}
    if name in ("block-job-pause", "block-job-resume", "block-job-complete"):
        return {"execute": name, "arguments": {"device": rules.job_id(action[1])}}
    if name in ("block-job-finalize", "block-job-dismiss"):
        return {"execute": name, "arguments": {"id": rules.job_id(action[1])}}
    if name == "guest-write":
        return {"step": name, "device": rules.scenario.device, "chunk": action[1]}
    if name in JOB_STEPS:
        return {"step": name, "job": rules.job_id(action[1])}
    if name == "change-backing-file":
        args = {
            "device": rules.names[rules.root],
            "image-node-name": rules.names[action[1]],
            "backing-file": rules.scenario.file_names[action[2]] if action[2] >= 0 else "",
        }
        return {"execute": name, "arguments": args}
    raise ValueError(f"no script form for action {action!r}")


def stream_arguments(rules: Qemu72Rules, top: int, base: int, opts: int, bottom: int) -> dict[str, Any]:
    """block-stream's arguments for a stream from ``top`` to ``base`` with the
    option bits ``opts``: the base named by ``base-node``, or the lowest node
    streamed named as ``bottom``; the auto flags written out only where they
    differ from QEMU's defaults, as people write them."""
    args: dict[str, Any] = {"job-id": rules.job_id(top), "device": rules.names[top]}
    if bottom != NONE:
        args["bottom"] = rules.names[bottom]
    elif base != NONE:
        args["base-node"] = rules.names[base]
    return args | _option_arguments(rules.job_id(top), opts)


def commit_arguments(rules: Qemu72Rules, top: int, base: int, opts: int) -> dict[str, Any]:
    """block-commit's arguments for a commit of ``top`` into ``base`` from the
    active layer, with the option bits ``opts`` (as for a stream); an active
    commit names no top, as people write it."""
    job_id = rules.job_id(rules.commit_owner(top))
    args: dict[str, Any] = {"job-id": job_id, "device": rules.names[rules.root]}
    if top != rules.root:
        args["top-node"] = rules.names[top]
    return args | {"base-node": rules.names[base]} | _option_arguments(job_id, opts)


def _option_arguments(job_id: str, opts: int) -> dict[str, Any]:
    """The arguments the option bits stand for, written out only where they
    differ from QEMU's defaults, as people write them."""
    args: dict[str, Any] = {}
    if opts & NAMED_FILTER:
        args["filter-node-name"] = filter_node_name(job_id)
    if not opts & AUTO_FINALIZE:
        args["auto-finalize"] = False
    if not opts & AUTO_DISMISS:
        args["auto-dismiss"] = False
    return args


def header_target(rules: Qemu72Rules, backing_file: str) -> int:
    """The node a header's backing string names: one of the scenario's file
    names (``X.qcow2``), NONE for ``""`` (no backing string), else OTHER."""
    files = rules.scenario.file_names
    if backing_file in files:
        return files.index(backing_file)
    return NONE if backing_file == "" else OTHER


def _not_modelled(what: str) -> A.Answer:
    return A.model_limit(f"{what} is not modelled in the qemu-7.2 profile")


#: The class QEMU gives block-commit's unknown device (FACTS §10).
DEVICE_NOT_FOUND = "DeviceNotFound"
#: Commands whose ``device`` goes through qmp_get_root_bs first and that the
#: model answers only for that check (FACTS §3, §9, §10); block-commit and
#: change-backing-file have their own methods.
ROOT_CHECKED = frozenset({"blockdev-mirror", "drive-mirror", "blockdev-snapshot-internal-sync"})


def _unknown_command(name: str) -> A.Answer:
    """QEMU 7.2 has many commands the profile does not list; which exist is not modelled."""
    return _not_modelled(f"the command {name}")


class Executor72:
    """Answers script lines from a qemu-7.2 model state (and gives the next state)."""

    def __init__(self, rules: Qemu72Rules) -> None:
        self.rules = rules
        #: each layer's protocol node, as the conformance chain names it
        self.protocol_nodes = frozenset(f"{name}-file" for name in rules.names)

    # -- names -------------------------------------------------------------------
    def label(self, state: tuple, name: Any) -> str | None:
        """The graph label a node name denotes: a node, or a live or concluded
        job's filter, by ``@filter:<id>`` or by its ``filter-node-name``;
        None for an unknown name."""
        if not isinstance(name, str):
            return None
        if name.startswith(FILTER_REF):
            job = self.rules.job_by_id(state, name[len(FILTER_REF) :])
            return filter_label(name[len(FILTER_REF) :]) if job is not None and self._has_filter(job) else None
        for job in state[JOBS]:
            job_id = self.rules.job_id(job[J_OWNER])
            if job[J_OPTS] & NAMED_FILTER and name == filter_node_name(job_id) and self._has_filter(job):
                return filter_label(job_id)
        if name not in self.rules.names or state[BACKING][self.rules.names.index(name)] == REMOVED:
            return None  # a deleted node is unknown to QEMU
        return name

    def node(self, name: str) -> int:
        return self.rules.names.index(name)

    def parents(self, state: tuple, label: str) -> list[str]:
        return [n for n, below in self.rules.graph(state).items() if below == label]

    # -- dispatch ------------------------------------------------------------------
    def execute(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """QEMU's answer to a script line from outside (a replay) and the state
        after it: the line passes :mod:`.qmp_schema` first, so a refused line
        keeps the state and a line that is not a script line raises
        :class:`.qmp_schema.ScriptError`."""
        refusal = check_line(line, SCHEMA, "qemu-7.2", _unknown_command, STEPS, self.rules.scenario.device, self.rules.chunks)
        if refusal:
            return refusal, state
        protocol = next((v for v in (line.get("arguments") or {}).values() if isinstance(v, str) and v in self.protocol_nodes), None)
        if protocol is not None:
            return _not_modelled(f"the protocol node {protocol!r}"), state
        return self.run(state, line)

    def run(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """QEMU's answer to a line the model wrote itself (its actions, its
        properties' probes), whose arguments have their types by construction."""
        if "execute" not in line:
            return self._step(state, line)
        name, args = line["execute"], dict(line.get("arguments", {}))
        if name == "block-stream":
            return self._stream(state, args)
        if name in JOB_VERBS or name in GENERIC_VERBS:
            return self._verb(state, name, args)
        if name == "query-block-jobs":
            return A.ok(self.rules.query_block_jobs(state)), state
        if name == "query-jobs":
            return A.ok(self.rules.query_jobs(state)), state
        if name == "change-backing-file":
            return self._change_backing_file(state, args)
        if name == "blockdev-del":
            return self._blockdev_del(state, args["node-name"])
        if name == "block-commit":
            return self._commit(state, args)
        return self._guarded(state, name, args), state

    def _step(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        rules, step = self.rules, line.get("step")
        if step == "guest-write":
            return rules.guest_write(state, line["chunk"])
        job = rules.job_by_id(state, line["job"])
        if job is None or (step, job[J_OWNER]) not in set(rules.job_steps(state)):
            return A.model_limit(f"step {step} of job '{line['job']}' is not enabled in this state"), state
        state, events = rules.job_step_events(state, (step, job[J_OWNER]))
        return A.with_events(A.OK, events), state

    # -- block-stream, in QEMU 7.2's order of checks (§2.2 v8.2, FACTS §2, §11) -------
    def _stream(self, state: tuple, args: dict[str, Any]) -> tuple[A.Answer, tuple]:
        """qmp_block_stream, then stream_start: the argument clashes, the
        device, ``base``/``base-node``, ``bottom``, the op-blocker walk (to
        the base, or to what sits below the bottom), a ``backing-file``
        without a base node (``bottom`` does not count as one, as in
        qmp_block_stream), the chain's freeze, the filter's node name
        (bdrv_insert_node), the job (block_job_create: ID, speed), then the
        model's own names and :meth:`.Qemu72Rules.stream`."""
        rules = self.rules
        for first, second in (("base", "base-node"), ("base", "bottom"), ("bottom", "base-node")):
            if first in args and second in args:
                return A.error(f"'{first}' and '{second}' cannot be specified at the same time"), state
        device = args.get("device")
        top = self.label(state, device)
        if top is None:
            return A.error(f"Cannot find device='{device}' nor node-name='{device}'"), state
        if top.startswith("filter:"):
            # the walk from a filter: a stream's is busy itself, a commit's
            # passes on to its top (FACTS §12.3); what a base does is not modelled
            walk = rules.walk(state, top, None) if not {"base", "base-node", "bottom"} & set(args) else [top]
            return rules.first_busy(state, walk) or _not_modelled("a stream from a filter"), state
        if "base" in args:
            # blockdev-add with an explicit backing gives json: file names (FACTS §2)
            return A.error(f"Can't find '{args['base']}' in the backing chain"), state
        base, bottom, opts = NONE, NONE, self._options(args)
        if "base-node" in args:
            label = self.label(state, args["base-node"])
            if label is None:
                return A.error(f"Cannot find device='' nor node-name='{args['base-node']}'"), state
            if label.startswith("filter:"):
                return _not_modelled("a stream whose base is a filter"), state
            base = self.node(label)
            if base not in chain_below(state[BACKING], self.node(top)):
                return A.error(f"Node '{label}' is not a backing image of '{top}'"), state
        if "bottom" in args:
            bottom, refusal = self._bottom(state, top, device, args["bottom"])
            if refusal:
                return refusal, state
            base = state[BACKING][bottom]
        walk = rules.walk(state, top, rules.walk_end(state, base, bottom))
        refusal = rules.first_busy(state, walk)
        if refusal:
            return refusal, state
        if "backing-file" in args and "base-node" not in args:
            return A.error("backing file specified, but streaming the entire chain"), state
        job_id, name = args.get("job-id", ""), args.get("filter-node-name")
        refusal = rules.freeze_refusal(state, walk, bottom)  # stream_start, before its filter and job
        refusal = refusal or (self._filter_name(state, name, "Could not create node: ") if name is not None else None)
        refusal = refusal or self._job_refusal(state, job_id, args)  # the speed after the job's creation (FACTS §2)
        if refusal:
            return refusal, state
        own = rules.job_id(self.node(top))
        if job_id != own:
            return A.model_limit(f"the model names the job on {top} {own!r}"), state
        if name is not None and name != filter_node_name(own):
            return A.model_limit(f"the model names the filter of {own} {filter_node_name(own)!r}"), state
        return rules.stream(state, self.node(top), base, opts, bottom)

    def _filter_name(self, state: tuple, name: str, prefix: str) -> A.Answer | None:
        """The checks of a new node's name (bdrv_open_driver), for a job's
        filter (FACTS §11.5, §12.4): well-formed (id_wellformed), at most 31
        characters, not a node's name already, a concluded stream's filter's
        included until it is dismissed.  ``prefix`` is what the command puts
        before the text (block-stream: ``Could not create node: ``)."""
        if not _ID.match(name):
            return A.error(f"{prefix}Invalid node-name: '{name}'")
        if len(name) > 31:
            return A.error(f"{prefix}Node name too long")
        if self.label(state, name) in self.rules.names or name in self.filter_names(state):
            # a deleted node's name is free again (FACTS §12.5)
            return A.error(f"{prefix}Duplicate nodes with node-name='{name}'")
        return None

    @staticmethod
    def _options(args: dict[str, Any]) -> int:
        """The option bits of a block-stream's arguments (QEMU's defaults: auto-finalize and auto-dismiss)."""
        opts = AUTO_FINALIZE if args.get("auto-finalize", True) else 0
        opts |= AUTO_DISMISS if args.get("auto-dismiss", True) else 0
        opts |= NAMED_FILTER if "filter-node-name" in args else 0
        return opts

    def _bottom(self, state: tuple, top: str, device: str, name: str) -> tuple[int, A.Answer | None]:
        """``bottom``'s checks in qmp_block_stream: known, not a filter, in the
        chain from the device down (filters included)."""
        label = self.label(state, name)
        if label is None:
            return NONE, A.error(f"Cannot find device='' nor node-name='{name}'")
        if label.startswith("filter:"):
            return NONE, A.error(f"Node '{self.rules.display(state, label)}' is a filter, use a non-filter node as 'bottom'")
        if label not in self.rules.walk(state, top, None):
            return NONE, A.error(f"Node '{name}' is not in a chain starting from '{device}'")
        return self.node(label), None

    @staticmethod
    def _has_filter(job: tuple) -> bool:
        """Whether the job's filter is a node: a stream's until the job is
        dismissed (detached once concluded), a commit's while it is live."""
        return job[J_KIND] == Kind.STREAM or job[J_STATUS] in FILTER_LIVE

    def filter_names(self, state: tuple) -> set[str]:
        """The node names the jobs' named filters hold while they are nodes."""
        return {filter_node_name(self.rules.job_id(j[J_OWNER])) for j in state[JOBS]
                if j[J_OPTS] & NAMED_FILTER and self._has_filter(j)}

    # -- block-job-* and job-* (§5.3) ----------------------------------------------------
    def _verb(self, state: tuple, name: str, args: dict[str, Any]) -> tuple[A.Answer, tuple]:
        rules = self.rules
        generic = name.startswith("job-")
        key = "id" if generic or name in ("block-job-finalize", "block-job-dismiss") else "device"
        job_id = args.get(key)
        job = rules.job_by_id(state, job_id)
        if job is None:
            if generic:
                return A.error("Job not found"), state
            return A.error(f"Block job '{job_id}' not found", A.DEVICE_NOT_ACTIVE), state
        owner, verb = job[J_OWNER], name.removeprefix("block-").removeprefix("job-")
        if verb == "cancel":
            return rules.cancel(state, owner, generic or args.get("force", False))
        if verb == "set-speed":
            return rules.set_speed(state, owner, args["speed"])
        return {
            "pause": rules.pause,
            "resume": rules.resume,
            "complete": rules.complete,
            "finalize": rules.finalize,
            "dismiss": rules.dismiss,
        }[verb](state, owner)

    # -- commands refused on a job's nodes (FACTS §3, §9, §10) ----------------------------
    def _guarded(self, state: tuple, name: str, args: dict[str, Any]) -> A.Answer:
        """The refusals of FACTS §3, §9 and §10 on the node a command names
        (its ``device``, ``node-name`` or ``node``); what QEMU would accept
        is not modelled.  Other roles (a backup's or mirror's target, a
        snapshot's overlay) are not modelled either."""
        rules = self.rules
        arg = {
            "block_resize": "node-name",
            "blockdev-snapshot-sync": "node-name",
            "blockdev-snapshot": "node",
        }.get(name, "device")
        label = self.label(state, args.get(arg))
        if label is None:
            return _not_modelled(f"{name} on a node that is not in the graph")
        blocked = rules.blocked(state, label)
        if name == "block_resize":
            # the RESIZE op blocker: a job's, or a backing parent's (FACTS §3)
            if blocked or self.parents(state, label):
                return A.error("Device '(null)' is in use")
        elif name in ROOT_CHECKED:
            if not rules.is_root(state, label):
                return NEED_ROOT
        elif name in ("blockdev-backup", "drive-backup"):
            # BACKUP_SOURCE: the backing blocker does not block it (§2.3)
            if blocked:
                return rules.busy(state, label)
        elif name in ("blockdev-snapshot-sync", "blockdev-snapshot"):
            # EXTERNAL_SNAPSHOT: the newer of the job's and a backing parent's blockers (FACTS §3, §10)
            refusal = self._newest_blocker(state, label)
            if refusal:
                return refusal
        return _not_modelled(f"{name} when no job holds the node")

    def _newest_blocker(self, state: tuple, label: str) -> A.Answer | None:
        """The refusal of an op that both a job's and a backing parent's
        blocker block (DRIVE_DEL, EXTERNAL_SNAPSHOT): QEMU names the newest
        blocker (bdrv_op_block_all puts it first).  The job's is the newer,
        but where a concluded job re-attached backing links after it set its
        blockers, and with them their blockers: on a stream's top, as
        dropping its filter puts the top's overlays back on it
        (bdrv_cor_filter_drop), and on a finalized commit's base, which every
        parent of the commit's top backs onto (bdrv_drop_intermediate).
        Conform walks found both."""
        rules = self.rules
        if not rules.blocked(state, label):
            return self._backing_blocker(state, label)
        reattached = {
            job[J_BASE] if job[J_KIND] == Kind.COMMIT else job[J_TOP]
            for job in state[JOBS]
            # a cancelled commit re-attached nothing (and holds nothing), nor
            # did an active commit: its pivot moves only the active layer's parents
            if job[J_STATUS] == JobStatus.CONCLUDED
            and not (job[J_KIND] == Kind.COMMIT and (job[J_FLAGS] & CANCELLED or rules.is_active(job)))
        }
        if not label.startswith("filter:") and self.node(label) in reattached:
            refusal = self._backing_blocker(state, label)
            if refusal:
                return refusal
        return rules.busy(state, label)

    def _backing_blocker(self, state: tuple, label: str) -> A.Answer | None:
        """The "used as backing hd" op blocker of a node with backing
        parents.  QEMU names its newest backing parent (bdrv_op_block_all
        puts a new blocker first): the one in the active chain when a
        finalized job left a detached one (FACTS §1); else one whose link a
        job's finalize re-pointed, which is newer than every link the chain
        was built with.  The model keeps no order among links re-pointed
        out of the chain; two of them onto one node, a sequence no test has
        met yet, are named by the lower."""
        rules = self.rules
        parents = [p for p in self.parents(state, label) if p in rules.names]
        if not parents:
            return None
        in_chain = [p for p in parents if self.node(p) in (rules.root, *chain_below(state[BACKING], rules.root))]
        # out of the chain, a link a job's finalize re-pointed is newer than
        # the one blockdev-add made (node n onto n - 1) (conform walk: after
        # stream D <- base B and stream E <- A, B's newest parent is D, not C)
        repointed = [p for p in parents if state[BACKING][self.node(p)] != self.node(p) - 1]
        return A.busy(rules.display(state, label), A.backing_blocker_reason((in_chain or repointed or parents)[0]))

    def _blockdev_del(self, state: tuple, name: str) -> tuple[A.Answer, tuple]:
        """qmp_blockdev_del: an unknown (or deleted) node; a node with a
        BlockBackend is "in use" (:meth:`has_backend`); then the DRIVE_DEL op
        blocker, the newest of a job's and a backing parent's
        (:meth:`_newest_blocker`).  A node that passes is deleted (FACTS §1),
        but for the active layer, which the model keeps (the chain would
        lose its root)."""
        rules = self.rules
        label = self.label(state, name)
        if label is None:
            return A.error(f"Failed to find node with node-name='{name}'"), state
        if self.has_backend(state, label):
            return A.error(f"Node {rules.display(state, label)} is in use"), state
        refusal = self._newest_blocker(state, label)
        if refusal:
            return refusal, state
        if self.node(label) == rules.root:
            return _not_modelled("blockdev-del of the active layer"), state
        return rules.blockdev_del(state, self.node(label))

    def has_backend(self, state: tuple, label: str) -> bool:
        """Whether a job's BlockBackend sits on the node (bdrv_has_blk): a live
        stream's filter (FACTS §3), a live commit's top and base (its ``top``
        and ``base`` BlockBackends, FACTS §12.3), a live active commit's base
        (its ``target``).  A concluded stream's filter has lost it but is
        still held (FACTS §9)."""
        for job in state[JOBS]:
            if job[J_STATUS] not in FILTER_LIVE:
                continue
            if self.rules.is_active(job):
                if label == self.rules.names[job[J_BASE]]:
                    return True
            elif job[J_KIND] == Kind.COMMIT:
                if label in (self.rules.names[job[J_TOP]], self.rules.names[job[J_BASE]]):
                    return True
            elif label == filter_label(self.rules.job_id(job[J_OWNER])):
                return True
        return False

    def _change_backing_file(self, state: tuple, args: dict[str, Any]) -> tuple[A.Answer, tuple]:
        """qmp_change_backing_file in QEMU 7.2's order (FACTS §8), after QAPI's
        checks of the three arguments (:mod:`.qmp_schema`): ``device`` through qmp_get_root_bs
        (unknown, then not a root: a job's node never is, FACTS §9);
        ``image-node-name`` unknown; an image whose chain ends at itself
        (bdrv_find_base); the CHANGE op blocker of ``device`` only, which no
        job can have set on a root; the image outside device's chain
        (bdrv_chain_contains, through filters); the filter's driver, which
        cannot change a backing string.

        What is left is accepted: :meth:`.Qemu72Rules.change_backing_file`
        rewrites the image's header and nothing else.  ``backing-file`` names
        a node when it is one of the scenario's file names (``X.qcow2``);
        ``""`` removes the backing string (NONE); any other string is OTHER.
        """
        rules = self.rules
        device, image = args["device"], args["image-node-name"]
        root = self.label(state, device)
        if root is None:
            return A.error(f"Cannot find device='{device}' nor node-name='{device}'"), state
        if not rules.is_root(state, root):
            return NEED_ROOT, state
        label = self.label(state, image)
        if label is None:
            return A.error(f"Cannot find device='' nor node-name='{image}'"), state
        is_filter = label.startswith("filter:")
        if is_filter and not rules.filter_live(state, label):
            return A.model_limit("QEMU 7.2 aborts (SIGABRT in bdrv_do_skip_filters) when image-node-name "
                                 "is a concluded job's filter (FACTS §8)"), state
        if not is_filter and state[BACKING][self.node(label)] == NONE:
            return A.error("not allowing backing file change on an image without a backing file"), state
        if label not in rules.walk(state, root, None):
            return A.error(f"'{device}' and image file are not in the same chain"), state
        if is_filter:
            return A.error(f"Could not change backing file to '{args['backing-file']}': Operation not supported"), state
        return rules.change_backing_file(state, self.node(label), header_target(rules, args["backing-file"]))

    def _commit(self, state: tuple, args: dict[str, Any]) -> tuple[A.Answer, tuple]:
        """qmp_block_commit, then commit_start, in QEMU 7.2's order (FACTS
        §12.3, §12.4): the device (unknown: DeviceNotFound; not a root: a
        job's node never is); ``top``/``top-node`` (default: the device),
        which must be in the device's chain; ``base``/``base-node`` (default:
        the bottom of the top's chain), which must be in the top's chain;
        the COMMIT_TARGET op blocker from the top down to the base; a commit
        into itself; a ``backing-file`` with an active commit.  Below the
        active layer: the op blocker of the top's overlay, then the job
        (block_job_create: ID; created, then the speed), then the filter's
        name (created, then the refusal).  The active commit checks the
        filter's name (no event) before its job and speed.  Then the model's
        own names and :meth:`.Qemu72Rules.commit`."""
        rules = self.rules
        device = args["device"]
        root = self.label(state, device)
        if root is None:
            return A.error(f"Device '{device}' not found", DEVICE_NOT_FOUND), state
        if not rules.is_root(state, root):
            return NEED_ROOT, state
        chain = rules.walk(state, root, None)
        if "top" in args and "top-node" in args:
            return A.error("'top-node' and 'top' are mutually exclusive"), state
        if "top" in args:
            # blockdev-add with an explicit backing gives json: file names (FACTS §12.4)
            return A.error(f"Top image file {args['top']} not found"), state
        top, refusal = self._chain_node(state, args.get("top-node"), chain) if "top-node" in args else (root, None)
        if refusal:
            return refusal, state
        if "base" in args and "base-node" in args:
            return A.error("'base-node' and 'base' are mutually exclusive"), state
        if "base" in args:
            return A.error(f"Can't find '{args['base']}' in the backing chain"), state
        below_top = rules.walk(state, top, None)
        base, refusal = self._chain_node(state, args["base-node"], below_top) if "base-node" in args else (below_top[-1], None)
        if refusal:  # no base-node: the bottom of the top's chain (bdrv_find_base)
            return refusal, state
        if top.startswith("filter:") or base.startswith("filter:"):
            return _not_modelled("a block-commit whose top or base is a filter"), state
        refusal = rules.first_busy(state, rules.commit_walk(state, self.node(top), self.node(base)))
        if refusal:
            return refusal, state
        if top == base:
            return A.error("cannot commit an image into itself"), state
        if root != rules.names[rules.root]:
            return _not_modelled("a block-commit of a node cut out of the chain"), state
        job_id, name = args.get("job-id", ""), args.get("filter-node-name")
        if top == root:
            if "backing-file" in args:
                return A.error("'backing-file' specified, but 'top' is the active layer"), state
            # commit_active_start names its filter (no event) before the job
            first = self._filter_name(state, name, "") if name is not None else None
        else:
            first = rules.first_busy(state, [rules.overlay_label(state, self.node(top))])
        refusal = first or self._job_refusal(state, job_id, args)
        if refusal:
            return refusal, state
        if top != root and name is not None:
            # commit_start names its filter once the job exists (created, null)
            refusal = self._filter_name(state, name, "")
            if refusal:
                return A.with_events(refusal, self._created_and_gone(job_id)), state
        own = rules.job_id(rules.commit_owner(self.node(top)))
        if job_id != own:
            return A.model_limit(f"the model names the commit of {top} {own!r}"), state
        if name is not None and name != filter_node_name(own):
            return A.model_limit(f"the model names the filter of {own} {filter_node_name(own)!r}"), state
        if "backing-file" in args:
            return _not_modelled("block-commit's backing-file"), state
        return rules.commit(state, self.node(top), self.node(base), self._options(args))

    def _chain_node(self, state: tuple, name: str, chain: list[str]) -> tuple[str, A.Answer | None]:
        """block-commit's ``top-node`` or ``base-node``: a known node
        (bdrv_lookup_bs), in ``chain`` (bdrv_chain_contains)."""
        label = self.label(state, name)
        if label is None:
            return "", A.error(f"Cannot find device='' nor node-name='{name}'")
        if label not in chain:
            return label, A.error(f"'{self.rules.display(state, label)}' is not in this backing file chain")
        return label, None

    def _job_refusal(self, state: tuple, job_id: str, args: dict[str, Any]) -> A.Answer | None:
        """block_job_create's refusals: the ID (no event), then the speed,
        checked once the job is created (created, null)."""
        if not _ID.match(job_id):
            return A.error(f"Invalid job ID '{job_id}'")
        if self.rules.job_by_id(state, job_id) is not None:
            return A.error(f"Job ID '{job_id}' already in use")
        if args.get("speed", 0) < 0:
            return A.with_events(A.negative_speed(), self._created_and_gone(job_id))
        return None

    @staticmethod
    def _created_and_gone(job_id: str) -> list[dict]:
        return [status_event(job_id, JobStatus.CREATED), status_event(job_id, JobStatus.NULL)]
