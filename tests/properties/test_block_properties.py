"""The properties hold on the rules as designed and fail on the variants that break them.

Which family must catch which variant follows from the variant's
definition (model/variants.py), worked out by hand: e.g. checking blockers
on the top only lets a stream start across a running job's intermediate
node, which the blocker-walk check sees on that very edge.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import FINDINGS, FIX_VARIANTS, VARIANTS
from blockcheck.properties.block import FAMILIES, block_properties
from blockcheck.properties.mutants import holes, mutation_matrix

SMALL = Scenario(chain_length=3)


def check(scenario: Scenario):
    model = BlockModel(scenario)
    return model, explore(model, block_properties(model), stop_at_first=False, quiet=True)


def test_every_property_holds_with_its_witness_under_the_fix():
    _, result = check(Scenario(chain_length=4, variant="fix-change-checks-chain"))
    assert result.exit_code == 0
    assert {p.verdict for p in result.properties} == {Verdict.HOLDS}
    assert all(p.witness_reached for p in result.properties)
    assert {p.name.split(".")[0].split(":")[0] for p in result.properties} == set(FAMILIES)


#: A small scenario with header rewrites: a chain of four, so that a stream can hold a node
#: below its top whose header the user can re-point (8,456 states).
WITH_CHANGE = Scenario(
    chain_length=4,
    chunks=1,
    pauses_per_job=0,
    commands=("block-stream", "block-job-cancel", "change-backing-file"),
)


def test_the_design_violates_exactly_its_known_findings():
    """QEMU 2.8 checks CHANGE on the root only (docs/findings/).  Worked by hand on A <- B <- C:
    stream B base A holds B and leaves the root C free, so change-backing-file of B through
    drive0 is accepted: guarded-ops fails in state 2 (init + stream).  On A <- B <- C <- D,
    stream C base B leaves D free and C's header can be re-pointed at A: isolation fails on
    the rewrite itself (init + stream + rewrite: 3 states)."""
    _, result = check(SMALL)
    violated = {p.name: len(p.trace) for p in result.properties if p.verdict is Verdict.VIOLATED}
    assert violated == {"isolation.guarded-ops": 2}
    _, result = check(WITH_CHANGE)
    violated = {p.name: len(p.trace) for p in result.properties if p.verdict is Verdict.VIOLATED}
    assert violated == {"isolation.guarded-ops": 2, "isolation": 3}
    assert set(violated) == set(FINDINGS)
    trace = result.by_name("isolation").trace
    assert [s.action[0] for s in trace.steps[1:]] == ["block-stream", "change-backing-file"]


def test_the_fix_holds_with_header_rewrites_too():
    _, result = check(replace(WITH_CHANGE, variant="fix-change-checks-chain"))
    assert result.exit_code == 0
    assert all(p.witness_reached for p in result.properties)


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
    assert set(EXPECTED) | {"none"} | FIX_VARIANTS == set(VARIANTS)
    for variant, families in EXPECTED.items():
        assert families <= set(matrix[variant].caught), variant
    assert matrix["none"].violated == {"isolation.guarded-ops"}
    assert matrix["fix-change-checks-chain"].violated == set()
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


def test_a_new_violation_of_the_design_or_of_a_fix_is_reported(matrix):
    rows = list(matrix.values())
    broken = [replace(r, violated=r.violated | {"chain-integrity"}) if r.variant in ("none", "fix-change-checks-chain") else r for r in rows]
    problems = holes(broken)
    assert any("the rules as designed violate chain-integrity, which is not a known finding" in p for p in problems)
    assert any("fix variant 'fix-change-checks-chain' still violates chain-integrity" in p for p in problems)


def test_a_missing_family_or_an_uncaught_variant_is_reported(matrix):
    rows = [row for row in matrix.values() if row.variant not in ("cancel-changes-chain", "copy-reads-base")]
    problems = holes(rows)
    assert any("chain-integrity" in p for p in problems)
    assert any("guest-view-unchanged" in p for p in problems)
