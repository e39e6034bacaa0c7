"""Configuration files: ``blockcheck.toml``, or ``[tool.blockcheck]`` in ``pyproject.toml``.

A key is the long option without its dashes (``chain-length = 4``,
``continue = true``, ``property = ["isolation"]``); flags on the command
line override the file.  The file is validated against the command's own
options, so the two cannot drift: an unknown key or a value of the wrong
type is one sentence and exit code 151.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tomllib
from pathlib import Path
from typing import Any

from .registry import UsageError

FILE_NAMES = ("blockcheck.toml", "pyproject.toml")


def read_config(path: Path) -> dict[str, Any] | None:
    """The blockcheck settings in ``path``; None for a pyproject.toml without [tool.blockcheck]."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path.name} as TOML ({exc}); fix the file or remove it") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise UsageError(f"{path.name}: 'tool' must be a table, not {_toml(tool)}; write [tool.blockcheck] sections")
        data = tool.get("blockcheck")
    if data is not None and not isinstance(data, dict):
        raise UsageError(f"{path.name}: the blockcheck settings must be a table of keys")
    return data


def find_config(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The first config in ``directory``: blockcheck.toml, else pyproject.toml's [tool.blockcheck]."""
    for name in FILE_NAMES:
        path = directory / name
        if path.is_file():
            data = read_config(path)
            if data is not None:
                return path, data
    return None


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Long option name without dashes -> the action, for one (sub)parser."""
    out = {}
    for action in parser._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                out[flag[2:]] = action
    return out


def _convert(key: str, value: Any, action: argparse.Action, source: str) -> Any:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise UsageError(f"{source}: {key} must be true or false, not {_toml(value)}")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if isinstance(action, argparse._AppendAction):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f'{source}: {key} must be a list of strings, such as ["a", "b"]')
        if action.type is None:
            return value
        converted = [_typed(key, v, action, source) for v in value]
        return [x for c in converted for x in c] if isinstance(action, argparse._ExtendAction) else converted
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)  # e.g. commands = ["block-stream", "block-job-cancel"]
    if isinstance(value, (dict, list, bool)) or value is None:
        raise UsageError(f"{source}: {key} has a value of the wrong type ({_toml(value)})")
    return _typed(key, value, action, source)


def _typed(key: str, value: Any, action: argparse.Action, source: str) -> Any:
    """One value through the option's own type, so a file is checked as the command line is."""
    if action.type is None:
        return str(value)
    try:
        return action.type(str(value))
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{source}: {key} = {_toml(value)} is not valid: {exc}") from None
    except ValueError:
        kind = "a whole number" if action.type is int else "valid"
        raise UsageError(f"{source}: {key} = {_toml(value)} is not {kind}") from None


def _toml(value: Any) -> str:
    """A value as the file spells it (not as Python prints it: no datetime.date(...))."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def apply_config(commands: dict[str, argparse.ArgumentParser], command: str, settings: dict[str, Any], source: str) -> None:
    """Set ``settings`` as defaults of subcommand ``command``, so command-line flags win.

    A key must be an option of some subcommand (else it is a typo); keys
    that belong to other subcommands are left for them, so one file serves
    ``check``, ``replay`` and ``mutants`` alike.
    """
    known_anywhere: set[str] = set()
    for sub in commands.values():
        known_anywhere |= set(_options(sub))
    unknown = sorted(set(settings) - known_anywhere)
    if unknown:
        raise UsageError(f"{source}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known_anywhere))}")
    mine = _options(commands[command])
    defaults = {mine[k].dest: _convert(k, v, mine[k], source) for k, v in settings.items() if k in mine}
    commands[command].set_defaults(**defaults)
