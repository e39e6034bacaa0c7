"""Universal claims decided without quantifiers reaching z3, so that answers never depend on term order.

Why: z3's quantifier engines (E-matching, MBQI) choose instances in an
order taken from term ids, that is from every term the process built
before.  The same quantified query was proved in one process and ran out
of budget in another.  Here a ``∀`` is a Python function; the solver only
ever sees its instances, so every query is quantifier-free (arrays or
uninterpreted functions with linear arithmetic), a decidable fragment
where z3's answer is the same whatever the order.  Only its time varies.

A claim ``premises ⇒ goal`` over a family of structures of size ``n``
(chain positions ``0 .. n-1``, say) is decided in two ways:

- **exactly, for small sizes**: with the size fixed to ``n``, every
  ``∀`` of the premises is instantiated at every element of the domain,
  and every term the caller names (arguments, the goal's witnesses, what
  they point to) is held to a domain value.  When the formulas are
  *domain-guarded* (what they say of values outside the domain can be met
  whatever the values inside it: a job's owner is a position, frames
  only copy) a model is a real counterexample at size ``n``.  Conversely
  every counterexample at size ``n`` is found if each named term is
  either forced into the domain by the premises or read only under a
  guard that holds inside it (a step's arguments by its precondition, a
  job's base only when it has the job);
- **for every size**: with the size symbolic, each ``∀`` of the premises
  is instantiated at a set of terms the caller names (the goal's skolem
  constants, the action's arguments, what they point to).  Fewer premises
  can only make a counterexample easier to find, so "unsat" proves the
  claim for every size.  "sat" proves nothing; it becomes ``unknown``
  when no small size gave a real counterexample either.

A goal's clause may also be ``∀x ∃z`` (:class:`ForallExists`): refuting it
asks for an x with no z, a universal over z that is instantiated with the
premises, in both checks.

Sat and unsat are the same in every process as long as a query stays
within the work budget (the largest here uses under 1% of it); which model
z3 picks for a counterexample (so the state printed) may still vary with
term order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import z3

from .smt import DEFAULT_BUDGET, Outcome, Status, check_valid

#: The sort of elements unless told otherwise: positions, indices, sizes.
INT = z3.IntSort()


class Forall:
    """``∀ x1 .. xk. body(x1, .., xk)`` over one sort (Int unless told), kept as a template to instantiate.

    The body is built once over placeholder constants; an instance is one
    substitution in z3's C API, which is much cheaper than rebuilding the
    body through the Python API (queries here have tens of thousands of instances).
    """

    def __init__(self, arity: int, body: Callable[..., z3.BoolRef], sort: z3.SortRef = INT) -> None:
        self.arity = arity
        self.sort = sort
        # Kept: the pointer array below does not hold z3 references, these objects do.
        self._placeholders = [z3.Const(f"forall.{i}", sort) for i in range(arity)]
        self.template = body(*self._placeholders)
        self._from = (z3.Ast * arity)(*(p.as_ast() for p in self._placeholders))

    def at(self, *args: z3.ExprRef) -> z3.BoolRef:
        """The body with the placeholders replaced by ``args``.

        This calls z3's C API directly: ``z3.substitute`` re-checks every
        pair's sorts in Python, which is most of the time of a query.
        """
        if len(args) != self.arity:
            raise TypeError(f"this Forall takes {self.arity} arguments, not {len(args)}")
        ctx = self.template.ctx
        to = (z3.Ast * self.arity)(*(a.as_ast() for a in args))
        return z3.BoolRef(z3.Z3_substitute(ctx.ref(), self.template.as_ast(), self.arity, self._from, to), ctx)


#: A conjunct of a premise or a goal: a ground formula or a universal one.
Clause = z3.BoolRef | Forall


class ForallExists:
    """``∀ x1 .. xk ∃ z1 .. zm. body(x1, .., xk, z1, .., zm)``: a goal, never a premise.

    Why: a claim such as "this command is refused" can read "some node on
    the command's walk carries a blocker", an ∃ under the claim's ∀.  Its
    negation, ``∃x ∀z ¬body``, is a universal clause once x is skolemized,
    and is instantiated like a premise (:func:`skolemize`), so the queries
    stay quantifier-free and the exact and every-size checks keep their
    meaning.  As a premise it would need a function for z, which nothing
    here instantiates.  The exact checks stay exact when the body is false
    for every z outside the domain (its ∃ looks for a position, say), since
    only the domain's elements instantiate z there.
    """

    def __init__(self, arity: int, exists: int, body: Callable[..., z3.BoolRef], sort: z3.SortRef = INT) -> None:
        self.arity = arity
        self.exists = exists
        self.sort = sort
        self.body = Forall(arity + exists, body, sort)


#: A conjunct of a goal.
Goal = Clause | ForallExists


def instantiate(clause: Clause, terms: Sequence[z3.ExprRef]) -> list[z3.BoolRef]:
    """The clause itself if ground, else its body at every tuple of ``terms``."""
    if not isinstance(clause, Forall):
        return [clause]
    return [clause.at(*args) for args in itertools.product(terms, repeat=clause.arity)]


def skolemize(goal: Sequence[Goal]) -> tuple[z3.BoolRef, list[z3.ExprRef], list[Forall]]:
    """``¬goal`` with each universal's variables replaced by fresh constants (which the result returns).

    A :class:`ForallExists` clause adds the universal part of its negation,
    the third item, to be instantiated with the premises; a selector
    constant ties it to the disjunct of ``¬goal`` that it belongs to.
    """
    witnesses: list[z3.ExprRef] = []
    negations = []
    refutations: list[Forall] = []
    for i, clause in enumerate(goal):
        if isinstance(clause, ForallExists):
            consts = [z3.Const(f"witness{i}.{j}", clause.sort) for j in range(clause.arity)]
            witnesses += consts
            chosen = z3.Bool(f"witness{i}.chosen")
            negations.append(chosen)
            refutations.append(_no_witness(clause, consts, chosen))
        elif isinstance(clause, Forall):
            consts = [z3.Const(f"witness{i}.{j}", clause.sort) for j in range(clause.arity)]
            witnesses += consts
            negations.append(z3.Not(clause.at(*consts)))
        else:
            negations.append(z3.Not(clause))
    return z3.Or(*negations), witnesses, refutations


def _no_witness(clause: ForallExists, consts: list[z3.ExprRef], chosen: z3.BoolRef) -> Forall:
    """``∀z. chosen ⇒ ¬body(consts, z)``: when this clause is the one refuted, no z satisfies it at ``consts``."""
    body = clause.body
    return Forall(clause.exists, lambda *z: z3.Implies(chosen, z3.Not(body.at(*consts, *z))), clause.sort)


def refute(premises: Sequence[Clause], negated_goal: z3.BoolRef, terms: Sequence[z3.ExprRef], budget: int) -> Outcome:
    """One quantifier-free query: the premises' instances at ``terms`` and the negated goal.

    PROVED means unsat (no counterexample even with these instances only),
    VIOLATED means sat (a model of these instances), UNKNOWN the budget ran out.
    """
    return check_valid([_conjunction(instantiate(clause, terms)) for clause in premises], z3.Not(negated_goal), budget)


@dataclass(frozen=True)
class Domain:
    """A family of structures by size: the size constant, the sizes to check exactly, the elements of one size.

    ``elements(n)`` must cover every value a domain-guarded formula can
    read at size ``n`` (for chain positions: ``-1`` for "none" and ``0 .. n-1``).
    """

    size: z3.ArithRef
    small_sizes: Sequence[int]
    elements: Callable[[int], list[z3.ExprRef]]


def check_every_size(
    domain: Domain,
    premises: Sequence[Clause],
    goal: Sequence[Goal],
    terms: Callable[[Sequence[z3.ExprRef]], Sequence[z3.ExprRef]],
    budget: int = DEFAULT_BUDGET,
) -> Outcome:
    """Is ``premises ⇒ goal`` valid at every size?  A real counterexample at a small size, a proof, or unknown.

    ``terms(witnesses)`` names the instantiation terms of the symbolic
    check, given the goal's skolem constants (which are always among
    them).  The exact checks hold those terms to domain values, so that an
    argument no ground clause bounds cannot take a value the premises say
    nothing of.  The first size (in the order given) with a counterexample
    is the one reported.
    """
    negated, witnesses, refutations = skolemize(goal)
    premises = [*premises, *refutations]
    symbolic_terms = _unique([*witnesses, *terms(witnesses)])
    spent = 0.0
    for n in domain.small_sizes:
        elements = domain.elements(n)
        inside = [z3.Or(*[t == e for e in elements]) for t in symbolic_terms if t.sort() == elements[0].sort()]
        exact = refute([*premises, *inside, domain.size == n], negated, elements, budget)
        spent += exact.seconds
        if exact.status is Status.VIOLATED:
            return Outcome(Status.VIOLATED, exact.model, spent)
        if exact.status is Status.UNKNOWN:
            return Outcome(Status.UNKNOWN, seconds=spent, reason=f"size {n}: {exact.reason}")
    general = refute(premises, negated, symbolic_terms, budget)
    spent += general.seconds
    if general.status is Status.PROVED:
        return Outcome(Status.PROVED, seconds=spent)
    reason = general.reason or (
        f"no counterexample with the named terms inside the domain at sizes {min(domain.small_sizes)}-"
        f"{max(domain.small_sizes)}, and the {len(symbolic_terms)} instantiation terms are too few for a proof"
    )
    return Outcome(Status.UNKNOWN, seconds=spent, reason=reason)


def _conjunction(formulas: list[z3.BoolRef]) -> z3.BoolRef:
    """``And(formulas)`` in one C call: the Python ``z3.And`` and ``Solver.add`` check each
    argument's sort in Python, which costs more than solving once there are thousands."""
    if not formulas:
        return z3.BoolVal(True)
    ctx = formulas[0].ctx
    args = (z3.Ast * len(formulas))(*(f.as_ast() for f in formulas))
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(formulas), args), ctx)


def _unique(terms: Sequence[z3.ExprRef]) -> list[z3.ExprRef]:
    """``terms`` without repeats (by structure, after simplification), in first-seen order."""
    seen: dict[int, z3.ExprRef] = {}
    for term in terms:
        simple = z3.simplify(term)
        seen.setdefault(simple.get_id(), simple)
    return list(seen.values())
