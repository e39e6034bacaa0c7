"""Each proof holds where it should and fails for a variant that breaks it, and on the design for its finding.

The design has one: QEMU 2.8 checks change-backing-file's CHANGE on the
root only, so while a stream into an inner node runs, the nodes it holds
still accept a header rewrite (isolation.guarded-ops; and isolation itself
when change-backing-file is among the commands).  Its fix,
fix-change-checks-chain, must prove every claim.
"""

from __future__ import annotations

import pytest

import z3

from blockcheck.checker.smt import Status
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario
from blockcheck.model.variants import FINDINGS, FIX_VARIANTS, VARIANTS
from blockcheck.proofs import chain_proofs, data_proofs
from blockcheck.proofs.encoding import BlockEncoding


def _data(variant: str) -> dict[str, Status]:
    return {claim: prove().status for claim, prove, _ in data_proofs.data_claims(variant)}


def test_data_claims_proved_as_designed() -> None:
    assert set(_data("none").values()) == {Status.PROVED}


#: Variants that keep every chain rule but move data wrongly, and a data claim each breaks.
BREAKS_DATA = {
    "cancel-changes-chain": "guest-view: stream_complete of a cancelled job",
    "copy-reads-base": "guest-view: a stream copies one chunk",
}


@pytest.mark.parametrize(("variant", "claim"), BREAKS_DATA.items())
def test_data_claim_fails_under_its_variant(variant: str, claim: str) -> None:
    assert _data(variant)[claim] is Status.VIOLATED


def test_data_counterexample_prints_chain_and_contents() -> None:
    claim, prove, show = data_proofs.data_claims("copy-reads-base")[0]
    text = show(prove())
    assert "before:" in text and "after-copy:" in text and "reads chunk" in text


CHAIN_CLAIMS = [name for name, _, _ in chain_proofs.chain_claims("none")]
REWRITES = (*DEFAULT_COMMANDS, "change-backing-file")

#: The claims the rules as designed fail, by whether change-backing-file is among the commands:
#: the guarded command is accepted on a held node either way; as a step it also rewrites one.
DESIGN_FAILS = {False: {"isolation.guarded-ops"}, True: {"isolation", "isolation.guarded-ops"}}

#: Variants whose rules break the strengthening invariant itself, and the step that does it
#: (hand-worked: on two nodes, a job owned by node 0 with no base, then the named step):
#: a stream may start over an involved node (top-only-check), leave its middle unblocked
#: (no-intermediate-block), end without stream_complete and keep its blockers
#: (cancel-skips-complete), or drop its blockers while still in the chain (early-unblock).
BREAKS_INVARIANT = {
    "top-only-check": "block-stream",
    "no-intermediate-block": "block-stream",
    "cancel-skips-complete": "job returns",
    "early-unblock": "job returns",
}
#: Variants that keep the invariant but break one claim's own obligation.
BREAKS_CLAIM = {
    "root-only-query": "ownership-and-reporting",
    "device-field-empty": "ownership-and-reporting",
    "cancel-never-completes": "jobs-end: a finished job can complete",
    "cancel-changes-chain": "chain-integrity",
}


def _expected_chain(variant: str, rewrites: bool = False) -> dict[str, Status]:
    if variant in BREAKS_INVARIANT:
        return {claim: Status.CTI for claim in CHAIN_CLAIMS}
    # Every fault variant keeps the design's change-backing-file rule, so its finding too.
    failing = set() if variant in FIX_VARIANTS else set(DESIGN_FAILS[rewrites])
    failing |= {BREAKS_CLAIM[variant]} if variant in BREAKS_CLAIM else set()
    return {claim: Status.CTI if claim in failing else Status.PROVED for claim in CHAIN_CLAIMS}


#: CI runs the design, its fix and two faults; every variant runs with -m bench (minutes).
IN_CI = ("none", "fix-change-checks-chain", "top-only-check", "cancel-skips-complete")
BY_VARIANT = [pytest.param(v, id=v, marks=() if v in IN_CI else pytest.mark.bench) for v in VARIANTS]


@pytest.mark.parametrize("variant", BY_VARIANT)
def test_chain_claims_match_the_hand_worked_matrix(variant: str) -> None:
    """Proved under the fix; on the design and under the variant that changes only data
    (copy-reads-base) all but the finding; a counterexample to induction exactly where a
    variant breaks a rule."""
    results = {name: (prove(), show) for name, prove, show in chain_proofs.chain_claims(variant)}
    assert {name: result.status for name, (result, _) in results.items()} == _expected_chain(variant)
    if variant in BREAKS_INVARIANT:
        result, show = results["no-leaked-blockers"]
        assert show(result).startswith(f"consecution fails at {BREAKS_INVARIANT[variant]} (")
        assert "N = 2;" in show(result) and "before:" in show(result) and "after:" in show(result)
    if variant in BREAKS_CLAIM:
        claim = BREAKS_CLAIM[variant]
        result, show = results[claim]
        text = show(result)
        if claim == "chain-integrity":  # a claim about one step: its counterexample is the pair
            assert text.startswith("the step claim fails at stream_complete (") and "after:" in text
        else:
            assert text.startswith("safety fails: N = 2;") and "after:" not in text
    if variant == "none":
        # A stream into the middle node holds it; the root is free, so its header may be rewritten.
        result, show = results["isolation.guarded-ops"]
        text = show(result)
        assert text.startswith("safety fails: N = 3;") and "{stream->" in text and "after:" not in text


@pytest.mark.parametrize("variant", ["none", "fix-change-checks-chain"])
def test_chain_claims_with_header_rewrites(variant: str) -> None:
    """With change-backing-file a step, the design's rewrite of a held node's header breaks
    isolation at that step (four nodes: a held node with a header to re-point); the fix proves all."""
    results = {name: (prove(), show) for name, prove, show in chain_proofs.chain_claims(variant, REWRITES)}
    assert {name: result.status for name, (result, _) in results.items()} == _expected_chain(variant, rewrites=True)
    if variant == "none":
        assert DESIGN_FAILS[True] <= set(FINDINGS)  # the design's known findings (model/variants.py), no other
        result, show = results["isolation"]
        text = show(result)
        assert text.startswith("the step claim fails at change-backing-file (image=") and "N = 4;" in text
        assert "after:" in text


def test_chain_claims_do_not_depend_on_what_the_process_built_before() -> None:
    """Quantified queries once came out proved or unknown depending on earlier terms (z3's
    term order); the instantiated ones must not.  Build the BMC encoding first, then prove."""
    encoding = BlockEncoding(Scenario())
    BlockEncoding(Scenario()).transition(encoding.fresh("a"), z3.Int("act"), encoding.fresh("b"))
    statuses = {name: prove().status for name, prove, _ in chain_proofs.chain_claims("fix-change-checks-chain")}
    assert set(statuses.values()) == {Status.PROVED}


def test_every_variant_fails_at_least_one_proof() -> None:
    """The tables above, each checked by its own test, cover every fault variant."""
    assert set(VARIANTS) - {"none"} - FIX_VARIANTS == {*BREAKS_INVARIANT, *BREAKS_CLAIM, *BREAKS_DATA}
