"""Bad command lines and settings files (issue 11's small ones): each is one sentence and 151.

Every case here crashed (255), ran silently with a meaning the user did not
give, or spent a whole search before refusing, when it was found.  The
errors are checked before any state is explored, so each case takes
milliseconds; the file's name is said once; no Python repr reaches the user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from blockcheck.checker import cli
from blockcheck.checker.exitcodes import ExitCode

SMALL = ["--chain-length", "3"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv: str) -> str:
    """The one-line error of a refused run that printed no result."""
    code, out, err = run(capsys, *argv)
    assert code == ExitCode.USAGE_ERROR, (code, out, err)
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("device", ["A", "C"])
def test_a_device_named_like_a_node_is_refused(capsys, device):
    """It used to give a false ownership-and-reporting violation (12)."""
    err = refused(capsys, "check", *SMALL, "--device", device, "-q")
    assert f"device name '{device}' is also a node's name" in err


def test_a_device_named_like_a_node_of_a_longer_chain_only_is_accepted(capsys):
    code, _, _ = run(capsys, "check", *SMALL, "--device", "E", "-q", "--property", "cancel-runs-complete", "--max-states", "5")
    assert code == ExitCode.BOUND


@pytest.mark.parametrize(("extra", "needle"), [
    (["--profile", "qemu-7.2"], "the historical variants lie inside a job's end; add --completions polling"),
    (["--variant", "top-only-check"], "mutants checks every variant in turn"),
])
def test_mutants_refuses_what_it_would_silently_ignore(capsys, extra, needle):
    """mutants --profile qemu-7.2 used to check the seed profile and exit 0;
    now it checks the historical variants, which need the polling granularity."""
    assert needle in refused(capsys, "mutants", *SMALL, *extra)


@pytest.mark.parametrize("value", [",", "", " , "])
def test_commands_naming_no_command_is_refused(capsys, value):
    """',' used to be vacuous (77), '' the default set without a word."""
    assert "names no command" in refused(capsys, "check", *SMALL, "--commands", value, "-q")


@pytest.mark.parametrize(("value", "needle"), [
    ("html,jnit", "unknown report format 'jnit'"),
    ("nosuch", "unknown report format 'nosuch'"),
    (",", "unknown report format ','"),
])
def test_a_bad_format_is_refused_before_the_search(capsys, value, needle):
    assert needle in refused(capsys, "check", *SMALL, "--format", value, "-q")


def test_a_comma_separated_format_list_is_what_people_type(capsys, tmp_path: Path):
    argv = ["check", *SMALL, "-q", "--report", str(tmp_path), "--format", "junit,itf", "--format", "markdown"]
    code, out, _ = run(capsys, *argv, "--expect-violated", "isolation.guarded-ops")
    assert code == ExitCode.OK
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "junit.xml" in names and "isolation.guarded-ops.itf.json" in names and "isolation.guarded-ops.md" in names


def test_a_negative_max_depth_is_refused(capsys):
    assert "--max-depth: -1 must be at least 0" in refused(capsys, "check", *SMALL, "--max-depth", "-1")


@pytest.mark.parametrize(("name", "text", "needle"), [
    # a top-level 'tool' that is not a table used to crash (AttributeError, 255)
    ("pyproject.toml", "tool = 5\n", "pyproject.toml: 'tool' must be a table, not 5"),
    ("pyproject.toml", '[project]\nname = "x"\n[tool]\nblockcheck = 5\n', "must be a table of keys"),
    # a TOML date used to be shown as datetime.date(1979, 5, 27) with int()'s message
    ("blockcheck.toml", "chain-length = 1979-05-27\n", "blockcheck.toml: chain-length = 1979-05-27 is not a whole number"),
    ("blockcheck.toml", "chain-length = 3.5\n", "chain-length = 3.5 is not a whole number"),
    ("blockcheck.toml", 'chain-length = 3\nquiet = "yes"\n', 'quiet must be true or false, not "yes"'),
    ("blockcheck.toml", "max-depth = -2\n", "max-depth = -2 is not valid: -2 must be at least 0"),
    ("blockcheck.toml", 'format = ["html,jnit"]\n', "format = \"html,jnit\" is not valid: unknown report format 'jnit'"),
    ("blockcheck.toml", "commands = []\n", "names no command"),
])
def test_bad_settings_files_are_one_sentence(capsys, tmp_path: Path, monkeypatch, name, text, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    err = refused(capsys, "check", "-q")
    assert needle in err
    assert "datetime" not in err and "invalid literal" not in err


def test_a_format_list_in_a_settings_file_is_split_like_the_flag(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blockcheck.toml").write_text(
        'chain-length = 3\nquiet = true\nformat = ["junit,itf"]\nreport = "out"\nexpect-violated = ["isolation.guarded-ops"]\n'
    )
    code, _, _ = run(capsys, "check")
    assert code == ExitCode.OK
    assert {"junit.xml", "isolation.guarded-ops.itf.json"} <= {p.name for p in (tmp_path / "out").iterdir()}


@pytest.mark.parametrize(("argv", "needle"), [
    (["check", "--qmp-forms", "bottom,nope"], "--qmp-forms belongs to the qemu-7.2 profile"),
    (["check", "--profile", "qemu-7.2", "--qmp-forms", "bottom,nope"], "unknown QMP form 'nope'; choose from auto-finalize"),
    (["check", "--profile", "qemu-7.2", "--qmp-forms", ","], "--qmp-forms ',' names no form"),
])
def test_qmp_forms_are_checked(capsys, argv, needle):
    assert needle in refused(capsys, *argv)


def test_qmp_forms_none_is_the_first_qemu72_model(capsys):
    """The forms only add to the search: none of them gives the 4,805 states of the manual streams."""
    code, out, _ = run(capsys, "check", "--profile", "qemu-7.2", "--qmp-forms", "none", "-q")
    assert code == ExitCode.OK and "4805 distinct" in out and "QMP forms: none" in out


def test_a_log_is_checked_against_qemu72_and_chain_is_for_logs(capsys, tmp_path):
    log = tmp_path / "qmp.log"
    log.write_text('{"execute": "query-jobs"}\n{"return": []}\n')
    assert "checked against QEMU 7.2; add --profile qemu-7.2" in refused(capsys, "replay", str(log))
    script = tmp_path / "s.jsonl"
    script.write_text('{"execute": "query-jobs"}\n')
    assert "--chain is for QMP logs" in refused(capsys, "replay", "--profile", "qemu-7.2", "--chain", "a,b", str(script))
    assert "give the chain, base first, with --chain" in refused(capsys, "replay", "--profile", "qemu-7.2", str(log))
