"""QMP logs as clients record them, read for trace validation.

A log is one JSON object a line, in the order the client saw them: the
greeting (``{"QMP": ...}``), each command it sent (``{"execute", "arguments"}``,
with or without an ``id``), QEMU's answer (``{"return": ...}`` or
``{"error": ...}``, carrying the command's ``id`` if it had one), and QEMU's
events (``{"event", "data", "timestamp"}``).  qemu.qmp's logs, iotests'
logs and ``QemuChain.write_log`` all have this shape.

:func:`read_log` cuts a log into :class:`Segment` s, one per command: its
answer and the events that came after it and before the next command.
:func:`chain_from_log` finds the backing chain the log built with
``blockdev-add`` (or takes it from the user), so the log can be followed by
the qemu-7.2 model with its node names mapped to the model's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .qmp_schema import ScriptError, decode_line

#: Top-level members that only a log has (a script has ``execute``/``step``).
LOG_MEMBERS = frozenset({"return", "error", "event", "QMP"})
#: Format drivers whose ``backing`` makes a chain; the model's images are qcow2.
FORMAT_DRIVERS = frozenset({"qcow2"})
#: Drivers of protocol nodes (what a format node's ``file`` is).
PROTOCOL_DRIVERS = frozenset({"file", "host_device", "nbd", "null-co", "null-aio"})


@dataclass
class Segment:
    """One command of a log, its answer, and the events after it."""

    number: int  # the command's line in the log
    command: dict[str, Any]
    answer: dict[str, Any] | None = None
    answer_number: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.command["execute"]

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments as an object (QEMU refuses any other: the command's own line says so)."""
        args = self.command.get("arguments")
        return dict(args) if isinstance(args, dict) else {}


def is_log(values: Sequence[Any]) -> bool:
    """Whether decoded lines are a log rather than a script: a log has answers or events."""
    return any(isinstance(v, dict) and LOG_MEMBERS & v.keys() for v in values)


def read_log(text: str) -> list[Segment]:
    """The log's commands with their answers and events.

    An answer goes to the command with its ``id``, or without ids to the
    oldest command still waiting for one.  A line that is none of the four
    kinds, an answer that no command waits for, and a command left without
    an answer are errors naming the line (:class:`ScriptError`)."""
    segments: list[Segment] = []
    waiting: list[Segment] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        value = decode_line(number, stripped)
        if not isinstance(value, dict):
            raise ScriptError(f"line {number} is not a JSON object; a QMP log has one object a line")
        if "QMP" in value:
            continue
        if "execute" in value:
            if not isinstance(value["execute"], str):
                raise ScriptError(f"line {number}: 'execute' must be a command name")
            segment = Segment(number, {k: v for k, v in value.items() if k in ("execute", "arguments", "id")})
            segments.append(segment)
            waiting.append(segment)
        elif "return" in value or "error" in value:
            error = value.get("error", {})
            if not isinstance(error, dict) or not all(isinstance(error.get(k, ""), str) for k in ("class", "desc")):
                raise ScriptError(f"line {number}: an error answer is an object with a class and a desc, as QEMU writes it")
            owner = _owner(waiting, value, number)
            owner.answer, owner.answer_number = {k: v for k, v in value.items() if k in ("return", "error")}, number
            waiting.remove(owner)
        elif "event" in value:
            if not isinstance(value["event"], str) or not isinstance(value.get("data", {}), dict):
                raise ScriptError(f"line {number}: an event has a name and an object of data, as QEMU writes it")
            if segments:
                segments[-1].events.append(value)
        else:
            raise ScriptError(
                f"line {number} is neither a command, an answer nor an event; a QMP log has "
                '{"execute": ...}, {"return": ...} / {"error": ...} and {"event": ...} lines'
            )
    if waiting:
        raise ScriptError(f"line {waiting[0].number}: the command {waiting[0].name} has no answer in the log")
    return segments


def _owner(waiting: list[Segment], answer: Mapping[str, Any], number: int) -> Segment:
    if "id" in answer:
        for segment in waiting:
            if segment.command.get("id") == answer["id"]:
                return segment
        raise ScriptError(f"line {number}: no command with id {answer['id']!r} waits for this answer")
    if not waiting:
        raise ScriptError(f"line {number}: an answer, but no command waits for one")
    return waiting[0]


@dataclass(frozen=True)
class ChainSpec:
    """The backing chain of a log, base first, in the log's own names."""

    nodes: tuple[str, ...]
    #: node -> the file name its protocol node opens (what backing strings name)
    files: Mapping[str, str]
    #: protocol nodes by name (the model has none)
    protocol: frozenset[str]
    #: node -> the protocol node it sits on, where the log names it
    protocol_of: Mapping[str, str]
    #: the leading segments that built the chain (blockdev-add, and qmp_capabilities)
    built_by: int


def chain_from_log(segments: Sequence[Segment], chain: Sequence[str] | None = None) -> ChainSpec:
    """The chain the log's leading ``blockdev-add`` commands built, or, for a
    log that starts mid-life, the one ``chain`` names (base first).

    Each format node must name its ``backing`` (a node of the log, or null):
    without it QEMU opens the backing file its image names, which the log
    does not show.  The nodes must form one chain, 2 to 8 long, the model's
    shape.  Every problem is a :class:`ScriptError` naming the node and line."""
    built = 0
    formats: dict[str, tuple[int, str | None]] = {}
    files: dict[str, str] = {}
    protocol: set[str] = set()
    protocol_of: dict[str, str] = {}
    for segment in segments:
        if segment.name not in ("blockdev-add", "qmp_capabilities"):
            break
        built += 1
        if segment.name == "qmp_capabilities":
            continue
        if segment.answer is None or "error" in segment.answer:
            continue  # refused: QEMU built nothing
        _add_node(segment, formats, files, protocol, protocol_of)
    if chain is not None:
        nodes = tuple(chain)
        if len(set(nodes)) != len(nodes) or not 2 <= len(nodes) <= 8:
            raise ScriptError(f"--chain {','.join(nodes)} must name 2 to 8 distinct nodes, base first")
        return ChainSpec(nodes, files, frozenset(protocol), protocol_of, built)
    if not formats:
        raise ScriptError(
            "the log builds no chain with blockdev-add before its first other command; "
            "give the chain, base first, with --chain BASE,...,TOP"
        )
    return ChainSpec(_linear(formats), files, frozenset(protocol), protocol_of, built)


def _add_node(segment: Segment, formats: dict, files: dict, protocol: set, protocol_of: dict) -> None:
    args, number = segment.arguments, segment.number
    driver, name = args.get("driver"), args.get("node-name")
    if driver in PROTOCOL_DRIVERS:
        if isinstance(name, str):
            protocol.add(name)
        return
    if driver not in FORMAT_DRIVERS or not isinstance(name, str):
        raise ScriptError(f"line {number}: blockdev-add of a {driver!r} node {name!r} is outside the model, "
                          "whose chain is qcow2 nodes with node names")
    if "backing" not in args:
        raise ScriptError(f"line {number}: node {name!r} opens the backing file its image names, which the log "
                          "does not show; give its backing explicitly (a node name or null) or use --chain")
    backing = args["backing"]
    if backing is not None and not isinstance(backing, str):
        raise ScriptError(f"line {number}: node {name!r} defines its backing inline; the model follows node names only")
    file = args.get("file")
    if isinstance(file, dict):
        if isinstance(file.get("node-name"), str):
            protocol.add(file["node-name"])
            protocol_of[name] = file["node-name"]
        if isinstance(file.get("filename"), str):
            files[name] = file["filename"]
    elif isinstance(file, str) and file in protocol:
        protocol_of[name] = file
    formats[name] = (number, backing)


def _linear(formats: Mapping[str, tuple[int, str | None]]) -> tuple[str, ...]:
    """The format nodes as one chain, base first."""
    for name, (number, backing) in formats.items():
        if backing is not None and backing not in formats:
            raise ScriptError(f"line {number}: node {name!r} has backing {backing!r}, which the log never added")
    parents: dict[str, list[str]] = {}
    for name, (_, backing) in formats.items():
        if backing is not None:
            parents.setdefault(backing, []).append(name)
    bases = [n for n, (_, b) in formats.items() if b is None]
    shared = next(((b, p) for b, p in parents.items() if len(p) > 1), None)
    if len(bases) != 1 or shared:
        detail = f"{shared[0]!r} backs {', '.join(shared[1])}" if shared else f"{len(bases)} nodes have no backing"
        raise ScriptError(f"the log's nodes do not form one chain ({detail}); the model has a single chain, "
                          "give the chain to follow with --chain")
    chain = [bases[0]]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]][0])
    if len(chain) != len(formats) or not 2 <= len(chain) <= 8:
        raise ScriptError(f"the log's chain has {len(chain)} nodes ({', '.join(chain)}); the model follows one chain of 2 to 8")
    return tuple(chain)


#: The status a drain resumes a job to -> the status it paused it in.
DRAIN_PAIRS = {"running": "paused", "ready": "standby"}


def comparable_events(events: Sequence[Mapping[str, Any]], drop: frozenset[str] = frozenset({"speed"})
                      ) -> tuple[dict[str, list[Any]], int]:
    """Events by job (JOB_STATUS_CHANGE's ``id``, a block job event's
    ``device``), each as ``(event, data)`` without the ``drop`` fields, in
    order, with every drain's ``paused`` + ``running`` pair taken out (in
    READY a drain shows as ``standby`` + ``ready``, FACTS §12.2); and how
    many pairs were taken out.

    Within one command a job can show ``paused`` right before ``running``
    (``standby`` before ``ready``) only by a drain: a user's pause and
    resume are two commands, and a cancel of a paused job starts with
    ``running`` (``ready``).

    >>> ev = lambda s: {"event": "JOB_STATUS_CHANGE", "data": {"id": "j", "status": s}}
    >>> comparable_events([ev("paused"), ev("running"), ev("paused")])
    ({'j': [('JOB_STATUS_CHANGE', {'id': 'j', 'status': 'paused'})]}, 1)
    >>> comparable_events([ev("standby"), ev("ready"), ev("waiting")])
    ({'j': [('JOB_STATUS_CHANGE', {'id': 'j', 'status': 'waiting'})]}, 1)
    >>> comparable_events([ev("paused"), ev("running")])
    ({}, 1)
    """
    by_job: dict[str, list[Any]] = {}
    pairs = 0
    for event in events:
        data = {k: v for k, v in event.get("data", {}).items() if k not in drop}
        seq = by_job.setdefault(str(data.get("id", data.get("device"))), [])
        status = data.get("status")
        paused = DRAIN_PAIRS.get(status) if isinstance(status, str) else None
        if paused and seq and seq[-1] == ("JOB_STATUS_CHANGE", {**data, "status": paused}):
            seq.pop()
            pairs += 1
            continue
        seq.append((event["event"], data))
    # a job whose events were all drain pairs has none to compare
    return {job: seq for job, seq in by_job.items() if seq}, pairs
