"""Fuzzing the command line and the settings files: any input ends in a documented exit code.

Hypothesis draws argument vectors (known flags with good and bad values,
junk flags, odd strings) and settings files (known and unknown keys with
values of every TOML type).  Every run is bounded (``--max-states`` is put
last, so it wins) and prints JSON, so a case costs milliseconds.  Derandomised: CI sees the
same cases on every run.  For each case: the exit code is one of the
table's and never 255, nothing on stderr is a traceback, and a refusal
(151) is exactly one line that prints no result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockcheck.checker import cli
from blockcheck.checker.exitcodes import TABLE, ExitCode

#: 500 cases each (the script fuzzing adds thousands more).
FUZZ = settings(max_examples=500, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))

#: The check command's options, each with values people type, good or bad.
TEXT = st.sampled_from(["", ",", "x", "-1", "0", "1", "3", "8", "9", "1e3", "A", "drive0", "E", "nope", "é", "a b", "--json", "2.5"])
OPTIONS = {
    "--profile": st.sampled_from(["seed", "qemu-7.2", "qemu-8.0", ""]) | TEXT,
    "--variant": st.sampled_from(["none", "top-only-check", "cancel-skips-complete", "fix-change-checks-chain"]) | TEXT,
    "--chain-length": TEXT,
    "--jobs": TEXT,
    "--jobs-per-run": TEXT,
    "--chunks": TEXT,
    "--guest-writes": TEXT,
    "--pauses": TEXT,
    "--header-changes": TEXT,
    "--device": TEXT,
    "--commands": st.sampled_from(["block-stream", "block-stream,block-commit", "change-backing-file", "block-stream,,", "drive-del"]) | TEXT,
    "--property": st.sampled_from(["isolation", "jobs-end", "jobs-end:A", "isolation.guarded-ops"]) | TEXT,
    "--expect-violated": st.sampled_from(["isolation.guarded-ops", "jobs-end", "isolation"]) | TEXT,
    "--max-depth": TEXT,
    "--format": st.sampled_from(["markdown", "itf,junit", "html,,", "pdf", "summary"]) | TEXT,
}
FLAGS = ["--continue", "--no-deadlock", "--json", "-q", "--frobnicate", "-h"]


@st.composite
def argument_vectors(draw: st.DrawFn) -> list[str]:
    argv = ["check"]
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            option = draw(st.sampled_from(sorted(OPTIONS)))
            argv += [option, draw(OPTIONS[option])]
        else:
            argv.append(draw(st.sampled_from(FLAGS)))
    return argv


TOML_VALUES = st.one_of(
    st.integers(-3, 10),
    st.sampled_from([True, False, 2.5, float("inf")]),
    st.sampled_from(["", "seed", "qemu-7.2", "top-only-check", "block-stream", "isolation", "drive0", "A", "markdown"]),
    st.lists(st.sampled_from(["isolation", "itf", "junit,html", "", "block-stream", "x"]), max_size=3),
    st.just(dt.date(1979, 5, 27)),
    st.just({"nested": 1}),
)
#: Values a key is meant to take, so that many drawn files are accepted and run.
GOOD = {
    "chain-length": st.integers(2, 4),
    "jobs": st.integers(1, 2),
    "chunks": st.integers(1, 2),
    "device": st.sampled_from(["drive0", "disk1"]),
    "commands": st.sampled_from([["block-stream", "block-job-cancel"], "block-stream,block-commit"]),
    "profile": st.sampled_from(["seed", "qemu-7.2"]),
    "variant": st.sampled_from(["none", "top-only-check"]),
    "property": st.just(["isolation"]),
    "format": st.just(["itf", "junit"]),
    "expect-violated": st.just(["isolation.guarded-ops"]),
    "continue": st.booleans(),
    "quiet": st.booleans(),
    "max-depth": st.integers(0, 5),
}
KEYS = st.sampled_from([*GOOD, "max-states", "chain-lenght", "exit-codes", "traces", "json"])


@st.composite
def settings_files(draw: st.DrawFn) -> dict:
    keys = draw(st.lists(KEYS, max_size=4, unique=True))
    return {key: draw(GOOD[key] if key in GOOD and draw(st.booleans()) else TOML_VALUES) for key in keys}


def toml_text(settings_: dict) -> str:
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v == float("inf"):
            return "inf"
        if isinstance(v, str):
            return '"' + v + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return v.isoformat() if isinstance(v, dt.date) else str(v)

    return "".join(f"{k} = {value(v)}\n" for k, v in settings_.items())


def judge(code: int, out: str, err: str) -> None:
    assert code in {int(c) for c in TABLE} and code != ExitCode.INTERNAL, (code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == ExitCode.USAGE_ERROR:
        assert len(err.strip().splitlines()) == 1, err
        assert "exit code" not in out  # refused before any result was printed


def run_in_fresh_directory(capsys, argv: list[str], files: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as directory, contextlib.chdir(directory):
        for name, text in files.items():
            Path(name).write_text(text)
        try:
            # --json: rich's table costs a hundred times the bounded search; other tests print it.
            code = cli.main([*argv, "-q", "--json", "--max-states", "20"])
        except SystemExit as exc:  # -h prints the help and exits 0, as argparse does
            code = exc.code
    out, err = capsys.readouterr()
    judge(code, out, err)
    return code


def test_any_argument_vector_ends_in_a_documented_code(capsys) -> None:
    codes: Counter[int] = Counter()

    @FUZZ
    @given(argv=argument_vectors())
    def case(argv: list[str]) -> None:
        codes[run_in_fresh_directory(capsys, argv, {})] += 1

    case()
    # The draw reaches both sides: refusals and searches that ran (bounded: 152, or a verdict).
    assert codes[ExitCode.USAGE_ERROR] and sum(codes.values()) - codes[ExitCode.USAGE_ERROR] > 20, codes


def test_any_settings_file_ends_in_a_documented_code(capsys) -> None:
    codes: Counter[int] = Counter()

    @FUZZ
    @given(settings_=settings_files(), pyproject=st.booleans())
    def case(settings_: dict, pyproject: bool) -> None:
        text = toml_text(settings_)
        files = {"pyproject.toml": '[project]\nname = "x"\n[tool.blockcheck]\n' + text} if pyproject else {"blockcheck.toml": text}
        codes[run_in_fresh_directory(capsys, ["check"], files)] += 1

    case()
    assert codes[ExitCode.USAGE_ERROR] and sum(codes.values()) - codes[ExitCode.USAGE_ERROR] > 20, codes
