"""Bad replay scripts never crash and never pass for good ones (issue 11).

Scripts are drawn from the project's own (the gallery's counterexample
scripts, and the lines the reports write for a walk of each profile's
model), then mutated: an argument of the wrong type, missing or unknown, a
broken QMP frame, a step with a bad field, bytes that are not UTF-8, NaN,
absurd nesting, half a line.  Both profiles, derandomised so CI sees the
same cases every run.

Most cases go through the same functions ``blockcheck replay`` calls
(decode, parse, the profile's executor, the printer), in process, so that
thousands fit in CI's budget; a smaller share goes through the CLI entry
point itself, exit code and stderr included.  The fixed regressions at the
end are the cases the fuzzing battery of issue 11 found, one per class,
with the texts QEMU 7.2's qemu-storage-daemon answers.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blockcheck.checker import cli
from blockcheck.checker.exitcodes import ExitCode
from blockcheck.model import commands, qemu72_script
from blockcheck.model.commands import Executor, parse_script
from blockcheck.model.profiles import make_model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.qmp_schema import ScriptError, decode_script
from blockcheck.model.scenario import Scenario
from blockcheck.model.state import DATA

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("seed", "qemu-7.2")
#: What a replay may exit with: it ran, or the script is not a script.
REPLAY_CODES = {ExitCode.OK, ExitCode.USAGE_ERROR}
FUZZ = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))


def _model(profile: str):
    return make_model(Scenario(profile=profile))


MODELS = {profile: _model(profile) for profile in PROFILES}
SCHEMAS = {"seed": commands.SCHEMA, "qemu-7.2": qemu72_script.SCHEMA}


def _executor(profile: str):
    model = MODELS[profile]
    return (Executor72 if profile == "qemu-7.2" else Executor)(model.rules)


def _walk_lines(profile: str, steps: int = 14) -> list[dict[str, Any]]:
    """The script lines a report writes for a deterministic walk of the model."""
    model, state, lines = MODELS[profile], MODELS[profile].init_states()[0], []
    for i in range(steps):
        actions = model.actions(state)
        if not actions:
            break
        action = actions[(7 * i + 3) % len(actions)]
        lines.append(model.action_to_json(action))
        state = model.next_state(state, action)
    return lines


def _gallery_lines() -> list[dict[str, Any]]:
    return [line for path in sorted((ROOT / "docs" / "gallery").glob("*.jsonl"))
            for _, line in parse_script(path.read_text())]


#: Good lines per profile, the corpus the mutations start from.
CORPUS = {
    "seed": _gallery_lines() + _walk_lines("seed"),
    "qemu-7.2": _walk_lines("qemu-7.2"),
}

BAD_VALUES = st.sampled_from(
    ["", "x", "fast", "no", "drive0", "D", "@filter:x", -1, 0, 1, 7, 2**63, -(2**63) - 1, 10**23, 1.0, 1.5,
     True, False, None, [], [1], {}, {"a": 1}, "\u00e9\u2028", "a\nb"]
)
NAMES = st.sampled_from(["device", "speed", "force", "job-id", "base", "base-node", "chunk", "job", "id", "foo",
                         "auto-finalize", "sync", "target", "size", "node-name", "step", "execute", "arguments"])


FAULTS = st.sampled_from(("value", "drop", "add", "frame", "none"))
FRAME_MEMBERS = st.sampled_from(("execute", "arguments", "step", "id", "foo"))
#: A well-typed value of each QAPI type, for the members a fault leaves alone.
GOOD = {"str": "D", "bool": False, "int": 0, "object": {}}


def _well_typed(command, chosen: int) -> dict[str, Any]:
    """A line of ``command`` with its required members and the optional ones ``chosen`` picks."""
    args = {m.name: GOOD[m.type] if isinstance(m.type, str) else m.type[0]
            for i, m in enumerate(command.members) if m.required or chosen >> i & 1}
    return {"execute": command.name, "arguments": args}


@st.composite
def mutated_line(draw, profile: str) -> dict[str, Any]:
    """A corpus line, or a well-typed line of any command the profile knows, with one fault."""
    schema = SCHEMAS[profile]
    pick = draw(st.integers(0, len(CORPUS[profile]) + len(schema) - 1))
    if pick < len(CORPUS[profile]):
        line = json.loads(json.dumps(CORPUS[profile][pick]))
    else:
        line = _well_typed(list(schema.values())[pick - len(CORPUS[profile])], draw(st.integers(0, 2**20)))
    body = line.setdefault("arguments", {}) if "execute" in line else line
    fault = draw(FAULTS)
    keys = tuple(sorted(body))
    if fault == "value" and keys:
        body[draw(st.sampled_from(keys))] = draw(BAD_VALUES)
    elif fault == "drop" and keys:
        del body[draw(st.sampled_from(keys))]
    elif fault == "add":
        body[draw(NAMES)] = draw(BAD_VALUES)
    elif fault == "frame":
        line[draw(FRAME_MEMBERS)] = draw(BAD_VALUES)
    return line


TEXT_FAULTS = [b"", b"NaN", b"Infinity", b"-Infinity", b"\xff\xfe", b"\xc3", b"[" * 1200 + b"]" * 1200,
               b'{"a": ' * 40 + b"1" + b"}" * 40, b"[1]", b"5", b'"s"', b"null", b"{", b'{"execute": "x", "execute": 1}']


@st.composite
def script(draw, profile: str) -> bytes:
    """A good prefix from the corpus, then mutated lines, sometimes raw faults in the text."""
    corpus = CORPUS[profile]
    lines = [json.dumps(line) for line in corpus[: draw(st.integers(0, len(corpus)))]]
    for _ in range(draw(st.integers(1, 3))):
        lines.append(json.dumps(draw(mutated_line(profile)), allow_nan=False))
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 4)) == 0:
        fault = draw(st.sampled_from(tuple(TEXT_FAULTS)))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + fault + data[at:]
    return data


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in output")
    return json.loads(text, parse_constant=refuse)


def replay_in_process(profile: str, data: bytes) -> None:
    """What ``blockcheck replay`` does with ``data``, with the checks of issue 11 at each line."""
    model, executor = MODELS[profile], _executor(profile)
    chunks = model.rules.chunks
    try:
        lines = parse_script(decode_script(data))
    except ScriptError as exc:
        assert "\n" not in str(exc)
        return
    state = model.init_states()[0]
    for _, line in lines:
        before = state
        try:
            answer, state = executor.execute(state, line)
        except ScriptError as exc:
            assert "\n" not in str(exc)
            return
        reply = answer.to_json()
        _strict(json.dumps(reply, allow_nan=False))
        _strict(json.dumps(line, allow_nan=False))
        if not answer.ok:
            assert state == before, f"refused {line} changed the state"
        assert all(len(node) == chunks for node in state[DATA]), f"{line} gave an image of another size"


@settings(FUZZ, max_examples=2500)
@given(data=script("seed"))
def test_fuzz_seed_scripts(data: bytes) -> None:
    replay_in_process("seed", data)


@settings(FUZZ, max_examples=2500)
@given(data=script("qemu-7.2"))
def test_fuzz_qemu72_scripts(data: bytes) -> None:
    replay_in_process("qemu-7.2", data)


def run_cli(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """``blockcheck`` in process, with ``stdin`` as the script for ``-``."""
    out, err, saved = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def check_cli_outcome(code: int, out: str, err: str, as_json: bool) -> None:
    assert code in REPLAY_CODES, err
    assert "Traceback" not in err
    if code == ExitCode.OK:
        assert err == ""
    else:
        assert err.count("\n") == 1 and err.startswith("blockcheck: "), err
    if as_json:
        for text in out.splitlines():
            _strict(text)


@settings(FUZZ, max_examples=100)
@given(profile=st.sampled_from(PROFILES), as_json=st.booleans(), data=st.data())
def test_fuzz_cli_replay(profile: str, as_json: bool, data) -> None:
    script_bytes = data.draw(script(profile))
    argv = ["replay", "--profile", profile, "-", *(["--json"] if as_json else [])]
    check_cli_outcome(*run_cli(*argv, stdin=script_bytes), as_json)


# -- the regressions of issue 11, one test per class, both profiles -------------------------
def answers_of(profile: str, *lines: str) -> list[dict]:
    code, out, err = run_cli("replay", "--profile", profile, "-", "--json", stdin="\n".join(lines).encode())
    assert code == ExitCode.OK, err
    return [_strict(text)["answer"] for text in out.splitlines()]


def refusal(profile: str, text: str) -> str:
    code, out, err = run_cli("replay", "--profile", profile, "-", stdin=text.encode("utf-8", "surrogateescape"))
    check_cli_outcome(code, out, err, as_json=False)
    assert code == ExitCode.USAGE_ERROR
    return err


def qemu_error(desc: str) -> dict:
    return {"error": {"class": "GenericError", "desc": desc}}


SPEED = '{"execute": "block-job-set-speed", "arguments": {"device": "D", "speed": %s}}'


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("line", "desc"), [
    ('{"execute": "block-job-cancel", "arguments": "device"}', "QMP input member 'arguments' must be an object"),
    ('{"execute": "block-job-cancel", "arguments": 5}', "QMP input member 'arguments' must be an object"),
    ('{"execute": "block-job-cancel", "arguments": ["device"]}', "QMP input member 'arguments' must be an object"),
    ('{"execute": "block-job-cancel", "arguments": null}', "QMP input member 'arguments' must be an object"),
    ('{"execute": {}}', "QMP input member 'execute' must be a string"),
    ('{"execute": ["query-block-jobs"]}', "QMP input member 'execute' must be a string"),
    (SPEED % '"fast"', "Invalid parameter type for 'speed', expected: integer"),
    (SPEED % "null", "Invalid parameter type for 'speed', expected: integer"),
    (SPEED % "1.0", "Invalid parameter type for 'speed', expected: integer"),
    (SPEED % "100000000000000000000000", "Invalid parameter type for 'speed', expected: integer"),
    (SPEED % "true", "Invalid parameter type for 'speed', expected: integer"),
    ('{"execute": "block-job-set-speed", "arguments": {"device": "D"}}', "Parameter 'speed' is missing"),
    ('{"execute": "block-job-set-speed", "arguments": {"speed": 1}}', "Parameter 'device' is missing"),
])
def test_wrong_types_get_qemus_answer(profile: str, line: str, desc: str) -> None:
    """Item 1: wrong types are QEMU's refusal, and the replay goes on."""
    answers = answers_of(profile, line, '{"execute": "query-block-jobs"}')
    assert answers == [qemu_error(desc), {"return": []}]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("text", "needle"), [
    (SPEED % "Infinity", "line 1 has Infinity, which is not JSON"),
    (SPEED % "NaN", "line 1 has NaN, which is not JSON"),
    ('{"step": "guest-write", "device": "drive0", "chunk": "x"}', 'line 1: guest-write chunk "x" is not a chunk'),
    ('{"step": "guest-write", "device": "drive0", "chunk": NaN}', "line 1 has NaN"),
])
def test_values_that_are_not_qmp_are_usage_errors(profile: str, text: str, needle: str) -> None:
    """Item 1 (the part that is not QMP): one sentence, exit 151."""
    assert needle in refusal(profile, text)


@pytest.mark.parametrize("profile", PROFILES)
def test_bytes_that_are_not_utf8_and_deep_nesting(profile: str, tmp_path: Path) -> None:
    """Item 2: non-UTF-8 from stdin or a file, and JSON nested 1,000 deep."""
    bad = b'{"execute": "query-block-jobs"}\n{"execute": "\xff"}\n'
    code, _, err = run_cli("replay", "--profile", profile, "-", stdin=bad)
    assert code == ExitCode.USAGE_ERROR and "line 2 is not UTF-8 (byte 0xff at offset 45)" in err
    (tmp_path / "s.jsonl").write_bytes(bad)
    code, _, err = run_cli("replay", "--profile", profile, str(tmp_path / "s.jsonl"))
    assert code == ExitCode.USAGE_ERROR and "line 2 is not UTF-8" in err and err.count("\n") == 1
    assert "nests JSON deeper than" in refusal(profile, "[" * 1000 + "]" * 1000)
    assert "nests JSON deeper than" in refusal(profile, '{"execute": "x", "arguments": {"a": %s}}' % ("[" * 100 + "]" * 100))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("chunk", ["-1", "7", "2", "100000000000000000000000", "1.0", "true", '"1"', "null"])
def test_guest_write_takes_only_a_chunk_of_the_image(profile: str, chunk: str) -> None:
    """Item 3: a chunk outside the image, or not an int (a bool is not), is refused
    in both profiles and the state stays as it was."""
    line = '{"step": "guest-write", "device": "drive0", "chunk": %s}' % chunk
    assert "guest-write chunk" in refusal(profile, line)
    model, executor = MODELS[profile], _executor(profile)
    state = model.init_states()[0]
    with pytest.raises(ScriptError):
        executor.execute(state, json.loads(line))
    assert executor.execute(state, json.loads(line.replace(chunk, "1")))[0].ok


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("line", "desc"), [
    ('{"execute": "block-job-cancel", "arguments": {"device": "D", "force": "no"}}',
     "Invalid parameter type for 'force', expected: boolean"),
    ('{"execute": "block-job-cancel", "arguments": {"device": "D", "force": 0}}',
     "Invalid parameter type for 'force', expected: boolean"),
    ('{"execute": "block-job-cancel", "arguments": {"device": "D", "foo": 1}}', "Parameter 'foo' is unexpected"),
    ('{"execute": "query-block-jobs", "arguments": {"x": 1}}', "Parameter 'x' is unexpected"),
    ('{"execute": "query-block-jobs", "foo": 1}', "QMP input member 'foo' is unexpected"),
    ('{"execute": "block-stream", "arguments": {"device": {"a": 1}}}',
     "Invalid parameter type for 'device', expected: string"),
    ('{"execute": "block-stream", "arguments": {"device": "D", "on-error": "foo"}}',
     "Parameter 'on-error' does not accept value 'foo'"),
])
def test_lax_typing_is_gone(profile: str, line: str, desc: str) -> None:
    """Item 4: QEMU rejects unknown or ill-typed arguments, so the model does;
    no answer shows a Python repr."""
    assert answers_of(profile, line) == [qemu_error(desc)]


def test_auto_finalize_must_be_a_bool() -> None:
    """Item 4, qemu-7.2: ``auto-finalize: 0`` was taken as false."""
    line = ('{"execute": "block-stream", "arguments": {"job-id": "stream-D", "device": "D", '
            '"auto-finalize": 0, "auto-dismiss": false}}')
    assert answers_of("qemu-7.2", line) == [qemu_error("Invalid parameter type for 'auto-finalize', expected: boolean")]


def test_json_output_is_strict_and_a_seed_script_still_replays() -> None:
    """Item 4: ``--json`` never prints NaN; the gallery's script replays as before."""
    path = ROOT / "docs" / "gallery" / "cancel-runs-complete.qmp.jsonl"
    code, out, err = run_cli("replay", str(path), "--json", "--variant", "cancel-skips-complete")
    assert code == ExitCode.OK, err
    assert [_strict(text)["answer"] for text in out.splitlines()] == [{"return": {}}] * 3
    assert "has NaN" in refusal("seed", '{"execute": "block-job-set-speed", "arguments": {"device": "D", "speed": NaN}}')
