"""``blockcheck conform``: replay random walks and counterexamples of the
qemu-7.2 model on a real QEMU and report every disagreement.

The walks are drawn from the model alone, so the same seed gives the same
scripts on every machine: walk ``i`` uses ``random.Random(f"{seed}:{i}")``
and picks, at each step, first a command or internal step uniformly among
those the user could send or the jobs could take now (accepted or refused,
so QEMU's refusals are compared too), then one of its forms uniformly (a
block-stream has dozens: every top, base and QMP form; picking among all
of them at once would leave few steps for the verbs and the jobs).  Then every counterexample the checker finds on the
model's properties is replayed as well.

Exit codes: 0 when QEMU and the model agree on every step of every trace;
13 when they disagree anywhere (each disagreement is written as a Markdown
report, both sides step by step, into ``out_dir``).  ``blockcheck conform``
refuses to start (exit 151, with the install command) when QEMU is missing.

A daemon that dies or hangs during a trace (a crash, a signal, no answer
within ``command_timeout``) is a finding too, so 13 as well: the run stops
there, says in one sentence on stderr which trace and step and how, keeps
the traces already compared in its count and writes that trace's report.
"""

from __future__ import annotations

import random
from dataclasses import replace
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.result import StopReason
from blockcheck.checker.search import explore
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.scenario import CONFORM_COMMANDS, QMP_FORMS, Scenario
from blockcheck.properties.qemu72 import qemu72_properties

from .harness import INSTALL_HINT, missing_binaries
from .replay import Replayer, ReplayReport

#: Exit code when QEMU and the model disagree (as the checker's 1x codes).
DISAGREE = int(ExitCode.LIVENESS)
#: Exit code when the QEMU binaries are missing (a usage problem).
NO_QEMU = int(ExitCode.USAGE_ERROR)


def random_walk(model: Qemu72Model, rng: random.Random, steps: int) -> list[dict[str, Any]]:
    """A script of up to ``steps`` lines drawn from the model's candidates."""
    state = model.init_states()[0]
    lines = []
    for _ in range(steps):
        by_name: dict[str, list[tuple]] = {}
        for candidate in model.candidates(state):
            by_name.setdefault(candidate[0], []).append(candidate)
        if not by_name:
            break
        action = rng.choice(by_name[rng.choice(sorted(by_name))])
        lines.append(model.action_to_json(action))
        state = model.next_state(state, action)
    return lines


def counterexamples(model: Qemu72Model) -> list[tuple[str, list[dict[str, Any]]]]:
    """(property name, script) for every property the checker finds violated,
    searched without the other QMP forms: they are other ways to send the
    same commands, and every property's verdict is the same with them
    (tests/model/test_qemu72_forms.py, test_qemu72.py), while they multiply
    the states the search must visit (three times for QEMU's defaults and
    bottom, nine for all)."""
    model = Qemu72Model(replace(model.scenario, qmp_forms=()))
    result = explore(model, qemu72_properties(model), stop_at_first=False, quiet=True)
    if result.stop is StopReason.INTERRUPTED:
        raise KeyboardInterrupt  # the search ate Ctrl-C/SIGTERM; replaying on must not follow
    out = []
    for prop in result.violations:
        if prop.trace is not None:
            out.append((prop.name, [model.action_to_json(s.action) for s in prop.trace.steps[1:]]))
    return out


def run_conform(
    n_traces: int,
    seed: int,
    out_dir: Path | None = None,
    *,
    steps: int = 12,
    scenario: Scenario | None = None,
    with_counterexamples: bool = True,
    command_timeout: float = 30.0,
    echo: Callable[[str], None] = print,
) -> int:
    """Replay ``n_traces`` random walks (and the counterexamples) on QEMU.

    Returns the exit code: 0 full agreement, 13 any disagreement or a QEMU
    that died or hung, 151 no QEMU.
    """
    missing = missing_binaries()
    if missing:
        echo(f"conform: needs {', '.join(missing)}: {INSTALL_HINT}")
        return NO_QEMU
    model = Qemu72Model(scenario or Scenario(profile="qemu-7.2", commands=CONFORM_COMMANDS, qmp_forms=tuple(QMP_FORMS)))
    traces = [(f"walk-{i}", random_walk(model, random.Random(f"{seed}:{i}"), steps)) for i in range(n_traces)]
    if with_counterexamples:
        traces += [(f"counterexample-{name}", lines) for name, lines in counterexamples(model)]
    replayer = Replayer(model, command_timeout=command_timeout)
    started = time.perf_counter()
    bad: list[tuple[str, ReplayReport]] = []
    compared = drains = 0
    replayed = 0
    failure = None
    for name, lines in traces:
        report = replayer.run(lines)
        replayed += 1
        compared += sum(1 for s in report.steps if s.outcome == "compared")
        drains += sum(len(s.drain_steps) for s in report.steps)
        if not report.agrees:
            bad.append((name, report))
            echo(f"{name}: {len(report.disagreements)} disagreement(s): {report.disagreements[0]}")
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                (out_dir / f"{name}.md").write_text(report.to_markdown(f"{name} (seed {seed})"))
        if report.qemu_failure is not None:
            failure = report.failure_sentence(name)
            break
    seconds = time.perf_counter() - started
    echo(
        f"conform: {replayed - len(bad)}/{len(traces)} traces agree "
        f"({compared} steps compared, {drains} drain steps followed) in {seconds:.1f} s"
        + (f"; stopped after {replayed}: QEMU failed" if failure else "")
    )
    if failure:
        print(f"blockcheck: {failure}", file=sys.stderr)
    return DISAGREE if bad else 0
