"""Models are found by name through the ``blockcheck.models`` entry-point group.

A model package declares, in its pyproject.toml::

    [project.entry-points."blockcheck.models"]
    my-model = "my_package.plugin:PLUGIN"

and ``blockcheck check --model my-model`` finds it; the engine never imports
a model by path.  The object the entry point names is a :class:`Plugin`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

from .api import Model
from .property import Property

GROUP = "blockcheck.models"
DEFAULT_MODEL = "qemu-block"


class UsageError(Exception):
    """Bad command line, configuration or input; exit code 151.  The message names the fix."""


@dataclass(frozen=True)
class Build:
    """What a plugin hands the engine for one run."""

    model: Model
    properties: list[Property]
    #: One line describing the configuration, for reports.
    description: str


class Plugin(Protocol):
    """What a model package provides to the ``blockcheck`` command."""

    name: str
    summary: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the model's configuration options (used by ``check`` and the model's own commands)."""

    def build(self, args: argparse.Namespace) -> Build:
        """Build the model and its properties from parsed options; raise UsageError on bad values."""

    def listing(self) -> dict[str, list[tuple[str, str]]]:
        """Sections for ``blockcheck list``: title -> (name, one-line description) rows."""

    def add_commands(self, subparsers: argparse._SubParsersAction, options: argparse.ArgumentParser) -> None:
        """Add model-specific subcommands; ``options`` is a parent parser holding add_arguments' options."""


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load(name: str) -> Plugin:
    """The plugin registered as ``name``."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    known = ", ".join(available()) or "none (is the package installed?)"
    raise UsageError(f"no model named {name!r} is registered; known models: {known}")
