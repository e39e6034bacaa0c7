"""The fingerprint of a state: a 64-bit hash in which -1 and -2 differ.

Why not ``hash(state)``: CPython reserves -1 as the error return of its
C-level hash functions, so a number equal to -1 (an int, a float, an
IntEnum) hashes as -2 does, ``hash(-1) == hash(-2) == -2``.  The hash of a
tuple or frozenset combines the hashes of its items, so ``hash((x, -1)) ==
hash((x, -2))`` at any depth: two states that differ only where one holds
-1 and the other -2 always share ``hash(state)``.  Models use small
negative ints as sentinels (the block model's NONE and REMOVED are -1 and
-2), and a search that keeps only fingerprints would drop the second of two
such states unseen, without any sign in its counts.

The fingerprint hashes, in place of each item of a tuple or frozenset, the
item's *lane*:

- an item equal to -1: :data:`MINUS_ONE` (``2**61 - 2``);
- a tuple or frozenset: its own fingerprint, an int;
- any other item: itself.

``fingerprint(t) = hash(tuple(lane(x) for x in t))`` for a tuple (a
frozenset of lanes for a frozenset), and an atom is hashed as its lane.
64-bit CPython hashes an int as its value modulo ``2**61 - 1``, sign kept,
so the ints of magnitude below ``2**61 - 2`` hash to themselves, -1 aside;
the model API allows no others (:func:`.api.check_hash_stable` refuses
them in the first states the search expands), so distinct atoms have lanes
with distinct hashes, and states that differ only in atoms at the same
places never share a fingerprint by construction.  What remains is chance:
for a hash that behaves as a random 64-bit function, n distinct states
share some fingerprint with probability at most n(n-1)/2**65, about
2.7e-8 for 10**6 states and 2.7e-4 for 10**8.  A nested part enters the
hash as its lane modulo ``2**61 - 1``, so m distinct nested parts add at
most m(m-1)/2**62 (about 1e-10 for the 25,000 parts of the block model's
default scenario).  Python's tuple hash is xxHash-based, not
cryptographic: the figures are the ideal it approaches.  Floats that
are not whole numbers are the one exception the API still lets in: their
hash is their value as a fraction modulo ``2**61 - 1``, so ``hash(0.5) ==
hash(2**60)``; encode such values as ints.

Equal states get equal fingerprints, as with ``hash``: every value equal
to -1 (``-1.0``, an IntEnum of value -1) gets the same lane, and every
other atom is left to Python's hash, which agrees with ``==`` (``hash(True)
== hash(1)``).  Like ``hash`` of ints and tuples, the fingerprint is the
same in every process (no salt).

Cost: the lane of each item is kept in a dict keyed by the item
(:class:`_Lanes`), so a state costs one dict look-up per item, made in C by
``map``, and one ``hash`` of a tuple of ints; states share most of their
items with their predecessors, so look-ups nearly always hit.  The dict
compares keys by ``==``, so the collision of ``hash`` does not reach it.
Counted in instructions on the block model's states, this is about three
times ``hash(state)``; hashing a copy of the state with -1 replaced was
four times, and a recursive walk of the state in Python took 20 to 50
times as long.
"""

from __future__ import annotations

from collections.abc import Hashable

from .api import INT_LIMIT

__all__ = ["MINUS_ONE", "fingerprint", "forget"]

#: The lane of -1: an int the model API keeps out of states (it refuses
#: magnitudes of INT_LIMIT or more), so it stands for -1 alone.
MINUS_ONE = INT_LIMIT

#: Items remembered at most; beyond, the memo starts again (correct, slower).
MEMO_LIMIT = 1 << 17


class _Lanes(dict):
    """Item -> its lane (see the module), filled on demand.

    A dict subclass so that a hit costs one C-level look-up (``map`` over
    ``__getitem__``) and only a miss runs Python.  Nested items are looked
    up the same way, so the parts that states share are hashed once.
    """

    def __missing__(self, item: Hashable) -> int | Hashable:
        if len(self) >= MEMO_LIMIT:
            self.clear()
        lane: int | Hashable
        if isinstance(item, tuple):
            lane = hash(tuple(map(self.__getitem__, item)))
        elif isinstance(item, frozenset):
            lane = hash(frozenset(map(self.__getitem__, item)))
        elif item == -1:
            lane = MINUS_ONE
        else:
            lane = item
        self[item] = lane
        return lane


_MEMO = _Lanes()
_lane = _MEMO.__getitem__


def fingerprint(state: Hashable) -> int:
    """The 64-bit fingerprint of ``state``: a hash in which -1 and -2 differ (see the module).

    >>> hash((0, -1)) == hash((0, -2))
    True
    >>> fingerprint((0, -1)) == fingerprint((0, -2))
    False
    >>> fingerprint((0, -1.0)) == fingerprint((False, -1))
    True

    Raises TypeError for a state that is not hashable, as ``hash`` does.
    """
    if isinstance(state, tuple):
        return hash(tuple(map(_lane, state)))
    if isinstance(state, frozenset):
        return hash(frozenset(map(_lane, state)))
    return hash(MINUS_ONE) if state == -1 else hash(state)


def forget() -> None:
    """Drop the memo of lanes, so a finished search holds no memory through it."""
    _MEMO.clear()
