"""What both profiles' Models share: commands tried in every state, kept when they change it.

A profile gives :meth:`candidates` (every command the user could send and
every job step, accepted or not) and :meth:`apply` (QEMU's answer and the
next state); the engine's view follows.  Refused commands and accepted
no-ops are stuttering steps and add no edge; the properties still ask
``apply`` for their answers.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator

from blockcheck.checker.api import Model

from . import answers as A
from .scenario import Scenario
from .state import initial_state


class CommandModel(Model):
    scenario: Scenario

    @abstractmethod
    def candidates(self, state: tuple) -> Iterator[tuple]:
        """Every action that could be tried in ``state``, in a fixed order."""

    @abstractmethod
    def apply(self, state: tuple, action: tuple) -> tuple[A.Answer, tuple]:
        """QEMU's answer to ``action`` and the state after it (refusals keep the state)."""

    def init_states(self) -> list[tuple]:
        s = self.scenario
        return [initial_state(s.chain_length, s.chunks, s.guest_writes, s.jobs_per_run, s.header_changes)]

    def successors(self, state: tuple) -> list[tuple[tuple, tuple]]:
        out = []
        for action in self.candidates(state):
            answer, nxt = self.apply(state, action)
            if answer.ok and nxt != state:
                out.append((action, nxt))
        return out

    def actions(self, state: tuple) -> list[tuple]:
        return [action for action, _ in self.successors(state)]

    def next_state(self, state: tuple, action: tuple) -> tuple:
        return self.apply(state, action)[1]

    def answer(self, state: tuple, action: tuple) -> dict:
        """QEMU's reply to the action in ``state``; job steps answer ``{"return": {}}``."""
        return self.apply(state, action)[0].to_json()
