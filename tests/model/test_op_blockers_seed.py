"""The seed profile against docs/op-blockers.md, row by row (QEMU 2.8's answers).

Every expected answer is the 2.8 column of the audit table, worked out from
QEMU 2.8's qmp_* functions there, never read back from the model.  The
chain is ``[A] <- [B] <- [C] <- [D] <- [E] (drive0)``; most cases run while
``block-stream device=D base=B`` holds D (its owner) and C (between), so
that the root E and the base B are free.
"""

from __future__ import annotations

import pytest

from blockcheck.model.state import HEADERS, CHANGES_LEFT

from tests.model.test_seed_rules import BUSY_STREAM, OK, cmd, run, step

A, B, C, D, E = range(5)
STREAM_D = cmd("block-stream", device="D", base="B")
STREAM_E = cmd("block-stream", device="drive0", base="C")


def err(desc: str, cls: str = "GenericError") -> dict:
    return {"error": {"class": cls, "desc": desc}}


def change(image: str, backing_file: str = "A.qcow2", device: str = "drive0") -> dict:
    return cmd("change-backing-file", device=device, **{"image-node-name": image, "backing-file": backing_file})


def answer(lines: list[dict], **scenario) -> dict:
    """The answer to the last line."""
    return run(lines, **scenario)[0][-1]


# -- change-backing-file (§2.3): 2.8 checks CHANGE on the root only ------------------
CHANGE_ROWS = [
    # the finding: a job on D leaves the root free, so the headers of its nodes can be rewritten
    pytest.param([STREAM_D, change("C")], OK, id="held-intermediate-accepted"),
    pytest.param([STREAM_D, change("D")], OK, id="held-top-accepted"),
    pytest.param([STREAM_D, change("B")], OK, id="base-accepted"),
    pytest.param([change("C")], OK, id="no-job-backing-node-accepted"),
    # a job that holds the root refuses it, naming the root (not the image)
    pytest.param([STREAM_E, change("D")], err(f"Node 'drive0' is busy: {BUSY_STREAM}"), id="root-held"),
    # look-ups and checks, in qmp_change_backing_file's order
    pytest.param([change("A")], err("not allowing backing file change on an image without a backing file"), id="no-backing"),
    pytest.param([change("C", device="D")], err("Need a root block node"), id="device-not-root"),
    pytest.param([change("C", device="nope")], err("Cannot find device=nope nor node_name=nope"), id="device-unknown"),
    pytest.param([change("nope")], err("Cannot find device= nor node_name=nope"), id="image-unknown"),
    pytest.param([change("drive0")], err("Cannot find device= nor node_name=drive0"), id="image-by-device-name"),
    pytest.param([STREAM_E, change("A")], err("not allowing backing file change on an image without a backing file"), id="no-backing-before-blocker"),
    pytest.param([cmd("change-backing-file", device="drive0", **{"image-node-name": "C"})], err("Parameter 'backing-file' is missing"), id="missing-backing-file"),
    pytest.param([cmd("change-backing-file", **{"image-node-name": "C", "backing-file": "x"})], err("Parameter 'device' is missing"), id="missing-device"),
    pytest.param([change("C", backing_file=5)], err("Invalid parameter type for 'backing-file', expected: string"), id="backing-file-not-a-string"),
]


@pytest.mark.parametrize(("lines", "expected"), CHANGE_ROWS)
def test_change_backing_file_row(lines: list[dict], expected: dict) -> None:
    assert answer(lines) == expected


def test_change_backing_file_rewrites_the_header_only():
    """bdrv_change_backing_file writes the image header; the live link stays (§2.5)."""
    _, state, _ = run([STREAM_D, change("C", "A.qcow2")])
    assert state[HEADERS] == (-1, A, A, C, D)
    assert state[0] == (-1, A, B, C, D)
    assert state[CHANGES_LEFT] == 0


def test_a_string_naming_no_file_of_the_chain_is_taken_as_qemu_takes_it():
    _, state, _ = run([change("C", "elsewhere.qcow2")])
    assert state[HEADERS][C] == -3  # OTHER


def test_a_node_outside_the_chain_is_not_in_the_same_chain():
    """After stream D base B completes, C is deleted (2015 QEMU frees it): it is no longer found."""
    lines = [STREAM_D, step("job-copy", "D"), step("job-copy", "D"), step("stream-complete", "D"), change("C")]
    assert answer(lines) == err("Cannot find device= nor node_name=C")


def test_the_fix_variant_checks_every_node_from_the_root_to_the_image():
    fixed = {"variant": "fix-change-checks-chain"}
    assert answer([STREAM_D, change("C")], **fixed) == err(f"Node 'D' is busy: {BUSY_STREAM}")
    assert answer([STREAM_D, change("D")], **fixed) == err(f"Node 'D' is busy: {BUSY_STREAM}")
    # a backing link no longer blocks CHANGE, so a free chain stays changeable
    assert answer([change("C")], **fixed) == OK
    assert answer([cmd("block-stream", device="C", base="A"), change("D")], **fixed) == OK


def test_completion_rewrites_the_owners_header_over_a_users_rewrite():
    """stream_complete writes the base's file into the top's header (§2.5), whatever it said."""
    lines = [STREAM_D, change("D", "A.qcow2"), step("job-copy", "D"), step("job-copy", "D"), step("stream-complete", "D")]
    _, state, _ = run(lines)
    assert state[HEADERS][D] == B
    assert state[0][D] == B


# -- block_resize (§2.4) ----------------------------------------------------------------
RESIZE_ROWS = [
    pytest.param([STREAM_D, cmd("block_resize", **{"node-name": "D", "size": 0})], err("Device '(null)' is in use"), id="job-owner-by-node-name"),
    pytest.param([STREAM_E, cmd("block_resize", device="drive0", size=0)], err("Device 'drive0' is in use"), id="root-held"),
    pytest.param([STREAM_D, cmd("block_resize", **{"node-name": "C", "size": 0})], err("The feature 'resize' is not enabled"), id="inner-node"),
    pytest.param([cmd("block_resize", device="C", size=0)], err("Cannot find device=C nor node_name="), id="node-name-in-device"),
    pytest.param([STREAM_D, cmd("block_resize", device="drive0", size=0)], OK, id="free-root"),
    pytest.param([cmd("block_resize", device="drive0")], err("Parameter 'size' is missing"), id="missing-size"),
]


@pytest.mark.parametrize(("lines", "expected"), RESIZE_ROWS)
def test_block_resize_row(lines: list[dict], expected: dict) -> None:
    assert answer(lines) == expected


# -- blockdev-snapshot-sync (§2.5), drive-mirror (§2.8), block-commit (§2.2) ------------
OTHER_ROWS = [
    pytest.param([STREAM_D, cmd("blockdev-snapshot-sync", **{"node-name": "C", "snapshot-file": "S.qcow2"})], err(f"Node 'C' is busy: {BUSY_STREAM}"), id="snapshot-held"),
    pytest.param([STREAM_D, cmd("blockdev-snapshot-sync", **{"node-name": "B", "snapshot-file": "S.qcow2"})], err("Node 'B' is busy: node is used as backing hd of 'C'"), id="snapshot-base"),
    pytest.param([STREAM_E, cmd("blockdev-snapshot-sync", device="drive0", **{"snapshot-file": "S.qcow2"})], err(f"Node 'drive0' is busy: {BUSY_STREAM}"), id="snapshot-root-held"),
    pytest.param([STREAM_D, cmd("drive-mirror", device="C", target="T.qcow2", sync="full")], err("Need a root block node"), id="mirror-inner"),
    pytest.param([STREAM_E, cmd("drive-mirror", device="drive0", target="T.qcow2", sync="full")], err(f"Node 'drive0' is busy: {BUSY_STREAM}"), id="mirror-root-held"),
    pytest.param([cmd("block-commit", device="D", top="C", base="A")], err("Need a root block node"), id="commit-device-not-root"),
    pytest.param([cmd("block-commit", device="nope", top="C", base="A")], err("Device 'nope' not found", "DeviceNotFound"), id="commit-device-unknown"),
    pytest.param([STREAM_D, cmd("block-stream", device="C", base="A")], err(f"Node 'C' is busy: {BUSY_STREAM}"), id="stream-walk"),
]


@pytest.mark.parametrize(("lines", "expected"), OTHER_ROWS)
def test_other_guarded_row(lines: list[dict], expected: dict) -> None:
    assert answer(lines) == expected
