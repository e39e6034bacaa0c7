"""QMP commands and job steps as JSON lines, and their link to model actions.

A script is one JSON object per line, in one of three shapes:

- ``{"execute": "block-stream", "arguments": {"device": "D", "base": "B"}}``:
  a QMP command, with QEMU's argument names;
- ``{"step": "job-copy", "job": "D"}``: an internal step of the job whose
  ``device`` field (query-block-jobs) is ``D``: ``job-copy`` (copy one
  chunk; after the last one the job's coroutine returns), ``job-io-error``
  (the chunk's read fails, on-error=report), ``job-exit`` (a cancelled job
  returns at its pause point), ``stream-complete`` / ``commit-complete``
  (the deferred completion runs, then BLOCK_JOB_COMPLETED or _CANCELLED is
  sent and the job is freed);
- ``{"step": "guest-write", "device": "drive0", "chunk": 0}``: the guest
  writes one chunk through its device.

Counterexample reports write their steps in this format, so a report's
script replays with ``blockcheck replay``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import answers as A
from .qmp_schema import (
    BLOCK_RESIZE,
    CHANGE_BACKING_FILE,
    JOB_VERB_COMMANDS,
    MODE,
    ON_ERROR,
    QUERY_BLOCK_JOBS,
    SNAPSHOT_SYNC,
    SYNC,
    Command,
    check_line,
    load_line,
    opt,
    req,
    table,
)
from .seed import GUARDED_OPS, NEED_ROOT, SeedRules
from .state import BACKING, JOBS, NONE, OTHER, find_job, in_chain

JOB_STEPS = ("job-copy", "job-io-error", "job-exit", "stream-complete", "commit-complete")
JOB_VERBS = ("block-job-cancel", "block-job-pause", "block-job-resume", "block-job-set-speed", "block-job-complete")

#: Guarded commands that find their node with bdrv_lookup_bs(device, node-name):
#: ``device`` names a device only, ``node-name`` a node (docs/op-blockers.md
#: §2.4, §2.5).  The others take ``device``, a device or node name.
BY_DEVICE_OR_NODE_NAME = ("block_resize", "blockdev-snapshot-sync")

#: The seed's commands with QEMU 2.8's arguments (qapi/block-core.json of
#: v2.8.0), the design's era.  The seed models what its rules act on: a
#: stream's ``device`` and ``base``, a commit's ``device``, ``top`` and
#: ``base``, every argument of the job verbs; the other members QEMU takes
#: are answered ``ModelLimit``.  Of the guarded commands only the op-blocker
#: check is modelled, which looks at the node alone, so all their members pass.
SCHEMA = table(
    Command("block-stream", (opt("job-id", "str"), req("device", "str"), opt("base", "str"), opt("base-node", "str"),
                             opt("backing-file", "str"), opt("speed", "int"), opt("on-error", ON_ERROR)),
            frozenset({"device", "base"})),
    Command("block-commit", (opt("job-id", "str"), req("device", "str"), opt("base", "str"), opt("top", "str"),
                             opt("backing-file", "str"), opt("speed", "int")),
            frozenset({"device", "top", "base"})),
    *JOB_VERB_COMMANDS,
    QUERY_BLOCK_JOBS,
    BLOCK_RESIZE,
    SNAPSHOT_SYNC,
    CHANGE_BACKING_FILE,
    Command("drive-mirror", (opt("job-id", "str"), req("device", "str"), req("target", "str"), opt("format", "str"),
                             opt("node-name", "str"), opt("replaces", "str"), req("sync", SYNC), opt("mode", MODE),
                             opt("speed", "int"), opt("granularity", "int"), opt("buf-size", "int"),
                             opt("on-source-error", ON_ERROR), opt("on-target-error", ON_ERROR), opt("unmap", "bool"))),
)
COMMANDS = tuple(SCHEMA)


def action_to_line(rules: SeedRules, action: tuple) -> dict[str, Any]:
    """The script line for a model action."""
    name = action[0]
    if name == "block-stream":
        args = {"device": rules.device_or_node(action[1])}
        if action[2] != NONE:
            args["base"] = rules.names[action[2]]
        return {"execute": name, "arguments": args}
    if name == "block-commit":
        args = {"device": rules.scenario.device, "top": rules.names[action[1]], "base": rules.names[action[2]]}
        return {"execute": name, "arguments": args}
    if name == "block-job-cancel":
        args = {"device": rules.job_device_field(action[1])}
        if action[2]:
            args["force"] = True
        return {"execute": name, "arguments": args}
    if name in ("block-job-pause", "block-job-resume"):
        return {"execute": name, "arguments": {"device": rules.job_device_field(action[1])}}
    if name == "change-backing-file":
        args = {
            "device": rules.scenario.device,
            "image-node-name": rules.names[action[1]],
            "backing-file": rules.scenario.file_names[action[2]],
        }
        return {"execute": name, "arguments": args}
    if name == "guest-write":
        return {"step": name, "device": rules.scenario.device, "chunk": action[1]}
    if name in JOB_STEPS:
        return {"step": name, "job": rules.device_or_node(action[1])}
    raise ValueError(f"no script form for action {action!r}")


def format_line(line: Mapping[str, Any]) -> str:
    """A short human form of a script line, e.g. ``block-stream device=D base=B``."""
    if "execute" in line:
        args = " ".join(f"{k}={_short(v)}" for k, v in line.get("arguments", {}).items())
        return f"{line['execute']} {args}".strip()
    rest = " ".join(f"{k}={_short(v)}" for k, v in line.items() if k != "step")
    return f"[{line['step']}] {rest}".strip()


def _short(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


class Executor:
    """Runs script lines against the model: QMP commands, job steps and guest writes."""

    def __init__(self, rules: SeedRules) -> None:
        self.rules = rules

    def lookup(self, state: tuple, name: Any) -> int:
        """The node a ``device`` argument names: a device name or a node name in the chain."""
        rules = self.rules
        if name == rules.scenario.device:
            return rules.root
        if isinstance(name, str) and name in rules.names:
            node = rules.names.index(name)
            if node in in_chain(state[BACKING], rules.root) or find_job(state[JOBS], node):
                return node
        return NONE

    def execute(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """Run one script line from outside (a replayed script): the line
        passes :mod:`.qmp_schema` first, so a refused line keeps the state and
        a line that is not a script line raises :class:`ScriptError`."""
        refusal = check_line(line, SCHEMA, "seed", A.unknown_command, ("guest-write", *JOB_STEPS),
                             self.rules.scenario.device, self.rules.chunks)
        return (refusal, state) if refusal else self.run(state, line)

    def run(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """Run a line the model wrote itself (its actions, its properties'
        probes), whose arguments have their types by construction."""
        if "execute" in line:
            return self._command(state, line["execute"], line.get("arguments", {}))
        return self._step(state, line)

    def _command(self, state: tuple, name: str, args: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        rules = self.rules
        if name == "query-block-jobs":
            return A.ok(rules.query_block_jobs(state)), state
        if name == "change-backing-file":
            return self._change_backing_file(state, args)
        if name in BY_DEVICE_OR_NODE_NAME:
            return self._by_device_or_node_name(state, name, args), state
        node = self.lookup(state, args["device"])
        if node == NONE and name == "block-commit":
            # qmp_block_commit keeps DeviceNotFound for a name no node has (libvirt probes it).
            return A.error(f"Device '{args['device']}' not found", "DeviceNotFound"), state
        if node == NONE:
            return A.node_not_found(str(args["device"])), state
        if name in GUARDED_OPS:
            return rules.guarded_op(state, name, node), state
        if name == "block-stream":
            base = self._optional_node(state, args.get("base"))
            if base is None:
                return A.base_not_found(str(args["base"])), state
            return rules.stream(state, node, base)
        if name == "block-commit":
            if node != rules.root:
                return NEED_ROOT, state
            top = self._optional_node(state, args.get("top"))
            base = self._optional_node(state, args.get("base"))
            if top is None or top == NONE:
                return A.model_limit("active commit (no 'top', or top is the active layer) is not modelled"), state
            if base is None or base == NONE:
                return A.base_not_found(str(args.get("base", ""))), state
            return rules.commit(state, top, base)
        if name == "block-job-cancel":
            return rules.cancel(state, node, args.get("force", False))
        if name == "block-job-pause":
            return rules.pause(state, node)
        if name == "block-job-resume":
            return rules.resume(state, node)
        if name == "block-job-set-speed":
            return rules.set_speed(state, node, args["speed"])
        return rules.complete(state, node)

    def _by_device_or_node_name(self, state: tuple, name: str, args: Mapping[str, Any]) -> A.Answer:
        """block_resize and blockdev-snapshot-sync: bdrv_lookup_bs(device, node-name),
        then the rule; resize's in-use text names its ``device`` argument as given."""
        device, node_name = args.get("device"), args.get("node-name")
        node = NONE
        if device == self.rules.scenario.device:
            node = self.rules.root
        elif isinstance(node_name, str) and node_name in self.rules.names:
            node = self.lookup(state, node_name)
        if node == NONE:
            return A.error(f"Cannot find device={device or ''} nor node_name={node_name or ''}")
        return self.rules.guarded_op(state, name, node, device)

    def _change_backing_file(self, state: tuple, args: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """qmp_change_backing_file's look-ups, in QEMU's order, then the rule.

        :mod:`.qmp_schema` has checked the three string arguments; ``device`` must name
        the root (qmp_get_root_bs); ``image-node-name`` is a node name only
        (bdrv_lookup_bs(NULL, name)).  ``backing-file`` is not validated by
        QEMU: a string naming none of the chain's files becomes OTHER.
        """
        rules = self.rules
        root = self.lookup(state, args["device"])
        if root == NONE:
            return A.node_not_found(args["device"]), state
        if root != rules.root:
            return NEED_ROOT, state
        image = self.lookup(state, args["image-node-name"])
        if image == NONE or args["image-node-name"] not in rules.names:
            return A.error(f"Cannot find device= nor node_name={args['image-node-name']}"), state
        files = rules.scenario.file_names
        target = files.index(args["backing-file"]) if args["backing-file"] in files else OTHER
        return rules.change_backing_file(state, image, target)

    def _optional_node(self, state: tuple, name: Any) -> int | None:
        """NONE when the argument is absent, None when it names no node."""
        if name is None:
            return NONE
        node = self.lookup(state, name)
        return None if node == NONE else node

    def _step(self, state: tuple, line: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        rules = self.rules
        step = line.get("step")
        if step == "guest-write":
            return rules.guest_write(state, line["chunk"])
        node = self.lookup(state, line["job"])
        action = (step, node)
        if node == NONE or action not in set(rules.job_steps(state)):
            return A.model_limit(f"step {step} of job '{line['job']}' is not enabled in this state"), state
        return A.OK, rules.job_step(state, action)


def parse_script(text: str) -> list[tuple[int, dict[str, Any]]]:
    """The script's lines with their line numbers; blank lines and lines
    starting with # are skipped.  Each is strict JSON and an object that is a
    command or a step (:func:`.qmp_schema.load_line`)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            lines.append((number, load_line(number, stripped)))
    return lines
