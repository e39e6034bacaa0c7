"""The HTML page: verdicts, statistics, one picture per step, escaped text, marked loops."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from blockcheck.reports import html as html_module
from blockcheck.reports.html import html_report
from blockcheck.reports.trace_view import violations
from report_support import needs_graphviz

#: Elements whose nesting is not checked: void in HTML, or leaves of Graphviz's SVG.
UNCHECKED = frozenset({"meta", "br", "path", "polygon", "ellipse", "polyline", "text", "title"})


class Tags(HTMLParser):
    """Counts start tags and checks that every opened element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in UNCHECKED:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag not in UNCHECKED:
            assert self.open.pop() == tag, f"</{tag}> closes something else"


def parse(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    tags.close()
    assert tags.open == []
    return tags


def steps_in(run) -> int:
    return sum(len(v.trace) for v in violations(run.result))


def test_page_lists_properties_and_statistics(skips):
    page = html_report(skips.result, skips.model, pictures=False)
    tags = parse(page)
    assert tags.counts["section"] == len(violations(skips.result))
    for prop in skips.result.properties:
        assert f"<code>{prop.name}</code>" in page
    assert f"{skips.result.stats.distinct} distinct" in page and "Exit code 12" in page
    assert "<svg" not in page and page.count('<div class="step') == steps_in(skips)


@needs_graphviz
def test_one_svg_per_step(skips, hangs):
    for run in (skips, hangs):
        page = html_report(run.result, run.model)
        assert page.count("<svg") == steps_in(run)
        parse(page)


@needs_graphviz
def test_changes_are_highlighted_in_the_picture(skips):
    # The block model draws its own pictures and outlines changed nodes in orange.
    page = html_report(skips.result, skips.model)
    assert 'stroke="#e67e00"' in page


@needs_graphviz
def test_the_generic_picture_highlights_changes_too(cycle):
    page = html_report(cycle.result, cycle.model)
    assert 'fill="#ffd43b"' in page


def test_without_graphviz_the_state_text_remains(skips, monkeypatch):
    monkeypatch.setattr(html_module, "graphviz", None)
    page = html_report(skips.result, skips.model)
    assert "<svg" not in page and "&lt;- [B] &lt;- [C]" in page


def test_text_is_escaped(skips):
    props = [dataclasses.replace(p, message="<script>alert(1)</script>") for p in skips.result.properties]
    page = html_report(dataclasses.replace(skips.result, properties=props), skips.model, pictures=False)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@needs_graphviz
def test_state_values_are_escaped_inside_pictures(cycle):
    class Loud(type(cycle.model)):
        def state_to_json(self, state):
            return {"label": '<script>x</script> & "q"', "clock": state[1]}

    model = Loud(cycle.model.fair, cycle.model.gated)
    page = html_report(cycle.result, model)
    assert "<script>" not in page and page.count("<svg") == steps_in(cycle)


@needs_graphviz
def test_a_model_may_draw_its_own_pictures(cycle):
    class Drawn(type(cycle.model)):
        def state_to_dot(self, state, previous):
            return f'digraph {{ "drawn-{state[1]}-{previous is None}" }}'

    page = html_report(cycle.result, Drawn(cycle.model.fair, cycle.model.gated))
    assert "drawn&#45;0&#45;True" in page or "drawn-0-True" in page


def test_loops_are_marked(hangs, cycle):
    page = html_report(hangs.result, hangs.model, pictures=False)
    assert "(the loop starts here)" in page and "stays in state" in page
    page = html_report(cycle.result, cycle.model, pictures=False)
    target = violations(cycle.result)[-1].trace.loop + 1
    assert f'Back to state <a href="#v-tick-leads-to-done-{target}">{target}</a>' in page
