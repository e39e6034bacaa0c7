"""Golden state counts of the default scenarios.

A change to the model that alters the state space shows up here as a diff;
update a number only together with an explanation in the commit message.
The counts were taken by this project's BFS and cross-checked against a
plain set-based BFS over ``BlockModel.successors`` (test below).
"""

from __future__ import annotations

import pytest

from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from tests.checker.engine_support import naive_count

GOLDEN = [
    # (scenario, distinct states, generated successors)
    (Scenario(chain_length=3), 12_371, 47_231),
    (Scenario(chain_length=4), 35_967, None),
    (Scenario(), 82_579, 320_808),
]


@pytest.mark.parametrize(("scenario", "distinct", "generated"), GOLDEN, ids=lambda v: getattr(v, "chain_length", v))
def test_golden_state_counts(scenario: Scenario, distinct: int, generated: int | None) -> None:
    result = explore(BlockModel(scenario), [], quiet=True)
    assert result.stats.distinct == distinct
    if generated is not None:
        assert result.stats.generated == generated
    assert result.deadlock is None


def test_engine_count_matches_a_plain_bfs() -> None:
    model = BlockModel(Scenario(chain_length=3))
    assert naive_count(model) == explore(model, [], quiet=True).stats.distinct


def test_every_declared_action_is_enabled_somewhere() -> None:
    result = explore(BlockModel(Scenario()), [], quiet=True)
    assert result.stats.never_enabled == []
    assert set(result.stats.coverage) >= {"block-stream", "job-copy", "stream-complete", "block-job-cancel", "job-exit"}
