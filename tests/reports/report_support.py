"""Searches the report tests render: real results of the block model on a three-node chain."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass

import pytest
from blockcheck.checker.api import Model
from blockcheck.checker.result import Result
from blockcheck.checker.search import explore
from blockcheck.model.block_model import BlockModel
from blockcheck.model.scenario import Scenario
from blockcheck.model.variants import FINDINGS
from blockcheck.properties.block import block_properties

HAVE_GRAPHVIZ = importlib.util.find_spec("graphviz") is not None and shutil.which("dot") is not None
needs_graphviz = pytest.mark.skipif(
    not HAVE_GRAPHVIZ, reason="needs the graphviz package (pip install graphviz) and the dot program"
)


@dataclass(frozen=True)
class Run:
    model: Model
    result: Result


def block_run(variant: str, *, stop_at_first: bool = False, expected: tuple[str, ...] = (), **bounds: int) -> Run:
    """Explore the block model with ``variant`` on a three-node chain (about a second).

    The properties of the design's known findings (docs/findings/) are left
    out, so that each run's violations are its variant's own; the finding's
    reports are tested in tests/test_cli.py and tests/test_gallery.py.
    """
    model = BlockModel(Scenario(variant=variant, chain_length=3))
    props = [p for p in block_properties(model) if p.name not in FINDINGS]
    result = explore(model, props, stop_at_first=stop_at_first, expected=expected, quiet=True, **bounds)
    return Run(model, result)
