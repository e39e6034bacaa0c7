"""The mutation check: every fault variant against every property family.

A variant that no property catches is a hole in the properties; a family
that catches no variant proves nothing (it might be true of any model).
The rules as designed may violate only their known findings, and a fix
variant nothing at all.  ``blockcheck mutants`` prints the matrix and fails
on any of these.

Two matrices: the seed profile's fault variants, and the qemu-7.2
profile's historical variants (QEMU 7.2 with one fixed bug's fix taken
out, docs/historical-bugs.md) on :data:`HISTORICAL_SCENARIO`.  Every
historical variant must be caught; the families need not each catch one
there (these bugs lie in a few of them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TextIO

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.result import Result, StopReason, Verdict
from blockcheck.checker.search import explore
from blockcheck.checker.api import Model
from blockcheck.checker.property import Property
from blockcheck.model.block_model import BlockModel
from blockcheck.model.profiles import make_model
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import FINDINGS, FIX_VARIANTS, HISTORICAL, VARIANTS

from .block import FAMILIES, block_properties
from .qemu72 import qemu72_properties

#: Where the historical variants are checked: the smallest qemu-7.2 scenario
#: in which a commit and a stream may end together (chain 4, both jobs
#: finalized by themselves, the stream named by its bottom), with cancel so
#: that every property's witness is reached, at the polling granularity.
HISTORICAL_SCENARIO = Scenario(
    profile="qemu-7.2",
    chain_length=4,
    commands=("block-stream", "block-commit", "block-job-cancel"),
    qmp_forms=("auto-finalize", "bottom"),
    completions="polling",
)


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


def _build(scenario: Scenario) -> tuple[Model, list[Property]]:
    if scenario.profile == "seed":
        model = BlockModel(scenario)
        return model, block_properties(model)
    model = make_model(scenario)
    return model, qemu72_properties(model)


def mutation_matrix(scenario: Scenario, *, quiet: bool = True) -> list[Row]:
    """Check the rules as designed and every variant of the scenario's
    profile (the seed's fault variants, or qemu-7.2's historical ones),
    collecting every violation."""
    rows = []
    design: frozenset[str] = frozenset()  # what the rules as designed violate ("none" comes first)
    names = VARIANTS if scenario.profile == "seed" else ("none", *HISTORICAL)
    for variant in names:
        model, props = _build(replace(scenario, variant=variant))
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
    if any(row.variant in HISTORICAL for row in rows):
        return problems  # a historical bug lies in a few families; each must only be caught
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
    elif any(row.variant in HISTORICAL for row in rows):
        print("every historical variant is caught, and the design violates only its known findings", file=out)
        code = ExitCode.OK
    else:
        print("every fault variant is caught, every property family catches one, the design violates only its known findings and every fix holds", file=out)
        code = ExitCode.OK
    print(f"exit {int(code)}: {'mutation check failed' if problems else 'mutation check passed'}", file=out)
    return int(code)
