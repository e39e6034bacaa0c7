"""Real results to render, computed once per test session.

``cancel-skips-complete`` gives invariant, transition and stuttering
liveness counterexamples, ``cancel-never-completes`` liveness lassos, and
``none`` an all-pass run (the properties of the design's known findings
are left out, see report_support).  The worker example gives a lasso that is a real
cycle.  ``known`` expects two of cancel-skips-complete's violations (one
safety, one liveness) and ``stale`` expects one that the design does not have.
"""

from __future__ import annotations

import pytest
from blockcheck.checker.api import Fairness
from blockcheck.checker.search import explore
from report_support import Run, block_run

from examples.worker import Worker


@pytest.fixture(scope="session")
def skips() -> Run:
    return block_run("cancel-skips-complete")


@pytest.fixture(scope="session")
def hangs() -> Run:
    return block_run("cancel-never-completes")


@pytest.fixture(scope="session")
def passes() -> Run:
    return block_run("none")


@pytest.fixture(scope="session")
def known() -> Run:
    return block_run("cancel-skips-complete", expected=("no-leaked-blockers", "cancel-runs-complete.live:B"))


@pytest.fixture(scope="session")
def stale() -> Run:
    return block_run("none", expected=("no-leaked-blockers",))


@pytest.fixture(scope="session")
def cycle() -> Run:
    model = Worker(fairness={"tick": Fairness.WEAK, "finish": Fairness.WEAK}, gated=True)
    return Run(model, explore(model, model.properties(), stop_at_first=False, quiet=True))


@pytest.fixture(scope="session", params=["skips", "hangs", "cycle"])
def violating(request: pytest.FixtureRequest) -> Run:
    return request.getfixturevalue(request.param)
