"""The README's gallery is what the command it names writes today, byte for byte."""

from __future__ import annotations

from pathlib import Path

from blockcheck.checker import cli

ROOT = Path(__file__).parent.parent
GALLERY = ROOT / "docs" / "gallery"
COMMAND = ["check", "--variant", "cancel-skips-complete", "--expect-violated", "isolation.guarded-ops", "-q", "--format", "markdown", "--format", "itf", "--format", "script", "--format", "html"]


def test_gallery_is_regenerated_byte_identical(tmp_path, capsys):
    assert cli.main([*COMMAND, "--report", str(tmp_path)]) == 13
    capsys.readouterr()
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in GALLERY.iterdir())
    for name in written:
        assert (tmp_path / name).read_bytes() == (GALLERY / name).read_bytes(), f"docs/gallery/{name} is stale"
    readme = (ROOT / "README.md").read_text()
    assert "--report docs/gallery" in readme
    table = (GALLERY / "cancel-runs-complete.md").read_text().split("\n| state |", 1)[1]
    assert table in readme
