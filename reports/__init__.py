"""Reports of a search: Markdown, ITF, replay scripts, JUnit, HTML and JSON, from one Result.

:func:`write_reports` is the one entry point the command uses.  Every file
is a function of the result and the model's report hooks only, so two runs
of the same search write the same bytes; the seconds a search took appear
only in ``result.json`` and ``summary.md``, and not even there with
``deterministic=True``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from blockcheck.checker.api import Model
from blockcheck.checker.result import Result

from . import itf, jsonresult
from .jsonresult import result_to_json
from .junit import junit_xml
from .markdown import summary_markdown, violation_markdown
from .naming import file_stems
from .script import violation_to_script
from .trace_view import violations

__all__ = ["FORMATS", "result_to_json", "write_reports"]

#: Per violation: markdown, itf, script.  Per run: the rest.
FORMATS = ("markdown", "itf", "script", "junit", "html", "json", "summary")
_PER_VIOLATION = {"markdown": ".md", "itf": ".itf.json", "script": ".qmp.jsonl"}
_RESERVED = ("summary",)


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
    ``junit.xml``, ``report.html``, ``result.json``.
    """
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format {', '.join(unknown)}; known formats: {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = out / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)

    found = violations(result)
    stems = file_stems((v.name for v in found), reserved=_RESERVED)
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
    return written
