"""The HTML report in a real headless Chromium: it loads without console errors and shows pictures.

Skips when Chromium is not installed (Debian: apt-get install chromium);
CI installs it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from blockcheck.reports import write_reports
from report_support import Run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--log-level=0",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install chromium")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_report_loads_without_console_errors_and_shows_pictures(tmp_path: Path, skips: Run) -> None:
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot: apt-get install graphviz")
    (page,) = [p for p in write_reports(skips.result, skips.model, tmp_path, ("html",)) if p.suffix == ".html"]
    url = page.resolve().as_uri()

    dom = chromium(tmp_path, "--dump-dom", url)
    assert "CONSOLE" not in dom.stderr, dom.stderr
    assert dom.stdout.count("<svg") >= 2  # a picture per step of the counterexample
    assert "cancel-runs-complete" in dom.stdout

    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", url)
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (1200, 2400)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kilobytes
