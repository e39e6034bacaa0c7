"""The pytest plugin: a blockcheck.toml becomes one test item per property; expected violations xfail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


#: The seed design's known finding (docs/findings/), expected in every run below.
KNOWN = 'expect-violated = ["isolation.guarded-ops"]\n'


def pytest_in(directory: Path, toml: str) -> subprocess.CompletedProcess:
    (directory / "blockcheck.toml").write_text(toml)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory / "blockcheck.toml")],
        capture_output=True,
        text=True,
        cwd=directory,
        timeout=300,
    )


def test_properties_that_hold_pass(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, "chain-length = 3\n" + KNOWN)
    assert run.returncode == 0, run.stdout
    assert "15 passed, 1 xfailed" in run.stdout


def test_a_violated_property_fails_with_its_counterexample(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, 'chain-length = 3\nvariant = "root-only-query"\n' + KNOWN)
    assert run.returncode == 1
    assert "FAILED blockcheck.toml::ownership-and-reporting" in run.stdout
    assert "1 failed, 14 passed, 1 xfailed" in run.stdout
    assert "2. block-stream device=" in run.stdout  # the trace, step by step
    assert "Traceback" not in run.stdout


def test_a_bound_fails_rather_than_passes(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, "chain-length = 3\nmax-states = 100\n")
    assert run.returncode == 1
    assert "incomplete" in run.stdout


def test_a_bad_key_is_a_collection_error_naming_it(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, "chain-lenght = 3\n")
    assert run.returncode != 0
    assert "unknown key 'chain-lenght'" in run.stdout


def test_expected_violations_are_xfailed(tmp_path: Path) -> None:
    names = '"isolation.guarded-ops", "cancel-runs-complete", "no-leaked-blockers", "cancel-runs-complete.live:A", "cancel-runs-complete.live:B", "cancel-runs-complete.live:C"'
    run = pytest_in(tmp_path, f'chain-length = 3\nvariant = "cancel-skips-complete"\nexpect-violated = [{names}]\n')
    assert run.returncode == 0, run.stdout
    assert "10 passed, 6 xfailed" in run.stdout


def test_an_expected_violation_that_does_not_occur_fails(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, 'chain-length = 3\nexpect-violated = ["no-leaked-blockers", "isolation.guarded-ops"]\n')
    assert run.returncode == 1
    assert "FAILED blockcheck.toml::no-leaked-blockers" in run.stdout and "1 failed, 14 passed, 1 xfailed" in run.stdout
    assert "expected violation of no-leaked-blockers did not occur: remove it from expect-violated" in run.stdout


def test_an_unknown_expected_name_is_a_collection_error_naming_it(tmp_path: Path) -> None:
    run = pytest_in(tmp_path, 'chain-length = 3\nexpect-violated = ["nope"]\n')
    assert run.returncode != 0
    assert "unknown property 'nope' in expect-violated" in run.stdout


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        # A negative max-depth reached explore() and raised there.
        ("chain-length = 3\nmax-depth = -1\n", "blockcheck.toml: max-depth = -1 is not valid: -1 must be at least 0"),
        ('chain-length = 3\nproperty = ["nope"]\n', "blockcheck.toml: unknown property 'nope'"),
        ("chain-length = 3\nchain-lenght = 3\n", "blockcheck.toml: unknown key 'chain-lenght'"),
    ],
)
def test_a_bad_value_is_a_collection_error_without_a_traceback(tmp_path: Path, toml: str, needle: str) -> None:
    """One line naming the file once: no traceback, no 'blockcheck.toml: blockcheck.toml:'."""
    run = pytest_in(tmp_path, toml)
    assert run.returncode != 0
    assert needle in run.stdout
    assert "Traceback" not in run.stdout and "Error:" not in run.stdout
    assert "blockcheck.toml: blockcheck.toml:" not in run.stdout
