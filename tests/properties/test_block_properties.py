"""The properties hold on the rules as designed and fail on the variants that break them.

Which family must catch which variant follows from the variant's
definition (model/variants.py), worked out by hand: e.g. checking blockers
on the top only lets a stream start across a running job's intermediate
node, which the blocker-walk check sees on that very edge.
"""

from __future__ import annotations

import pytest

from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import VARIANTS
from blockcheck.properties.block import FAMILIES, block_properties
from blockcheck.properties.mutants import holes, mutation_matrix

SMALL = Scenario(chain_length=3)


def check(scenario: Scenario):
    model = BlockModel(scenario)
    return model, explore(model, block_properties(model), stop_at_first=False, quiet=True)


def test_every_property_holds_with_its_witness_on_the_design():
    _, result = check(Scenario(chain_length=4))
    assert result.exit_code == 0
    assert {p.verdict for p in result.properties} == {Verdict.HOLDS}
    assert all(p.witness_reached for p in result.properties)
    assert {p.name.split(".")[0].split(":")[0] for p in result.properties} == set(FAMILIES)


@pytest.fixture(scope="module")
def matrix():
    return {row.variant: row for row in mutation_matrix(SMALL)}


EXPECTED = {
    "top-only-check": {"blockers-checked-everywhere"},
    "no-intermediate-block": {"isolation", "blockers-checked-everywhere"},
    "cancel-skips-complete": {"cancel-runs-complete", "no-leaked-blockers"},
    "root-only-query": {"ownership-and-reporting"},
    "device-field-empty": {"ownership-and-reporting"},
    "early-unblock": {"isolation"},
    "cancel-changes-chain": {"chain-integrity", "guest-view-unchanged"},
    "copy-reads-base": {"guest-view-unchanged"},
    "cancel-never-completes": {"jobs-end"},
}


def test_each_variant_is_caught_by_the_families_that_guard_its_rule(matrix):
    assert set(EXPECTED) | {"none"} == set(VARIANTS)
    for variant, families in EXPECTED.items():
        assert families <= set(matrix[variant].caught), variant
    assert matrix["none"].caught == {}
    assert holes(list(matrix.values())) == []


def test_shortest_counterexamples_have_the_hand_derived_length(matrix):
    # One stream into B (not the root) is enough for a faulty query: init + 1 step.
    assert matrix["root-only-query"].caught["ownership-and-reporting"] == 2
    assert matrix["device-field-empty"].caught["ownership-and-reporting"] == 2
    # stream B (base none) then stream C base A across B's job: init + 2 steps.
    assert matrix["top-only-check"].caught["blockers-checked-everywhere"] == 3
    # stream, cancel, exit without stream_complete: init + 3 steps.
    assert matrix["cancel-skips-complete"].caught["cancel-runs-complete"] == 4


def test_the_counterexample_replays_through_the_qmp_script_layer():
    from blockcheck.model.commands import Executor

    model, result = check(Scenario(chain_length=3, variant="cancel-skips-complete"))
    trace = result.by_name("cancel-runs-complete").trace
    executor = Executor(model.rules)
    state = trace.steps[0].state
    for step in trace.steps[1:]:
        answer, state = executor.execute(state, model.action_to_json(step.action))
        assert answer.ok
        assert state == step.state


def test_a_missing_family_or_an_uncaught_variant_is_reported(matrix):
    rows = [row for row in matrix.values() if row.variant not in ("cancel-changes-chain", "copy-reads-base")]
    problems = holes(rows)
    assert any("chain-integrity" in p for p in problems)
    assert any("guest-view-unchanged" in p for p in problems)
