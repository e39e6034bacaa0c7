"""The profiles: which rules a scenario's ``profile`` names, and its model.

``seed`` is the 2015 design (:mod:`.seed`), ``qemu-7.2`` QEMU 7.2 as the
conformance harness observed it (:mod:`.qemu72`).  Both share the state
layout of :mod:`.state`; each has its own Model class.
"""

from __future__ import annotations

from collections.abc import Callable

from blockcheck.checker.api import Model

from .block_model import BlockModel
from .qemu72_model import Qemu72Model
from .scenario import Scenario, ScenarioError

#: profile name -> the Model class built from a scenario.
PROFILES: dict[str, Callable[[Scenario], Model]] = {
    "seed": BlockModel,
    "qemu-7.2": Qemu72Model,
}


def make_model(scenario: Scenario) -> Model:
    """The model of ``scenario.profile`` for ``scenario``."""
    try:
        factory = PROFILES[scenario.profile]
    except KeyError:
        raise ScenarioError(
            f"unknown profile {scenario.profile!r}; choose from {', '.join(PROFILES)}"
        ) from None
    return factory(scenario)
