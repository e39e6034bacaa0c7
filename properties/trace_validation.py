"""Trace validation: a real QMP log followed by the qemu-7.2 model, line by line.

As TLC's trace validation checks a recorded run against a TLA+ spec, this
checks a log of QEMU 7.2 (:mod:`blockcheck.model.qmp_log`) against the
model: the chain and its names come from the log's ``blockdev-add`` lines
(or ``--chain``), and every later command is sent to the model with the
log's names mapped to the model's (nodes A, B, ... from the base up; the
stream of node X ``stream-X``, its named filter ``stream-X-cor``; the commit
whose top is X ``commit-X``, its named filter ``commit-X-top``; image file
names ``X.qcow2``).  The model follows QEMU's timing (:mod:`blockcheck.model.log_model`):
when QEMU's events say a job's run ended, the model ends it too, so nobody
writes step lines by hand.

For each command the validator compares, in the log's names:

- the answer: success or refusal, the class and text of a refusal
  (``#block123`` read as ``#blockN``), and for query-block-jobs and
  query-jobs each job's ID, status, auto flags and error (the log's images
  are not the model's, so progress and lengths are not compared);
- the job events that follow the command, job by job and in order, without
  ``len``, ``offset`` and ``speed``, drain pairs taken out as in
  ``blockcheck conform``;
- then every invariant of :func:`.qemu72.qemu72_properties` on the state
  reached, and every transition property on each step whose model action it
  can name.  The scenario's commands are the default ones, and
  block-commit, change-backing-file and blockdev-del when the log sends them: so the
  properties that ask what QEMU would answer (``isolation.guarded-ops``)
  ask about the commands the log's user sends.  Liveness needs infinite runs, so a log, finite, is not checked
  for it; the data properties hold trivially, the log carrying no data.

The first disagreement or violation ends the run, naming the line and
both sides.  A command the model cannot follow (``ModelLimit``) that QEMU
accepted also ends it, as a bound would: what came before it was checked,
nothing after it.  Queries the model does not answer and refusals it cannot
word are counted and passed over: they change nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from blockcheck.checker.exitcodes import ExitCode
from blockcheck.checker.property import Kind as PropertyKind
from blockcheck.model import answers as A
from blockcheck.model.log_model import LogModel
from blockcheck.model.qemu72 import JobStatus, filter_node_name
from blockcheck.model.qemu72_script import Executor72
from blockcheck.model.qmp_log import ChainSpec, Segment, chain_from_log, comparable_events, read_log
from blockcheck.model.scenario import DEFAULT_COMMANDS, MAX_JOBS, QMP_FORMS, Scenario
from blockcheck.model.state import J_OWNER, J_STATUS, JOBS, find_job

from .qemu72 import qemu72_properties

#: Fields of events and job lists that depend on the images, not on the rules.
PROGRESS = frozenset({"len", "offset", "speed", "current-progress", "total-progress", "busy"})
#: Commands the scenario adds when the log sends them (the properties then ask about them too).
OPTIONAL_COMMANDS = ("block-commit", "change-backing-file", "blockdev-del")
#: The statuses that say a job's run is over: a job's ``waiting``, an active commit's ``ready``.
RUN_ENDS = ("waiting", "ready")
#: Commands that never change what the model tracks: passed over when the model does not answer them.
READ_ONLY = ("query-", "x-debug-query-")
_AUTO_NAME = re.compile(r"#block\d+")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
#: The names in a model text: quoted ones, the unquoted node of ``Node X is
#: in use``, and the model's names of named filters (qemu72.filter_node_name).
_NAMES = re.compile(r"'(?P<quoted>[^']*)'|(?<=Node )(?P<in_use>\S+)(?= is in use)"
                    r"|(?P<filter>\b(?:stream-[A-H]-cor|commit-[A-H]-top)\b)")


@dataclass
class LogReport:
    """What the validation compared and how it ended."""

    chain: tuple[str, ...] = ()
    compared: int = 0
    passed_over: list[str] = field(default_factory=list)
    runs_ended: int = 0
    states: int = 0
    transitions: int = 0
    unnamed_transitions: list[int] = field(default_factory=list)
    invariants: int = 0
    transition_properties: int = 0
    #: jobs whose events the model emitted but the log ended before QEMU's came
    due: list[str] = field(default_factory=list)
    problem: str = ""
    code: ExitCode = ExitCode.OK

    def summary(self) -> str:
        if self.code is ExitCode.OK:
            head = f"log: every one of {self.compared} commands agrees with the model"
        else:
            head = f"log: {self.problem}"
        chain = " <- ".join(self.chain)
        checked = (f"{self.invariants} invariants held in {self.states} states and {self.transition_properties} "
                   f"transition properties on {self.transitions - len(self.unnamed_transitions)} of {self.transitions} steps")
        notes = [f"chain {chain}", f"{self.runs_ended} job run(s) ended as QEMU's events said", checked,
                 "liveness is not checked on a finite log"]
        if self.unnamed_transitions:
            notes.append("no model action names the step at line(s) " + ", ".join(map(str, self.unnamed_transitions)))
        if self.due:
            notes.append(f"the log ends before the events of {', '.join(self.due)} that the model expects")
        if self.passed_over:
            notes.append(f"{len(self.passed_over)} not modelled and passed over ({', '.join(sorted(set(self.passed_over)))})")
        return head + "; " + "; ".join(notes)


class Names:
    """The log's names and the model's, both ways."""

    def __init__(self, spec: ChainSpec, scenario: Scenario) -> None:
        model_nodes = scenario.node_names
        self.to_model: dict[str, str] = dict(zip(spec.nodes, model_nodes))
        for node, model_node, model_file in zip(spec.nodes, model_nodes, scenario.file_names):
            # a node's name wins over a file or protocol node called the same
            if node in spec.files:
                self.to_model.setdefault(spec.files[node], model_file)
            if node in spec.protocol_of:  # the model answers its own X-file names ModelLimit
                self.to_model.setdefault(spec.protocol_of[node], f"{model_node}-file")
        self.protocol = spec.protocol - set(spec.protocol_of.values())

    def model_args(self, args: dict[str, Any], temporary: dict[str, str]) -> dict[str, Any]:
        names = {**self.to_model, **temporary}
        return {k: names.get(v, v) if isinstance(v, str) else v for k, v in args.items()}

    def log_text(self, text: str, temporary: dict[str, str]) -> str:
        """A model text in the log's names: quoted names, the node of ``Node
        NAME is in use`` (QEMU prints it without quotes), and named filters
        anywhere.  One pass, so a log that calls its base "B" and the model's
        B "A" cannot have a name replaced twice."""
        back = {model: log for log, model in {**self.to_model, **temporary}.items()}

        def swap(match: re.Match) -> str:
            if match.group("quoted") is not None:
                return f"'{back.get(match.group('quoted'), match.group('quoted'))}'"
            return back.get(match.group(0), match.group(0))

        return _NAMES.sub(swap, text)

    def log_value(self, value: Any, temporary: dict[str, str]) -> Any:
        back = {model: log for log, model in {**self.to_model, **temporary}.items()}
        if isinstance(value, str):
            return back.get(value, value)
        if isinstance(value, dict):
            return {k: self.log_value(v, temporary) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.log_value(v, temporary) for v in value)
        return value


@dataclass
class _Path:
    """One way the model can follow a command: its answer, the states on the
    way, its events (per job, in the log's names), and the runs it ended."""

    answer: A.Answer
    start: tuple
    commanded: tuple
    after: tuple
    events: dict[str, list[Any]]
    ended_first: list[tuple[tuple, int, tuple]]
    ended_after: list[tuple[tuple, int, tuple]]


class Validator:
    """Follows one log with a :class:`LogModel` (see the module doc)."""

    def __init__(self, segments: Sequence[Segment], spec: ChainSpec) -> None:
        self.segments = segments
        self.spec = spec
        self.scenario = Scenario(
            profile="qemu-7.2", chain_length=len(spec.nodes), chunks=1, guest_writes=0, max_jobs=MAX_JOBS,
            jobs_per_run=8, pauses_per_job=2, header_changes=2,
            commands=DEFAULT_COMMANDS + tuple(c for c in OPTIONAL_COMMANDS if any(s.name == c for s in segments)),
            qmp_forms=tuple(QMP_FORMS),
        )
        self.model = LogModel(self.scenario)
        self.rules = self.model.rules
        self.executor = Executor72(self.rules)
        self.names = Names(spec, self.scenario)
        props = qemu72_properties(self.model)
        self.invariants = [p for p in props if p.kind is PropertyKind.ALWAYS]
        self.steps = [p for p in props if p.kind is PropertyKind.TRANSITION]
        self.report = LogReport(chain=spec.nodes, invariants=len(self.invariants), transition_properties=len(self.steps))
        #: log job IDs and filter names -> the model's, for the jobs that exist
        self.jobs: dict[str, str] = {}
        #: events not matched yet, by job: a client logs an event when it
        #: reads it, which may be after the next command it sent
        self.qemu_due: dict[str, list[Any]] = {}
        self.model_due: dict[str, list[Any]] = {}

    def run(self) -> LogReport:
        state = self.model.init_states()[0]
        for segment in self.segments[self.spec.built_by:]:
            state = self._segment(segment, state)
            if self.report.problem:
                return self.report
        unmatched = {job: seq for job, seq in self.qemu_due.items() if seq}
        if unmatched:
            job, seq = next(iter(sorted(unmatched.items())))
            self.report.problem = f"QEMU's event {_event_text(seq[0])} of job {job} at the log's end has no match in the model"
            self.report.code = ExitCode.LIVENESS
        self.report.due = sorted(job for job, seq in self.model_due.items() if seq)
        return self.report

    # -- one command ---------------------------------------------------------------
    def _segment(self, segment: Segment, state: tuple) -> tuple:
        name, report = segment.name, self.report
        if name == "qmp_capabilities":
            return state
        bad = next((v for v in segment.arguments.values() if isinstance(v, str) and v in self.names.protocol), None)
        if bad is not None:
            return self._beyond(segment, state, f"the node {bad!r}, a protocol node of no chain node, is not modelled")
        temporary = self._job_names(segment, state)
        raw = segment.command.get("arguments")
        # arguments that are no object go to the executor as they are: it answers as QEMU does
        args = self.names.model_args(raw, temporary) if isinstance(raw, dict) else raw
        line = {"execute": name, **({"arguments": args} if "arguments" in segment.command else {})}
        qemu_events = self._due(self.qemu_due, comparable_events(segment.events, PROGRESS)[0])
        # the answer tells whether a run QEMU's events end ended before the command or after it
        path = self._attempt(state, line, qemu_events, temporary, end_first=False)
        if path.answer.error_class != A.MODEL_LIMIT and self._answer_mismatch(segment, path.answer, temporary):
            first = self._attempt(state, line, qemu_events, temporary, end_first=True)
            if first.ended_first:
                path = first
        answer = path.answer
        if answer.error_class == A.MODEL_LIMIT:
            if name.startswith(READ_ONLY) or (segment.answer or {}).get("error"):
                report.passed_over.append(name)
                return state
            return self._beyond(segment, state, answer.desc)
        report.compared += 1
        mismatch = self._answer_mismatch(segment, answer, temporary)
        if mismatch:
            return self._disagree(segment, mismatch)
        model_events = self._due(self.model_due, path.events)
        for job in sorted(set(qemu_events) | set(model_events)):
            theirs, mine = qemu_events.get(job, []), model_events.get(job, [])
            same = 0
            while same < min(len(theirs), len(mine)) and theirs[same] == mine[same]:
                same += 1
            if same < min(len(theirs), len(mine)):
                return self._disagree(segment, f"the events of job {job} differ: QEMU {_event_text(theirs[same])}, "
                                               f"the model {_event_text(mine[same])}")
            self.qemu_due[job], self.model_due[job] = theirs[same:], mine[same:]
        for before, top, after in path.ended_first:
            self._check_step(before, ("job-copy", top), after, segment.number)
        if path.commanded != path.start:
            action = next((a for a in self.model.candidates(path.start) if a[0] == line["execute"]
                           and self.model.next_state(path.start, a) == path.commanded), None)
            self._check_step(path.start, action, path.commanded, segment.number)
        for before, top, after in path.ended_after:
            self._check_step(before, ("job-copy", top), after, segment.number)
        report.runs_ended += len(path.ended_first) + len(path.ended_after)
        self._keep_job_names(path.after, temporary)
        return path.after

    @staticmethod
    def _due(due: dict[str, list[Any]], new: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The events still to be matched, job by job: those carried over and the new ones."""
        return {job: due.get(job, []) + new.get(job, []) for job in set(due) | set(new)}

    def _attempt(self, state: tuple, line: dict, qemu: dict[str, list[Any]], temporary: dict[str, str],
                 end_first: bool) -> _Path:
        """The command on the model, with the runs QEMU's events end taken
        before it (``end_first``) or after it; nothing checked yet.  A run
        ends where QEMU's events still due for its job, past those the model
        has due, say ``waiting`` (an active commit's: ``ready``, RUN_ENDS)."""
        ended_first, early = [], []
        if end_first:
            for job in state[JOBS]:
                log_id = self._log_id(job, temporary)
                if self._ended(qemu, log_id, len(self.model_due.get(log_id, []))) and self._running(state, job[J_OWNER]):
                    after, more = self.rules.end_run(state, job[J_OWNER])
                    ended_first.append((state, job[J_OWNER], after))
                    state, early = after, early + more
        answer, commanded = self.executor.execute(state, line)
        events, after, ended_after = early + list(answer.events), commanded, []
        for job in commanded[JOBS]:
            log_id = self._log_id(job, temporary)
            done = len(self.model_due.get(log_id, [])) + len(comparable_events(events, PROGRESS)[0].get(self.rules.job_id(job[J_OWNER]), []))
            if self._ended(qemu, log_id, done) and self._running(after, job[J_OWNER]):
                nxt, more = self.rules.end_run(after, job[J_OWNER])
                ended_after.append((after, job[J_OWNER], nxt))
                after, events = nxt, events + more
        per_job = comparable_events(events, PROGRESS)[0]
        mine = {self.names.log_value(job, temporary): self.names.log_value(seq, temporary) for job, seq in per_job.items()}
        return _Path(answer, state, commanded, after, mine, ended_first, ended_after)

    def _log_id(self, job: tuple, temporary: dict[str, str]) -> str:
        return self.names.log_value(self.rules.job_id(job[J_OWNER]), temporary)

    def _job_names(self, segment: Segment, state: tuple) -> dict[str, str]:
        """Log job IDs and filter names -> the model's, for this command: the
        jobs started so far, and for a block-stream or block-commit its own
        job and filter (a commit is named by its top)."""
        names = dict(self.jobs)
        if segment.name not in ("block-stream", "block-commit"):
            return names
        args = segment.arguments
        device = args.get("top-node", args.get("device")) if segment.name == "block-commit" else args.get("device")
        top = self.names.to_model.get(device) if isinstance(device, str) else None
        if top not in self.rules.names:
            top = None
        job_id = args.get("job-id")
        own = None
        if top is not None:
            node = self.rules.names.index(top)
            own = self.rules.job_id(self.rules.commit_owner(node) if segment.name == "block-commit" else node)
        # a top with a job already is busy: QEMU refuses before it reads the ID
        if own is not None and own not in names.values() and isinstance(job_id, str) and _ID.match(job_id) \
                and job_id not in names:
            names[job_id] = own
            name = args.get("filter-node-name")
            if isinstance(name, str) and _ID.match(name) and name not in self.names.to_model:
                names[name] = filter_node_name(own)
        return names

    def _keep_job_names(self, after: tuple, temporary: dict[str, str]) -> None:
        """Keep the names of the jobs that exist now; forget those of freed ones."""
        alive = {self.rules.job_id(j[J_OWNER]) for j in after[JOBS]}
        self.jobs = {log: model for log, model in temporary.items()
                     if model in alive or model.removesuffix("-cor") in alive or model.removesuffix("-top") in alive}

    # -- following QEMU's timing --------------------------------------------------------
    def _ended(self, qemu: dict[str, list[Any]], job: str, done: int) -> bool:
        """Whether QEMU's events of ``job``, past the ``done`` the model has,
        start with its run's end: ``waiting``, or an active commit's
        ``ready`` (its copy is over; it waits for complete or cancel)."""
        seq = qemu.get(job, [])
        return len(seq) > done and seq[done] in (("JOB_STATUS_CHANGE", {"id": job, "status": end}) for end in RUN_ENDS)

    def _running(self, state: tuple, owner: int) -> bool:
        job = find_job(state[JOBS], owner)
        return job is not None and job[J_STATUS] == JobStatus.RUNNING

    # -- comparisons and checks ------------------------------------------------------------
    def _answer_mismatch(self, segment: Segment, answer: A.Answer, temporary: dict[str, str]) -> str:
        qemu = segment.answer or {}
        mine = answer.to_json()
        if ("return" in qemu) != answer.ok:
            return f"QEMU answered {_short(qemu)}, the model {_short(self.names.log_value(mine, temporary))}"
        if not answer.ok:
            theirs = {"class": qemu["error"].get("class"), "desc": _AUTO_NAME.sub("#blockN", str(qemu["error"].get("desc")))}
            ours = {"class": answer.error_class, "desc": self.names.log_text(answer.desc, temporary)}
            return "" if theirs == ours else f"QEMU answered {theirs}, the model {ours}"
        if segment.name in ("query-block-jobs", "query-jobs"):
            key = "device" if segment.name == "query-block-jobs" else "id"
            if not isinstance(qemu["return"], list) or not all(isinstance(j, dict) for j in qemu["return"]):
                return f"QEMU returned {_short(qemu['return'])}, not a job list"
            theirs = sorted(_job_entry(j, key) for j in qemu["return"])
            ours = sorted(_job_entry(self.names.log_value(j, temporary), key) for j in answer.value)
            return "" if theirs == ours else f"QEMU listed {theirs}, the model {ours}"
        return "" if qemu["return"] == (answer.value or {}) else f"QEMU returned {qemu['return']}, the model {answer.value}"

    def _check_step(self, before: tuple, action: tuple | None, after: tuple, number: int) -> None:
        report = self.report
        report.states += 1
        report.transitions += 1
        where = f"line {number}"
        if action is None:
            report.unnamed_transitions.append(number)
        else:
            for prop in self.steps:
                if not prop.pred(before, action, after):
                    self._violated(prop, where, ExitCode.LIVENESS)
                    return
        for prop in self.invariants:
            if not prop.pred(after):
                self._violated(prop, where, ExitCode.INVARIANT)
                return

    # -- how a run ends ----------------------------------------------------------------
    def _violated(self, prop: Any, where: str, code: ExitCode) -> None:
        if not self.report.problem:
            self.report.problem = f"{prop.name} is violated at {where}: {prop.meaning}"
            self.report.code = code

    def _disagree(self, segment: Segment, what: str) -> tuple:
        self.report.problem = f"line {segment.number} ({segment.name}): {what}"
        self.report.code = ExitCode.LIVENESS
        return ()

    def _beyond(self, segment: Segment, state: tuple, why: str) -> tuple:
        self.report.problem = (f"line {segment.number} ({segment.name}) is beyond the model ({why}); "
                               f"the lines before it were checked, none after it")
        self.report.code = ExitCode.BOUND
        return state


def _job_entry(job: dict[str, Any], key: str) -> tuple:
    """What is compared of a listed job; as text, so that any JSON values sort."""
    return tuple(json.dumps(job.get(k)) for k in (key, "status", "auto-finalize", "auto-dismiss", "error"))


def _event_text(event: tuple[str, dict[str, Any]]) -> str:
    name, data = event
    return f"{name} {data.get('status')}" if name == "JOB_STATUS_CHANGE" else name


def _short(answer: Any) -> str:
    return str(answer)[:300]


def validate_log(text: str, chain: Sequence[str] | None = None, echo: Callable[[str], None] = print) -> int:
    """Follow the log in ``text``; print the summary; the exit code (see the module doc).
    A log that cannot be read raises :class:`blockcheck.model.qmp_schema.ScriptError`."""
    segments = read_log(text)
    spec = chain_from_log(segments, chain)
    report = Validator(segments, spec).run()
    echo(report.summary())
    return int(report.code)
