"""Benchmark of ``blockcheck conform``: random walks of the qemu-7.2 model replayed on qemu-storage-daemon.

    python bench/bench_conform.py [--traces 1000] [--seed 0] [--steps 12]

Replays the walks in every QMP form (QEMU's defaults, bottom, named
filters, job-* verbs) and prints how many agreed, the steps compared, the
drain steps followed, the wall time and the time per trace.  Needs QEMU 7.2
(Debian: qemu-utils, qemu-system-common).  Exit status: conform's.
"""

from __future__ import annotations

import argparse
import sys
import time

from blockcheck.conformance.cli import run_conform


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    started = time.perf_counter()
    code = run_conform(args.traces, args.seed, None, steps=args.steps, with_counterexamples=False)
    seconds = time.perf_counter() - started
    print(f"conform, {args.traces} walks of {args.steps} lines (seed {args.seed}), every QMP form: exit {code}, "
          f"{seconds:.0f} s in all, {seconds / args.traces:.2f} s per trace")
    return code


if __name__ == "__main__":
    sys.exit(main())
