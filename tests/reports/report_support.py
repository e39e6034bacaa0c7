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
    """Explore the block model with ``variant`` on a three-node chain (about a second)."""
    model = BlockModel(Scenario(variant=variant, chain_length=3))
    result = explore(
        model, block_properties(model), stop_at_first=stop_at_first, expected=expected, quiet=True, **bounds
    )
    return Run(model, result)
