"""checker/ground.py on hand-worked claims: proofs, real counterexamples at the smallest size, honest unknowns."""

from __future__ import annotations

import pytest
import z3

from blockcheck.checker.ground import Domain, Forall, ForallExists, check_every_size
from blockcheck.checker.smt import Status

N = z3.Int("n")
f = z3.Function("f", z3.IntSort(), z3.IntSort())
DOMAIN = Domain(size=N, small_sizes=range(1, 6), elements=lambda n: [z3.IntVal(i) for i in range(n)])


def inside(x: z3.ArithRef) -> z3.BoolRef:
    return z3.And(x >= 0, x < N)


def witnesses_only(witnesses):
    return list(witnesses)


def test_a_valid_claim_is_proved_for_every_size() -> None:
    premises = [N >= 1, Forall(1, lambda x: z3.Implies(inside(x), f(x) >= 0))]
    goal = [Forall(1, lambda x: z3.Implies(inside(x), f(x) + 1 >= 1))]
    assert check_every_size(DOMAIN, premises, goal, witnesses_only).status is Status.PROVED


def test_a_false_claim_gives_a_real_counterexample_at_the_smallest_size() -> None:
    """f >= 0 everywhere does not make f positive from position 2 on; the first size with a
    position 2 is 3, so that is the counterexample's size, and f is 0 there."""
    premises = [N >= 1, Forall(1, lambda x: z3.Implies(inside(x), f(x) >= 0))]
    goal = [Forall(1, lambda x: z3.Implies(z3.And(inside(x), x >= 2), f(x) > 0))]
    outcome = check_every_size(DOMAIN, premises, goal, witnesses_only)
    assert outcome.status is Status.VIOLATED
    assert outcome.model.eval(N).as_long() == 3
    assert outcome.model.eval(f(2)).as_long() == 0


def test_a_claim_false_only_beyond_the_small_sizes_is_unknown_not_proved() -> None:
    """Size 9 breaks the claim; sizes 1-5 cannot show it, and the symbolic check must not call it proved."""
    outcome = check_every_size(DOMAIN, [N >= 1], [N != 9], witnesses_only)
    assert outcome.status is Status.UNKNOWN
    assert "no counterexample with the named terms inside the domain at sizes 1-5" in outcome.reason


def test_too_few_instantiation_terms_give_unknown_and_enough_give_a_proof() -> None:
    """f(0) >= 0 and f(x) >= 0 => f(x+1) >= 0 give f(2) >= 0, but only through the instances at 0 and 1."""
    step = Forall(1, lambda x: z3.Implies(z3.And(inside(x), f(x) >= 0), f(x + 1) >= 0))
    premises = [N >= 3, f(0) >= 0, step]
    goal = [f(2) >= 0]
    assert check_every_size(DOMAIN, premises, goal, witnesses_only).status is Status.UNKNOWN
    enough = check_every_size(DOMAIN, premises, goal, lambda w: [z3.IntVal(0), z3.IntVal(1)])
    assert enough.status is Status.PROVED


def test_a_claim_false_only_outside_every_small_domain_is_unknown_not_violated() -> None:
    """x < 100 fails only at positions no small size has: no real counterexample, and no proof."""
    outcome = check_every_size(DOMAIN, [N >= 1], [Forall(1, lambda x: x < 100)], witnesses_only)
    assert outcome.status is Status.UNKNOWN


def test_a_witness_the_failure_does_not_depend_on_still_gives_a_counterexample() -> None:
    """The second variable plays no part: the counterexample is found with it inside the domain."""
    premises = [N >= 1, Forall(1, lambda x: z3.Implies(inside(x), f(x) >= 0))]
    goal = [Forall(2, lambda y, z: z3.Implies(inside(y), f(y) > 0))]
    outcome = check_every_size(DOMAIN, premises, goal, witnesses_only)
    assert outcome.status is Status.VIOLATED
    assert outcome.model.eval(N).as_long() == 1


def test_an_argument_bounded_only_by_a_universal_premise_is_held_to_it() -> None:
    """g(a) for an argument a, and every x with g(x) is a position: so a < n.  Instantiating the
    exact checks at the domain alone would let a = 7 at size 1, a counterexample that is not real."""
    a = z3.Int("a")
    g = z3.Function("g", z3.IntSort(), z3.BoolSort())
    premises = [N >= 1, g(a), Forall(1, lambda x: z3.Implies(g(x), inside(x)))]
    outcome = check_every_size(DOMAIN, premises, [a < N], lambda w: [*w, a])
    assert outcome.status is Status.PROVED


def test_a_forall_refuses_the_wrong_number_of_arguments() -> None:
    """z3's C API would read past the argument array; a clear error instead."""
    with pytest.raises(TypeError, match="takes 1 arguments, not 2"):
        Forall(1, lambda x: f(x) >= 0).at(z3.IntVal(0), z3.IntVal(1))


def test_an_exists_in_the_goal_is_proved_from_a_witness_among_the_terms() -> None:
    """Every position below the last has a larger f at some position: the next one is a
    witness, but only if x + 1 is among the instantiation terms of the refutation."""
    premises = [N >= 1, Forall(1, lambda x: z3.Implies(z3.And(inside(x), x + 1 < N), f(x) < f(x + 1)))]
    goal = [ForallExists(1, 1, lambda x, z: z3.Implies(z3.And(inside(x), x + 1 < N), z3.And(inside(z), f(z) > f(x))))]
    assert check_every_size(DOMAIN, premises, goal, witnesses_only).status is Status.UNKNOWN
    proved = check_every_size(DOMAIN, premises, goal, lambda w: [*w, w[0] + 1])
    assert proved.status is Status.PROVED


def test_an_exists_in_the_goal_with_no_witness_is_a_real_counterexample() -> None:
    """f(0) is the largest value nowhere forced: at size 2, f(1) <= f(0) leaves 0 without a larger f."""
    premises = [N >= 1]
    goal = [ForallExists(1, 1, lambda x, z: z3.Implies(z3.And(inside(x), x + 1 < N), z3.And(inside(z), f(z) > f(x))))]
    outcome = check_every_size(DOMAIN, premises, goal, witnesses_only)
    assert outcome.status is Status.VIOLATED
    model = outcome.model
    assert model.eval(N).as_long() == 2
    assert model.eval(f(1)).as_long() <= model.eval(f(0)).as_long()


def test_the_exists_belongs_to_its_own_clause_of_the_goal() -> None:
    """Two ∀∃ clauses: the first holds (z = x), the second fails; refuting either must not
    assume the other's ∀ (which would make every query unsat)."""
    g = z3.Function("g", z3.IntSort(), z3.BoolSort())
    premises = [N >= 1]
    holds = ForallExists(1, 1, lambda x, z: z3.Implies(inside(x), z3.And(inside(z), z == x)))
    fails = ForallExists(1, 1, lambda x, z: z3.Implies(inside(x), z3.And(inside(z), g(z))))
    assert check_every_size(DOMAIN, premises, [holds], witnesses_only).status is Status.PROVED
    assert check_every_size(DOMAIN, premises, [holds, fails], witnesses_only).status is Status.VIOLATED
