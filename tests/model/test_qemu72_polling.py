"""The polling granularity of the qemu-7.2 profile, and the historical bugs it re-finds.

Hand-worked cases first: a job's end split where QEMU 7.2 polls (model
point 9), the monitor waiting while a poll runs, prepares nesting, a cancel
of a job whose exit is pending.  Then test_overlapping_5 of iotest 030 (a
stream whose base is a commit's filter, the commit finishing inside the
stream's prepare), step by step: on the rules as designed the stream's top
ends on the commit's base, under each historical variant on a node the
commit had dropped (qemu-domain.md §7).  Last, the mutation matrix of the
historical variants, with the shortest counterexample of each.

Scenario: A <- B <- C <- D (D the active layer), 2 chunks.
"""

from __future__ import annotations

import pytest

from blockcheck.checker.search import explore
from blockcheck.model import answers as A
from blockcheck.model.profiles import make_model
from blockcheck.model.qemu72 import DEFERRED, DRAINING, DROPPING, J_EXIT, J_NEST, JobStatus
from blockcheck.model.qemu72 import JOB_STEPS
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.scenario import Scenario, ScenarioError
from blockcheck.model.state import BACKING, HEADERS, JOBS, J_STATUS, find_job, in_chain
from blockcheck.model.variants import HISTORICAL
from blockcheck.properties.mutants import HISTORICAL_SCENARIO, holes, mutation_matrix
from blockcheck.properties.qemu72 import qemu72_properties
from tests.model.test_qemu72_forms import OK, call, status

A_, B, C, D = range(4)


def model_of(variant: str = "none", **extra) -> Qemu72Model:
    return make_model(Scenario(**{**vars_of(HISTORICAL_SCENARIO), "variant": variant, **extra}))


def vars_of(scenario: Scenario) -> dict:
    return {name: getattr(scenario, name) for name in scenario.__dataclass_fields__}


def step(name: str, job: str) -> dict:
    return {"step": name, "job": job}


def play(model: Qemu72Model, *lines: dict) -> tuple[list[tuple], list[list[dict]]]:
    """Every state along the script (the initial one first) and each line's events;
    each line must be accepted."""
    executor, states, events = Executor72(model.rules), [model.init_states()[0]], []
    for line in lines:
        answer, state = executor.execute(states[-1], line)
        assert answer.ok, (line, answer.to_json())
        states.append(state)
        events.append(list(answer.events))
    return states, events


COMMIT_B = call("block-commit", **{"job-id": "commit-B", "device": "D", "top-node": "B", "base-node": "A",
                                   "auto-dismiss": False})
#: test_overlapping_5's stream: its above_base is C itself, its base the commit's filter.
STREAM_C = call("block-stream", **{"job-id": "stream-C", "device": "C", "bottom": "C", "auto-dismiss": False})


def test_a_streams_end_is_split_where_qemu_polls():
    """Point 9: the run returns (still running, no event), job_exit (waiting,
    pending), the filter's drop, the drain, then the link and COMPLETED."""
    model = model_of()
    stream = call("block-stream", **{"job-id": "stream-C", "device": "C", "base-node": "A", "auto-dismiss": False})
    states, events = play(model, stream, step("job-copy", "stream-C"), step("job-exit", "stream-C"),
                          step("job-prepare", "stream-C"), step("job-prepare", "stream-C"))
    started, returned, exited, drained, done = states[1:]
    assert find_job(returned[JOBS], C)[J_EXIT] == DEFERRED and events[1] == []
    assert model.rules.graph(returned)["D"] == "filter:stream-C"
    assert events[2] == status("stream-C", "waiting", "pending")
    assert find_job(exited[JOBS], C)[J_EXIT] == DROPPING and model.rules.graph(exited)["D"] == "C"
    assert exited[BACKING] == drained[BACKING] == started[BACKING]
    assert find_job(drained[JOBS], C)[J_EXIT] == DRAINING and events[3] == []
    assert done[BACKING][C] == A_ and done[HEADERS][C] == A_
    assert [e["event"] for e in events[4]] == ["BLOCK_JOB_COMPLETED", "JOB_STATUS_CHANGE"]


def test_the_monitor_and_the_guest_wait_while_a_poll_runs():
    model = model_of()
    states, _ = play(model, COMMIT_B, STREAM_C, step("job-exit", "stream-C"))
    polling = states[-1]
    assert {a[0] for a in model.candidates(polling)} <= set(JOB_STEPS)
    assert {a[0] for a, _ in model.successors(polling)} == {"job-prepare"}
    # at the top level the user may act again
    assert "block-job-cancel" in {a[0] for a in model.candidates(states[-2])}


def test_a_prepare_that_starts_inside_a_poll_finishes_before_the_outer_one_goes_on():
    """Two streams whose runs returned at their start (nothing to copy): the
    second one's job_exit runs inside the first one's poll, one level deeper,
    and only the innermost prepare goes on."""
    model = model_of()
    outer = call("block-stream", **{"job-id": "stream-D", "device": "D", "base-node": "C", "auto-dismiss": False})
    inner = call("block-stream", **{"job-id": "stream-B", "device": "B", "base-node": "A", "auto-dismiss": False})
    states, _ = play(model, outer, inner, step("job-exit", "stream-D"), step("job-exit", "stream-B"))
    nested = states[-1]
    assert [find_job(nested[JOBS], n)[J_NEST] for n in (D, B)] == [1, 2]
    assert list(model.rules.job_steps(nested)) == [("job-prepare", B)]
    states2, _ = play(model, outer, inner, step("job-exit", "stream-D"), step("job-exit", "stream-B"),
                      step("job-prepare", "stream-B"), step("job-prepare", "stream-B"))
    assert list(model.rules.job_steps(states2[-1])) == [("job-prepare", D)]


def test_a_cancel_of_a_job_whose_exit_is_pending_aborts_it_and_a_pause_is_not_modelled():
    """job_cancel_locked on a deferred job: job_completed_txn_abort_locked at once (§2.6)."""
    model = model_of()
    states, events = play(model, STREAM_C, call("block-job-cancel", device="stream-C"))
    job = find_job(states[-1][JOBS], C)
    assert job[J_STATUS] == JobStatus.CONCLUDED and job[J_EXIT] == 0  # no job_exit left to run
    assert events[-1][0] == status("stream-C", "aborting")[0]
    assert "job-exit" not in {a[0] for a in model.candidates(states[-1])}
    answer, _ = Executor72(model.rules).execute(states[1], call("block-job-pause", device="stream-C"))
    assert answer.error_class == A.MODEL_LIMIT


#: test_overlapping_5 per variant: the script after the two jobs' start, and
#: the node the stream's top C backs onto at the end.  The commit's exit runs
#: inside the stream's prepare, after the stream read its base in the variants.
OVERLAPPING_5 = {
    "none": ([step("job-copy", "commit-B"), step("job-exit", "stream-C"), step("job-prepare", "stream-C"),
              step("job-exit", "commit-B"), step("job-prepare", "stream-C")], A_),
    "8d3dd037d9-base-before-filter-drop": (
        [step("job-copy", "commit-B"), step("job-exit", "stream-C"), step("job-exit", "commit-B"),
         step("job-prepare", "stream-C"), step("job-prepare", "stream-C")], B),
    "b1e1af394d-base-before-drain": (
        [step("job-copy", "commit-B"), step("job-exit", "stream-C"), step("job-prepare", "stream-C"),
         step("job-exit", "commit-B"), step("job-prepare", "stream-C")], B),
    "8441d82d51-header-before-link": (
        [step("job-copy", "commit-B"), step("job-exit", "stream-C"), step("job-prepare", "stream-C"),
         step("job-prepare", "stream-C"), step("job-exit", "commit-B"), step("job-prepare", "stream-C")], B),
}


@pytest.mark.parametrize("variant", OVERLAPPING_5)
def test_overlapping_5_ends_on_the_commits_base_only_with_every_fix(variant):
    """qemu-domain.md §6.2: afterwards node4 (here C) backs onto img0 (A).  A
    variant's stale base is the commit's top B, which the commit had dropped,
    so B comes back into the device's chain."""
    tail, expected = OVERLAPPING_5[variant]
    states, _ = play(model_of(variant), COMMIT_B, STREAM_C, *tail)
    final = states[-1]
    assert final[BACKING][C] == expected
    assert (B in in_chain(final[BACKING], D)) == (variant != "none")
    # the commit did drop B: between its exit and the stream's last step the chain was D, C, A
    assert any(in_chain(s[BACKING], D) == {D, C, A_} for s in states)


def test_the_design_runs_the_variants_scripts_too_and_ends_on_the_commits_base():
    """The design at the base-reading variants' interleavings (the commit's exit
    inside the filter drop's poll, inside the drain's): the base is read after
    every poll, so the answer does not depend on when the commit's exit ran.
    (The 8441d82d51 interleaving needs a header stage the design lacks.)"""
    for variant in ("8d3dd037d9-base-before-filter-drop", "b1e1af394d-base-before-drain"):
        tail, _ = OVERLAPPING_5[variant]
        states, _ = play(model_of(), COMMIT_B, STREAM_C, *tail)
        assert states[-1][BACKING][C] == A_, variant


def test_without_the_chain_freeze_a_stream_across_a_commits_filter_starts_and_its_pointer_dangles():
    """test_overlapping_4 (qemu-domain.md §6.2): stream C base-node B while
    commit B -> A runs is refused by the freeze; without it the stream starts
    with the commit's filter as its above_base, which the commit frees."""
    stream = call("block-stream", **{"job-id": "stream-C", "device": "C", "base-node": "B", "auto-dismiss": False})
    commit = call("block-commit", **{"job-id": "commit-B", "device": "D", "top-node": "B", "base-node": "A",
                                     "auto-dismiss": False})
    design = model_of()
    states, _ = play(design, commit)
    answer, _ = Executor72(design.rules).execute(states[-1], stream)
    assert answer.to_json() == {"error": {"class": "GenericError", "desc": "Cannot freeze 'backing' link to '#blockN'"}}
    model = model_of("6585493369-no-chain-freeze")
    states, _ = play(model, commit, stream)
    dangling = next(p for p in qemu72_properties(model) if p.name == "chain-integrity.no-dangling")
    assert dangling.pred(states[-1])
    states, _ = play(model, commit, stream, step("job-copy", "commit-B"), step("job-exit", "commit-B"))
    assert not dangling.pred(states[-1])


def test_a_variant_inside_a_jobs_end_needs_the_polling_granularity():
    with pytest.raises(ScenarioError, match="add --completions polling"):
        model_of("b1e1af394d-base-before-drain", completions="atomic")
    with pytest.raises(ScenarioError, match="belongs to the seed profile"):
        model_of("early-unblock")


def test_the_atomic_granularity_has_no_exit_steps():
    model = make_model(Scenario(profile="qemu-7.2"))
    assert "job-exit" not in model.action_names and "job-prepare" not in model.action_names


def test_the_polling_default_scenario_holds_with_every_witness():
    """A regression pin: 79,012 states (the atomic granularity has 13,427)."""
    model = make_model(Scenario(profile="qemu-7.2", completions="polling"))
    result = explore(model, qemu72_properties(model), quiet=True)
    assert result.stats.distinct == 79012
    assert all(p.verdict.name == "HOLDS" for p in result.properties), [
        (p.name, p.verdict) for p in result.properties if p.verdict.name != "HOLDS"]


@pytest.fixture(scope="module")
def matrix():
    return {row.variant: row for row in mutation_matrix(HISTORICAL_SCENARIO)}


#: The properties each historical variant violates, and the shortest
#: counterexample (states) of the first; hand-checked against the traces
#: above: start both jobs, the commit's copy, the stream's exit, its prepare
#: parts with the commit's exit inside.
CAUGHT = {
    "8d3dd037d9-base-before-filter-drop": ({"chain-integrity", "chain-integrity.only-shrinks"}, 8),
    "b1e1af394d-base-before-drain": ({"chain-integrity", "chain-integrity.only-shrinks"}, 8),
    "8441d82d51-header-before-link": ({"chain-integrity", "chain-integrity.only-shrinks"}, 9),
    "6585493369-no-chain-freeze": (
        {"isolation", "chain-integrity", "chain-integrity.only-shrinks", "chain-integrity.no-dangling"}, 4),
}


def test_every_historical_variant_is_caught_and_the_design_holds(matrix):
    assert set(matrix) == {"none", *HISTORICAL} == {"none", *CAUGHT}
    assert matrix["none"].violated == frozenset() and matrix["none"].states == 51188
    for variant, (violated, shortest) in CAUGHT.items():
        row = matrix[variant]
        assert row.violated == violated, variant
        assert min(row.caught.values()) == shortest, variant
    assert holes(list(matrix.values())) == []


def test_an_uncaught_historical_variant_is_a_problem(matrix):
    rows = [row for row in matrix.values() if row.variant != "b1e1af394d-base-before-drain"]
    blind = matrix["b1e1af394d-base-before-drain"]
    rows.append(type(blind)(blind.variant, {}, frozenset(), None, blind.states, blind.result))
    assert holes(rows) == ["no property catches variant 'b1e1af394d-base-before-drain'"]
