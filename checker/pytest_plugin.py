"""A pytest plugin: each property of a configured check becomes a test item.

Put a ``blockcheck.toml`` (the same keys as ``blockcheck check``'s options)
next to a project's tests; ``pytest`` then collects it, runs the check once
with every property judged (as ``--continue``) and reports one item per
property: it passes when the property holds with its witness reached, and
fails with the verdict and the counterexample otherwise, so model checks sit
next to unit tests in the same CI report.  A search cut short by a bound
fails its items: a bound is never a pass.  A property named in
``expect-violated`` is a strict xfail: its violation is reported as
xfailed, and a run where it does not occur fails the item.

Registered through the ``pytest11`` entry point; inert where no
``blockcheck.toml`` is collected.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from . import registry
from .config import apply_config, read_config
from .result import PropertyResult, Result, Verdict

CONFIG_NAME = "blockcheck.toml"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == CONFIG_NAME:
        return CheckFile.from_parent(parent, path=file_path)
    return None


class CheckFailed(Exception):
    """A property did not hold; the message is the verdict and the trace."""


class CheckFile(pytest.File):
    """One configured check; its items are its properties."""

    @cached_property
    def run(self) -> tuple[Any, Result]:
        # Imported here so that pytest sessions without a blockcheck.toml pay nothing.
        from .cli import build_parser, checked_properties
        from .search import explore

        settings = dict(read_config(self.path) or {})
        plugin = registry.load(settings.pop("model", registry.DEFAULT_MODEL))
        parser, commands = build_parser(plugin)
        apply_config(commands, "check", settings, self.path.name)
        args = parser.parse_args(["check"])
        build = plugin.build(args)
        props, expected = checked_properties(build, args)
        result = explore(
            build.model,
            props,
            max_states=args.max_states,
            max_depth=args.max_depth,
            check_deadlock=not args.no_deadlock,
            stop_at_first=False,
            expected=expected,
            quiet=True,
        )
        return build.model, result

    def collect(self) -> Iterator[pytest.Item]:
        try:
            _, result = self.run
        except registry.UsageError as exc:
            message = str(exc)  # errors read from the file already start with its name
            prefix = f"{self.path.name}: "
            raise self.CollectError(message if message.startswith(prefix) else prefix + message) from None
        for prop in result.properties:
            yield PropertyItem.from_parent(self, name=prop.name, prop=prop)
        if result.deadlock is not None:
            yield DeadlockItem.from_parent(self, name="deadlock")


class _CheckItem(pytest.Item):
    """An item whose failure is a verdict and a trace, not a Python traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"blockcheck {self.name}"


class PropertyItem(_CheckItem):
    def __init__(self, *, prop: PropertyResult, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prop = prop

    def runtest(self) -> None:
        prop = self.prop
        if prop.stale_expectation:
            raise CheckFailed(f"{prop.name}: {prop.message}")
        if prop.verdict is Verdict.HOLDS:
            return
        if prop.expected_violation:
            pytest.xfail(f"expected violation: {prop.message}")
        model, _ = self.parent.run
        text = f"{prop.name}: {prop.verdict.value}: {prop.message or prop.meaning}"
        if prop.trace is not None:
            text += "\n" + _format_trace(model, prop.trace)
        raise CheckFailed(text)


class DeadlockItem(_CheckItem):
    def runtest(self) -> None:
        model, result = self.parent.run
        text = "deadlock: a state without successors that the model does not accept as an end"
        raise CheckFailed(text + "\n" + _format_trace(model, result.deadlock))


def _format_trace(model: Any, trace: Any) -> str:
    lines = []
    for number, step in enumerate(trace.steps, start=1):
        action = "initial state" if step.action is None else model.format_action(step.action)
        lines.append(f"  {number:>3}. {action}\n       {model.format_state(step.state)}")
    if trace.loop is not None:
        lines.append("       (stays here forever)" if trace.stutter else f"       (back to state {trace.loop + 1})")
    return "\n".join(lines)
