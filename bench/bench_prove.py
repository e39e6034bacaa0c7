"""Benchmark of ``blockcheck prove``: the scenario-free proofs, and BMC of the default scenario.

    python bench/bench_prove.py [--runs 3]

Prints the median over the runs of (1) every data and all-lengths proof of
run_prove and (2) BMC of every safety property of the default scenario to
the depth of the longest BFS counterexample (proofs.proofs.BMC_DEPTH).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time

from blockcheck.model.scenario import Scenario
from blockcheck.proofs.proofs import BMC_DEPTH, bmc_rows, proof_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    proofs, bmc = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proved = outcomes(proof_rows("none"))
        proofs.append(time.perf_counter() - started)
        started = time.perf_counter()
        bounded = outcomes(bmc_rows(Scenario(), BMC_DEPTH))
        bmc.append(time.perf_counter() - started)
    # A time is only worth reporting with what it bought: the results of the last run.
    print(f"proofs (data + all chain lengths), seed profile: median {statistics.median(proofs):.1f} s over {runs} runs; {proved}")
    print(f"BMC, default scenario, k = {BMC_DEPTH}: median {statistics.median(bmc):.1f} s over {runs} runs; {bounded}")


def outcomes(rows: list) -> str:
    """How many rows ended how; the liveness row that only says BMC does not cover liveness is left out."""
    counts = collections.Counter(row.status.value for row, _ in rows if row.scope != "out of BMC's scope")
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


if __name__ == "__main__":
    main()
