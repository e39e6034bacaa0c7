"""The blockcheck command: exit codes, one-sentence errors, config files, replay, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blockcheck.checker import cli, registry
from blockcheck.checker.api import Model
from blockcheck.checker.exitcodes import ExitCode

SMALL = ["--chain-length", "3"]
#: The design's known finding (docs/findings/): every run of the seed rules shows it.
KNOWN = ["--expect-violated", "isolation.guarded-ops"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_on_the_design_but_for_its_known_finding(capsys):
    code, out, err = run(capsys, "check", *SMALL, *KNOWN, "--quiet")
    assert code == ExitCode.OK
    assert "holds" in out and "expected violation" in out and "12371 distinct" in out
    assert err == ""


def test_check_reports_the_finding_and_the_fix_holds(capsys):
    """stream B base A, then change-backing-file of B through drive0: 2 states (docs/findings/)."""
    code, out, _ = run(capsys, "check", *SMALL, "--quiet")
    assert code == ExitCode.INVARIANT
    assert any("isolation.guarded-ops" in line and "violated" in line and "2 states" in line for line in out.splitlines())
    code, out, _ = run(capsys, "check", *SMALL, "--variant", "fix-change-checks-chain", "--quiet")
    assert code == ExitCode.OK and "12371 distinct" in out


@pytest.mark.parametrize(
    ("variant", "code"),
    [("cancel-skips-complete", ExitCode.LIVENESS), ("root-only-query", ExitCode.INVARIANT)],
)
def test_check_fails_on_a_fault_variant(capsys, variant, code):
    assert run(capsys, "check", *SMALL, *KNOWN, "--variant", variant, "-q")[0] == code


def test_a_bound_is_never_a_pass(capsys):
    code, out, _ = run(capsys, "check", *SMALL, *KNOWN, "--max-states", "50", "-q")
    assert code == ExitCode.BOUND
    assert "incomplete" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["check", "--variant", "nope"], "unknown variant 'nope'; the seed profile's: none, top-only-check"),
        (["check", "--chain-length", "12"], "chain length 12 is out of range; give a length from 2 to 8"),
        (["check", "--property", "nope", *SMALL], "unknown property 'nope'"),
        (["check", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["check", "--max-states", "0"], "must be at least 1"),
        (["--model", "nope", "check"], "no model named 'nope' is registered"),
        (["check", *SMALL, "--report", "out", "--format", "pdf"], "unknown report format 'pdf'"),
        (["replay", "missing-file.jsonl"], "cannot read the script missing-file.jsonl"),
        (["prove", "--commands", "block-stream,block-commit"], "does not cover block-commit"),
        (["check", *SMALL, "--expect-violated", "nope"], "unknown property 'nope' in expect-violated; known properties: blockers-checked-everywhere,"),
        (["check", *SMALL, "--expect-violated", "jobs-end"], "'jobs-end' is a property family, not a property; expect-violated takes property names, such as jobs-end:A, jobs-end:B, jobs-end:C"),
    ],
)
def test_usage_errors_are_one_sentence_and_code_151(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == ExitCode.USAGE_ERROR
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_json_output_is_machine_readable(capsys):
    code, out, _ = run(capsys, "check", *SMALL, *KNOWN, "--variant", "device-field-empty", "--json")
    document = json.loads(out)
    assert code == ExitCode.INVARIANT
    violated = [p["name"] for p in document["properties"] if p["outcome"] == "violated"]
    assert violated == ["ownership-and-reporting"]


def test_config_file_sets_defaults_and_flags_override(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blockcheck.toml").write_text('chain-length = 3\nvariant = "root-only-query"\nquiet = true\nexpect-violated = ["isolation.guarded-ops"]\n')
    assert run(capsys, "check")[0] == ExitCode.INVARIANT
    assert run(capsys, "check", "--variant", "none")[0] == ExitCode.OK
    (tmp_path / "blockcheck.toml").write_text("chain-lenght = 3\n")
    code, _, err = run(capsys, "check")
    assert code == ExitCode.USAGE_ERROR and "unknown key 'chain-lenght'" in err
    (tmp_path / "blockcheck.toml").write_text('chain-length = "three"\n')
    code, _, err = run(capsys, "check")
    assert code == ExitCode.USAGE_ERROR and "chain-length" in err


def test_pyproject_tool_table_is_read(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.blockcheck]\nchain-length = 3\nvariant = "cancel-changes-chain"\nexpect-violated = ["isolation.guarded-ops"]\n')
    assert run(capsys, "check", "-q")[0] == ExitCode.LIVENESS


def test_replay_prints_qemu_answers(capsys, tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text(
        "# stream into D, then try to stream across it\n"
        '{"execute": "block-stream", "arguments": {"device": "D", "base": "B"}}\n'
        '{"execute": "block-stream", "arguments": {"device": "drive0", "base": "A"}}\n'
        '{"step": "job-copy", "job": "D"}\n'
    )
    code, out, _ = run(capsys, "replay", str(script), "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["answer"] == {"return": {}}
    assert lines[1]["answer"]["error"]["desc"] == "Node 'D' is busy: block device is in use by block job: stream"
    assert lines[2]["chain"].startswith("[A] <- [B] <- [C]* <- [D]*{stream->B,running,1/2}")
    script.write_text("{not json\n")
    code, _, err = run(capsys, "replay", str(script))
    assert code == ExitCode.USAGE_ERROR and "line 1 is not valid JSON" in err


def test_reports_replay_and_are_byte_identical(capsys, tmp_path):
    argv = ["check", *SMALL, *KNOWN, "--variant", "cancel-skips-complete", "-q", "--format", "markdown", "--format", "itf", "--format", "script", "--format", "junit"]
    run(capsys, *argv, "--report", str(tmp_path / "a"))
    run(capsys, *argv, "--report", str(tmp_path / "b"))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "cancel-runs-complete.qmp.jsonl" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    code, out, _ = run(capsys, "replay", *SMALL, str(tmp_path / "a" / "cancel-runs-complete.qmp.jsonl"), "--json")
    assert code == 0
    assert all(json.loads(line)["answer"] == {"return": {}} for line in out.splitlines())


def test_list_and_exit_code_table_match_the_readme(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "cancel-skips-complete" in out and "jobs-end:E" in out
    code, out, _ = run(capsys, "list", "--exit-codes")
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert out.strip() in readme


def test_mutants_matrix_passes_on_a_small_chain(capsys):
    code, out, _ = run(capsys, "mutants", *SMALL, "-q")
    assert code == 0
    assert "every fault variant is caught" in out
    assert "known findings of the design (docs/findings/): isolation, isolation.guarded-ops" in out


class _StringStates(Model):
    name = "bad"

    def init_states(self):
        return ["not hash-stable"]

    def actions(self, state):
        return []

    def next_state(self, state, action):
        return state


def test_a_broken_model_is_exit_150(capsys, monkeypatch):
    from blockcheck.properties.plugin import PLUGIN

    class Broken(type(PLUGIN)):
        def build(self, args):
            return registry.Build(_StringStates(), [], "broken")

    monkeypatch.setattr(registry, "load", lambda name: Broken())
    code, _, err = run(capsys, "check", "-q")
    assert code == ExitCode.MODEL_ERROR
    assert "model definition error" in err and "str" in err


TINY = ["--chain-length", "2", "--jobs", "1", "--jobs-per-run", "1", "--chunks", "1", "--guest-writes", "0", "--pauses", "0"]


def test_graph_draws_a_small_scenario_with_the_counterexample_in_red(capsys):
    code, out, _ = run(capsys, "graph", *TINY, "--variant", "cancel-skips-complete", "--property", "cancel-runs-complete")
    assert code == ExitCode.LIVENESS
    assert out.startswith("digraph states {")
    # 24 states at this size (hand count: see tests/model); the 4-state counterexample is red.
    assert out.count('fillcolor="') == 24
    assert out.count(', color="red", penwidth=2]') == 4
    assert out.count('color="red", fontcolor="red"') == 3


def test_graph_refuses_what_nobody_can_read(capsys):
    code, _, err = run(capsys, "graph", "--max-nodes", "100")
    assert code == ExitCode.USAGE_ERROR
    assert "more than 100 states" in err and "--chain-length 2" in err


def test_format_without_report_writes_to_the_default_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "check", *SMALL, "--variant", "root-only-query", "-q", "--format", "junit")
    assert code == ExitCode.INVARIANT
    assert (tmp_path / "blockcheck-report" / "junit.xml").is_file()


def test_the_qemu72_profile_checks_clean_and_refuses_seed_variants(capsys):
    code, out, _ = run(capsys, "check", "--profile", "qemu-7.2", "-q")
    assert code == ExitCode.OK and "13427 distinct" in out and "QMP forms: auto-finalize, auto-dismiss, bottom" in out
    code, _, err = run(capsys, "check", "--profile", "qemu-7.2", "--variant", "early-unblock")
    assert code == ExitCode.USAGE_ERROR and "variant 'early-unblock' belongs to the seed profile" in err


def test_replay_speaks_the_profile_of_the_scenario(capsys, tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text('{"execute": "block-stream", "arguments": {"device": "D", "base-node": "B"}}\n')
    code, out, _ = run(capsys, "replay", "--profile", "qemu-7.2", str(script), "--json")
    assert code == 0
    assert json.loads(out)["answer"] == {"error": {"class": "GenericError", "desc": "Invalid job ID ''"}}


@pytest.mark.bench  # 45 s; tests/proofs proves every claim under the fix in CI, and the design's run below exits through the same code
def test_prove_passes_under_the_fix(capsys):
    """Every all-lengths and all-contents claim proved, every BMC row clean: exit 0."""
    code, out, _ = run(capsys, "prove", *SMALL, "--variant", "fix-change-checks-chain")
    assert code == ExitCode.OK
    assert "counterexample to induction" not in out and "violated" not in out
    assert out.count("│ all chain lengths ") == 9 and out.count("no violation up to k") == 10


def test_prove_reports_the_finding_on_the_design(capsys):
    """QEMU's root-only CHANGE check: the guarded-ops claim fails over all lengths and in BMC (12)."""
    code, out, _ = run(capsys, "prove", *SMALL)
    assert code == ExitCode.INVARIANT
    rows = [line for line in out.splitlines() if line.startswith("│ isolation.guarded-ops ")]
    assert len(rows) == 2
    assert "counterexample to induction" in rows[0] and "violated" in rows[1]
    assert out.count("no violation up to k") == 9


@pytest.mark.bench  # 35 s a case; tests/proofs shows each proof failing on faults in CI
@pytest.mark.parametrize(
    ("variant", "code", "needle"),
    [
        # BMC finds a reachable violation of an invariant-type claim: 12.
        ("root-only-query", ExitCode.INVARIANT, "violated after 1 step(s)"),
        # Its own induction fails (liveness is out of BMC's scope); the design's finding makes it 12.
        ("cancel-never-completes", ExitCode.INVARIANT, "safety fails: N = 2;"),
    ],
)
def test_prove_fails_on_a_fault_variant(capsys, variant, code, needle):
    exit_code, out, _ = run(capsys, "prove", *SMALL, "--variant", variant)
    assert exit_code == code
    assert needle in out


# cancel-skips-complete on the 3-node chain violates exactly these (the first is the design's finding).
SKIPS = ["isolation.guarded-ops", "cancel-runs-complete", "no-leaked-blockers", "cancel-runs-complete.live:A", "cancel-runs-complete.live:B", "cancel-runs-complete.live:C"]


def expect(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--expect-violated", name)]


def test_expected_violations_pass_and_every_output_marks_them(capsys, tmp_path):
    formats = ["--format", "markdown", "--format", "json", "--format", "junit", "--format", "summary"]
    code, out, _ = run(capsys, "check", *SMALL, "--variant", "cancel-skips-complete", "-q", *expect(*SKIPS), "--report", str(tmp_path), *formats)
    assert code == ExitCode.OK
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if line.startswith("│")}
    assert {name for name, verdict in rows.items() if verdict == "expected violation"} == set(SKIPS)
    assert "expected violations (known, they do not fail the run): isolation.guarded-ops, cancel-runs-complete, no-leaked-blockers," in out
    document = json.loads((tmp_path / "result.json").read_text())
    assert document["exit_code"] == 0
    marked = {p["name"] for p in document["properties"] if p["expected"] and p["outcome"] == "expected violation"}
    assert marked == {p["name"] for p in document["properties"] if p["verdict"] == "violated"} == set(SKIPS)
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count('<skipped message="expected violation: ') == len(SKIPS) and "<failure" not in junit
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## blockcheck: `qemu-block/seed+cancel-skips-complete`: 6 expected violations\n")
    assert summary.count("🔶 expected violation") == len(SKIPS) and "- `no-leaked-blockers` (expected): " in summary
    report = (tmp_path / "no-leaked-blockers.md").read_text()
    assert report.startswith("# `no-leaked-blockers` is violated (expected violation)\n")


def test_an_expected_violation_that_no_longer_occurs_fails(capsys):
    code, out, _ = run(capsys, "check", *SMALL, "-q", *KNOWN, *expect("no-leaked-blockers"))
    assert code == ExitCode.LIVENESS
    assert "expected violation of no-leaked-blockers did not occur: remove it from expect-violated" in out
    assert "stale expectation" in out
    # A property --property leaves out is not judged, as pytest ignores a deselected xfail.
    assert run(capsys, "check", *SMALL, "-q", "--property", "isolation", *KNOWN, *expect("no-leaked-blockers"))[0] == ExitCode.OK


def test_a_violation_besides_the_expected_ones_fails_and_is_found_after_them(capsys):
    # Without --continue the search would stop at the first of the two safety violations
    # (state 4) with every other property unchecked; expected, they stop nothing, and the
    # per-node liveness check of cancel-runs-complete is a property of its own.
    code, out, _ = run(capsys, "check", *SMALL, "--variant", "cancel-skips-complete", "--json", *KNOWN, *expect("cancel-runs-complete", "no-leaked-blockers"))
    assert code == ExitCode.LIVENESS
    document = json.loads(out)
    assert document["stop"] == "exhausted"
    outcomes = {p["name"]: p["outcome"] for p in document["properties"]}
    assert outcomes["cancel-runs-complete"] == outcomes["no-leaked-blockers"] == outcomes["isolation.guarded-ops"] == "expected violation"
    # The first unexpected violation still ends the checks (liveness is checked last).
    assert [name for name, outcome in outcomes.items() if outcome == "violated"] == ["cancel-runs-complete.live:A"]
    assert {outcomes[name] for name in outcomes if ":" in name} == {"violated", "unchecked"}
    assert {outcomes[name] for name in outcomes if ":" not in name} == {"holds", "expected violation"}


def test_a_bound_never_judges_an_expectation(capsys):
    code, out, _ = run(capsys, "check", *SMALL, "-q", "--max-states", "50", *KNOWN, *expect("no-leaked-blockers"))
    assert code == ExitCode.BOUND
    assert "did not occur" not in out and "incomplete" in out


def test_the_settings_file_lists_expectations_and_the_flag_adds_to_them(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listed = ", ".join(f'"{name}"' for name in SKIPS[:-1])
    (tmp_path / "blockcheck.toml").write_text(f'chain-length = 3\nvariant = "cancel-skips-complete"\nquiet = true\ncontinue = true\nexpect-violated = [{listed}]\n')
    code, out, _ = run(capsys, "check")
    assert code == ExitCode.LIVENESS  # cancel-runs-complete.live:C is not listed
    assert out.count("expected violation │") == len(SKIPS) - 1
    assert run(capsys, "check", *expect(SKIPS[-1]))[0] == ExitCode.OK
    (tmp_path / "blockcheck.toml").write_text('expect-violated = "isolation"\n')
    code, _, err = run(capsys, "check")
    assert code == ExitCode.USAGE_ERROR and 'expect-violated must be a list of strings' in err
