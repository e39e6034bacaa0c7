"""Benchmark of the search engine on TwoPhase: distinct states per second and bytes per state.

Run it from the repository root:

    python bench/bench_engine.py            # N=7 and N=8, 3 runs each
    python bench/bench_engine.py 7 --runs 5

Each run is a fresh process, so that its peak resident set size (from
``getrusage``) belongs to that one search; bytes per state is the growth of
the peak over the search divided by the distinct states.  Every invariant
of the model is checked and parent links are kept, as in a real check.
The figures printed are the medians.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {3: 288, 5: 8_832, 7: 296_448, 8: 1_745_408, 9: 10_340_352}


def one_run(n: int) -> dict:
    """Explore TwoPhase(n) once in this process and measure it."""
    sys.path.insert(0, str(ROOT))
    from blockcheck.checker.search import explore
    from examples.two_phase import TwoPhase

    model = TwoPhase(n)
    props = model.properties()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = explore(model, props, progress=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if result.stats.distinct != EXPECTED.get(n, result.stats.distinct) or result.exit_code != 0:
        raise SystemExit(f"wrong result at N={n}: {result.stats.distinct} states, exit {int(result.exit_code)}")
    return {
        "distinct": result.stats.distinct,
        "generated": result.stats.generated,
        "seconds": seconds,
        "rss_growth": (after - before) * 1024,  # ru_maxrss is in KiB on Linux
    }


def measure(n: int, runs: int) -> None:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        samples.append(json.loads(done.stdout))
    distinct = samples[0]["distinct"]
    rates = [distinct / s["seconds"] for s in samples]
    per_state = [s["rss_growth"] / distinct for s in samples]
    print(
        f"TwoPhase N={n}: {distinct:,} states, {samples[0]['generated']:,} generated; "
        f"median of {runs}: {statistics.median(rates):,.0f} states/s "
        f"({statistics.median(s['seconds'] for s in samples):.2f} s), "
        f"{statistics.median(per_state):.0f} B/state"
    )
    print(
        "  runs: "
        + ", ".join(f"{r:,.0f}/s {b:.0f} B" for r, b in zip(rates, per_state))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[7, 8], help="numbers of resource managers")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_run(args.one)))
        return
    for n in args.sizes:
        measure(n, args.runs)


if __name__ == "__main__":
    main()
