"""The terminal summary prints plain, deterministic text when not on a terminal."""

from __future__ import annotations

import dataclasses
import io

from blockcheck.reports.table import print_summary
from rich.console import Console


def render(result, **options) -> str:
    buffer = io.StringIO()
    print_summary(result, Console(file=buffer, width=160), **options)
    return buffer.getvalue()


def test_no_ansi_codes_when_captured(skips):
    text = render(skips.result)
    assert "\x1b" not in text
    for prop in skips.result.properties:
        assert prop.name in text
    assert "4 states, stutters" in text and "violated" in text
    assert f"{skips.result.stats.distinct} distinct / {skips.result.stats.generated} generated" in text
    assert "states/s" in text and "all reachable states explored" in text


def test_deterministic_output_has_no_timings(skips):
    first = render(skips.result, deterministic=True)
    slower = dataclasses.replace(skips.result, stats=dataclasses.replace(skips.result.stats, seconds=99.0))
    assert render(slower, deterministic=True) == first
    assert "states/s" not in first


def test_coverage_flags_never_enabled_actions(passes):
    stats = dataclasses.replace(passes.result.stats, never_enabled=["block-commit"])
    text = render(dataclasses.replace(passes.result, stats=stats))
    line = next(line for line in text.splitlines() if "block-commit" in line)
    assert "never enabled" in line
    assert "block-stream" in text
    assert "never enabled" not in render(passes.result, coverage=False)
