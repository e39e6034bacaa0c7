"""Benchmark: the historical bugs (docs/historical-bugs.md) re-found, and the polling granularity's cost.

Prints one row per check, the median of several runs, each in a fresh
process:

- every qemu-7.2 historical variant on ``HISTORICAL_SCENARIO``, stopping at
  the first violation: the states explored until then, the seconds, the
  property and the length of its shortest counterexample;
- the seed profile's two variants that re-introduce a §7 bug, on the
  default seed scenario, the same way (its known findings expected);
- full checks, every property: the rules as designed on
  ``HISTORICAL_SCENARIO``, and the default qemu-7.2 scenario at both
  granularities (the issue's target: polling under 60 s on 2 cores).

    python bench/bench_historical.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
from dataclasses import replace
from blockcheck.checker.result import Verdict
from blockcheck.checker.search import explore
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import FINDINGS
from blockcheck.properties.mutants import HISTORICAL_SCENARIO, _build
where, variant, first = sys.argv[1], sys.argv[2], sys.argv[3] == "first"
scenario = {"historical": HISTORICAL_SCENARIO, "seed": Scenario(),
            "qemu-7.2": Scenario(profile="qemu-7.2"),
            "qemu-7.2-polling": Scenario(profile="qemu-7.2", completions="polling")}[where]
model, props = _build(replace(scenario, variant=variant))
start = time.perf_counter()
# the seed's known findings are violated by the design too: they tell no fault apart
known = set(FINDINGS) if where == "seed" else set()
result = explore(model, props, quiet=True, stop_at_first=first, expected=known)
seconds = time.perf_counter() - start
bad = sorted((len(p.trace), p.name) for p in result.properties
             if p.verdict is Verdict.VIOLATED and p.trace and p.name not in known)
print(json.dumps({"distinct": result.stats.distinct, "seconds": seconds, "exit": int(result.exit_code),
                  "violated": bad[0] if bad else None}))
"""

CHECKS = [
    ("historical", "8d3dd037d9-base-before-filter-drop", "first"),
    ("historical", "b1e1af394d-base-before-drain", "first"),
    ("historical", "8441d82d51-header-before-link", "first"),
    ("historical", "6585493369-no-chain-freeze", "first"),
    ("seed", "cancel-skips-complete", "first"),
    ("seed", "cancel-changes-chain", "first"),
    ("historical", "none", "all"),
    ("qemu-7.2", "none", "all"),
    ("qemu-7.2-polling", "none", "all"),
]


def run_once(where: str, variant: str, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, where, variant, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'scenario':<18} {'variant':<38} {'states':>8} {'seconds':>8}  first violation (states in trace)")
    for where, variant, mode in CHECKS:
        runs = [run_once(where, variant, mode) for _ in range(args.runs)]
        seconds = statistics.median(r["seconds"] for r in runs)
        first = runs[0]["violated"]
        found = f"{first[1]} ({first[0]})" if first else f"none (exit {runs[0]['exit']})"
        print(f"{where:<18} {variant:<38} {runs[0]['distinct']:>8} {seconds:>8.2f}  {found}", flush=True)


if __name__ == "__main__":
    main()
