"""The z3 relation and the explicit model agree state by state (no drift between the two encodings).

Exhaustive on chain_length=3 (12k states) and on the default scenario (82k
states, marked slow), every candidate action, through the relation compiled
to Python; the solver-level check of the assembled relation runs on a
fixed-seed sample of the default scenario, because one solver query per
state would take far longer.
"""

from __future__ import annotations

import random

import pytest
import z3

from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from blockcheck.proofs.encoding import BlockEncoding, equal


def _states(scenario: Scenario) -> list[tuple]:
    result = explore(BlockModel(scenario), [], keep_graph=True, check_deadlock=False, quiet=True)
    return list(result.graph.states)


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(Scenario(chain_length=3), id="chain3"),
        # Every one of the 82,579 reachable states: about 80 s.
        pytest.param(Scenario(), id="default", marks=pytest.mark.slow),
    ],
)
def test_relation_admits_exactly_the_explicit_successors(scenario: Scenario) -> None:
    model, enc = BlockModel(scenario), BlockEncoding(scenario)
    successors = enc.compiled_successors()
    for state in _states(scenario):
        assert successors(state) == set(model.successors(state)), model.format_state(state)


def test_a_changed_rule_is_caught() -> None:
    """Twin: the relation of another variant disagrees with the explicit model somewhere."""
    scenario = Scenario(chain_length=3)
    model = BlockModel(scenario)
    successors = BlockEncoding(scenario, variant="copy-reads-base").compiled_successors()
    assert any(successors(s) != set(model.successors(s)) for s in _states(scenario))


def test_solver_enumerates_exactly_the_successors_on_a_sample_of_the_default() -> None:
    scenario = Scenario()
    model, enc = BlockModel(scenario), BlockEncoding(scenario)
    pre, post, act = enc.fresh("pre"), enc.fresh("post"), z3.Int("act")
    solver = z3.Solver()
    solver.add(enc.transition(pre, act, post))
    sample = random.Random(4).sample(_states(scenario), 25)
    for state in sample:
        solver.push()
        solver.add(equal(pre, enc.constant(state)))
        found = set()
        while solver.check() == z3.sat:
            m = solver.model()
            after = enc.decode(m, post)
            index = m.eval(act).as_long()
            owner = enc.actions[index][1] if enc.actions[index][0] == "block-job-cancel" else None
            status = next((j[4] for j in state[2] if j[0] == owner), 0)
            found.add((enc.action_of(index, status), after))
            solver.add(z3.Not(z3.And(act == index, equal(post, enc.constant(after)))))
        solver.pop()
        assert found == set(model.successors(state)), model.format_state(state)
