"""The checking engine: a generic explicit-state model checker.

Nothing in this package knows about QEMU; models plug in through
:class:`blockcheck.checker.api.Model` and the ``blockcheck.models``
entry-point group.
"""
