"""Fixtures for the conformance tests.

Tests marked ``@pytest.mark.qemu`` need qemu-img, qemu-io,
qemu-storage-daemon and the ``qemu.qmp`` package; without them they skip
with the install command in the message.
"""

from __future__ import annotations

import importlib.util

import pytest

from blockcheck.conformance import INSTALL_HINT, QemuChain, missing_binaries


def _qemu_skip_reason() -> str | None:
    missing = missing_binaries()
    if missing:
        return f"needs {', '.join(missing)}: {INSTALL_HINT}"
    if importlib.util.find_spec("qemu.qmp") is None:
        return "needs the qemu.qmp package: pip install 'qemu.qmp>=0.0.3'"
    return None


@pytest.fixture(autouse=True)
def _skip_without_qemu(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("qemu") is not None:
        reason = _qemu_skip_reason()
        if reason:
            pytest.skip(reason)


@pytest.fixture
def make_chain():
    """Factory: ``make_chain(**QemuChain kwargs)`` -> a started QemuChain,
    closed (daemon killed, files removed) when the test ends."""
    made: list[QemuChain] = []

    def make(**kw) -> QemuChain:
        q = QemuChain(**kw)
        made.append(q)
        q.start()
        return q

    yield make
    for q in made:
        q.close()
