"""The QEMU block model as a ``blockcheck`` plugin: options, properties, commands.

It lives in ``properties/`` because it joins the model to its properties,
and only this room may import both.

Registered in pyproject.toml under the ``blockcheck.models`` entry-point
group as ``qemu-block``.  Besides ``check`` it adds ``replay`` (run a QMP
script against the model), ``mutants`` (the matrix of fault variants against
property families), ``prove`` (the z3 proofs of proofs/) and ``conform``
(the qemu-7.2 model against real QEMU).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.registry import Build, UsageError

from blockcheck.checker.api import Model
from blockcheck.checker.property import Property
from blockcheck.model.answers import Answer
from blockcheck.model.commands import COMMANDS, JOB_STEPS, Executor, parse_script
from blockcheck.model.qmp_log import is_log
from blockcheck.model.qmp_schema import ScriptError, decode_script
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.profiles import PROFILES, make_model
from blockcheck.model.scenario import (
    COMPLETIONS,
    CONFORM_COMMANDS,
    DEFAULT_COMMANDS,
    GRAPH_COMMANDS,
    QMP_FORMS,
    Scenario,
    ScenarioError,
)
from blockcheck.model.variants import HISTORICAL, VARIANTS
from blockcheck.reports.files import cannot_write, prepare_dir

from .block import block_properties
from .qemu72 import qemu72_properties

PROFILE_TEXT = {
    "seed": "the 2015 design: jobs owned by nodes, found by node name (the default)",
    "qemu-7.2": "QEMU 7.2 as qemu-storage-daemon answers: job IDs, copy-on-read filter, JobStatus verbs, finalize/dismiss",
}


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The Scenario the options describe; bad values become one-sentence usage errors."""
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; known profiles: {', '.join(PROFILES)}")
    if args.variant not in VARIANTS and args.variant not in HISTORICAL:
        raise UsageError(
            f"unknown variant {args.variant!r}; the seed profile's: {', '.join(VARIANTS)}; "
            f"the qemu-7.2 profile's: {', '.join(HISTORICAL)}"
        )
    if args.profile == "seed" and args.variant in HISTORICAL:
        raise UsageError(f"variant {args.variant!r} belongs to the qemu-7.2 profile; add --profile qemu-7.2")
    if args.profile != "seed" and args.variant in VARIANTS and args.variant != "none":
        raise UsageError(
            f"variant {args.variant!r} belongs to the seed profile; drop --profile, or choose one of "
            f"{', '.join(HISTORICAL)}"
        )
    if args.profile == "seed" and args.qmp_forms is not None:
        raise UsageError("--qmp-forms belongs to the qemu-7.2 profile; drop it or use --profile qemu-7.2")
    if args.profile == "seed" and args.completions != "atomic":
        raise UsageError("--completions polling belongs to the qemu-7.2 profile; add --profile qemu-7.2")
    commands = _commands(args.commands)
    forms = _forms(args.qmp_forms)
    try:
        return Scenario(
            chain_length=args.chain_length,
            device=args.device,
            max_jobs=args.jobs,
            jobs_per_run=args.jobs_per_run,
            chunks=args.chunks,
            guest_writes=args.guest_writes,
            pauses_per_job=args.pauses,
            header_changes=args.header_changes,
            commands=commands,
            **({"qmp_forms": forms} if forms is not None else {}),
            profile=args.profile,
            variant=args.variant,
            completions=args.completions,
        )
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


def build_model(scenario: Scenario) -> tuple[Model, list[Property]]:
    """The model of the scenario's profile and that profile's properties."""
    try:
        model = make_model(scenario)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    properties = qemu72_properties(model) if scenario.profile == "qemu-7.2" else block_properties(model)
    return model, properties


class QemuBlockPlugin:
    name = "qemu-block"
    summary = "QEMU's block-job rules on a backing chain (block-stream to an intermediate layer)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        defaults = {f.name: f.default for f in fields(Scenario)}
        group = parser.add_argument_group("scenario")
        group.add_argument("--profile", default=defaults["profile"], help="rule set (default: %(default)s)")
        group.add_argument("--variant", default=defaults["variant"], help="fault variant to check instead of the rules as designed (qemu-7.2: a historical bug, see docs/historical-bugs.md)")
        group.add_argument(
            "--completions",
            default=defaults["completions"],
            help="qemu-7.2 only: how finely a job's end is modelled, "
            + "; ".join(f"{k}: {v}" for k, v in COMPLETIONS.items())
            + " (default: %(default)s)",
        )
        group.add_argument("--chain-length", type=int, default=defaults["chain_length"], help="nodes in the backing chain, 2-8 (default: %(default)s)")
        group.add_argument("--jobs", type=int, default=defaults["max_jobs"], help="jobs that may run at once (default: %(default)s)")
        group.add_argument("--jobs-per-run", type=int, default=defaults["jobs_per_run"], help="jobs the user may start in one run (default: %(default)s)")
        group.add_argument("--chunks", type=int, default=defaults["chunks"], help="chunks per image, 1-4 (default: %(default)s)")
        group.add_argument("--guest-writes", type=int, default=defaults["guest_writes"], help="guest writes through the device, 0-2 (default: %(default)s)")
        group.add_argument("--pauses", type=int, default=defaults["pauses_per_job"], help="user pauses per job, 0-2 (default: %(default)s)")
        group.add_argument("--header-changes", type=int, default=defaults["header_changes"], help="change-backing-file rewrites, 0-2, when that command is enabled (default: %(default)s)")
        group.add_argument("--device", default=defaults["device"], help="device name of the active layer (default: %(default)s)")
        group.add_argument(
            "--qmp-forms",
            help=f"qemu-7.2 only: comma-separated QMP forms the search also tries, 'all' or 'none' "
            f"(default: {','.join(defaults['qmp_forms'])}; all: {','.join(QMP_FORMS)})",
        )
        group.add_argument(
            "--commands",
            help=f"comma-separated commands the user sends (default: {','.join(DEFAULT_COMMANDS)}; all: {','.join(GRAPH_COMMANDS)})",
        )

    def build(self, args: argparse.Namespace) -> Build:
        scenario = scenario_from_args(args)
        model, props = build_model(scenario)
        return Build(model, props, f"{model.name}: {scenario.describe()}")

    def listing(self) -> dict[str, list[tuple[str, str]]]:
        _, props = build_model(Scenario())
        return {
            "profiles": list(PROFILE_TEXT.items()),
            "variants": list(VARIANTS.items()),
            "qemu-7.2 variants (historical bugs)": list(HISTORICAL.items()),
            "completions (qemu-7.2)": list(COMPLETIONS.items()),
            "properties (default scenario)": [(p.name, p.meaning) for p in props],
            "commands the model answers": [(c, "QMP command") for c in COMMANDS],
            "internal steps in scripts": [(s, "job step") for s in ("guest-write", *JOB_STEPS)],
            "report formats": [
                ("markdown", "one Markdown report per violation"),
                ("itf", "the trace as ITF JSON (Apalache ADR-015)"),
                ("script", "the trace as a replayable JSON-lines QMP script"),
                ("summary", "a Markdown summary for a pull-request comment"),
                ("junit", "JUnit XML, one test case per property"),
                ("html", "one self-contained HTML page with a picture per step"),
                ("json", "the whole result as JSON"),
            ],
        }

    def add_commands(self, subparsers: argparse._SubParsersAction, options: argparse.ArgumentParser) -> None:
        replay = subparsers.add_parser("replay", parents=[options], help="run a QMP script (JSON lines) against the model")
        replay.add_argument("script", type=Path, help="the script; '-' reads standard input")
        replay.add_argument("--json", action="store_true", help="print one JSON object per line")
        replay.add_argument("--chain", help="for a QMP log that does not build its chain: the chain's node names, base first, comma-separated")
        replay.set_defaults(handler=run_replay)

        mutants = subparsers.add_parser("mutants", parents=[options], help="check every fault variant and print which properties catch it")
        mutants.add_argument("--quiet", "-q", action="store_true", help="no progress line")
        mutants.set_defaults(handler=run_mutants)

        prove = subparsers.add_parser("prove", parents=[options], help="z3 proofs: all contents, all chain lengths, and BMC of the safety properties")
        prove.set_defaults(handler=run_prove_command)

        conform = subparsers.add_parser("conform", help="replay random walks of the qemu-7.2 model on a real qemu-storage-daemon and compare")
        conform.add_argument("--traces", type=_count, default=100, help="random walks to replay (default: %(default)s)")
        conform.add_argument("--seed", type=int, default=0, help="seed of the walks (default: %(default)s)")
        conform.add_argument("--steps", type=_count, default=12, help="script lines per walk (default: %(default)s)")
        conform.add_argument("--out", type=Path, help="folder for a report per disagreeing trace")
        conform.add_argument("--no-counterexamples", action="store_true", help="replay the random walks only")
        conform.add_argument("--qmp-forms", help=f"comma-separated QMP forms the walks use, 'all' or 'none' (default: all: {','.join(QMP_FORMS)})")
        conform.add_argument("--timeout", type=_count, default=30, metavar="SECONDS",
                             help="seconds QEMU may take to answer one command before it counts as hung (default: %(default)s)")
        conform.add_argument(
            "--commands",
            help="comma-separated commands the walks draw from (default: every command the qemu-7.2 profile models: "
            f"{','.join(CONFORM_COMMANDS)})",
        )
        conform.set_defaults(handler=run_conform_command)


def run_replay(args: argparse.Namespace, plugin: QemuBlockPlugin) -> int:
    """Each line's answer as QEMU would give it; a line QEMU would refuse is
    answered and the replay goes on, a line that is not a script line is one
    sentence and exit 151 (:mod:`blockcheck.model.qmp_schema`).  A QMP log
    (answers and events besides the commands) is validated instead
    (:mod:`.trace_validation`)."""
    scenario = scenario_from_args(args)
    try:
        data = sys.stdin.buffer.read() if str(args.script) == "-" else args.script.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the script {args.script} ({exc.strerror}); give a readable file") from None
    try:
        text = decode_script(data)
        if is_log(_json_lines(text)):
            return _validate_log(args, scenario, text)
        if args.chain is not None:
            raise UsageError("--chain is for QMP logs; a script's chain is the scenario's (--chain-length)")
        model, _ = build_model(scenario)
        execute = _executor(model)
        state = model.init_states()[0]
        lines = parse_script(text)
        for number, (line_number, line) in enumerate(lines, start=1):
            try:
                answer, state = execute(state, line)
            except ScriptError as exc:
                raise ScriptError(f"line {line_number}: {exc}") from None
            _print_replay_step(args.json, number, line, answer, model.format_state(state))
    except ScriptError as exc:
        raise UsageError(f"{args.script}: {exc}") from None
    return int(ExitCode.OK)


def _json_lines(text: str) -> list[Any]:
    """Each line that parses as JSON (a log is told from a script by its lines' members)."""
    out = []
    for raw in text.splitlines():
        try:
            out.append(json.loads(raw))
        except (ValueError, RecursionError):  # the script's own reading names the line and the fault
            continue
    return out


def _validate_log(args: argparse.Namespace, scenario: Scenario, text: str) -> int:
    from .trace_validation import validate_log

    if scenario.profile != "qemu-7.2":
        raise UsageError("a QMP log (it has answers or events) is checked against QEMU 7.2; add --profile qemu-7.2")
    chain = [n.strip() for n in args.chain.split(",") if n.strip()] if args.chain is not None else None
    return validate_log(text, chain)


def _executor(model: Model) -> Callable[[tuple, dict], tuple[Answer, tuple]]:
    """The script interpreter of the model's profile."""
    if isinstance(model, Qemu72Model):
        return Executor72(model.rules).execute
    return Executor(model.rules).execute


def _print_replay_step(as_json: bool, number: int, line: dict, answer: Answer, chain: str) -> None:
    """Strict JSON only (``allow_nan=False``): the lines were checked on the way in.
    The events the line emitted (qemu-7.2) follow the answer, one per line
    marked ``!!`` (in JSON: ``events``, present when there are any)."""
    events = {"events": list(answer.events)} if answer.events else {}
    if as_json:
        record = {"step": number, "line": line, "answer": answer.to_json(), "chain": chain, **events}
        print(json.dumps(record, sort_keys=True, allow_nan=False))
        return
    print(f"{number:>3} -> {json.dumps(line, sort_keys=True, allow_nan=False)}")
    print(f"    <- {json.dumps(answer.to_json(), sort_keys=True, allow_nan=False)}")
    for event in answer.events:
        print(f"    !! {json.dumps(event, sort_keys=True, allow_nan=False)}")
    print(f"       {chain}")


def _commands(text: str | None) -> tuple[str, ...]:
    """``--commands``: absent means the default set; given, it must name at least one command."""
    if text is None:
        return DEFAULT_COMMANDS
    commands = tuple(c.strip() for c in text.split(",") if c.strip())
    if not commands:
        raise UsageError(
            f"--commands {text!r} names no command; give a comma-separated list such as "
            f"{','.join(DEFAULT_COMMANDS)}, or leave the option out for that default"
        )
    return commands


def _forms(text: str | None) -> tuple[str, ...] | None:
    """``--qmp-forms``: absent means the scenario's default (None); ``all`` and
    ``none`` are the two ends; otherwise a comma-separated list (checked by
    the Scenario, which names the known forms)."""
    if text is None:
        return None
    words = tuple(f.strip() for f in text.split(",") if f.strip())
    if words == ("all",):
        return tuple(QMP_FORMS)
    if words == ("none",):
        return ()
    if not words:
        raise UsageError(f"--qmp-forms {text!r} names no form; give 'all', 'none' or some of {','.join(QMP_FORMS)}")
    return words


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def run_conform_command(args: argparse.Namespace, plugin: QemuBlockPlugin) -> int:
    from blockcheck.conformance.cli import run_conform
    from blockcheck.conformance.harness import INSTALL_HINT, missing_binaries

    missing = missing_binaries()
    if missing:
        raise UsageError(f"conform needs {', '.join(missing)}; install them: {INSTALL_HINT}")
    commands = _commands(args.commands) if args.commands is not None else CONFORM_COMMANDS
    try:
        forms = _forms(args.qmp_forms)
        scenario = Scenario(profile="qemu-7.2", commands=commands, qmp_forms=tuple(QMP_FORMS) if forms is None else forms)
        Qemu72Model(scenario)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if args.out is not None:  # refused before QEMU starts, not after the first disagreement
        try:
            prepare_dir(args.out)
        except OSError as exc:
            raise UsageError(cannot_write("the conform reports to", args.out, exc, "give a writable directory")) from None
    return run_conform(args.traces, args.seed, args.out, steps=args.steps, scenario=scenario,
                       with_counterexamples=not args.no_counterexamples, command_timeout=args.timeout)


def run_prove_command(args: argparse.Namespace, plugin: QemuBlockPlugin) -> int:
    from blockcheck.proofs.proofs import run_prove

    scenario = scenario_from_args(args)
    if scenario.profile != "seed":
        raise UsageError("the z3 proofs encode the seed profile; drop --profile or use --profile seed")
    if "block-commit" in scenario.commands:
        raise UsageError(
            "the BMC encoding does not cover block-commit (its guest-view claims are proved regardless); drop it from --commands"
        )
    return run_prove(scenario, scenario.variant)


def run_mutants(args: argparse.Namespace, plugin: QemuBlockPlugin) -> int:
    from .mutants import HISTORICAL_SCENARIO, mutation_matrix, print_matrix

    scenario = scenario_from_args(args)
    if scenario.variant != "none":
        raise UsageError("mutants checks every variant in turn; drop --variant")
    if scenario.profile != "seed":
        # the historical variants alone, on the scenario given
        if scenario.completions != "polling":
            raise UsageError("the historical variants lie inside a job's end; add --completions polling")
        return print_matrix(mutation_matrix(scenario, quiet=args.quiet), sys.stdout)
    print(f"seed profile, fault variants: {scenario.describe()}")
    code = print_matrix(mutation_matrix(scenario, quiet=args.quiet), sys.stdout)
    print(f"\nqemu-7.2 profile, historical variants (docs/historical-bugs.md): {HISTORICAL_SCENARIO.describe()}")
    return max(code, print_matrix(mutation_matrix(HISTORICAL_SCENARIO, quiet=args.quiet), sys.stdout))


PLUGIN = QemuBlockPlugin()
