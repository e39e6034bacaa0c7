"""Each proof holds for the rules as designed and fails for a variant that breaks it."""

from __future__ import annotations

import pytest

from blockcheck.checker.smt import Status
from blockcheck.properties import chain_proofs, data_proofs


def _data(variant: str) -> dict[str, Status]:
    return {claim: prove().status for claim, prove, _ in data_proofs.data_claims(variant)}


def test_data_claims_proved_as_designed() -> None:
    assert set(_data("none").values()) == {Status.PROVED}


@pytest.mark.parametrize(
    ("variant", "claim"),
    [
        ("cancel-changes-chain", "guest-view: stream_complete of a cancelled job"),
        ("copy-reads-base", "guest-view: a stream copies one chunk"),
    ],
)
def test_data_claim_fails_under_its_variant(variant: str, claim: str) -> None:
    assert _data(variant)[claim] is Status.VIOLATED


def test_data_counterexample_prints_chain_and_contents() -> None:
    claim, prove, show = data_proofs.data_claims("copy-reads-base")[0]
    text = show(prove())
    assert "before:" in text and "after-copy:" in text and "reads chunk" in text


@pytest.mark.parametrize(
    ("variant", "claim"),
    [
        ("cancel-never-completes", "jobs-end: a finished job can complete"),
        ("device-field-empty", "ownership-and-reporting"),
    ],
)
def test_chain_claim_fails_under_its_variant(variant: str, claim: str) -> None:
    """The claim must not be proved; z3 may settle it as violated (with a readable state
    pair) or, depending on its term order, run out of budget (unknown), which fails too."""
    claims = {name: (prove, show) for name, prove, show in chain_proofs.chain_claims(variant)}
    prove, show = claims[claim]
    result = prove()
    assert result.status in (Status.VIOLATED, Status.UNKNOWN)
    if result.status is Status.VIOLATED:
        assert "before:" in show(result)


def test_chain_claims_are_never_violated_as_designed() -> None:
    statuses = {name: prove().status for name, prove, _ in chain_proofs.chain_claims("none")}
    assert Status.VIOLATED not in statuses.values()
