"""Conformance harness: checks blockcheck's model against a real QEMU.

See :mod:`blockcheck.conformance.harness` for the harness itself.
"""

from .harness import (
    BINARIES,
    CHUNK,
    DEFAULT_NAMES,
    INSTALL_HINT,
    JOB_EVENTS,
    QCOW2_CLUSTER,
    HarnessError,
    QemuChain,
    classify,
    default_alloc,
    expected_view,
    missing_binaries,
    normalise,
)

__all__ = [
    "BINARIES",
    "CHUNK",
    "DEFAULT_NAMES",
    "INSTALL_HINT",
    "JOB_EVENTS",
    "QCOW2_CLUSTER",
    "HarnessError",
    "QemuChain",
    "classify",
    "default_alloc",
    "expected_view",
    "missing_binaries",
    "normalise",
]
