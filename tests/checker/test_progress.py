"""The live progress line: off unless wanted, silent on short runs."""

from __future__ import annotations

import io

from rich.console import Console

from blockcheck.checker import progress
from blockcheck.checker.progress import Progress, wanted
from blockcheck.checker.search import explore
from examples.two_phase import TwoPhase


def test_wanted_follows_flags_and_the_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert wanted(None, quiet=False)
    assert not wanted(None, quiet=True)
    assert not wanted(False, quiet=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not wanted(None, quiet=False)
    assert wanted(True, quiet=False)


def test_line_appears_after_the_delay(capsys):
    line = Progress(enabled=True, delay=0.0)
    line.update(12_345, 7, 89)
    line.update(12_999, 7, 89)  # within LOG_EVERY of the first: not printed
    line.close()
    err = capsys.readouterr().err
    assert "12,345 distinct states" in err and "depth 7" in err and "queue 89" in err
    assert "12,999" not in err


def test_on_a_terminal_the_line_is_drawn_in_place_and_erased():
    line = Progress(enabled=True, delay=0.0)
    line.console = Console(file=io.StringIO(), force_terminal=True, width=100)
    line.update(12_345, 7, 89)
    assert line.live is not None
    line.close()
    out = line.console.file.getvalue()
    assert "12,345 distinct states" in out
    assert line.live is None


def test_nothing_before_the_delay(capsys):
    line = Progress(enabled=True, delay=3600.0)
    line.update(1, 0, 0)
    line.close()
    assert capsys.readouterr().err == ""


def test_a_search_with_forced_progress_still_counts_right(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    result = explore(TwoPhase(5), [], progress=True)
    assert result.stats.distinct == 8_832
    assert "distinct states" in capsys.readouterr().err


def test_quiet_prints_nothing(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    explore(TwoPhase(5), [], progress=None, quiet=True)
    assert capsys.readouterr().err == ""
