"""The qemu-7.2 model as a QMP log drives it: QEMU's timing, no data.

A log shows when each job's run ended (its ``waiting`` event), not how much
it copied on the way, and it carries no image contents.  So for trace
validation the model's jobs run until the log says their run ended
(:meth:`LogRules.end_run`), rather than until their chunks are copied, and
its images hold nothing, so what the guest reads never changes by itself
(the data properties hold trivially on a log, which the validator says).
Everything else, every check and answer, is :class:`.qemu72.Qemu72Rules`'.
"""

from __future__ import annotations

from .qemu72 import JobStatus, Qemu72Rules
from .qemu72_model import Qemu72Model
from .scenario import Scenario
from .state import DATA, J_CURSOR, J_STATUS, JOBS, find_job, put


class LogRules(Qemu72Rules):
    """Jobs that advance only when told their run is over."""

    def advance(self, state: tuple, job: tuple, events: list[dict]) -> tuple:
        """A job's run goes on until :meth:`end_run`: its start and a resume
        copy nothing the log could show."""
        return state

    def end_run(self, state: tuple, owner: int) -> tuple[tuple, list[dict]]:
        """The run of the job of ``owner`` is over (QEMU said ``waiting``, or
        for an active commit ``ready``): the job goes to PENDING and on as
        its options say, or an active commit to READY (Qemu72Rules.advance)."""
        job = find_job(state[JOBS], owner)
        if job is None or job[J_STATUS] != JobStatus.RUNNING:
            raise ValueError(f"no running job of owner {owner} to end")
        events: list[dict] = []
        done = self._set(job, J_CURSOR, self.chunks)
        return super().advance(self._with_job(state, job, done), done, events), events


class LogModel(Qemu72Model):
    """Qemu72Model over :class:`LogRules`, its images empty."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario, LogRules(scenario))

    def init_states(self) -> list[tuple]:
        state = super().init_states()[0]
        return [put(state, DATA, tuple((0,) * self.scenario.chunks for _ in state[DATA]))]
