"""QMP answers: a return value, or an error with QEMU's class and text.

The texts are QEMU's own; each names the qemu-domain.md section it comes
from so a reviewer can check them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

GENERIC = "GenericError"
DEVICE_NOT_ACTIVE = "DeviceNotActive"
#: Not a QEMU class: the model refuses a command only because the scenario
#: bounds it (e.g. more jobs at once than configured).  Replays say so
#: instead of pretending QEMU would refuse.
MODEL_LIMIT = "ModelLimit"


@dataclass(frozen=True)
class Answer:
    """One QMP reply.  ``ok`` answers carry ``value``; errors carry class and desc.

    ``events`` are the QMP events QEMU emits while it runs the command or
    step (``{"event": ..., "data": ...}``, no timestamps), in order; they are
    not part of the reply itself, so :meth:`to_json` leaves them out."""

    ok: bool
    value: Any = None
    error_class: str = ""
    desc: str = ""
    events: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"return": {} if self.value is None else self.value}
        return {"error": {"class": self.error_class, "desc": self.desc}}

    def __str__(self) -> str:
        if self.ok:
            return "ok" if self.value in (None, {}) else f"ok: {self.value}"
        return f"{self.error_class}: {self.desc}"


OK = Answer(True)


def ok(value: Any = None) -> Answer:
    return OK if value is None else Answer(True, value)


def error(desc: str, error_class: str = GENERIC) -> Answer:
    return Answer(False, error_class=error_class, desc=desc)


def with_events(answer: Answer, events: list[dict[str, Any]]) -> Answer:
    """``answer`` with the events the command emitted."""
    return replace(answer, events=tuple(events)) if events else answer


# Texts (qemu-domain.md §2.2 start-up checks, §2.3 blocker reasons, §5.3 verbs).
def node_not_found(name: str) -> Answer:
    return error(f"Cannot find device={name} nor node_name={name}")


def base_not_found(name: str) -> Answer:
    return error(f"Base '{name}' not found")


def device_in_use(name: str) -> Answer:
    return error(f"Device '{name}' is in use")


@lru_cache(maxsize=256)
def busy(node: str, reason: str) -> Answer:
    return error(f"Node '{node}' is busy: {reason}")


@lru_cache(maxsize=256)
def job_blocker_reason(job_type: str) -> str:
    return f"block device is in use by block job: {job_type}"


@lru_cache(maxsize=256)
def backing_blocker_reason(parent: str) -> str:
    return f"node is used as backing hd of '{parent}'"


@lru_cache(maxsize=256)
def no_job(name: str) -> Answer:
    return error(f"No active block job on device '{name}'", DEVICE_NOT_ACTIVE)


def job_paused(name: str) -> Answer:
    return error(f"The block job for device '{name}' is currently paused")


def cannot_complete(name: str) -> Answer:
    return error(f"The active block job for device '{name}' cannot be completed")


def negative_speed() -> Answer:
    return error("Parameter 'speed' expects a non-negative value")


def missing_argument(name: str) -> Answer:
    return error(f"Parameter '{name}' is missing")


# QAPI's input visitor and QMP's dispatcher, as QEMU 7.2 says them (observed
# on qemu-storage-daemon 7.2; QAPI has said them since 2.x, so the seed
# profile, a 2.8-era design, answers the same).
def invalid_type(name: str, expected: str) -> Answer:
    return error(f"Invalid parameter type for '{name}', expected: {expected}")


def unexpected_argument(name: str) -> Answer:
    return error(f"Parameter '{name}' is unexpected")


def enum_value(name: str, value: str) -> Answer:
    return error(f"Parameter '{name}' does not accept value '{value}'")


def qmp_member_type(member: str, expected: str) -> Answer:
    """``execute`` must be a string, ``arguments`` an object (null included)."""
    return error(f"QMP input member '{member}' must be {expected}")


def qmp_member_unexpected(member: str) -> Answer:
    return error(f"QMP input member '{member}' is unexpected")


def unknown_command(name: str) -> Answer:
    return error(f"The command {name} has not been found", "CommandNotFound")


def model_limit(text: str) -> Answer:
    return error(text, MODEL_LIMIT)
