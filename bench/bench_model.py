"""Benchmark: `blockcheck check` on the seed profile for chain lengths 3 to 8.

Prints, per chain length, the distinct states, the generated successors and
the seconds of a full check (every property, liveness included), the median
of several runs, each in a fresh process so caches start cold.  The target
of the project: the default scenario (chain length 5) in under 10 seconds
on a 2-core machine.

    python bench/bench_model.py [--runs 3] [--lengths 3,4,5,6,7,8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from blockcheck.properties.block import block_properties
model = BlockModel(Scenario(chain_length=int(sys.argv[1])))
start = time.perf_counter()
result = explore(model, block_properties(model), quiet=True)
seconds = time.perf_counter() - start
print(json.dumps({"distinct": result.stats.distinct, "generated": result.stats.generated,
                  "seconds": seconds, "exit": int(result.exit_code)}))
"""


def run_once(length: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(length)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lengths", default="3,4,5,6,7,8")
    args = parser.parse_args()
    print(f"{'length':>6} {'distinct':>10} {'generated':>11} {'median s':>9} {'states/s':>9} {'exit':>4}  runs (s)")
    for length in (int(x) for x in args.lengths.split(",")):
        runs = [run_once(length) for _ in range(args.runs)]
        median = statistics.median(r["seconds"] for r in runs)
        first = runs[0]
        times = ", ".join(f"{r['seconds']:.1f}" for r in runs)
        print(
            f"{length:>6} {first['distinct']:>10,} {first['generated']:>11,} {median:>9.1f} "
            f"{first['distinct'] / median:>9,.0f} {first['exit']:>4}  {times}",
            flush=True,
        )


if __name__ == "__main__":
    main()
