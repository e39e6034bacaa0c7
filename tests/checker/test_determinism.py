"""Same inputs, same counts and traces, whatever PYTHONHASHSEED says.

Fingerprints are Python's hash with -1 told apart from -2
(checker/fingerprint.py); the engine relies on CPython not salting the hash
of ints and tuples of ints.  Action names are strings, whose hash
*is* salted, so anything the engine ordered by a set of actions would show
up here as a difference between two processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
from blockcheck.checker.api import Fairness
from blockcheck.checker.property import always
from blockcheck.checker.search import explore
from examples.clock import Clock
from examples.philosophers import Philosophers
from examples.two_phase import TwoPhase
from examples.worker import Worker

def summary(result):
    def trace(t):
        return t and [[repr(s.action), repr(s.state)] for s in t.steps] + [t.loop, t.stutter, repr(t.loop_action)]
    return {
        "distinct": result.stats.distinct, "generated": result.stats.generated, "depth": result.stats.depth,
        "coverage": list(result.stats.coverage.items()), "exit": int(result.exit_code),
        "deadlock": trace(result.deadlock),
        "properties": [[p.name, p.verdict.value, trace(p.trace)] for p in result.properties],
    }

m = TwoPhase(4)
no_commit = always("no-commit", "no RM commits", lambda s: not any(s >> 2 * r & 3 == 2 for r in range(4)))
clock = Clock(3)
worker = Worker({"finish": Fairness.WEAK, "tick": Fairness.WEAK}, gated=True)
print(json.dumps([
    summary(explore(m, m.properties() + [no_commit], stop_at_first=False)),
    summary(explore(Philosophers(4), [])),
    summary(explore(clock, clock.properties() + [clock.hour_advances()], stop_at_first=False)),
    summary(explore(worker, worker.properties(), stop_at_first=False)),
]))
"""


def run(seed: str) -> list:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_two_processes_with_different_hash_seeds_agree():
    first, second = run("1"), run("4242")
    assert first == second
    two_phase = first[0]
    assert two_phase["distinct"] == 1568
    assert dict(p[:2] for p in two_phase["properties"])["no-commit"] == "violated"
