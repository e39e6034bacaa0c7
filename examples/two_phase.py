"""Gray and Lamport's two-phase commit (TwoPhase.tla), N resource managers.

The variables are those of the TLA+ spec: ``rmState`` (each RM is working,
prepared, committed or aborted), ``tmState`` (init or done), ``tmPrepared``
(the RMs the TM has seen prepare) and ``msgs`` (the set of messages sent:
Prepared(rm), Commit, Abort).  The actions are the spec's, in the order
``TPNext`` lists them: TMCommit, TMAbort, then for each RM TMRcvPrepared,
RMPrepare, RMChooseToAbort, RMRcvCommitMsg and RMRcvAbortMsg.  As in the
spec, receiving a message twice is allowed; it is a step that leaves the
state unchanged.

Why a packed int: this model is the engine's benchmark, and a state packed
into one int is the cheapest faithful encoding Python has.  Every field has
its own bits, so the encoding is a bijection onto the spec's variables:

====================  ========================================================
bits                  meaning
====================  ========================================================
``2*rm .. 2*rm+1``    ``rmState[rm]``: 0 working, 1 prepared, 2 committed,
                      3 aborted
``2N``                ``tmState``: 0 init, 1 done
``2N+1+rm``           ``rm \\in tmPrepared``
``3N+1+rm``           ``[type |-> "Prepared", rm |-> rm] \\in msgs``
``4N+1``              ``[type |-> "Commit"] \\in msgs``
``4N+2``              ``[type |-> "Abort"] \\in msgs``
====================  ========================================================

A state uses 4N+3 bits; up to N = 14 that is below 2**61 - 1, where
``hash(n) == n``, so the engine's fingerprint *is* the state and no two
states can collide.  :meth:`TwoPhase.decode` gives the spec's variables
back, and the tests compare this model step by step with a direct
transliteration of the TLA+ actions.

>>> m = TwoPhase(3)
>>> m.decode(m.init_states()[0])
{'rmState': ('working', 'working', 'working'), 'tmState': 'init', 'tmPrepared': (), 'msgs': ()}
>>> [m.format_action(a) for a, _ in m.successors(m.init_states()[0])][:3]
['TMAbort', 'RMPrepare(r1)', 'RMChooseToAbort(r1)']
"""

from __future__ import annotations

from blockcheck.checker.api import Model
from blockcheck.checker.property import Property, always, sometimes

RM_STATES = ("working", "prepared", "committed", "aborted")
WORKING, PREPARED, COMMITTED, ABORTED = range(4)

ACTION_NAMES = (
    "TMCommit",
    "TMAbort",
    "TMRcvPrepared",
    "RMPrepare",
    "RMChooseToAbort",
    "RMRcvCommitMsg",
    "RMRcvAbortMsg",
)


class TwoPhase(Model):
    """TwoPhase with ``n`` resource managers, states packed into one int."""

    action_names = ACTION_NAMES

    def __init__(self, n: int = 3) -> None:
        if not 1 <= n <= 14:
            raise ValueError(f"n must be between 1 and 14 so a state fits in 61 bits, not {n}")
        self.n = n
        self.name = f"two-phase-{n}"
        self.tm_done = 1 << 2 * n
        self.commit_msg = 1 << 4 * n + 1
        self.abort_msg = 1 << 4 * n + 2
        self.all_prepared = ((1 << n) - 1) << 2 * n + 1
        self.state_limit = 1 << 4 * n + 3
        #: bit 0 of every rmState field; bit 1 is the same mask shifted by one.
        self.low_bits = sum(1 << 2 * rm for rm in range(n))
        self.tm_commit = ("TMCommit",)
        self.tm_abort = ("TMAbort",)
        # Per RM: its shift, its tmPrepared bit, its Prepared message bit and
        # its five actions, built once so successors() allocates no action.
        self.rms = tuple(
            (
                2 * rm,
                1 << 2 * n + 1 + rm,
                1 << 3 * n + 1 + rm,
                ("TMRcvPrepared", rm),
                ("RMPrepare", rm),
                ("RMChooseToAbort", rm),
                ("RMRcvCommitMsg", rm),
                ("RMRcvAbortMsg", rm),
            )
            for rm in range(n)
        )

    # -- the spec ---------------------------------------------------------

    def init_states(self) -> list[int]:
        """TPInit: every RM working, the TM in init, nothing prepared or sent."""
        return [0]

    def actions(self, state: int) -> list[tuple]:
        """The guards of TPNext: the actions enabled in ``state``, in TPNext's order."""
        tm_init = not state & self.tm_done
        enabled = []
        if tm_init and state & self.all_prepared == self.all_prepared:
            enabled.append(self.tm_commit)  # TMCommit: tmState = "init" /\ tmPrepared = RM
        if tm_init:
            enabled.append(self.tm_abort)  # TMAbort: tmState = "init"
        for shift, _, msg_bit, *rm_actions in self.rms:
            rcv_prepared, prepare, choose_abort, rcv_commit, rcv_abort = rm_actions
            if tm_init and state & msg_bit:
                enabled.append(rcv_prepared)  # [type |-> "Prepared", rm |-> rm] \in msgs
            if state >> shift & 3 == WORKING:
                enabled += [prepare, choose_abort]  # rmState[rm] = "working"
            if state & self.commit_msg:
                enabled.append(rcv_commit)  # [type |-> "Commit"] \in msgs
            if state & self.abort_msg:
                enabled.append(rcv_abort)  # [type |-> "Abort"] \in msgs
        return enabled

    def next_state(self, state: int, action: tuple) -> int:
        """The effects of TPNext: the state ``action`` leads to (it must be enabled)."""
        name = action[0]
        if name == "TMCommit":
            return state | self.tm_done | self.commit_msg
        if name == "TMAbort":
            return state | self.tm_done | self.abort_msg
        shift, prepared_bit, msg_bit = self.rms[action[1]][:3]
        if name == "TMRcvPrepared":
            return state | prepared_bit
        if name == "RMPrepare":
            return state | PREPARED << shift | msg_bit
        if name == "RMRcvCommitMsg":
            return state & ~(3 << shift) | COMMITTED << shift
        # RMChooseToAbort and RMRcvAbortMsg: ABORTED is all ones, so OR sets it.
        return state | ABORTED << shift

    def successors(self, state: int) -> list[tuple[tuple, int]]:
        """:meth:`actions` and :meth:`next_state` fused, for speed: the engine's hot path."""
        out = []
        add = out.append
        if not state & self.tm_done:
            if state & self.all_prepared == self.all_prepared:
                add((self.tm_commit, state | self.tm_done | self.commit_msg))
            add((self.tm_abort, state | self.tm_done | self.abort_msg))
            tm_init = True
        else:
            tm_init = False
        commit = state & self.commit_msg
        abort = state & self.abort_msg
        for shift, prepared_bit, msg_bit, rcv_prepared, prepare, choose_abort, rcv_commit, rcv_abort in self.rms:
            if tm_init and state & msg_bit:
                add((rcv_prepared, state | prepared_bit))
            field = state >> shift & 3
            if field == WORKING:
                add((prepare, state | PREPARED << shift | msg_bit))
                add((choose_abort, state | ABORTED << shift))
            if commit:
                add((rcv_commit, state & ~(3 << shift) | COMMITTED << shift))
            if abort:
                add((rcv_abort, state | ABORTED << shift))
        return out

    def is_terminal(self, state: int) -> bool:
        """The protocol has ended: the TM is done and every RM committed or aborted."""
        if not state & self.tm_done:
            return False
        return all(state >> shift & 3 >= COMMITTED for shift, *_ in self.rms)

    # -- invariants -------------------------------------------------------

    def type_ok(self, state: int) -> bool:
        """TPTypeOK.  Every bit pattern below 2**(4N+3) decodes to well-typed
        variables, so in this encoding the type invariant is a range check."""
        return type(state) is int and 0 <= state < self.state_limit

    def consistent(self, state: int) -> bool:
        """TCConsistent: no RM has committed while another has aborted."""
        high = state >> 1 & self.low_bits
        low = state & self.low_bits
        return not (high & ~low and high & low)

    def properties(self) -> list[Property]:
        """TCConsistent and TPTypeOK, plus a witness that commit is reachable."""
        rm_bits = (1 << 2 * self.n) - 1
        committed = sum(COMMITTED << 2 * rm for rm in range(self.n))
        return [
            always("tc-consistent", "no resource manager commits while another aborts", self.consistent),
            always("type-ok", "every variable has its declared type", self.type_ok),
            sometimes(
                "all-committed",
                "some behaviour commits every resource manager",
                lambda s: s & rm_bits == committed,
            ),
        ]

    # -- reading states ---------------------------------------------------

    def decode(self, state: int) -> dict:
        """The spec's variables, by name, with RMs numbered from 0."""
        n = self.n
        msgs = [("Prepared", rm) for rm in range(n) if state >> 3 * n + 1 + rm & 1]
        if state & self.commit_msg:
            msgs.append(("Commit",))
        if state & self.abort_msg:
            msgs.append(("Abort",))
        return {
            "rmState": tuple(RM_STATES[state >> 2 * rm & 3] for rm in range(n)),
            "tmState": "done" if state & self.tm_done else "init",
            "tmPrepared": tuple(rm for rm in range(n) if state >> 2 * n + 1 + rm & 1),
            "msgs": tuple(msgs),
        }

    def state_to_json(self, state: int) -> dict:
        v = self.decode(state)
        return {
            "rmState": {f"r{rm + 1}": s for rm, s in enumerate(v["rmState"])},
            "tmState": v["tmState"],
            "tmPrepared": [f"r{rm + 1}" for rm in v["tmPrepared"]],
            "msgs": [_format_msg(m) for m in v["msgs"]],
        }

    def format_state(self, state: int) -> str:
        v = self.state_to_json(state)
        rms = " ".join(f"{rm}={s}" for rm, s in v["rmState"].items())
        return f"{rms} tm={v['tmState']} tmPrepared={{{','.join(v['tmPrepared'])}}} msgs={{{','.join(v['msgs'])}}}"

    def format_action(self, action: tuple) -> str:
        if len(action) == 1:
            return action[0]
        return f"{action[0]}(r{action[1] + 1})"


def _format_msg(msg: tuple) -> str:
    return f"Prepared(r{msg[1] + 1})" if msg[0] == "Prepared" else msg[0]
