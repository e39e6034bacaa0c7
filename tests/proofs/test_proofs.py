"""Each proof holds for the rules as designed and fails for a variant that breaks it."""

from __future__ import annotations

import pytest

import z3

from blockcheck.checker.smt import Status
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import VARIANTS
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


def _expected_chain(variant: str) -> dict[str, Status]:
    if variant in BREAKS_INVARIANT:
        return {claim: Status.CTI for claim in CHAIN_CLAIMS}
    return {claim: Status.CTI if claim == BREAKS_CLAIM.get(variant) else Status.PROVED for claim in CHAIN_CLAIMS}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_chain_claims_match_the_hand_worked_matrix(variant: str) -> None:
    """Proved as designed and under the variant that changes only data (copy-reads-base); a
    counterexample to induction exactly where a variant breaks a rule."""
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


def test_chain_claims_do_not_depend_on_what_the_process_built_before() -> None:
    """Quantified queries once came out proved or unknown depending on earlier terms (z3's
    term order); the instantiated ones must not.  Build the BMC encoding first, then prove."""
    encoding = BlockEncoding(Scenario())
    BlockEncoding(Scenario()).transition(encoding.fresh("a"), z3.Int("act"), encoding.fresh("b"))
    statuses = {name: prove().status for name, prove, _ in chain_proofs.chain_claims("none")}
    assert set(statuses.values()) == {Status.PROVED}


def test_every_variant_fails_at_least_one_proof() -> None:
    """The tables above, each checked by its own test, cover every fault variant."""
    assert set(VARIANTS) - {"none"} == {*BREAKS_INVARIANT, *BREAKS_CLAIM, *BREAKS_DATA}
