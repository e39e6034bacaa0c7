"""The all-lengths encoding (chain_proofs.py) against the explicit model, edge by edge.

An induction proves something of the explicit model only if every move the
model makes is a move of the encoding.  Each reachable state of a small
scenario is mapped to the encoding's functions (chain membership, backing,
headers, jobs, blockers, rewrites left); every model step that changes that
image must be admitted by one of the encoded steps, with z3 evaluating the
step's clauses on the two concrete images.  The rules the claims are about
(which jobs query-block-jobs lists, when stream_complete is scheduled, which
guarded commands are refused) must say exactly what the model does, in both
directions.  And the rules as designed keep the strengthening invariant in
every reachable state, an explicit-state check of what the induction proves
symbolically.
"""

from __future__ import annotations

import pytest
import z3

from blockcheck.checker.ground import Clause, instantiate
from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import DEFAULT_COMMANDS, Scenario
from blockcheck.model.seed import GUARDED_OPS, blocker_bit
from blockcheck.model.state import (
    BACKING,
    BLOCKERS,
    CANCELLED,
    CHANGES_LEFT,
    HEADERS,
    J_BASE,
    J_FLAGS,
    J_OWNER,
    J_STATUS,
    JOBS,
    Kind,
    Status,
    in_chain,
)
from blockcheck.model.variants import VARIANTS
from blockcheck.proofs import chain_proofs as cp

Image = tuple[tuple[str, tuple, object], ...]


def image(state: tuple, n: int) -> Image:
    """The state as the encoding sees it: (function, arguments, value) for every position."""
    chain = in_chain(state[BACKING], n - 1)
    jobs = {job[J_OWNER]: job for job in state[JOBS]}
    cells: list[tuple[str, tuple, object]] = [("left", (), state[CHANGES_LEFT])]
    for p in range(n):
        cells.append(("inch", (p,), p in chain))
        if p in chain:
            cells += [("bk", (p,), state[BACKING][p]), ("hd", (p,), state[HEADERS][p])]
        job = jobs.get(p)
        cells.append(("has", (p,), job is not None))
        if job is not None:
            cells += [
                ("base", (p,), job[J_BASE]),
                ("finished", (p,), job[J_STATUS] == Status.FINISHED),
                ("cancelled", (p,), bool(job[J_FLAGS] & CANCELLED)),
            ]
        cells += [("blk", (p, o), bool(state[BLOCKERS][p] & blocker_bit(o, Kind.STREAM))) for o in range(n)]
        # The encoding knows stream jobs only (prove refuses scenarios with block-commit).
        assert not any(state[BLOCKERS][p] & blocker_bit(o, Kind.COMMIT) for o in range(n))
    return tuple(cells)


def pinned(s: cp.PState, cells: Image) -> list[z3.BoolRef]:
    return [getattr(s, name)(*args) == value for name, args, value in cells]


def holding(clauses: list[Clause], n: int) -> z3.Solver:
    """A solver holding the clauses on the chain of ``n`` positions (every ∀ at -1 .. n-1)."""
    solver = z3.Solver()
    solver.add(cp.N == n)
    domain = [z3.IntVal(p) for p in range(-1, n)]
    for clause in clauses:
        solver.add(*instantiate(clause, domain))
    return solver


def reachable(scenario: Scenario) -> list[tuple]:
    return list(explore(BlockModel(scenario), [], keep_graph=True, check_deadlock=False, quiet=True).graph.states)


def abstract_edges(scenario: Scenario) -> tuple[set[Image], dict[tuple[Image, Image], str]]:
    """Every reachable image, and every image-changing edge with one model action that makes it."""
    model, n = BlockModel(scenario), scenario.chain_length
    states: set[Image] = set()
    edges: dict[tuple[Image, Image], str] = {}
    for state in reachable(scenario):
        before = image(state, n)
        states.add(before)
        for action, after_state in model.successors(state):
            after = image(after_state, n)
            if after != before:
                edges.setdefault((before, after), str(action))
    return states, edges


SMALL = dict(chain_length=3, max_jobs=2, jobs_per_run=3, chunks=1, guest_writes=0)
#: With change-backing-file: four nodes, so that a held node's header has another node to name.
REWRITES = dict(SMALL, chain_length=4, max_jobs=1, jobs_per_run=2, pauses_per_job=0, commands=(*DEFAULT_COMMANDS, "change-backing-file"))

#: CI runs the design, its fix and two faults; every variant runs with -m bench (minutes).
IN_CI = ("none", "fix-change-checks-chain", "top-only-check", "cancel-skips-complete")
BY_VARIANT = [pytest.param(v, id=v, marks=() if v in IN_CI else pytest.mark.bench) for v in VARIANTS]


CASES = [pytest.param(SMALL, v, id=v, marks=() if v in IN_CI else pytest.mark.bench) for v in VARIANTS] + [
    pytest.param(REWRITES, v, id=f"rewrites-{v}") for v in ("none", "fix-change-checks-chain")
]


@pytest.mark.parametrize(("bounds", "variant"), CASES)
def test_every_model_step_from_an_invariant_state_is_an_encoded_step(bounds: dict, variant: str) -> None:
    scenario = Scenario(**bounds, variant=variant)
    n, commands = scenario.chain_length, scenario.commands
    pre, post = cp.pstate("pre"), cp.pstate("post")
    invariant = holding(cp.invariant(pre, commands), n)
    steps = {name: holding(clauses, n) for name, clauses in cp.steps(pre, post, variant, commands).items()}
    states, edges = abstract_edges(scenario)
    # Terms are built once per image: building them costs more than the checks.
    pre_pins = {cells: z3.And(pinned(pre, cells)) for cells in states}
    post_pins = {cells: z3.And(pinned(post, cells)) for cells in states}
    keeps = {cells: invariant.check(pre_pins[cells]) == z3.sat for cells in states}
    checked = 0
    for (before, after), action in edges.items():
        if not keeps[before]:
            continue  # the induction says nothing of states outside the invariant
        pins = (pre_pins[before], post_pins[after])
        assert any(solver.check(*pins) == z3.sat for solver in steps.values()), f"{variant}: the model's {action} is no encoded step"
        checked += 1
    assert checked > 20  # the scenario starts, finishes, cancels and completes jobs
    if "change-backing-file" in commands:
        assert any(action.startswith("('change-backing-file'") for action in edges.values())


@pytest.mark.parametrize("variant", BY_VARIANT)
def test_the_listing_and_scheduling_rules_say_what_the_model_does(variant: str) -> None:
    """In every reachable state and for every owner: the model schedules stream_complete iff
    ``complete_scheduled`` holds, and query-block-jobs lists the job under its expected name
    iff ``query_lists`` holds (a rule looser or stricter than the model would fail here)."""
    scenario = Scenario(**SMALL, variant=variant)
    model, n = BlockModel(scenario), scenario.chain_length
    pre = cp.pstate("pre")
    scheduled, lists = cp.complete_scheduled(variant), cp.query_lists(variant)
    solver = holding([], n)
    models: dict[Image, z3.ModelRef] = {}
    differences = 0
    for state in reachable(scenario):
        cells = image(state, n)
        if cells not in models:
            assert solver.check(*pinned(pre, cells)) == z3.sat
            models[cells] = solver.model()
        values = models[cells]
        enabled = {action[1] for action, _ in model.successors(state) if action[0] == "stream-complete"}
        devices = {info["device"] for info in model.rules.query_block_jobs(state)}
        for owner in range(n):
            expected = scenario.device if owner == scenario.root else scenario.node_names[owner]
            holds = z3.is_true(values.eval(scheduled(pre, z3.IntVal(owner)), model_completion=True))
            differences += holds != (owner in enabled)
            if z3.is_true(values.eval(pre.has(owner), model_completion=True)):
                listed = z3.is_true(values.eval(lists(pre, z3.IntVal(owner)), model_completion=True))
                differences += listed != (expected in devices)
    assert differences == 0


def guarded_differences(scenario: Scenario, rule_variant: str) -> list[str]:
    """The reachable states where, for some node and guarded command, the model's answer is not
    what ``guarded_refusals(rule_variant)`` says (refused iff it holds for some z, k: checked
    at every position and -1)."""
    model, n = BlockModel(scenario), scenario.chain_length
    pre = cp.pstate("pre")
    refusals = cp.guarded_refusals(rule_variant)
    assert set(refusals) == set(GUARDED_OPS)
    solver = holding([cp.N == n], n)
    positions = [z3.IntVal(p) for p in range(-1, n)]
    accepted = [
        z3.Not(z3.Or(*[refused(pre, z3.IntVal(y), z, k) for z in positions for k in positions]))
        for refused in refusals.values()
        for y in range(n)
    ]
    seen: set[tuple[Image, tuple]] = set()
    differences = []
    for state in reachable(scenario):
        cells = image(state, n)
        answers = tuple(model.rules.guarded_op(state, op, y).ok for op in refusals for y in range(n))
        if (cells, answers) in seen:
            continue
        seen.add((cells, answers))
        assert solver.check(*pinned(pre, cells)) == z3.sat
        values = solver.model()
        if tuple(z3.is_true(values.eval(a, model_completion=True)) for a in accepted) != answers:
            differences.append(model.format_state(state))
    return differences


@pytest.mark.parametrize(("bounds", "variant"), CASES)
def test_the_guarded_command_rules_say_what_the_model_does(bounds: dict, variant: str) -> None:
    differences = guarded_differences(Scenario(**bounds, variant=variant), variant)
    assert not differences, differences[:3]


def test_the_fixed_rule_is_not_what_the_design_does() -> None:
    """The twin: the check can fail.  A stream into B holds it; the design accepts a rewrite of
    B's header (the root is free), the fix refuses it."""
    assert guarded_differences(Scenario(**SMALL), "fix-change-checks-chain")


@pytest.mark.parametrize("bounds", [SMALL, dict(SMALL, chain_length=4), REWRITES], ids=["chain3", "chain4", "rewrites"])
def test_the_design_keeps_the_strengthening_invariant_in_every_reachable_state(bounds: dict) -> None:
    scenario = Scenario(**bounds)
    invariant = holding(cp.invariant(cp.pstate("pre"), scenario.commands), scenario.chain_length)
    states, _ = abstract_edges(scenario)
    broken = [cells for cells in states if invariant.check(*pinned(cp.pstate("pre"), cells)) != z3.sat]
    assert not broken and len(states) > 10


def test_a_variant_that_breaks_the_invariant_reaches_a_state_outside_it() -> None:
    """The twin of the test above: the check can fail, and does where the BFS finds a bug."""
    scenario = Scenario(**SMALL, variant="top-only-check")
    invariant = holding(cp.invariant(cp.pstate("pre")), 3)
    states, _ = abstract_edges(scenario)
    assert any(invariant.check(*pinned(cp.pstate("pre"), cells)) != z3.sat for cells in states)
