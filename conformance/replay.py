"""Replay a qemu-7.2 model trace on a real QEMU and compare, step by step.

A trace is a list of script lines (:mod:`blockcheck.model.qemu72_script`).
Each line runs on both sides:

- a QMP command goes to the model's executor and to qemu-storage-daemon;
  the answers must agree (success or refusal, and for a refusal the error
  class and ``desc``, with ``#block123`` normalised to ``#blockN``).  A
  command the model answers with ``ModelLimit`` is not sent: the model does
  not say what QEMU would do.  ``block-stream`` and ``block-commit`` get ``speed: 1`` unless the
  line sets a speed, so the job sleeps after each copied chunk (FACTS §0);
- ``job-copy`` wakes the job once with the harness's ``step``;
- ``guest-write`` writes the chunk through a read-write NBD export of the
  active layer (qemu-io), the guest's view of its disk; the export ends
  with the scenario's last write, as the model's guest leaves then.

After each line the replay waits until no job is busy, then reads back the
graph (``x-debug-query-block-graph``, the filters named by the job that
owns them) and the job list, and compares them with the model's state.

QEMU drains the nodes a command touches, and a drain wakes every throttled
job above them, which then copies one more chunk (FACTS §0, §2, §3).  To
the model that is its own ``job-copy`` step, taken while the command ran:
when QEMU shows a running job further on than the model, the replay takes
the model's ``job-copy`` steps of that job until the two agree (listed as
*drain steps*, not as disagreements); a later ``job-copy`` line that the
drains already took is *absorbed*.  Whatever the model cannot reach by its
own steps is a disagreement.

The events are compared too, job by job and in order: the model's (those
its answer to the line carries, then those of the drain steps it took)
against the job events QEMU sent while the line ran (JOB_STATUS_CHANGE,
BLOCK_JOB_PENDING/COMPLETED/CANCELLED/READY/ERROR), with ``speed`` left out
of their data because the model does not track it.  A drain shows in
QEMU's events as a ``paused`` right followed by ``running`` of a running
job; the model has no such statuses for a drain (it takes the job's
``job-copy`` steps instead), so each such pair is taken out of QEMU's
sequence before the comparison and counted as a *drain pair* of the step.
For query-block-jobs and query-jobs the returned lists are compared too
(``speed`` left out); after every line the job list compared is both
queries' fields merged.

The on-disk headers are compared as well: each layer's backing string is
read from its image (``QemuChain.disk_backing``, exact while the daemon
runs for a header QEMU wrote, FACTS §8) and mapped to what it names: the
chain node whose file it is, None for no backing string, ``(other)`` for
any other string.  QEMU's strings are either plain file names (``B.qcow2``:
the harness creates the images so, and change-backing-file writes what it
is given) or, after a stream's finalize, the base's ``json:`` filename
(FACTS §1), of which the ``file``'s ``filename`` is what names the node.
The model's ``headers`` map the same way (OTHER is ``(other)``).  A read
costs a qemu-img run per layer, so the headers are read after each line
that may write one (a change-backing-file either side accepted, or a line
in which either side completed a job) and at the end.

At the end the replay cancels the jobs QEMU still runs (a cancel copies
nothing more and writes no header, FACTS §4): shutting down closes the NBD
export, and that drain would wake a sleeping job, which could then finish
its run and, with auto-finalize, rewrite its top's header after the last
comparison.  Then the daemon is shut down (every image flushed and closed) and
each layer's own clusters are read from its file and compared with the
model's data; the guest view of every node, derived from QEMU's final
graph and those clusters, is compared too, and so are the headers.

When the daemon dies or stops answering (a crash, a signal, a hang) the
replay stops there: the report keeps the steps compared so far and says, in
``qemu_failure``, at which step and how QEMU failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blockcheck.model import answers as A
from blockcheck.model.commands import format_line
from blockcheck.model.qemu72 import JobStatus, filter_label
from blockcheck.model.qemu72_model import Qemu72Model
from blockcheck.model.qemu72_script import FILTER_REF, Executor72
from blockcheck.model.qmp_log import comparable_events
from blockcheck.model.state import DATA, HEADERS, J_OWNER, J_STATUS, JOBS, NONE, WRITES_LEFT, find_job

from .harness import CHUNK, DaemonGone, HarnessError, QemuChain, expected_view, normalise

#: Job statuses a job leaves by itself within moments (§5.1); the replay
#: waits them out before it compares.
TRANSIENT = frozenset({"created", "waiting", "aborting", "undefined"})
#: Seconds a running active commit's offset must stand still before the
#: replay compares it (:meth:`Replayer._quiesce`).
SETTLE_SECONDS = 0.1
#: What a header names when it is no file of the chain (the model's OTHER).
OTHER_FILE = "(other)"
#: Query commands whose returned lists are compared (``speed`` left out).
QUERIES = frozenset({"query-block-jobs", "query-jobs"})


def job_fields(job: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a job compared after every line: status, progress, the
    auto flags, and query-jobs' error (None when it has none)."""
    keys = ("status", "offset", "len", "auto-finalize", "auto-dismiss")
    return {**{k: job.get(k) for k in keys}, "error": job.get("error")}


def _without_speed(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in j.items() if k != "speed"} for j in jobs]


def header_names(backing_file: str | None, names: Sequence[str]) -> str | None:
    """The chain node a header's backing string names (see the module doc):
    None for no string, :data:`OTHER_FILE` for a string naming no chain file.

    >>> header_names("B.qcow2", "ABC"), header_names(None, "ABC"), header_names("x.qcow2", "ABC")
    ('B', None, '(other)')
    >>> header_names('json:{"driver": "qcow2", "file": {"driver": "file", "filename": "/t/A.qcow2"}}', "AB")
    'A'
    """
    if backing_file is None or backing_file == "":
        return None
    path = backing_file
    if backing_file.startswith("json:"):
        try:
            spec = json.loads(backing_file[len("json:") :])
        except ValueError:
            return OTHER_FILE
        file = spec.get("file")
        path = file.get("filename") if isinstance(file, dict) else file
        if not isinstance(path, str):
            return OTHER_FILE
    base = os.path.basename(path)
    stem = base[: -len(".qcow2")] if base.endswith(".qcow2") else None
    return stem if stem in names else OTHER_FILE


@dataclass
class StepReport:
    """One line of the trace, as both sides saw it."""

    index: int
    line: dict[str, Any]
    #: "compared", "skipped" (ModelLimit: not sent) or "absorbed" (an
    #: earlier drain already took this job-copy step).
    outcome: str = "compared"
    model_answer: dict[str, Any] | None = None
    qemu_answer: dict[str, Any] | None = None
    model_graph: dict[str, Any] = field(default_factory=dict)
    qemu_graph: dict[str, Any] = field(default_factory=dict)
    model_jobs: dict[str, Any] = field(default_factory=dict)
    qemu_jobs: dict[str, Any] = field(default_factory=dict)
    #: Model job-copy steps taken to follow QEMU's drains, by job ID.
    drain_steps: list[str] = field(default_factory=list)
    #: The job events of the line: the model's (answer, then drain steps)
    #: and QEMU's as received; and the drain pairs taken out of QEMU's.
    model_events: list[dict[str, Any]] = field(default_factory=list)
    qemu_events: list[dict[str, Any]] = field(default_factory=list)
    drain_pairs: int = 0
    #: What each layer's header names, both sides; empty when not read.
    model_headers: dict[str, Any] = field(default_factory=dict)
    qemu_headers: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.problems


@dataclass
class ReplayReport:
    """Per-step agreement, and the data of every layer at the end."""

    lines: list[dict[str, Any]]
    steps: list[StepReport] = field(default_factory=list)
    model_data: dict[str, Any] = field(default_factory=dict)
    qemu_data: dict[str, Any] = field(default_factory=dict)
    model_views: dict[str, Any] = field(default_factory=dict)
    qemu_views: dict[str, Any] = field(default_factory=dict)
    model_headers: dict[str, Any] = field(default_factory=dict)
    qemu_headers: dict[str, Any] = field(default_factory=dict)
    final_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: When QEMU failed before the trace's end (a finding: nothing after it
    #: was compared): where ("step 5", "the end") and how (DaemonGone's text).
    failed_at: str = ""
    qemu_failure: str | None = None

    @property
    def agrees(self) -> bool:
        return self.qemu_failure is None and not self.final_problems and all(s.agrees for s in self.steps)

    @property
    def disagreements(self) -> list[str]:
        out = [f"step {s.index}: {p}" for s in self.steps for p in s.problems]
        out += [f"end: {p}" for p in self.final_problems]
        return out + ([self.failure_sentence()] if self.qemu_failure else [])

    def failure_sentence(self, trace: str = "") -> str:
        """``qemu-storage-daemon died (signal 9) during walk-2, step 5; its log: ...``."""
        assert self.qemu_failure is not None
        how, _, log = self.qemu_failure.partition("; ")
        where = f"{trace}, {self.failed_at}" if trace else self.failed_at
        return f"{how} during {where}; {log}"

    def to_markdown(self, title: str = "Replay") -> str:
        """Both sides, step by step; disagreeing steps in full."""
        verdict = "agree" if self.agrees else f"{len(self.disagreements)} disagreement(s)"
        out = [f"# {title}: {verdict}", "", "The script (one JSON line per step):", "", "```"]
        out += [json.dumps(line) for line in self.lines]
        out += ["```", "", "| # | line | outcome | model | QEMU | drain steps | agree |", "|---|---|---|---|---|---|---|"]
        for s in self.steps:
            out.append(
                f"| {s.index} | `{format_line(s.line)}` | {s.outcome} | {_answer_text(s.model_answer)} | "
                f"{_answer_text(s.qemu_answer)} | {_drains(s)} | {'yes' if s.agrees else '**no**'} |"
            )
        for s in self.steps:
            if s.agrees:
                continue
            out += ["", f"## Step {s.index}: `{format_line(s.line)}`", ""]
            out += [f"- {p}" for p in s.problems]
            out += ["", "| | model | QEMU |", "|---|---|---|"]
            out.append(f"| answer | `{json.dumps(s.model_answer)}` | `{json.dumps(s.qemu_answer)}` |")
            out.append(f"| graph | `{json.dumps(s.model_graph, sort_keys=True)}` | `{json.dumps(s.qemu_graph, sort_keys=True)}` |")
            out.append(f"| jobs | `{json.dumps(s.model_jobs, sort_keys=True)}` | `{json.dumps(s.qemu_jobs, sort_keys=True)}` |")
            if s.model_headers or s.qemu_headers:
                out.append(f"| headers | `{json.dumps(s.model_headers, sort_keys=True)}` | `{json.dumps(s.qemu_headers, sort_keys=True)}` |")
        out += ["", "## At the end", "",
                "| layer | model data | QEMU data | model view | QEMU view | model header | QEMU header |",
                "|---|---|---|---|---|---|---|"]
        for name in self.model_data:
            out.append(
                f"| {name} | {self.model_data.get(name)} | {self.qemu_data.get(name)} | "
                f"{self.model_views.get(name)} | {self.qemu_views.get(name)} | "
                f"{self.model_headers.get(name)} | {self.qemu_headers.get(name)} |"
            )
        out += [f"- {p}" for p in self.final_problems]
        if self.qemu_failure:
            out += ["", f"{self.failure_sentence()}. Nothing after it was compared."]
        return "\n".join(out) + "\n"


def _drains(step: StepReport) -> str:
    """The drain steps the model took and the drain pairs QEMU showed."""
    pairs = f" ({step.drain_pairs} drain pair{'s' if step.drain_pairs != 1 else ''})" if step.drain_pairs else ""
    return ", ".join(step.drain_steps) + pairs


def _answer_text(answer: dict[str, Any] | None) -> str:
    if answer is None:
        return ""
    if "return" in answer:
        return "ok"
    return f"{answer['error']['class']}: {answer['error']['desc']}".replace("|", "\\|")


def initial_alloc(model: Qemu72Model) -> dict[str, dict[int, int]]:
    """The model's initial data as the harness's allocation map (value = pattern byte)."""
    data = model.init_states()[0][DATA]
    return {name: {c: v for c, v in enumerate(row) if v} for name, row in zip(model.rules.names, data)}


class Replayer:
    """Runs one trace on a model and a fresh QemuChain."""

    def __init__(self, model: Qemu72Model, *, extra_images: Sequence[str] = (), timeout: float = 10.0,
                 command_timeout: float = 30.0) -> None:
        """``extra_images``: empty qcow2 nodes added besides the chain (targets
        for commands such as blockdev-mirror); they are not compared.
        ``timeout``: seconds for jobs to settle; ``command_timeout``: seconds
        for QEMU to answer one command before it counts as hung."""
        self.model = model
        self.command_timeout = command_timeout
        self.extra_images = tuple(extra_images)
        self.rules = model.rules
        self.executor = Executor72(model.rules)
        self.timeout = timeout

    def run(self, lines: Sequence[Mapping[str, Any]]) -> ReplayReport:
        started = time.perf_counter()
        report = ReplayReport(lines=[dict(line) for line in lines])
        state = self.model.init_states()[0]
        guest = any(line.get("step") == "guest-write" for line in lines)
        chain = QemuChain(self.rules.names, initial_alloc(self.model), clusters=self.rules.chunks, export_top=guest,
                          timeout=self.command_timeout)
        where = "the start"
        try:
            chain.start()
            chain.take_events()  # building the chain emits no job events; start from none
            for name in self.extra_images:
                chain.add_image(name)
            for index, line in enumerate(lines):
                where = f"step {index}"
                step, state = self._line(chain, state, index, dict(line))
                report.steps.append(step)
                if any(p.startswith("harness:") for p in step.problems):
                    break
            where = "the end"
            self._final(chain, state, report)
        except DaemonGone as exc:
            report.failed_at, report.qemu_failure = where, str(exc)
        finally:
            chain.close()
        report.seconds = time.perf_counter() - started
        return report

    # -- one line ---------------------------------------------------------------------
    def _line(self, q: QemuChain, state: tuple, index: int, line: dict[str, Any]) -> tuple[StepReport, tuple]:
        step = StepReport(index=index, line=line)
        try:
            if "execute" in line:
                state = self._command(q, state, line, step)
            elif line.get("step") == "guest-write":
                answer, state = self.executor.execute(state, line)
                step.model_answer = answer.to_json()
                step.model_events = list(answer.events)
                if answer.ok:
                    self._guest_write(q, line["chunk"], state[DATA][self.rules.root][line["chunk"]])
                    step.qemu_answer = {"return": {}}
                    if not state[WRITES_LEFT]:
                        # the model's guest leaves with its last write (and
                        # with it the BlockBackend an active commit's pivot
                        # would move onto the base, qemu72.py point 8)
                        q.unexport_top()
            else:
                answer, nxt = self.executor.execute(state, line)
                if not answer.ok:
                    step.outcome = "absorbed"
                    return step, state
                step.model_answer = answer.to_json()
                step.model_events = list(answer.events)
                q.step(line["job"])
                step.qemu_answer = {"return": {}}
                state = nxt
            if step.outcome == "skipped":
                return step, state
            qemu_jobs = self._quiesce(q)
            state = self._follow_drains(state, qemu_jobs, step)
            self._compare(q, state, qemu_jobs, step)
            self._compare_events(q, step)
            accepted = (step.model_answer and "return" in step.model_answer) or (
                step.qemu_answer and "return" in step.qemu_answer)
            completed = any(e["event"] == "BLOCK_JOB_COMPLETED" for e in step.model_events + step.qemu_events)
            if (line.get("execute") == "change-backing-file" and accepted) or completed:
                step.model_headers = self._model_headers(state)
                step.qemu_headers = self._qemu_headers(q)
                if step.model_headers != step.qemu_headers:
                    step.problems.append("the headers differ")
        except DaemonGone:
            raise
        except HarnessError as exc:
            if q.daemon_failure():  # e.g. a read over NBD failed because the daemon died
                raise q.gone("") from exc
            step.problems.append(f"harness: {exc}")
        return step, state

    def _command(self, q: QemuChain, state: tuple, line: dict[str, Any], step: StepReport) -> tuple:
        answer, nxt = self.executor.execute(state, line)
        step.model_answer = answer.to_json()
        step.model_events = list(answer.events)
        if answer.error_class == A.MODEL_LIMIT:
            step.outcome = "skipped"
            return state
        name, args = line["execute"], dict(line.get("arguments") or {})
        if name in ("block-stream", "block-commit") and "speed" not in args:
            args["speed"] = 1
        args = {k: self._qemu_name(q, v) for k, v in args.items()}
        step.qemu_answer = normalise(q.execute_raw(name, args))
        if ("return" in step.qemu_answer) != answer.ok:
            step.problems.append("one side accepted the command, the other refused it")
        elif not answer.ok and step.qemu_answer["error"] != step.model_answer["error"]:
            step.problems.append("the refusals differ")
        elif name in QUERIES and _without_speed(step.qemu_answer["return"]) != step.model_answer["return"]:
            step.problems.append(f"the {name} lists differ")
        return nxt

    def _qemu_name(self, q: QemuChain, value: Any) -> Any:
        """``@filter:<job-id>`` -> the real name of that job's filter in QEMU."""
        if isinstance(value, str) and value.startswith(FILTER_REF):
            job_id = value[len(FILTER_REF) :]
            return next((name for name, job in self._job_filters(q).items() if job == job_id), value)
        return value

    def _job_filters(self, q: QemuChain) -> dict[str, str]:
        """The real name of each job's filter -> the job's ID.  A stream's
        copy-on-read filter and an active commit's ``mirror_top`` (the job
        with a ``source`` node) are their jobs' main nodes; a commit's
        ``commit_top`` filter is not held by the job: it is the parent of
        the job's top, the one intermediate node whose parent is no chain
        node (FACTS §12.1, §12.2)."""
        raw = q.graph(raw=True)
        filters = {}
        for job in q.jobs():
            roles = q.job_nodes(job["id"], raw=True)
            if job["type"] != "commit" or "source" in roles:
                filters.update({node: job["id"] for node in roles.get("main node", [])})
                continue
            held = set(roles.get("intermediate node", []))
            for parent, below in raw.items():
                if below in held and parent not in self.rules.names and parent not in self.extra_images:
                    filters[parent] = job["id"]
        return filters

    def _guest_write(self, q: QemuChain, chunk: int, value: int) -> None:
        assert q._nbd_sock is not None
        try:
            res = subprocess.run(
                ["qemu-io", "-f", "raw", "-c", f"write -P {value:#x} {chunk * CHUNK} {CHUNK}",
                 f"nbd+unix:///top?socket={q._nbd_sock}"],
                check=False, capture_output=True, text=True, timeout=q.timeout, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise q.gone(f"did not take a guest write over NBD within {q.timeout:g} s") from None
        if res.returncode != 0:
            raise HarnessError(f"guest write failed: {res.stderr.strip()}")

    # -- read back ---------------------------------------------------------------------
    def _quiesce(self, q: QemuChain) -> dict[str, dict[str, Any]]:
        """Wait until no job is busy or in a transient status; the jobs then.

        A job QEMU wakes is marked busy before the command that woke it
        returns (job_enter), so one quiet read is enough, but for a running
        active commit: a mirror copies with requests of its own that finish
        after its coroutine has gone to sleep (mirror_perform), so its
        offset must also stand still over a second read (SETTLE_SECONDS
        later).  Conform walks met the offset one chunk short without it."""
        deadline = time.monotonic() + self.timeout
        while True:
            jobs = q.jobs()
            if not any(j.get("busy") or j["status"] in TRANSIENT for j in jobs):
                copying = {j["id"]: j["offset"] for j in jobs
                           if j["type"] == "commit" and j["status"] == "running" and j["offset"] < j["len"]
                           and q.is_mirror(j["id"])}
                if not copying:
                    return {j["id"]: job_fields(j) for j in jobs}
                q.pump(SETTLE_SECONDS)
                again = q.jobs()
                if {j["id"]: j["offset"] for j in again if j["id"] in copying} == copying and not any(
                        j.get("busy") or j["status"] in TRANSIENT for j in again):
                    return {j["id"]: job_fields(j) for j in again}
            if time.monotonic() > deadline:
                raise HarnessError(f"jobs did not settle: {jobs}")
            q.pump(0.005)

    def _follow_drains(self, state: tuple, qemu_jobs: dict[str, dict[str, Any]], step: StepReport) -> tuple:
        """Take the model's job-copy steps that QEMU's drains took (see module doc):
        while a job runs in the model and QEMU shows it further on, in another
        status, or gone (a drain woke it for its last chunk and it finalized
        and was dismissed by itself)."""
        for job in state[JOBS]:
            owner = job[J_OWNER]
            job_id = self.rules.job_id(owner)
            seen = qemu_jobs.get(job_id)
            while True:
                current = find_job(state[JOBS], owner)
                if current is None or current[J_STATUS] != JobStatus.RUNNING:
                    break
                mine = self._model_jobs(state)[job_id]
                if seen is not None and seen["offset"] <= mine["offset"] and seen["status"] == "running":
                    break
                state, events = self.rules.job_step_events(state, ("job-copy", owner))
                step.model_events += events
                step.drain_steps.append(job_id)
        return state

    def _model_headers(self, state: tuple) -> dict[str, Any]:
        """What the model's ``headers`` name, per layer (see :func:`header_names`)."""
        names = self.rules.names
        return {n: (names[h] if h >= 0 else None if h == NONE else OTHER_FILE) for n, h in zip(names, state[HEADERS])}

    def _qemu_headers(self, q: QemuChain) -> dict[str, Any]:
        """What each layer's image header names, read from the file."""
        names = self.rules.names
        return {n: header_names(q.disk_backing(n), names) for n in names}

    def _model_jobs(self, state: tuple) -> dict[str, dict[str, Any]]:
        """The model's jobs with the fields compared after every line (see :func:`job_fields`)."""
        errors = {j["id"]: j["error"] for j in self.rules.query_jobs(state) if "error" in j}
        return {j["device"]: job_fields({**j, "error": errors.get(j["device"])}) for j in self.rules.query_block_jobs(state)}

    def _compare_events(self, q: QemuChain, step: StepReport) -> None:
        """QEMU's job events of the line against the model's (see the module doc)."""
        step.qemu_events = q.take_events()
        model, _ = comparable_events(step.model_events)
        qemu, step.drain_pairs = comparable_events(step.qemu_events)
        if model != qemu:
            step.problems.append("the events differ")

    def _qemu_graph(self, q: QemuChain) -> dict[str, Any]:
        """QEMU's graph, each filter named ``filter:<job-id>`` after its job
        (:meth:`_job_filters`; an orphan filter stays ``#blockN``)."""
        raw = q.graph(raw=True)
        names = {node: filter_label(job_id) for node, job_id in self._job_filters(q).items()}
        return normalise(
            {names.get(k, k): (names.get(v, v) if v else None) for k, v in raw.items() if k not in self.extra_images}
        )

    def _compare(self, q: QemuChain, state: tuple, qemu_jobs: dict[str, Any], step: StepReport) -> None:
        step.model_graph = self.rules.graph(state)
        step.qemu_graph = self._qemu_graph(q)
        step.model_jobs = self._model_jobs(state)
        step.qemu_jobs = qemu_jobs
        if step.model_graph != step.qemu_graph:
            step.problems.append("the graphs differ")
        if step.model_jobs != step.qemu_jobs:
            step.problems.append("the job lists differ")

    def _final(self, q: QemuChain, state: tuple, report: ReplayReport) -> None:
        """Shut QEMU down, then compare every layer's own clusters and every node's view."""
        names, chunks = self.rules.names, self.rules.chunks
        try:
            graph = self._qemu_graph(q)
            for job in q.jobs():
                if job["status"] in ("running", "paused", "pending", "ready", "standby"):
                    q.execute_raw("job-cancel", {"id": job["id"]})
            self._quiesce(q)
            q.stop()
            allocs = q.layer_allocs()
        except DaemonGone:
            raise
        except HarnessError as exc:
            report.final_problems.append(f"harness: {exc}")
            return
        report.model_data = {n: list(row) for n, row in zip(names, state[DATA])}
        report.qemu_data = {n: [allocs[n].get(c, 0) for c in range(chunks)] for n in names}
        if report.model_data != report.qemu_data:
            report.final_problems.append("the layers' data differ")
        model_alloc = {n: {c: v for c, v in enumerate(row) if v} for n, row in report.model_data.items()}
        qemu_alloc = {n: dict(allocs[n]) for n in names}
        model_graph = self.rules.graph(state)
        for name in names:
            report.model_views[name] = list(expected_view(_chain(model_graph, name, names), model_alloc, chunks))
            report.qemu_views[name] = list(expected_view(_chain(graph, name, names), qemu_alloc, chunks))
        if report.model_views != report.qemu_views:
            report.final_problems.append("the guest views differ")
        try:
            report.qemu_headers = self._qemu_headers(q)
        except HarnessError as exc:
            report.final_problems.append(f"harness: {exc}")
            return
        report.model_headers = self._model_headers(state)
        if report.model_headers != report.qemu_headers:
            report.final_problems.append("the headers differ")


def _chain(graph: Mapping[str, Any], node: str, names: Sequence[str]) -> list[str]:
    """The layers ``node`` reads through, top first (filters pass reads on)."""
    out, seen = [], set()
    current: Any = node
    while current is not None and current not in seen:
        seen.add(current)
        if current in names:
            out.append(current)
        current = graph.get(current)
    return out


def replay(model: Qemu72Model, lines: Sequence[Mapping[str, Any]], *, extra_images: Sequence[str] = ()) -> ReplayReport:
    """Replay ``lines`` on ``model`` and on a fresh QEMU; see the module docstring."""
    return Replayer(model, extra_images=extra_images).run(lines)
