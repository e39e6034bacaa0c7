"""The block-commit guest-view claims: proved as designed, and each able to fail where it should."""

from __future__ import annotations

import pytest

from blockcheck.checker.smt import Status
from blockcheck.model.variants import VARIANTS
from blockcheck.proofs import data_proofs

COPY = "guest-view: a commit copies one chunk"
SUCCESS = "guest-view: commit-complete after success"
CANCELLED = "guest-view: commit-complete of a cancelled job"
PREFIX = "guest-view: commit copies keep the committed-prefix invariant"


def _commit_claims(variant: str) -> dict[str, tuple]:
    claims = {name: (prove, show) for name, prove, show in data_proofs.data_claims(variant)}
    return {name: claims[name] for name in (COPY, SUCCESS, CANCELLED, PREFIX)}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_commit_claims_proved_but_cancelled_under_cancel_changes_chain(variant: str) -> None:
    """As designed every claim is proved; of the variants only cancel-changes-chain changes
    what a commit does to links or data, and only the cancelled completion shows it."""
    broken = {CANCELLED} if variant == "cancel-changes-chain" else set()
    expected = {name: Status.VIOLATED if name in broken else Status.PROVED for name in (COPY, SUCCESS, CANCELLED, PREFIX)}
    assert {name: prove().status for name, (prove, _) in _commit_claims(variant).items()} == expected


def test_cancelled_commit_counterexample_prints_both_chains() -> None:
    prove, show = _commit_claims("cancel-changes-chain")[CANCELLED]
    text = show(prove())
    assert text.startswith("commit top=position")
    assert "before:" in text and "after-commit:" in text and "reads chunk" in text


def test_success_claim_fails_when_the_redirect_comes_before_the_last_copy() -> None:
    """A completion that redirects with chunks still uncopied must be caught: the
    committed-prefix invariant then covers only part of the chunks."""
    outcome = data_proofs._commit_complete("none", cancelled=False, all_copied=False)
    assert outcome.status is Status.VIOLATED
    _, show = _commit_claims("none")[SUCCESS]
    assert "after-commit:" in show(outcome)
