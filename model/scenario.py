"""A scenario: the size and shape of one exploration, as configuration.

Chain length, which commands the user may send, how many jobs may run at
once, how many chunks an image has and how many guest writes happen are all
data here, never code, so a QEMU developer changes the scenario from the
command line or a config file.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

#: Commands that change the state and so become edges of the state graph.
#: Every other command the model answers (query-block-jobs, set-speed,
#: complete, the op-blocker-guarded operations) is checked in every state
#: by the properties instead, since its success changes nothing the model
#: tracks.
GRAPH_COMMANDS = (
    "block-stream",
    "block-commit",
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "change-backing-file",
    "blockdev-del",
)

DEFAULT_COMMANDS = ("block-stream", "block-job-cancel", "block-job-pause", "block-job-resume")
#: Every command the qemu-7.2 profile models: what ``blockcheck conform``'s walks draw from by default.
CONFORM_COMMANDS = (*DEFAULT_COMMANDS, "block-commit", "change-backing-file", "blockdev-del")

#: The other ways QEMU 7.2 lets a user start and drive the same jobs, which
#: the qemu-7.2 profile's search and walks try besides a stream with
#: ``auto-finalize: false``, ``auto-dismiss: false``, ``base-node`` and an
#: automatically named filter, driven by ``block-job-*``:
QMP_FORMS = {
    "auto-finalize": "streams that finalize by themselves (QEMU's default) as well",
    "auto-dismiss": "streams that are dismissed by themselves (QEMU's default) as well",
    "bottom": "streams that name their lowest node (bottom) as well as their base (base-node)",
    "filter-node-name": "streams that name their copy-on-read filter as well",
    "job-verbs": "job-cancel, job-pause, job-resume, job-finalize and job-dismiss besides block-job-*",
}

#: How finely a job's end is modelled (qemu-7.2 only; qemu-domain.md §7's lesson).
COMPLETIONS = {
    "atomic": "a job's end (job_exit, prepare, clean) is one step, as the commands see it: fast, for CI",
    "polling": (
        "a job's end is split where QEMU 7.2 polls: its run returns and job_exit waits as a bottom half; a "
        "stream's prepare drops its filter, drains, then sets the link; other jobs' pending exits run inside "
        "those polls, and the monitor waits for them"
    ),
}

MIN_CHAIN, MAX_CHAIN = 2, 8
MAX_CHUNKS = 4
MAX_JOBS = 4


class ScenarioError(ValueError):
    """A scenario value is out of range; the message names the fix."""


@dataclass(frozen=True)
class Scenario:
    """One configuration of the block-layer model.

    >>> Scenario().node_names
    ('A', 'B', 'C', 'D', 'E')
    >>> Scenario(chain_length=9)
    Traceback (most recent call last):
    ...
    blockcheck.model.scenario.ScenarioError: chain length 9 is out of range; give a length from 2 to 8
    """

    chain_length: int = 5
    device: str = "drive0"
    max_jobs: int = 2
    #: Jobs the user may start in one run.  Every job that completes
    #: shortens the chain, and chains of jobs multiply the state space; a
    #: small bound is the small-scope hypothesis made explicit.
    jobs_per_run: int = 2
    chunks: int = 2
    guest_writes: int = 1
    #: How often one job may be user-paused.  A user who pauses and resumes
    #: a job forever starves it under any fairness; a bound keeps the
    #: "jobs end" liveness claim meaningful and the state space finite.
    pauses_per_job: int = 1
    #: How often the user may rewrite a header with change-backing-file
    #: (when that command is among ``commands``).  Each rewrite can name
    #: any node below the image, so the bound keeps the branching small.
    header_changes: int = 1
    commands: tuple[str, ...] = DEFAULT_COMMANDS
    #: Which of :data:`QMP_FORMS` the qemu-7.2 profile uses (the seed has none
    #: of them).  By default QEMU's own defaults and ``bottom``; a named
    #: filter changes only the names in QEMU's answers and triples the
    #: states, and the job-* verbs add edges but no states, so those two are
    #: for ``blockcheck conform``'s walks and for asking.
    qmp_forms: tuple[str, ...] = ("auto-finalize", "auto-dismiss", "bottom")
    profile: str = "seed"
    variant: str = "none"
    #: One of :data:`COMPLETIONS`: the granularity of a job's end.
    completions: str = "atomic"

    def __post_init__(self) -> None:
        if not MIN_CHAIN <= self.chain_length <= MAX_CHAIN:
            raise ScenarioError(
                f"chain length {self.chain_length} is out of range; give a length from {MIN_CHAIN} to {MAX_CHAIN}"
            )
        if not 1 <= self.max_jobs <= MAX_JOBS:
            raise ScenarioError(f"jobs at once {self.max_jobs} is out of range; give a number from 1 to {MAX_JOBS}")
        if not 1 <= self.jobs_per_run <= 8:
            raise ScenarioError(f"jobs per run {self.jobs_per_run} is out of range; give a number from 1 to 8")
        if not 1 <= self.chunks <= MAX_CHUNKS:
            raise ScenarioError(f"chunks {self.chunks} is out of range; give a number from 1 to {MAX_CHUNKS}")
        if not 0 <= self.guest_writes <= 2:
            raise ScenarioError(f"guest writes {self.guest_writes} is out of range; give 0, 1 or 2")
        if not 0 <= self.pauses_per_job <= 2:
            raise ScenarioError(f"pauses per job {self.pauses_per_job} is out of range; give 0, 1 or 2")
        if not 0 <= self.header_changes <= 2:
            raise ScenarioError(f"header changes {self.header_changes} is out of range; give 0, 1 or 2")
        unknown = [c for c in self.commands if c not in GRAPH_COMMANDS]
        if unknown:
            raise ScenarioError(
                f"unknown command {unknown[0]!r} in the scenario; choose from {', '.join(GRAPH_COMMANDS)}"
            )
        unknown = [f for f in self.qmp_forms if f not in QMP_FORMS]
        if unknown:
            raise ScenarioError(f"unknown QMP form {unknown[0]!r}; choose from {', '.join(QMP_FORMS)}")
        if self.completions not in COMPLETIONS:
            raise ScenarioError(f"unknown completions {self.completions!r}; choose from {', '.join(COMPLETIONS)}")
        if not self.device or not self.device.isidentifier():
            raise ScenarioError(f"device name {self.device!r} is not a plain identifier; use a name such as drive0")
        if self.device in self.node_names:
            # QEMU looks device and node names up in one namespace (bdrv_lookup_bs), and
            # blockdev-add refuses a node name a device already has: no such chain exists.
            raise ScenarioError(
                f"device name {self.device!r} is also a node's name (the nodes are "
                f"{', '.join(self.node_names)}); QEMU allows no such clash, use a name such as drive0"
            )

    @property
    def node_names(self) -> tuple[str, ...]:
        """Node names from the base-most image up to the active layer."""
        return tuple(string.ascii_uppercase[: self.chain_length])

    @property
    def file_names(self) -> tuple[str, ...]:
        """The image file of each node, as a header or ``backing-file`` names it."""
        return tuple(f"{name}.qcow2" for name in self.node_names)

    @property
    def root(self) -> int:
        """Index of the active layer, the node the device is attached to."""
        return self.chain_length - 1

    def describe(self) -> str:
        chain = " <- ".join(f"[{n}]" for n in self.node_names)
        changes = f", {self.header_changes} header change(s)" if "change-backing-file" in self.commands else ""
        return (
            f"{chain} ({self.device} on [{self.node_names[-1]}]); {self.chunks} chunks, "
            f"up to {self.max_jobs} jobs at once and {self.jobs_per_run} per run, {self.guest_writes} guest write(s){changes}, "
            f"commands: {', '.join(self.commands)}"
            + (f"; QMP forms: {', '.join(self.qmp_forms) or 'none'}" if self.profile == "qemu-7.2" else "")
            + (f"; completions: {self.completions}" if self.completions != "atomic" else "")
        )
