"""The mutation check: every fault variant against every property family.

A variant that no property catches is a hole in the properties; a family
that catches no variant proves nothing (it might be true of any model).
The rules as designed may violate only their known findings, and a fix
variant nothing at all.  ``blockcheck mutants`` prints the matrix and fails
on any of these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TextIO

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.result import Result, StopReason, Verdict
from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import FINDINGS, FIX_VARIANTS, VARIANTS

from .block import FAMILIES, block_properties


@dataclass(frozen=True)
class Row:
    variant: str
    #: family -> length of the shortest counterexample among its checks,
    #: not counting the properties the rules as designed violate too
    caught: dict[str, int]
    #: the names of the violated properties
    violated: frozenset[str]
    deadlock: int | None
    states: int
    result: Result


def mutation_matrix(scenario: Scenario, *, quiet: bool = True) -> list[Row]:
    """Check the rules as designed and every fault variant, collecting every violation."""
    rows = []
    design: frozenset[str] = frozenset()  # what the rules as designed violate ("none" comes first)
    for variant in VARIANTS:
        model = BlockModel(replace(scenario, variant=variant))
        props = block_properties(model)
        family = {p.name: p.group for p in props}
        result = explore(model, props, stop_at_first=False, quiet=quiet)
        if result.stop is StopReason.INTERRUPTED:
            raise KeyboardInterrupt  # the search ate Ctrl-C/SIGTERM; the matrix must stop too
        caught: dict[str, int] = {}
        violated = set()
        for prop in result.properties:
            if prop.verdict is Verdict.VIOLATED and prop.trace is not None:
                violated.add(prop.name)
                if prop.name in design and variant not in FIX_VARIANTS:
                    continue  # the design violates it too: it tells no fault apart
                name = family[prop.name]
                caught[name] = min(caught.get(name, len(prop.trace)), len(prop.trace))
        deadlock = len(result.deadlock) if result.deadlock is not None else None
        rows.append(Row(variant, caught, frozenset(violated), deadlock, result.stats.distinct, result))
        if variant == "none":
            design = frozenset(violated)
    return rows


def holes(rows: list[Row]) -> list[str]:
    """Sentences naming each fault variant nobody catches, each family that catches
    no fault, a violation of the rules as designed beyond their known findings, and
    any violation under a fix variant."""
    problems = []
    for row in rows:
        if row.variant == "none":
            unknown = sorted(row.violated - set(FINDINGS))
            if unknown:
                problems.append(f"the rules as designed violate {', '.join(unknown)}, which is not a known finding")
        elif row.variant in FIX_VARIANTS:
            if row.violated or row.deadlock is not None:
                problems.append(f"fix variant {row.variant!r} still violates {', '.join(sorted(row.violated)) or 'deadlock freedom'}")
        elif not row.caught:
            problems.append(f"no property catches variant {row.variant!r}")
    faults = [row for row in rows if row.variant != "none" and row.variant not in FIX_VARIANTS]
    for family in FAMILIES:
        if not any(family in row.caught for row in faults):
            problems.append(f"property family {family!r} catches no variant, so it proves nothing yet")
    return problems


def print_matrix(rows: list[Row], out: TextIO) -> int:
    """Print the matrix (cells: shortest counterexample length) and return the exit code."""
    head = ["variant", "states", *FAMILIES, "deadlock"]
    table = [head]
    for row in rows:
        cells = [row.variant, str(row.states)]
        cells += [str(row.caught[f]) if f in row.caught else "." for f in FAMILIES]
        cells.append(str(row.deadlock) if row.deadlock is not None else ".")
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip(), file=out)
    print("\ncells: length of the shortest counterexample the family found ('.' = none)", file=out)
    print(f"known findings of the design (docs/findings/): {', '.join(sorted(FINDINGS))}", file=out)
    problems = holes(rows)
    for problem in problems:
        print(f"problem: {problem}", file=out)
    if problems:
        code = ExitCode.VACUOUS
    else:
        print("every fault variant is caught, every property family catches one, the design violates only its known findings and every fix holds", file=out)
        code = ExitCode.OK
    print(f"exit {int(code)}: {'mutation check failed' if problems else 'mutation check passed'}", file=out)
    return int(code)
