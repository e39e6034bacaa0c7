"""The state of the block-layer model, as plain tuples of small ints.

States must be hashable and hash-stable (see checker.api), and cheap to
copy, so a state is an 8-tuple and a job is an 8-tuple, read through the
index constants below rather than through attribute access.

``(backing, data, jobs, blockers, writes_left, jobs_left, headers, changes_left)``:

- ``backing[i]``: index of node i's backing node, or NONE; REMOVED once
  the node has left the chain and no job holds it (2015 QEMU deletes such
  nodes; forgetting their stale contents keeps equal states equal).  Nodes
  are numbered from the base-most image (0, "A") up to the active layer.
  ``[A] <- [B]`` in the docs means ``backing[B] == A``.
- ``data[i]``: node i's clusters, one value per chunk, 0 where the node
  does not allocate it (qemu-domain.md §8.1 "Data").
- ``jobs``: the job records, sorted by owner.  A list rather than a slot per
  node, so that "at most one job per node" is a property that could fail.
- ``blockers[i]``: bit o set when the job owned by node o holds an op
  blocker on node i (qemu-domain.md §3, ``bdrv_op_block_all``).  Stored, not
  derived from the jobs, because a leaked blocker is one of the bugs the
  properties must be able to see.
- ``writes_left``: guest writes the scenario still allows.
- ``jobs_left``: jobs the scenario still lets the user start.
- ``headers[i]``: the node whose image file node i's on-disk header names
  as its backing file; NONE for no backing file, OTHER for a string that
  names no file of the chain, REMOVED with the node.  The live link
  (``backing``) and the header part ways when ``change-backing-file``
  rewrites only the header (qemu-domain.md §2.5: completion rewrites both);
  reopening the chain from disk follows the headers (:func:`disk_view`).
- ``changes_left``: header rewrites (``change-backing-file``) the scenario
  still allows.
"""

from __future__ import annotations

import enum
from functools import lru_cache

NONE = -1
REMOVED = -2
#: A header naming a file that is not one of the chain's images.
OTHER = -3

# State fields.
BACKING, DATA, JOBS, BLOCKERS, WRITES_LEFT, JOBS_LEFT, HEADERS, CHANGES_LEFT = range(8)

# Job record fields.
J_OWNER, J_KIND, J_TOP, J_BASE, J_STATUS, J_CURSOR, J_FLAGS, J_PAUSES = range(8)


class Kind(enum.IntEnum):
    STREAM = 0
    COMMIT = 1


class Status(enum.IntEnum):
    """Where a job is in its life (the 2015 block job, before JobStatus)."""

    RUNNING = 0
    PAUSED = 1  # user-paused (block-job-pause)
    FINISHED = 2  # the coroutine returned; stream_complete is deferred to the main loop


# Job flags.
CANCELLED = 1
FAILED = 2


def put(state: tuple, field: int, value: object) -> tuple:
    """``state`` with one field replaced."""
    return state[:field] + (value,) + state[field + 1 :]


def find_job(jobs: tuple, owner: int) -> tuple | None:
    """The job owned by ``owner``, or None."""
    for job in jobs:
        if job[J_OWNER] == owner:
            return job
    return None


def replace_job(jobs: tuple, old: tuple, new: tuple | None) -> tuple:
    """``jobs`` with ``old`` replaced by ``new`` (or removed when new is None)."""
    out = [j for j in jobs if j is not old]
    if new is not None:
        out.append(new)
        out.sort()
    return tuple(out)


@lru_cache(maxsize=1 << 14)
def chain_below(backing: tuple, node: int) -> tuple[int, ...]:
    """The nodes below ``node`` along backing links, nearest first.

    Stops at a repeated node, so a corrupt (cyclic) chain cannot hang a
    property that is about to report the cycle.  Cached: a run meets only
    a few dozen chain shapes, and this is asked for in every state.
    """
    out: list[int] = []
    seen = {node}
    nxt = backing[node]
    while nxt >= 0 and nxt not in seen:
        out.append(nxt)
        seen.add(nxt)
        nxt = backing[nxt]
    return tuple(out)


@lru_cache(maxsize=1 << 14)
def between(backing: tuple, top: int, base: int) -> tuple[int, ...]:
    """Nodes strictly between ``top`` and ``base`` (all below top if base is NONE)."""
    below = chain_below(backing, top)
    return below[: below.index(base)] if base in below else below


@lru_cache(maxsize=1 << 12)
def in_chain(backing: tuple, root: int) -> frozenset[int]:
    """The nodes reachable from the active layer: those still in the chain."""
    return frozenset((root, *chain_below(backing, root)))


def has_cycle(backing: tuple) -> bool:
    for start in range(len(backing)):
        node, steps = start, 0
        while node >= 0:
            node = backing[node]
            steps += 1
            if steps > len(backing):
                return True
    return False


def disk_view(headers: tuple, data: tuple, node: int) -> tuple:
    """What ``node`` reads once the chain is reopened from its image files.

    Opening an image follows the backing file its header names, so this is
    :func:`view` over the headers; a header naming no file of the chain
    (OTHER) ends the walk, as a missing backing file would fail the open.
    """
    return view(tuple(h if h >= 0 else NONE for h in headers), data, node)


@lru_cache(maxsize=1 << 16)
def view(backing: tuple, data: tuple, node: int) -> tuple:
    """What a reader of ``node`` sees: per chunk the first allocated value down the chain."""
    out = list(data[node])
    for lower in chain_below(backing, node):
        if all(out):
            break
        row = data[lower]
        for c, value in enumerate(out):
            if not value and row[c]:
                out[c] = row[c]
    return tuple(out)


def initial_state(chain_length: int, chunks: int, guest_writes: int, jobs_per_run: int, header_changes: int) -> tuple:
    """The chain A <- B <- ... with different data in each layer; every header names its backing node.

    The base-most image allocates every chunk; node i > 0 allocates chunk
    (i - 1) mod chunks, so every stream has something to copy and every
    layer's data is told apart by its value (i + 1).
    """
    backing = tuple(i - 1 for i in range(chain_length))
    data = tuple(
        tuple((i + 1) if (i == 0 or c == (i - 1) % chunks) else 0 for c in range(chunks)) for i in range(chain_length)
    )
    return (backing, data, (), (0,) * chain_length, guest_writes, jobs_per_run, backing, header_changes)
