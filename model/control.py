"""Facilitator controls as per-actor event logs, replayed with authority on read.

Each device appends the control events it writes (phase moves, timer, roles)
to its own list under ``control/<actor>``. A reader gathers every list, keeps
only the events whose op was really written by the list's actor, orders them
by Lamport counter and replays them: an event counts only when its writer is
the facilitator at that point of the replay. The creator of the session is the
first facilitator; a ``role`` event for ``facilitator`` hands the role over.
So a stray or hostile write can never move a phase, pause a timer or take a
role, on any reader.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from automerge.core import Document, ObjType

from model.authorship import parse_op_id
from model.reading import child, scalar
from model.schema import CONTROL_TYPES, K_CONTROL, ROLES


class ControlEvent(msgspec.Struct, frozen=True):
    """One control event as written in a log."""

    type: str
    at: int  # ms since the epoch, facilitator's clock
    actor: str
    counter: int
    to: int = -1  # goto: target phase index
    minutes: int = 0  # extend
    role: str = ""  # role
    who: str = ""  # role: participant id, "" to clear
    heads: tuple[str, ...] = ()  # goto/end: the document's heads (hex) as the phase closed


class Transition(msgspec.Struct, frozen=True):
    """A phase move (``to`` is -1 when the session ends).

    ``heads`` are the document's heads on the facilitator's laptop at that
    moment: forking the document there shows the board as the phase closed.
    """

    from_: int = msgspec.field(name="from")
    to: int = 0
    at: int = 0
    by: str = ""
    heads: tuple[str, ...] = ()


class PhaseState(msgspec.Struct, frozen=True):
    """Where the session stands; times are ms on the facilitator's clock."""

    index: int = 0
    status: str = "waiting"  # waiting | running | paused | ended
    run_since: int = 0  # when the current running stretch began
    elapsed_ms: int = 0  # running time of the current phase before run_since
    extra_minutes: int = 0
    entered_at: int = 0
    transitions: tuple[Transition, ...] = ()
    actual_ms: tuple[tuple[int, int], ...] = ()  # (phase index, ms spent running)

    def elapsed_at(self, now: int) -> int:
        """Running time of the current phase at ``now`` (facilitator clock, ms)."""
        if self.status == "running":
            return self.elapsed_ms + max(0, now - self.run_since)
        return self.elapsed_ms

    def remaining_ms(self, planned_minutes: int, now: int) -> int:
        """Time left in the current phase at ``now``; negative in overtime."""
        return (planned_minutes + self.extra_minutes) * 60_000 - self.elapsed_at(now)

    def actual_for(self, index: int, now: int | None = None) -> int:
        """Total running ms spent in phase ``index`` (including the current stretch)."""
        total = sum(ms for i, ms in self.actual_ms if i == index)
        if index == self.index and now is not None:
            total += self.elapsed_at(now) - self.elapsed_ms
        return total


class Roles(msgspec.Struct, frozen=True):
    facilitator: str = ""
    client: str = ""
    scribe: str = ""


class ControlState(msgspec.Struct, frozen=True):
    """The result of replaying every control log."""

    phase: PhaseState
    roles: Roles
    ignored: int = 0  # events present in the document that did not count


def _read_event(doc: Document, obj: bytes, actor: str, counter: int) -> ControlEvent | None:
    kind = scalar(doc, obj, "type", str, "")
    if kind not in CONTROL_TYPES:
        return None
    return ControlEvent(
        type=kind,
        at=scalar(doc, obj, "at", int, 0),
        actor=actor,
        counter=counter,
        to=scalar(doc, obj, "to", int, -1),
        minutes=scalar(doc, obj, "minutes", int, 0),
        role=scalar(doc, obj, "role", str, ""),
        who=scalar(doc, obj, "who", str, ""),
        heads=_heads(doc, obj),
    )


def _heads(doc: Document, obj: bytes) -> tuple[str, ...]:
    log = child(doc, obj, "heads", ObjType.List)
    if log is None:
        return ()
    found = (scalar(doc, log, i, str, "") for i in range(doc.length(log)))
    return tuple(h for h in found if len(h) == 64)


def gather_events(doc: Document) -> tuple[list[ControlEvent], int]:
    """Every authentic control event in causal order, and the count of forged ones."""
    logs = child(doc, b"\x00", K_CONTROL, ObjType.Map)
    events: list[ControlEvent] = []
    forged = 0
    if logs is None:
        return events, 0
    for actor in doc.keys(logs):
        log = child(doc, logs, actor, ObjType.List)
        if log is None:
            continue
        for index in range(doc.length(log)):
            got = doc.get(log, index)
            if got is None or got[0] != ObjType.Map:
                forged += 1
                continue
            op = parse_op_id(got[1])
            event = _read_event(doc, got[1], actor, op.counter) if op else None
            # An entry counts only when the log's owner created it.
            if op is None or op.actor != actor or event is None:
                forged += 1
                continue
            events.append(event)
    events.sort(key=lambda e: (e.counter, e.actor))
    return events, forged


def _valid(event: ControlEvent, phase: PhaseState, phase_count: int) -> bool:
    if phase.status == "ended":
        return False
    match event.type:
        case "start":
            return phase.status == "waiting"
        case "pause":
            return phase.status == "running"
        case "resume":
            return phase.status == "paused"
        case "extend":
            return -240 <= event.minutes <= 240 and event.minutes != 0
        case "goto":
            return 0 <= event.to < phase_count
        case "role":
            return event.role in ROLES and (event.role != "facilitator" or bool(event.who))
        case "end":
            return True
    return False


def replay(
    events: Iterator[ControlEvent] | list[ControlEvent],
    creator: str,
    phase_count: int,
    forged: int = 0,
) -> ControlState:
    """Replay ``events`` from the creator's authority; events by others are ignored."""
    roles = {"facilitator": creator, "client": "", "scribe": ""}
    index = 0
    status = "waiting"
    run_since = elapsed = extra = entered = 0
    transitions: list[Transition] = []
    actual: list[tuple[int, int]] = []
    ignored = forged

    def state() -> PhaseState:
        return PhaseState(
            index, status, run_since, elapsed, extra, entered, tuple(transitions), tuple(actual)
        )

    for ev in events:
        if ev.actor != roles["facilitator"] or not _valid(ev, state(), phase_count):
            ignored += 1
            continue
        if status == "running" and ev.type in ("pause", "goto", "end"):
            elapsed += max(0, ev.at - run_since)
        match ev.type:
            case "start":
                status, run_since, entered = "running", ev.at, entered or ev.at
            case "pause":
                status = "paused"
            case "resume":
                status, run_since = "running", ev.at
            case "extend":
                extra = max(-(10**6), extra + ev.minutes)
            case "goto":
                actual.append((index, elapsed))
                transitions.append(Transition(index, ev.to, ev.at, ev.actor, ev.heads))
                index, status, run_since, elapsed, extra, entered = (
                    ev.to, "running", ev.at, 0, 0, ev.at,
                )
            case "role":
                roles[ev.role] = ev.who
            case "end":
                actual.append((index, elapsed))
                transitions.append(Transition(index, -1, ev.at, ev.actor, ev.heads))
                status, elapsed = "ended", 0
    return ControlState(state(), Roles(**roles), ignored)


def read_control(doc: Document, creator: str, phase_count: int) -> ControlState:
    """The session's phase state and roles, as every honest reader agrees on them."""
    events, forged = gather_events(doc)
    return replay(events, creator, phase_count, forged)
