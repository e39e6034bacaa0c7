"""Symbolic BMC and the explicit BFS agree, property by property, on every fault variant.

Same verdict for every safety property (``always`` and ``transition``), and
BMC's shortest counterexample has exactly the BFS's length.  On the 3-node
chain a variant takes 10-25 s, so CI runs the design, its fix and two
faults there and the rest are marked bench; on the default chain every
case takes minutes and is marked bench (``pytest -m bench`` runs them, CI
does not).  With change-backing-file among the commands,
the design and its fix on a small 4-node scenario (where the design's
rewrite of a held node's header shows).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from blockcheck.checker.property import Kind
from blockcheck.checker.search import explore
from blockcheck.checker.smt import Bmc
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario
from blockcheck.model.variants import FINDINGS, FIX_VARIANTS, VARIANTS
from blockcheck.properties.block import block_properties
from blockcheck.proofs.encoding import BlockEncoding
from blockcheck.proofs.safety_smt import safety_properties

SMALL = Scenario(chain_length=3)
IN_CI = ("none", "fix-change-checks-chain", "top-only-check", "cancel-skips-complete")
#: The longest BFS counterexample over all variants, in steps, on either chain
#: (proofs.proofs.BMC_DEPTH is the same number for the default chain).
LONGEST = 5

#: change-backing-file on four nodes, one job per run (tests/proofs/test_encoding.py says why four).
REWRITES = Scenario(
    chain_length=4, commands=(*DEFAULT_COMMANDS, "change-backing-file"), chunks=1, guest_writes=0, pauses_per_job=0, jobs_per_run=1
)

CASES = (
    # CI runs the design, its fix and two faults on the 3-node chain; -m bench every variant.
    [pytest.param(SMALL, v, id=f"chain3-{v}", marks=() if v in IN_CI else pytest.mark.bench) for v in VARIANTS]
    + [pytest.param(REWRITES, v, id=f"rewrites-{v}") for v in ("none", "fix-change-checks-chain")]
    # The default chain: 1.5-4 min a variant, so with -m bench, not in CI.
    + [pytest.param(Scenario(), v, id=f"default-{v}", marks=pytest.mark.bench) for v in VARIANTS]
)


def bfs_lengths(scenario: Scenario) -> dict[str, int | None]:
    model = BlockModel(scenario)
    props = [p for p in block_properties(model) if p.kind in (Kind.ALWAYS, Kind.TRANSITION)]
    result = explore(model, props, stop_at_first=False, quiet=True)
    return {p.name: (len(p.trace) - 1 if p.trace else None) for p in result.properties}


def bmc_lengths(scenario: Scenario, depth: int) -> dict[str, int | None]:
    enc = BlockEncoding(scenario)
    invariants, edges = safety_properties(enc)
    hits = Bmc(fresh=lambda k: enc.fresh(str(k)), init=enc.init, trans=enc.transition).run(invariants, edges, depth)
    return {name: (hit.steps if hit else None) for name, hit in hits.items()}


@pytest.mark.parametrize(("chain", "variant"), CASES)
def test_bmc_finds_what_bfs_finds_at_the_same_length(chain: Scenario, variant: str) -> None:
    scenario = replace(chain, variant=variant)
    bfs = bfs_lengths(scenario)
    assert max((n for n in bfs.values() if n is not None), default=0) <= LONGEST
    bmc = bmc_lengths(scenario, LONGEST)
    assert bmc == bfs
    failed = {name for name, n in bmc.items() if n is not None}
    if variant in FIX_VARIANTS:
        assert not failed
    elif variant == "none":
        # The design fails only its known findings (isolation.guarded-ops; isolation too with rewrites).
        assert failed and failed <= set(FINDINGS)
    elif variant != "cancel-never-completes":
        # Every variant that breaks a safety rule makes at least one BMC claim fail;
        # cancel-never-completes breaks only liveness (jobs-end), out of BMC's scope.
        assert failed
