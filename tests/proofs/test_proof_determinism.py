"""Same variant, same proof table and the same counterexamples, in any process.

The z3 queries are quantifier-free with a fixed seed, so a process that
builds them in the same order gets the same models; this pins that down
across interpreters with different string-hash salts (anything ordered by a
set of strings would differ).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
from blockcheck.proofs.proofs import proof_rows
rows = {v: [[r.claim, r.status.value, r.detail] for r, _ in proof_rows(v)] for v in sys.argv[1:]}
print(json.dumps(rows))
"""

#: One fault with counterexamples of both kinds (induction and safety); each costs two proof runs.
VARIANTS = ["root-only-query"]


def _rows(hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT, *VARIANTS], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_counterexamples_are_the_same_in_every_process() -> None:
    first, second = _rows("0"), _rows("12345")
    assert first == second
    details = [detail for rows in first.values() for _, status, detail in rows if status != "proved"]
    assert len(details) >= 2 and all(details)  # the failures are there and each prints its counterexample
