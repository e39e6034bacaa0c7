"""The one gate every script line passes before an executor sees it.

A replayed script is input from a person or a tool, so nothing in it may
crash the model or slip past QEMU's own checks.  This module decides, from
tables of each command's arguments and their QAPI types, one of three
outcomes for a line:

- it is not a script line at all (not UTF-8, not JSON, nested absurdly deep,
  not an object, neither ``execute`` nor ``step``, a step with a bad field):
  :class:`ScriptError`, which the CLI turns into one sentence and exit 151;
- it is QMP framing QEMU would refuse, or a command whose arguments QEMU's
  QAPI input visitor would refuse: QEMU's own error answer
  (:mod:`.answers`), so the replay goes on as QEMU's monitor would;
- it is well formed: the executor runs it, and may rely on every argument
  having its declared type (a ``str`` is a ``str``, an ``int`` is an ``int``
  in int64 range and never a ``bool``, a ``bool`` is a ``bool``).

The QAPI visitor checks members in the schema's order (missing or of the
wrong type), then any member left over; so does :func:`check_command`.
With several left over QEMU names one in its hash table's order, which the
model does not know: that is answered ``ModelLimit``.  A member QEMU
accepts but the profile does not model is answered ``ModelLimit`` too, so
no argument is ever silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from . import answers as A

#: QMP arguments never nest deeper than a few levels; a deeper line is not a script.
MAX_DEPTH = 32
_INT64 = (-(1 << 63), (1 << 63) - 1)
#: Top-level members QEMU's dispatcher accepts on a command (qmp_dispatch_check_obj).
_QMP_MEMBERS = ("execute", "arguments", "id")

ON_ERROR = ("report", "ignore", "enospc", "stop", "auto")
SYNC = ("top", "full", "none", "incremental", "bitmap")
MODE = ("existing", "absolute-paths")
COPY_MODE = ("background", "write-blocking")
BITMAP_MODE = ("on-success", "never", "always")

#: A QAPI type: ``str``, ``bool``, ``int``, ``object``, or an enum's values.
QapiType = Union[str, tuple[str, ...]]
_TYPE_NAMES = {"str": "string", "bool": "boolean", "int": "integer", "object": "object"}


class ScriptError(ValueError):
    """A script line is not valid; the message names the line's problem and the fix."""


@dataclass(frozen=True)
class Member:
    """One argument of a command: its QAPI name, type and whether it is required."""

    name: str
    type: QapiType
    required: bool = False


@dataclass(frozen=True)
class Command:
    """A command's arguments in schema order; ``modelled`` lists those the
    profile acts on (None: all of them)."""

    name: str
    members: tuple[Member, ...] = ()
    modelled: frozenset[str] | None = None


def req(name: str, type_: QapiType) -> Member:
    """A required member."""
    return Member(name, type_, True)


def opt(name: str, type_: QapiType) -> Member:
    """An optional member."""
    return Member(name, type_)


def table(*commands: Command) -> dict[str, Command]:
    """Commands by name."""
    return {c.name: c for c in commands}


#: Commands whose arguments QEMU 2.8 and 7.2 share, for both profiles' tables.
JOB_VERB_COMMANDS = (
    Command("block-job-cancel", (req("device", "str"), opt("force", "bool"))),
    Command("block-job-pause", (req("device", "str"),)),
    Command("block-job-resume", (req("device", "str"),)),
    Command("block-job-set-speed", (req("device", "str"), req("speed", "int"))),
    Command("block-job-complete", (req("device", "str"),)),
)
QUERY_BLOCK_JOBS = Command("query-block-jobs")
BLOCK_RESIZE = Command("block_resize", (opt("device", "str"), opt("node-name", "str"), req("size", "int")))
SNAPSHOT_SYNC = Command("blockdev-snapshot-sync", (opt("device", "str"), opt("node-name", "str"), req("snapshot-file", "str"),
                                                   opt("snapshot-node-name", "str"), opt("format", "str"), opt("mode", MODE)))
CHANGE_BACKING_FILE = Command("change-backing-file", (req("device", "str"), req("image-node-name", "str"), req("backing-file", "str")))


# -- lines -----------------------------------------------------------------------------
def decode_script(data: bytes) -> str:
    """The script's text; bytes that are not UTF-8 are a usage error naming where."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScriptError(
            f"line {line} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the script as UTF-8"
        ) from None


def load_line(number: int, text: str) -> Any:
    """One script line: strict JSON (:func:`decode_line`), and an object that
    is a command or a step."""
    value = decode_line(number, text)
    if not isinstance(value, dict) or not ("execute" in value or "step" in value):
        raise ScriptError(
            f"line {number} is neither a QMP command nor a step; write "
            '{"execute": NAME, "arguments": {...}} or {"step": NAME, ...}'
        )
    return value


def decode_line(number: int, text: str) -> Any:
    """One JSON value, strict: no NaN or Infinity (not JSON, and QEMU refuses
    them), no repeated key (QEMU keeps neither silently), bounded nesting."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise ScriptError(f"line {number} is not valid JSON ({exc.msg}); write one JSON object per line") from None
    except _BadJson as exc:
        raise ScriptError(f"line {number} {exc}") from None
    except RecursionError:
        raise ScriptError(f"line {number} nests JSON deeper than {MAX_DEPTH} levels; QMP arguments never do") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise ScriptError(f"line {number} nests JSON deeper than {MAX_DEPTH} levels; QMP arguments never do")
    return value


class _BadJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _BadJson(f"has {name}, which is not JSON; write a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _BadJson(f"repeats the key {json.dumps(key)}; give each key once")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_unique_keys)


def _depth(value: Any) -> int:
    """How deep lists and objects nest (iteratively: the value may be deep)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


# -- lines of either profile ------------------------------------------------------------
def check_line(
    line: Mapping[str, Any],
    commands: Mapping[str, Command],
    profile: str,
    unknown: Callable[[str], A.Answer],
    steps: tuple[str, ...],
    device: str,
    chunks: int,
) -> A.Answer | None:
    """The gate of a replayed line: QEMU's refusal of an ``execute`` line, or
    None when the executor may run it; a bad ``step`` line raises ScriptError."""
    if "execute" in line:
        return check_command(line, commands, profile, unknown)
    check_step(line, steps, device, chunks)
    return None


# -- commands --------------------------------------------------------------------------
def check_command(
    line: Mapping[str, Any], commands: Mapping[str, Command], profile: str, unknown: Callable[[str], A.Answer]
) -> A.Answer | None:
    """QEMU's refusal of an ``execute`` line's framing or arguments, or None
    when the executor may run it.  A command outside ``commands`` gets
    ``unknown(name)``: QEMU's CommandNotFound where the profile knows all the
    commands there are, ``ModelLimit`` where it knows only some."""
    name = line["execute"]
    if not isinstance(name, str):
        return A.qmp_member_type("execute", "a string")
    if "arguments" in line and not isinstance(line["arguments"], dict):
        return A.qmp_member_type("arguments", "an object")
    extra = [key for key in line if key not in _QMP_MEMBERS]
    if extra:
        return A.qmp_member_unexpected(extra[0])
    command = commands.get(name)
    if command is None:
        return unknown(name)
    return check_arguments(command, line.get("arguments", {}), profile)


def check_arguments(command: Command, args: Mapping[str, Any], profile: str) -> A.Answer | None:
    """QAPI's input visitor over ``args``, then the profile's modelled members."""
    for member in command.members:
        if member.name not in args:
            if member.required:
                return A.missing_argument(member.name)
            continue
        refusal = _check_value(member, args[member.name])
        if refusal:
            return refusal
    known = {m.name for m in command.members}
    extra = [key for key in args if key not in known]
    if len(extra) == 1:
        return A.unexpected_argument(extra[0])
    if extra:
        return A.model_limit("QEMU names one of several unexpected arguments, in an order the model does not know")
    if command.modelled is not None:
        unmodelled = [key for key in args if key not in command.modelled]
        if unmodelled:
            return A.model_limit(f"argument '{unmodelled[0]}' of {command.name} is not modelled in the {profile} profile")
    return None


def _check_value(member: Member, value: Any) -> A.Answer | None:
    kind = member.type
    if isinstance(kind, tuple):
        if not isinstance(value, str):
            return A.invalid_type(member.name, "string")
        return None if value in kind else A.enum_value(member.name, value)
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1],
        "object": isinstance(value, dict),
    }[kind]
    return None if ok else A.invalid_type(member.name, _TYPE_NAMES[kind])


# -- steps -----------------------------------------------------------------------------
def check_step(line: Mapping[str, Any], steps: tuple[str, ...], device: str, chunks: int) -> None:
    """A ``step`` line is the model's own vocabulary, not QMP: any fault in it
    is a :class:`ScriptError`.  ``guest-write`` takes ``device`` (the
    scenario's) and ``chunk`` (an int, not a bool, in range); a job step takes
    ``job`` (a string); nothing else is allowed."""
    step = line["step"]
    if not isinstance(step, str) or step not in steps:
        raise ScriptError(f"unknown step {json.dumps(step)}; a line is {{\"execute\": ...}} or a step among {', '.join(steps)}")
    fields = ("step", "device", "chunk") if step == "guest-write" else ("step", "job")
    extra = [key for key in line if key not in fields]
    if extra:
        raise ScriptError(f"step {step} has no field {json.dumps(extra[0])}; give only {', '.join(fields[1:])}")
    if step == "guest-write":
        if line.get("device", device) != device:
            raise ScriptError(f"guest-write device {json.dumps(line['device'])} is not the scenario's; give \"{device}\"")
        chunk = line.get("chunk")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 <= chunk < chunks:
            raise ScriptError(
                f"guest-write chunk {json.dumps(chunk)} is not a chunk of the image; give a whole number 0 to {chunks - 1}"
            )
    elif not isinstance(line.get("job"), str):
        raise ScriptError(f"step {step} needs \"job\": the job's device or ID as a string")
