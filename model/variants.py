"""Fault variants: named models that each break one rule on purpose.

A property that no variant can break proves nothing, and a variant no
property catches is a hole in the properties; ``blockcheck mutants`` prints
the matrix.  Each variant is a flag the rules consult at exactly one place.

A *fix* variant is the other way round: the rules as QEMU should have them
where the faithful rules have a finding (docs/findings/).  Every property
must hold under a fix, and the design may violate only its known findings.
"""

from __future__ import annotations

#: name -> what the variant does, and where the rule it breaks comes from.
VARIANTS: dict[str, str] = {
    "none": "the rules as designed",
    "top-only-check": (
        "block-stream checks op blockers on the top node only, not on every node down to the base "
        "(the design's first version; seed point 4)"
    ),
    "no-intermediate-block": (
        "a stream job blocks its top but not the nodes between top and base (seed point 3)"
    ),
    "cancel-skips-complete": (
        "a cancelled job exits without running stream_complete, the bug fixed by the seed's second "
        "patch (qemu-domain.md §2.6)"
    ),
    "root-only-query": "query-block-jobs looks at root nodes only, not the whole tree (seed point 2)",
    "device-field-empty": (
        "query-block-jobs reports an empty device for a job whose owner has no device name (seed point 2)"
    ),
    "early-unblock": (
        "a job releases its blockers when its coroutine returns, before stream_complete changes the "
        "backing link (qemu-domain.md §2.5: blockers go only after the graph change)"
    ),
    "cancel-changes-chain": (
        "stream_complete redirects the backing link even for a cancelled job, like the job that still "
        "ran .commit after cancel (qemu-domain.md §7, 35d6b368f2)"
    ),
    "copy-reads-base": (
        "a stream's copy reads each chunk as the base sees it (the base and below) instead of through "
        "the nodes between top and base, so their data is skipped (the copy must see what the top sees, "
        "qemu-domain.md §2.4)"
    ),
    "cancel-never-completes": (
        "a cancelled job's deferred stream_complete is never scheduled, so the job hangs"
    ),
    "fix-change-checks-chain": (
        "fix: change-backing-file checks CHANGE on every node from the root down to image-node-name, "
        "and a backing link no longer blocks CHANGE on its backing node (as 61b49e48b3 did for STREAM); "
        "QEMU checks the root only (docs/findings/change-backing-file-under-a-job.md)"
    ),
}

#: Variants that repair a finding rather than break a rule.
FIX_VARIANTS = frozenset({"fix-change-checks-chain"})

#: The design's known findings: each property QEMU's own rules violate, and
#: the fix variant under which it holds (docs/findings/).
FINDINGS: dict[str, str] = {
    "isolation": "fix-change-checks-chain",
    "isolation.guarded-ops": "fix-change-checks-chain",
}


#: The qemu-7.2 profile's historical variants (qemu-domain.md §7): each is
#: QEMU 7.2's rules with exactly one fixed bug's fix taken out, named after
#: the commit that fixed it.  name -> what the variant does.
HISTORICAL: dict[str, str] = {
    "8d3dd037d9-base-before-filter-drop": (
        "stream_prepare reads its base (the node below above_base) before bdrv_cor_filter_drop, whose drain "
        "polls, instead of after it (fixed in 6.2 by 8d3dd037d9)"
    ),
    "b1e1af394d-base-before-drain": (
        "stream_prepare reads its base after dropping the filter but before the drain around the graph change, "
        "whose poll may run another job's exit (fixed in 7.0 by b1e1af394d; test_overlapping_5)"
    ),
    "8441d82d51-header-before-link": (
        "stream_prepare rewrites the top's header (bdrv_change_backing_file, which can yield) before it sets "
        "the live link, and sets the link to the base it read before the yield (fixed in 4.1 by 8441d82d51)"
    ),
    "6585493369-no-chain-freeze": (
        "stream_start does not freeze the chain from its top to above_base, so a stream whose base-node lies "
        "below a live commit's filter starts, with that filter as its above_base (fixed in 4.0 by 6585493369; "
        "test_overlapping_4)"
    ),
}
#: Historical variants whose fix lies inside a job's end, so that only the
#: polling granularity (``completions = "polling"``) can express them.
NEEDS_POLLING = frozenset({
    "8d3dd037d9-base-before-filter-drop", "b1e1af394d-base-before-drain", "8441d82d51-header-before-link",
})


def check_variant(name: str) -> str:
    """Return ``name`` if it is a known variant, else raise with the known ones."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}; known variants: {', '.join(VARIANTS)}")
    return name
