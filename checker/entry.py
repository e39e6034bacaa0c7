"""The ``blockcheck`` console script: signal handlers first, then the command.

Importing the command (rich, networkx, the model) takes a noticeable time,
and a Ctrl-C or SIGTERM in that time used to end in an import traceback,
because the command's own handling starts only once it is imported.  This
module imports nothing heavy, so the handlers are in place almost at once.
"""

from __future__ import annotations

import sys

from . import signals


def main() -> int:
    """Install the signal handlers, import the command, run it; return the exit code."""
    signals.install()
    try:
        from .cli import main as command
    except KeyboardInterrupt:
        print(f"blockcheck: {signals.interrupted_message()}", file=sys.stderr)
        return int(signals.interrupted_code())
    return command()


if __name__ == "__main__":
    sys.exit(main())
