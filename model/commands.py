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

import json
from collections.abc import Mapping
from typing import Any

from . import answers as A
from .seed import GUARDED_OPS, NEED_ROOT, SeedRules
from .state import BACKING, JOBS, NONE, OTHER, find_job, in_chain

JOB_STEPS = ("job-copy", "job-io-error", "job-exit", "stream-complete", "commit-complete")
JOB_VERBS = ("block-job-cancel", "block-job-pause", "block-job-resume", "block-job-set-speed", "block-job-complete")

#: Guarded commands that find their node with bdrv_lookup_bs(device, node-name):
#: ``device`` names a device only, ``node-name`` a node (docs/op-blockers.md
#: §2.4, §2.5).  The others take ``device``, a device or node name.
BY_DEVICE_OR_NODE_NAME = ("block_resize", "blockdev-snapshot-sync")

COMMANDS = ("block-stream", "block-commit", *JOB_VERBS, "query-block-jobs", *GUARDED_OPS)


class ScriptError(ValueError):
    """A script line is not valid; the message names the line's problem and the fix."""


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
        """Run one script line; returns QEMU's answer and the next state."""
        if "execute" in line:
            return self._command(state, line["execute"], line.get("arguments") or {})
        return self._step(state, line)

    def _command(self, state: tuple, name: str, args: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        rules = self.rules
        if name == "query-block-jobs":
            return A.ok(rules.query_block_jobs(state)), state
        if name not in COMMANDS:
            return A.unknown_command(name), state
        if name == "change-backing-file":
            return self._change_backing_file(state, args)
        if name in BY_DEVICE_OR_NODE_NAME:
            return self._by_device_or_node_name(state, name, args), state
        if "device" not in args:
            return A.missing_argument("device"), state
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
            return rules.cancel(state, node, bool(args.get("force", False)))
        if name == "block-job-pause":
            return rules.pause(state, node)
        if name == "block-job-resume":
            return rules.resume(state, node)
        if name == "block-job-set-speed":
            if "speed" not in args:
                return A.missing_argument("speed"), state
            return rules.set_speed(state, node, int(args["speed"]))
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
        if name == "block_resize" and "size" not in args:
            return A.missing_argument("size")
        return self.rules.guarded_op(state, name, node, device if isinstance(device, str) else None)

    def _change_backing_file(self, state: tuple, args: Mapping[str, Any]) -> tuple[A.Answer, tuple]:
        """qmp_change_backing_file's look-ups, in QEMU's order, then the rule.

        QAPI checks the three string arguments first; ``device`` must name
        the root (qmp_get_root_bs); ``image-node-name`` is a node name only
        (bdrv_lookup_bs(NULL, name)).  ``backing-file`` is not validated by
        QEMU: a string naming none of the chain's files becomes OTHER.
        """
        rules = self.rules
        for key in ("device", "image-node-name", "backing-file"):
            if key not in args:
                return A.missing_argument(key), state
            if not isinstance(args[key], str):
                return A.invalid_type(key, "string"), state
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
            chunk = line.get("chunk", 0)
            if not isinstance(chunk, int) or not 0 <= chunk < rules.chunks:
                raise ScriptError(f"guest-write chunk {chunk!r} is out of range; give 0 to {rules.chunks - 1}")
            return rules.guest_write(state, chunk)
        if step not in JOB_STEPS:
            raise ScriptError(
                f"unknown step {step!r}; a line is {{\"execute\": ...}} or a step among "
                f"{', '.join(('guest-write', *JOB_STEPS))}"
            )
        node = self.lookup(state, line.get("job"))
        action = (step, node)
        if node == NONE or action not in set(rules.job_steps(state)):
            return A.model_limit(f"step {step} of job {line.get('job')!r} is not enabled in this state"), state
        return A.OK, rules.job_step(state, action)


def parse_script(text: str) -> list[dict[str, Any]]:
    """Parse a JSON-lines script; blank lines and lines starting with # are skipped."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            line = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ScriptError(f"line {number} is not valid JSON ({exc.msg}); write one JSON object per line") from None
        if not isinstance(line, dict) or not ("execute" in line or "step" in line):
            raise ScriptError(
                f"line {number} is neither a QMP command nor a step; write "
                '{"execute": NAME, "arguments": {...}} or {"step": NAME, ...}'
            )
        lines.append(line)
    return lines
