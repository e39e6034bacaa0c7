"""Reports of a search: Markdown, ITF, replay scripts, JUnit, HTML and JSON, from one Result.

:func:`write_reports` is the one entry point the command uses.  Every file
is a function of the result and the model's report hooks only, so two runs
of the same search write the same bytes; the seconds a search took appear
only in ``result.json`` and ``summary.md``, and not even there with
``deterministic=True``.  How the files reach the disk (atomically, the
manifest last, an earlier run's files removed) is :mod:`.files`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from blockcheck.checker.api import Model
from blockcheck.checker.result import Result

from . import files as disk
from . import itf, jsonresult
from .jsonresult import result_to_json
from .junit import junit_xml
from .markdown import summary_markdown, violation_markdown
from .naming import file_stems
from .script import violation_to_script
from .trace_view import violations

__all__ = ["FORMATS", "MANIFEST", "result_to_json", "write_reports"]

MANIFEST = disk.MANIFEST

#: Per violation: markdown, itf, script.  Per run: the rest.
FORMATS = ("markdown", "itf", "script", "junit", "html", "json", "summary")
_PER_VIOLATION = {"markdown": ".md", "itf": ".itf.json", "script": ".qmp.jsonl"}
_RESERVED = ("summary",)
_PER_RUN = ("summary.md", "junit.xml", "report.html", "result.json")


def write_reports(
    result: Result,
    model: Model,
    out_dir: str | Path,
    formats: Iterable[str] = ("markdown", "itf", "script"),
    *,
    deterministic: bool = False,
) -> list[Path]:
    """Write the asked formats into ``out_dir`` (created if needed); return the paths written.

    Per violated property (and the deadlock, as ``deadlock``): ``<name>.md``,
    ``<name>.itf.json``, ``<name>.qmp.jsonl``, with names made file-safe
    (``jobs-end:E`` -> ``jobs-end_E``).  Per run: ``summary.md``,
    ``junit.xml``, ``report.html``, ``result.json``.  Last, the manifest
    ``blockcheck-reports.json`` (not among the paths returned) lists them
    with the exit code; files of an earlier run in ``out_dir`` are removed
    first.  Raises OSError when the folder cannot take the files.
    """
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {', '.join(unknown)}; known formats: {', '.join(FORMATS)}")
    out = Path(out_dir)
    disk.prepare_dir(out)
    found = violations(result)
    stems = file_stems((v.name for v in found), reserved=_RESERVED)
    disk.remove_stale(out, _names_we_write(result))
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = out / name
        disk.write_atomic(path, text)
        written.append(path)

    files: dict[str, list[str]] = {}
    for violation in found:
        stem = stems[violation.name]
        for fmt in wanted:
            if fmt in _PER_VIOLATION:
                files.setdefault(violation.name, []).append(stem + _PER_VIOLATION[fmt])
        if "markdown" in wanted:
            write(stem + ".md", violation_markdown(model, violation, result.model))
        if "itf" in wanted:
            write(stem + ".itf.json", itf.dumps(itf.violation_to_itf(model, violation)))
        if "script" in wanted:
            write(stem + ".qmp.jsonl", violation_to_script(model, violation))
    if "summary" in wanted:
        write("summary.md", summary_markdown(result, files, deterministic=deterministic))
    if "junit" in wanted:
        write("junit.xml", junit_xml(result, model))
    if "html" in wanted:
        # Imported here so that jinja2 and graphviz are needed only for HTML.
        from .html import html_report

        write("report.html", html_report(result, model))
    if "json" in wanted:
        write("result.json", jsonresult.dumps(result_to_json(result, model, deterministic=deterministic)))
    disk.write_manifest(out, (p.name for p in written), int(result.exit_code), result.exit_code.meaning)
    return written


def _names_we_write(result: Result) -> list[str]:
    """Every file name a run of this model may leave: per-run files and every property's per-violation files."""
    names = [p.name for p in result.properties] + ["deadlock"]
    stems = file_stems(names, reserved=_RESERVED).values()
    return [*_PER_RUN, *(stem + ext for stem in stems for ext in _PER_VIOLATION.values())]
