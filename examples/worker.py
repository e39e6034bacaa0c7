"""A worker that must finish its job while a clock ticks: a liveness toy.

The state is ``(done, clock)``.  ``tick`` flips the clock and is always
enabled; ``finish`` ends the job, and with ``gated`` it is enabled only
while the clock reads 0, as if a shared resource were free on even ticks.
Whether ``eventually(done)`` holds depends on the fairness declared:

- no fairness: the worker may idle forever (a stuttering lasso);
- weak fairness on ``finish``: it holds, since ``finish`` stays enabled;
- gated, weak fairness on both: it fails again, with a real cycle, tick
  after tick, because ``finish`` is disabled every other state and weak
  fairness asks nothing of an action that is not continuously enabled;
- gated, weak on ``tick`` and strong on ``finish``: it holds, since strong
  fairness asks that an action enabled infinitely often be taken.

>>> Worker().actions((0, 0))
[('tick',), ('finish',)]
>>> Worker(gated=True).actions((0, 1))
[('tick',)]
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from blockcheck.checker.api import Fairness, Model
from blockcheck.checker.property import Property, eventually, leads_to


class Worker(Model):
    action_names = ("tick", "finish")

    def __init__(self, fairness: Mapping[str, Fairness] | None = None, gated: bool = False) -> None:
        self.fair = dict(fairness or {})
        self.gated = gated
        self.name = "worker"

    def init_states(self) -> list[tuple[int, int]]:
        return [(0, 0)]

    def actions(self, state: tuple[int, int]) -> list[tuple[str]]:
        done, clock = state
        enabled = [("tick",)]
        if not done and (not self.gated or clock == 0):
            enabled.append(("finish",))
        return enabled

    def next_state(self, state: tuple[int, int], action: tuple[str]) -> tuple[int, int]:
        done, clock = state
        return (done, 1 - clock) if action == ("tick",) else (1, clock)

    def fairness(self, action: tuple[str]) -> tuple[Fairness, Hashable] | None:
        kind = self.fair.get(action[0])
        return None if kind is None else (kind, action[0])

    def properties(self) -> list[Property]:
        return [
            eventually("finishes", "the job is eventually done", lambda s: s[0] == 1),
            leads_to(
                "tick-leads-to-done",
                "once the clock has ticked, the job is eventually done",
                lambda s: s[1] == 1,
                lambda s: s[0] == 1,
            ),
        ]
