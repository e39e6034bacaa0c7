"""The one-line statistics every summary ends with, with or without timings.

Timings differ between runs, so ``deterministic=True`` leaves them out:
reports that CI compares byte for byte, or stores as golden files, stay
the same as long as the search does.
"""

from __future__ import annotations

from blockcheck.checker.result import Result


def stats_line(result: Result, *, deterministic: bool = False) -> str:
    """``9969 distinct / 38571 generated states, depth 5, 0.72 s (13830 states/s); <stop reason>``."""
    stats = result.stats
    text = f"{stats.distinct} distinct / {stats.generated} generated states, depth {stats.depth}"
    if not deterministic:
        text += f", {stats.seconds:.2f} s ({stats.states_per_second:.0f} states/s)"
    text += f"; {result.stop.value}"
    if stats.queue_left:
        text += f" ({stats.queue_left} states left unexplored)"
    return text
