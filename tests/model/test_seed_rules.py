"""Hand-worked cases of the seed profile's rules, each from the seed or qemu-domain.md.

Every expected value here was worked out by hand from the design text, not
read back from the model.
"""

from __future__ import annotations

import pytest

from blockcheck.model.block_model import BlockModel
from blockcheck.model.commands import Executor, parse_script
from blockcheck.model.qmp_schema import ScriptError
from blockcheck.model.scenario import Scenario, ScenarioError
from blockcheck.model.state import BACKING, BLOCKERS, DATA, JOBS, between, chain_below, has_cycle, in_chain, view

A, B, C, D, E = range(5)


def run(lines: list[dict], **scenario) -> tuple[list[dict], tuple, BlockModel]:
    """Replay script lines from the initial state; returns the answers and the last state."""
    model = BlockModel(Scenario(**scenario))
    executor = Executor(model.rules)
    state = model.init_states()[0]
    answers = []
    for line in lines:
        answer, state = executor.execute(state, line)
        answers.append(answer.to_json())
    return answers, state, model


def cmd(name: str, **args) -> dict:
    return {"execute": name, "arguments": args}


def step(name: str, job: str) -> dict:
    return {"step": name, "job": job}


OK = {"return": {}}
BUSY_STREAM = "block device is in use by block job: stream"


def test_initial_chain_and_data():
    model = BlockModel(Scenario())
    state = model.init_states()[0]
    # [A] <- [B] <- [C] <- [D] <- [E]: each node's backing is the one to its left.
    assert state[BACKING] == (-1, A, B, C, D)
    assert chain_below(state[BACKING], E) == (D, C, B, A)
    assert between(state[BACKING], E, B) == (D, C)
    assert in_chain(state[BACKING], E) == {A, B, C, D, E}
    # A holds both chunks (value 1); B holds chunk 0 (2); C chunk 1 (3); D chunk 0 (4); E chunk 1 (5).
    assert state[DATA] == ((1, 1), (2, 0), (0, 3), (4, 0), (0, 5))
    assert view(state[BACKING], state[DATA], E) == (4, 5)
    assert view(state[BACKING], state[DATA], C) == (2, 3)
    assert not has_cycle(state[BACKING])
    assert has_cycle((1, 0, 1))


def test_stream_into_intermediate_blocks_owner_and_intermediates_not_base():
    answers, state, model = run([cmd("block-stream", device="D", base="A")])
    assert answers == [OK]
    blocked = {i for i, bits in enumerate(state[BLOCKERS]) if bits}
    assert blocked == {D, C, B}  # the seed's point 3: owner and nodes strictly between; not the base A
    (job,) = state[JOBS]
    assert job[0] == D


def test_blockers_checked_on_every_node_down_to_the_base():
    busy_c = {"error": {"class": "GenericError", "desc": f"Node 'C' is busy: {BUSY_STREAM}"}}
    answers, _, _ = run([cmd("block-stream", device="C", base="A"), cmd("block-stream", device="drive0", base="B")])
    assert answers == [OK, busy_c]  # C lies between E and B: the walk from E down to B meets it
    answers, _, _ = run([cmd("block-stream", device="C", base="A"), cmd("block-stream", device="drive0", base="C")])
    assert answers == [OK, OK]  # E's range is E, D: the running job's owner C is its base, not blocked


def test_top_only_variant_accepts_what_the_design_refuses():
    lines = [cmd("block-stream", device="C", base="A"), cmd("block-stream", device="drive0", base="B")]
    answers, state, _ = run(lines, variant="top-only-check")
    assert answers == [OK, OK]
    assert len(state[JOBS]) == 2


def test_stream_complete_redirects_owner_only_on_success():
    lines = [cmd("block-stream", device="D", base="B"), step("job-copy", "D"), step("job-copy", "D"), step("stream-complete", "D")]
    answers, state, _ = run(lines)
    assert answers == [OK] * 4
    assert state[BACKING][D] == B  # [A] <- [B] <- [D] <- [E]; C left the chain
    assert C not in in_chain(state[BACKING], E)
    assert state[JOBS] == () and not any(state[BLOCKERS])
    # D copied chunk 1 from C (value 3); its chunk 0 was its own (4): E still reads (4, 5), D reads (4, 3).
    assert state[DATA][D] == (4, 3)
    assert view(state[BACKING], state[DATA], E) == (4, 5)
    assert view(state[BACKING], state[DATA], D) == (4, 3)


def test_cancel_runs_complete_without_changing_the_chain():
    lines = [cmd("block-stream", device="D", base="B"), cmd("block-job-cancel", device="D"), step("job-exit", "D"), step("stream-complete", "D")]
    answers, state, model = run(lines)
    assert answers == [OK] * 4
    assert state[BACKING] == model.init_states()[0][BACKING]
    assert state[JOBS] == () and not any(state[BLOCKERS])


def test_cancel_of_paused_job_needs_force():
    lines = [
        cmd("block-stream", device="D", base="B"),
        cmd("block-job-pause", device="D"),
        cmd("block-job-cancel", device="D"),
        cmd("block-job-cancel", device="D", force=True),
    ]
    answers, state, _ = run(lines)
    paused = {"error": {"class": "GenericError", "desc": "The block job for device 'D' is currently paused"}}
    assert answers == [OK, OK, paused, OK]
    (job,) = state[JOBS]
    assert job[4] == 0 and job[6] & 1  # running again (force undoes the pause) and cancelled


def test_job_commands_find_jobs_by_node_or_device_name():
    lines = [
        cmd("block-stream", device="drive0", base="D"),
        cmd("block-job-set-speed", device="drive0", speed=0),
        cmd("block-job-set-speed", device="E", speed=0),
        cmd("block-job-set-speed", device="C", speed=0),
        cmd("block-job-set-speed", device="drive0", speed=-1),
        cmd("block-job-complete", device="drive0"),
    ]
    answers, _, _ = run(lines)
    assert answers[:3] == [OK, OK, OK]
    assert answers[3] == {"error": {"class": "DeviceNotActive", "desc": "No active block job on device 'C'"}}
    assert answers[4]["error"]["desc"] == "Parameter 'speed' expects a non-negative value"
    assert answers[5]["error"]["desc"] == "The active block job for device 'drive0' cannot be completed"


def test_query_block_jobs_searches_the_whole_tree():
    lines = [cmd("block-stream", device="C", base="A"), cmd("block-stream", device="drive0", base="C"), cmd("query-block-jobs")]
    answers, _, _ = run(lines)
    assert [job["device"] for job in answers[2]["return"]] == ["drive0", "C"]
    answers, _, _ = run(lines, variant="root-only-query")
    assert [job["device"] for job in answers[2]["return"]] == ["drive0"]
    answers, _, _ = run(lines, variant="device-field-empty")
    assert [job["device"] for job in answers[2]["return"]] == ["drive0", ""]


def test_guarded_operations_blocked_by_job_or_backing_link():
    """blockdev-snapshot-sync checks EXTERNAL_SNAPSHOT on the node it is given (docs/op-blockers.md §2.5)."""
    snap = lambda node: cmd("blockdev-snapshot-sync", **{"node-name": node, "snapshot-file": "S.qcow2"})  # noqa: E731
    lines = [cmd("block-stream", device="D", base="B"), snap("C"), snap("B"),
             cmd("blockdev-snapshot-sync", device="drive0", **{"snapshot-file": "S.qcow2"})]
    answers, _, _ = run(lines)
    assert answers[1]["error"]["desc"] == f"Node 'C' is busy: {BUSY_STREAM}"
    # B is the job's base: no job blocker, but it backs C, so the backing blocker refuses the snapshot (§2.3).
    assert answers[2]["error"]["desc"] == "Node 'B' is busy: node is used as backing hd of 'C'"
    assert answers[3] == OK


def test_lookup_errors_and_unknown_commands():
    answers, _, _ = run([cmd("block-stream", device="nope"), cmd("block-stream", device="D", base="E"), cmd("no-such-command")])
    assert answers[0]["error"]["desc"] == "Cannot find device=nope nor node_name=nope"
    assert answers[1]["error"]["desc"] == "Base 'E' not found"
    assert answers[2]["error"]["class"] == "CommandNotFound"


def test_job_bounds_are_model_limits_not_qemu_errors():
    lines = [cmd("block-stream", device="drive0", base="D"), cmd("block-stream", device="C", base="B"), cmd("block-stream", device="B", base="A")]
    answers, _, _ = run(lines, max_jobs=2, jobs_per_run=3)
    assert answers[2]["error"]["class"] == "ModelLimit"


def test_a_step_that_is_not_enabled_is_reported_not_applied():
    answers, state, model = run([step("job-copy", "D")])
    assert answers[0]["error"]["class"] == "ModelLimit"
    assert state == model.init_states()[0]


def test_bad_scripts_and_scenarios_are_one_sentence_errors():
    with pytest.raises(ScriptError, match="line 2 is not valid JSON"):
        parse_script('{"execute": "query-block-jobs"}\n{oops')
    with pytest.raises(ScriptError, match="neither a QMP command nor a step"):
        parse_script('{"hello": 1}')
    with pytest.raises(ScenarioError, match="give a length from 2 to 8"):
        Scenario(chain_length=1)
    with pytest.raises(ScenarioError, match="unknown command 'drive-backup'"):
        Scenario(commands=("drive-backup",))


def test_successors_agree_with_actions_and_next_state():
    from blockcheck.checker.search import explore

    model = BlockModel(Scenario(chain_length=3))
    graph = explore(model, [], keep_graph=True, quiet=True).graph
    for state in graph.states:
        pairs = list(model.successors(state))
        assert [a for a, _ in pairs] == model.actions(state)
        assert all(model.next_state(state, a) == t for a, t in pairs)
