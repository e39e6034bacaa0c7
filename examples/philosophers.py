"""Dining philosophers who each take the left fork, then the right one.

Philosopher ``i`` sits between fork ``i`` (on the left) and fork ``i + 1``
(on the right, modulo N).  Each one thinks, takes the left fork when it is
free, then the right fork when it is free, eats, and puts both down.  When
all of them hold their left fork, no one can go on: the classic deadlock,
which the engine must find with a trace of exactly N steps (one
``take_left`` per philosopher: fewer steps cannot put N forks in hands).

The state is the tuple of the philosophers' phases; who holds a fork is
derived from it rather than stored, so the two cannot disagree.

>>> m = Philosophers(3)
>>> m.actions((EATING, THINKING, THINKING))
[('put_down', 0), ('take_left', 2)]
>>> m.actions((HAS_LEFT, HAS_LEFT, HAS_LEFT))
[]
"""

from __future__ import annotations

from blockcheck.checker.api import Model
from blockcheck.checker.property import Property, always, sometimes

THINKING, HAS_LEFT, EATING = range(3)
PHASES = ("thinking", "has-left", "eating")


class Philosophers(Model):
    action_names = ("take_left", "take_right", "put_down")

    def __init__(self, n: int = 5) -> None:
        if n < 2:
            raise ValueError(f"dining needs at least 2 philosophers, not {n}")
        self.n = n
        self.name = f"philosophers-{n}"

    def init_states(self) -> list[tuple[int, ...]]:
        return [(THINKING,) * self.n]

    def fork_free(self, state: tuple[int, ...], fork: int) -> bool:
        """Fork ``fork`` is left of philosopher ``fork`` and right of the one before."""
        return state[fork] == THINKING and state[fork - 1] != EATING

    def actions(self, state: tuple[int, ...]) -> list[tuple[str, int]]:
        enabled = []
        for i, phase in enumerate(state):
            if phase == THINKING and self.fork_free(state, i):
                enabled.append(("take_left", i))
            elif phase == HAS_LEFT and self.fork_free(state, (i + 1) % self.n):
                enabled.append(("take_right", i))
            elif phase == EATING:
                enabled.append(("put_down", i))
        return enabled

    def next_state(self, state: tuple[int, ...], action: tuple[str, int]) -> tuple[int, ...]:
        name, i = action
        phase = {"take_left": HAS_LEFT, "take_right": EATING, "put_down": THINKING}[name]
        return state[:i] + (phase,) + state[i + 1 :]

    def properties(self) -> list[Property]:
        return [
            always(
                "neighbours-never-eat-together",
                "two philosophers who share a fork never eat at the same time",
                lambda s: not any(s[i] == EATING and s[i - 1] == EATING for i in range(len(s))),
            ),
            sometimes("someone-eats", "some philosopher gets both forks", lambda s: EATING in s),
        ]

    def format_state(self, state: tuple[int, ...]) -> str:
        return " ".join(f"p{i}={PHASES[phase]}" for i, phase in enumerate(state))

    def format_action(self, action: tuple[str, int]) -> str:
        return f"{action[0]}(p{action[1]})"
