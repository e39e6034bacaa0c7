"""An alarm clock whose alarm hour may be mistyped: a vacuity toy.

The state is ``(hour, ringing)``.  ``tick`` advances the hour (0 to 23)
and silences the alarm; ``ring`` sounds it when the hour is the alarm
hour.  The invariant "the alarm never rings at night" carries the witness
"the alarm rings": with ``alarm=25`` (a typo for 5?) the alarm never
rings, the invariant passes for nothing, and the engine says *vacuous*
instead of *holds*.

>>> Clock(alarm=7).actions((7, 0))
[('tick',), ('ring',)]
"""

from __future__ import annotations

from blockcheck.checker.api import Model
from blockcheck.checker.property import Property, always, sometimes, transition

TICK, RING = ("tick",), ("ring",)


class Clock(Model):
    action_names = ("tick", "ring")

    def __init__(self, alarm: int = 7) -> None:
        self.alarm = alarm
        self.name = f"clock-alarm-{alarm}"

    def init_states(self) -> list[tuple[int, int]]:
        return [(0, 0)]

    def actions(self, state: tuple[int, int]) -> list[tuple[str]]:
        hour, ringing = state
        return [TICK, RING] if hour == self.alarm and not ringing else [TICK]

    def next_state(self, state: tuple[int, int], action: tuple[str]) -> tuple[int, int]:
        hour, _ = state
        return ((hour + 1) % 24, 0) if action == TICK else (hour, 1)

    def properties(self) -> list[Property]:
        return [
            always(
                "quiet-nights",
                "the alarm never rings between 22:00 and 07:00",
                lambda s: not s[1] or 7 <= s[0] < 22,
                witness=lambda s: s[1] == 1,
            ),
            sometimes("alarm-rings", "the alarm rings at some point", lambda s: s[1] == 1),
        ]

    def hour_advances(self) -> Property:
        """A transition property that fails at midnight, when 23 becomes 0."""
        return transition(
            "hour-advances",
            "each tick adds one to the hour",
            lambda before, action, after: action != TICK or after[0] == before[0] + 1,
        )
