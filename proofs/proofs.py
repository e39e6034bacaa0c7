"""``blockcheck prove``: every z3 proof of the block model, as one table and one exit code.

Three kinds of rows, each with the scope it covers:

- "all contents": guest-view claims per data-moving action (data_proofs.py);
- "all chain lengths": the inductive invariant of chain_proofs.py and the
  claims it implies, with the scenario's commands (change-backing-file
  makes header rewrites a step) and no other bound of the scenario;
- "k = N steps": BMC of every safety property of properties/block.py on the
  scenario (encoding.py + safety_smt.py), to the depth of the longest BFS
  counterexample of the default scenario over all variants.  Finding
  nothing there is "no violation up to k", never "proved"; liveness
  properties are listed as out of BMC's scope.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import IO

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.smt import Bmc, Induction, Outcome, Row, Status, interruptible, render_rows
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario

from . import chain_proofs, data_proofs
from .encoding import BlockEncoding
from .safety_smt import safety_properties

#: Steps of the longest BFS counterexample of the default scenario, over every variant
#: (no-leaked-blockers under top-only-check and early-unblock: 6 states).
#: tests/proofs/test_bmc_agrees_with_bfs.py recomputes it.
BMC_DEPTH = 5

#: Claims each BMC row is named after that are invariants (exit 12) rather than edges (exit 13).
INVARIANT_CLAIMS = frozenset(
    {
        "isolation.guarded-ops",
        "blockers-checked-everywhere.disjoint",
        "no-leaked-blockers",
        "chain-integrity.acyclic",
        "ownership-and-reporting",
    }
)


def proof_rows(variant: str, commands: Collection[str] = DEFAULT_COMMANDS) -> list[tuple[Row, bool]]:
    """The rows that need of the scenario only its commands: (row, is an invariant claim)."""
    rows = []
    for claim, prove, show in chain_proofs.chain_claims(variant, commands):
        started = time.perf_counter()
        result = prove()
        row = Row(claim, "all chain lengths", result.status, time.perf_counter() - started, _detail(result, show))
        rows.append((row, claim in INVARIANT_CLAIMS))
    for claim, prove, show in data_proofs.data_claims(variant):
        outcome = prove()
        rows.append((Row(claim, "all contents, all chain lengths", outcome.status, outcome.seconds, _detail(outcome, show)), False))
    return rows


def bmc_rows(scenario: Scenario, depth: int = BMC_DEPTH) -> list[tuple[Row, bool]]:
    """One row per safety property: its shortest violation within ``depth`` steps, or none."""
    enc = BlockEncoding(scenario)
    invariants, edges = safety_properties(enc)
    bmc = Bmc(fresh=lambda k: enc.fresh(str(k)), init=enc.init, trans=enc.transition)
    started = time.perf_counter()
    hits = bmc.run(invariants, edges, depth)
    seconds = time.perf_counter() - started
    rows = []
    for name, hit in hits.items():
        scope = f"k = {depth} steps"
        if hit is None:
            rows.append((Row(name, scope, Status.BOUNDED, seconds), name in INVARIANT_CLAIMS))
            continue
        trace = [enc.decode(hit.model, s) for s in bmc.states[: hit.steps + 1]]
        rows.append((Row(name, scope, Status.VIOLATED, seconds, format_trace(scenario, trace, hit.steps)), name in INVARIANT_CLAIMS))
    rows.append((Row("liveness (cancel-runs-complete.live, jobs-end)", "out of BMC's scope", Status.UNKNOWN, 0.0), False))
    return rows


def format_trace(scenario: Scenario, states: list[tuple], steps: int) -> str:
    """The BMC counterexample as the checker draws states, one per line."""
    from blockcheck.model.block_model import BlockModel

    model = BlockModel(scenario)
    lines = [f"violated after {steps} step(s):"]
    lines += [f"  {i}: {model.format_state(s)}" for i, s in enumerate(states)]
    return "\n".join(lines)


def _detail(result: Induction | Outcome, show) -> str:
    return show(result) if result.status is not Status.PROVED else ""


def run_prove(scenario: Scenario, variant: str, out: IO[str] | None = None) -> int:
    """Run every proof for ``variant`` and print the table; the exit code of checker/exitcodes.py.

    0 when every claim is proved (BMC: no violation up to k), 12 when an
    invariant-type claim is violated, 13 for any other failed claim
    (violated, counterexample to induction, unknown), 255 on an internal
    error.  The scenario's own variant is replaced by ``variant``.
    """
    try:
        from dataclasses import replace

        scenario = replace(scenario, variant=variant)
        with interruptible():
            rows = proof_rows(variant, scenario.commands) + bmc_rows(scenario)
    except Exception as exc:  # an internal error must still give the documented exit code
        print(f"internal error in blockcheck prove: {type(exc).__name__}: {exc}", file=out)
        return int(ExitCode.INTERNAL)
    render_rows([r for r, _ in rows], f"blockcheck prove: {scenario.profile}, variant {variant}", out)
    return int(exit_code(rows))


def exit_code(rows: list[tuple[Row, bool]]) -> ExitCode:
    """12 if an invariant-type claim is violated, else 13 if anything else failed, else 0.

    A counterexample to induction fails the run (13) but is not a violation
    (12): its state satisfies the invariant without being shown reachable.
    """
    failed = [(r, inv) for r, inv in rows if r.status in (Status.VIOLATED, Status.CTI) or (r.status is Status.UNKNOWN and r.scope != "out of BMC's scope")]
    if any(inv and r.status is Status.VIOLATED for r, inv in failed):
        return ExitCode.INVARIANT
    return ExitCode.LIVENESS if failed else ExitCode.OK
