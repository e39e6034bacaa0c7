"""The ``blockcheck`` command: one subcommand per mode, one exit-code table.

``check`` and ``list`` belong to the engine; a model plugin adds its own
configuration options and subcommands (the QEMU model adds ``replay``,
``mutants``, ``prove`` and ``conform``).  Every failure ends here as one
sentence and a code from :mod:`.exitcodes`, never a traceback (set
``BLOCKCHECK_DEBUG=1`` to see one); :func:`main` is the one place that
maps errors, signals and a closed pipe to exit codes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import exitcodes, registry, signals
from .api import ModelDefinitionError
from .config import apply_config, find_config, read_config
from .exitcodes import ExitCode
from .property import Property, expectable, select
from .registry import UsageError
from .search import explore

# The command is the last stage of the data flow (config -> model -> search
# -> reports -> exit code), so it is the one engine module that imports the
# reports room; nothing in the search path does.
from blockcheck.reports import FORMATS, result_to_json, write_reports  # noqa: E402
from blockcheck.reports.files import cannot_write, prepare_dir, prepare_file, write_atomic  # noqa: E402
from blockcheck.reports.state_graph import graph_to_dot  # noqa: E402
from blockcheck.reports.table import print_summary  # noqa: E402

DEFAULT_REPORT_DIR = "blockcheck-report"


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}; see '{self.prog} --help'")


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
    return value


def _positive(text: str) -> int:
    return _whole(text, 1)


def _non_negative(text: str) -> int:
    return _whole(text, 0)


def _formats(text: str) -> list[str]:
    """``--format html,junit`` as people type it; checked here, before any search runs."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if not names or unknown:
        shown = ", ".join(repr(name) for name in unknown) or repr(text)
        raise argparse.ArgumentTypeError(f"unknown report format {shown}; known formats: {', '.join(FORMATS)}")
    return names


def build_parser(plugin: registry.Plugin) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command-line parser and its subcommand parsers by name."""
    parser = _Parser(prog="blockcheck", description="Model checker for QEMU's block-job rules.")
    parser.add_argument("--model", default=registry.DEFAULT_MODEL, help="registered model to check (default: %(default)s)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="settings file (default: ./blockcheck.toml, else [tool.blockcheck] in ./pyproject.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    options = _Parser(add_help=False)
    plugin.add_arguments(options)

    check = sub.add_parser("check", parents=[options], help="explore every reachable state and check the properties")
    check.add_argument("--property", action="append", default=[], metavar="NAME", help="check only this property or family (repeatable)")
    check.add_argument("--continue", dest="keep_going", action="store_true", help="do not stop at the first violation: report every violated property")
    check.add_argument("--expect-violated", action="append", default=[], metavar="NAME", help="a property known to be violated: its violation is reported but passes, its absence fails (repeatable; exact property names)")
    check.add_argument("--max-states", type=_positive, help="stop after this many distinct states (the result is then incomplete)")
    check.add_argument("--max-depth", type=_non_negative, help="explore at most this many steps from the initial state")
    check.add_argument("--no-deadlock", action="store_true", help="do not report states without successors")
    check.add_argument("--report", type=Path, metavar="DIR", help="write a report per violation into DIR")
    check.add_argument("--format", action="extend", type=_formats, default=[], metavar="FMT", help=f"report format, or a comma-separated list (repeatable; see 'blockcheck list'); without --report the files go to ./{DEFAULT_REPORT_DIR}")
    check.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    check.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    check.set_defaults(handler=run_check)

    graph = sub.add_parser("graph", parents=[options], help="draw the explored state graph of a small scenario as DOT or SVG")
    graph.add_argument("--output", "-o", type=Path, help="file to write (default: standard output; a .svg name draws SVG with Graphviz)")
    graph.add_argument("--property", action="append", default=[], metavar="NAME", help="check these properties and draw the first counterexample in red")
    graph.add_argument("--max-nodes", type=_positive, default=300, help="refuse graphs with more states than this (default: %(default)s)")
    graph.set_defaults(handler=run_graph)

    listing = sub.add_parser("list", help="show profiles, variants, properties, commands and exit codes")
    listing.add_argument("--exit-codes", action="store_true", help="print only the exit-code table, as Markdown")
    listing.set_defaults(handler=run_list)

    plugin.add_commands(sub, options)
    return parser, dict(sub.choices)


def checked_properties(build: registry.Build, args: argparse.Namespace) -> tuple[list[Property], frozenset[str]]:
    """The properties ``--property`` selects, and those of them ``--expect-violated`` names.

    Expected names are checked against every property of the model, so a
    selection that leaves one out ignores it, as pytest ignores the xfail
    mark of a deselected test, instead of calling it a typo.
    """
    try:
        props = select(build.properties, args.property) if args.property else build.properties
        expected = expectable(build.properties, args.expect_violated)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    return props, expected & {p.name for p in props}


def run_check(args: argparse.Namespace, plugin: registry.Plugin) -> int:
    build = plugin.build(args)
    props, expected = checked_properties(build, args)
    if args.report is None and args.format:
        args.report = Path(DEFAULT_REPORT_DIR)
    if args.report is not None:
        try:
            prepare_dir(args.report)
        except OSError as exc:
            raise UsageError(cannot_write("the reports to", args.report, exc, "give a writable directory")) from None
    result = explore(
        build.model,
        props,
        max_states=args.max_states,
        max_depth=args.max_depth,
        check_deadlock=not args.no_deadlock,
        stop_at_first=not args.keep_going,
        expected=expected,
        quiet=args.quiet or args.json,
    )
    if args.json:
        print(json.dumps(result_to_json(result, build.model), indent=2, sort_keys=True))
    else:
        print(build.description)
        print_summary(result)
    if args.report is not None:
        formats = tuple(args.format) or ("markdown", "itf", "script", "summary")
        try:
            written = write_reports(result, build.model, args.report, formats, deterministic=True)
        except (ValueError, KeyError) as exc:
            raise UsageError(str(exc.args[0] if exc.args else exc)) from None
        except OSError as exc:
            raise UsageError(
                cannot_write("the reports to", args.report, exc, "give a writable directory")
                + f" (the verdict above stands: exit code {int(result.exit_code)})"
            ) from None
        if not args.json:
            print(f"reports: {len(written)} file(s) in {args.report}")
    return int(result.exit_code)


def run_graph(args: argparse.Namespace, plugin: registry.Plugin) -> int:
    build = plugin.build(args)
    try:
        props = select(build.properties, args.property) if args.property else []
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if args.output is not None:
        try:
            prepare_file(args.output)
        except OSError as exc:
            raise UsageError(cannot_write("the graph to", args.output, exc, "give a writable file name")) from None
    result = explore(build.model, props, max_states=args.max_nodes + 1, keep_graph=True, stop_at_first=False, quiet=True)
    if not result.complete and result.stats.distinct > args.max_nodes:
        raise UsageError(
            f"the graph has more than {args.max_nodes} states, too many to read; shrink the scenario "
            "(e.g. --chain-length 2 --jobs 1 --jobs-per-run 1 --chunks 1 --guest-writes 0 --pauses 0) "
            "or raise --max-nodes"
        )
    trace = next((p.trace for p in result.properties if p.trace is not None), None)
    ids = {state: ident for ident, state in enumerate(result.graph.states)}
    path = [ids[step.state] for step in trace.steps] if trace is not None else []
    dot = graph_to_dot(result.graph, build.model, path)
    if args.output is None:
        sys.stdout.write(dot)
        return int(result.exit_code)
    try:
        write_atomic(args.output, _render_svg(dot) if args.output.suffix == ".svg" else dot)
    except OSError as exc:
        raise UsageError(cannot_write("the graph to", args.output, exc, "give a writable file name")) from None
    return int(result.exit_code)


def _render_svg(dot: str) -> bytes:
    try:
        import graphviz
    except ImportError:
        raise UsageError("SVG output needs the graphviz package: pip install 'blockcheck[reports]'; or write .dot") from None
    try:
        return graphviz.Source(dot).pipe(format="svg")
    except graphviz.ExecutableNotFound:
        raise UsageError("SVG output needs Graphviz's dot program (Debian: apt-get install graphviz); or write .dot") from None


def run_list(args: argparse.Namespace, plugin: registry.Plugin) -> int:
    if args.exit_codes:
        print(exitcodes.markdown_table())
        return 0
    print(f"models: {', '.join(registry.available())}")
    for title, rows in plugin.listing().items():
        print(f"\n{title}:")
        width = max((len(name) for name, _ in rows), default=0)
        for name, text in rows:
            print(f"  {name:<{width}}  {text}")
    print("\nexit codes:")
    for code, text in exitcodes.TABLE.items():
        print(f"  {int(code):>3}  {text}")
    return 0


def _preparse(argv: Sequence[str]) -> argparse.Namespace:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model")
    pre.add_argument("--config", type=Path)
    known, _ = pre.parse_known_args(argv)
    return known


def _load_config(path: Path | None) -> tuple[str, dict] | None:
    if path is None:
        found = find_config(Path.cwd())
        return None if found is None else (found[0].name, dict(found[1]))
    if not path.is_file():
        raise UsageError(f"config file {path} does not exist; give an existing file or drop --config")
    return path.name, dict(read_config(path) or {})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``blockcheck`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get("BLOCKCHECK_DEBUG"))
    try:
        pre = _preparse(argv)
        config = _load_config(pre.config)
        settings = config[1] if config else {}
        model_name = pre.model or settings.pop("model", None) or registry.DEFAULT_MODEL
        plugin = registry.load(model_name)
        parser, commands = build_parser(plugin)
        args = parser.parse_args(argv)
        if config:
            apply_config(commands, args.command, settings, config[0])
            args = parser.parse_args(argv)
        code = args.handler(args, plugin)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return int(signals.interrupted_code()) if code == ExitCode.INTERRUPTED else code
    except UsageError as exc:
        return _fail(ExitCode.USAGE_ERROR, str(exc))
    except ModelDefinitionError as exc:
        return _fail(ExitCode.MODEL_ERROR, f"model definition error: {exc}")
    except KeyboardInterrupt:
        return _fail(signals.interrupted_code(), signals.interrupted_message())
    except BrokenPipeError:
        return _pipe_closed()
    except Exception as exc:  # the last line of defence: no traceback for users
        if debug:
            raise
        return _fail(
            ExitCode.INTERNAL,
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in blockcheck, "
            "run again with BLOCKCHECK_DEBUG=1 and report the traceback",
        )


def _pipe_closed() -> int:
    """The reader of stdout went away (``| head``): drop the rest quietly, as Unix tools do.

    stdout is pointed at /dev/null so that Python's flush at exit does not
    fail a second time with a message of its own.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return int(ExitCode.PIPE_CLOSED)


def _fail(code: ExitCode, message: str) -> int:
    print(f"blockcheck: {message}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
