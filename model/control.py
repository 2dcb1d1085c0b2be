"""Facilitator controls as per-actor event logs, replayed with authority on read.

Each device appends the control events it writes (phase moves, timer, roles)
to its own list under ``control/<actor>``. A reader gathers every list, keeps
only the events whose op was really written by the list's actor, orders them
by Lamport counter and replays them: an event counts only when its writer is
the facilitator at that point of the replay. The creator of the session is the
first facilitator; a ``role`` event for ``facilitator`` hands the role over.
So a stray or hostile write can never move a phase, pause a timer or take a
role, on any reader.

The same replay keeps the other shared facilitator state: who has the floor
(``floor``, or a round-robin ``round`` walked with ``turn``), the case chosen
among the proposals (``case``, which also names the client) and the next
meeting (``meeting``, the only event that still counts after ``end``).

In a session whose creator is proven (format 3, ``SessionInfo.verified``)
every event must also carry its writer's signature over its canonical
encoding (``canonical_event``) and a random ``id``: an unsigned, badly signed
or copied event is ignored, so a hand-over is a signed delegation and nobody
can replay the facilitator's events. Files of formats 1 and 2 keep the rule
by op actor alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import msgspec
from automerge.core import Document, ObjType, ScalarType

from model.authorship import parse_op_id
from model.binding import entries
from model.keys import control_message, verify
from model.schema import CONTROL_TYPES, E_BY, E_ID, E_SIG, ROLES
from model.text import clean_line


class ControlEvent(msgspec.Struct, frozen=True):
    """One control event as written in a log."""

    type: str
    at: int  # ms since the epoch, facilitator's clock
    actor: str
    counter: int
    id: str = ""  # format 3: random; a second event with the same id is a copy
    to: int = -1  # goto: target phase index
    minutes: int = 0  # extend
    role: str = ""  # role
    who: str = ""  # role: participant id, "" to clear
    heads: tuple[str, ...] = ()  # goto/end: the document's heads (hex) as the phase closed
    order: tuple[str, ...] = ()  # round: participant ids in speaking order
    step: int = 0  # turn: +1 (next speaker) or -1 (previous)
    item: str = ""  # case: the chosen proposal's item id
    date: str = ""  # meeting: ISO date ("" clears the next meeting)
    time: str = ""  # meeting: "HH:MM", "" for a whole day
    place: str = ""  # meeting


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
    extended: tuple[tuple[int, int], ...] = ()  # (phase index, minutes added) per closed visit

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

    def extended_for(self, index: int) -> int:
        """Minutes added to phase ``index`` with ``extend``, over every visit."""
        total = sum(minutes for i, minutes in self.extended if i == index)
        if index == self.index and self.status != "ended":
            total += self.extra_minutes
        return total


class Floor(msgspec.Struct, frozen=True):
    """Who has the floor. In a round-robin (``order`` not empty) ``turn`` is the
    position of the speaker in ``order``; ``turn == len(order)`` once everyone
    has spoken. Outside a round ``turn`` is -1."""

    speaker: str = ""
    order: tuple[str, ...] = ()
    turn: int = -1

    @property
    def in_round(self) -> bool:
        return bool(self.order) and 0 <= self.turn < len(self.order)

    @property
    def round_done(self) -> bool:
        return bool(self.order) and self.turn >= len(self.order)

    def next_in_round(self) -> str:
        """Who speaks after the current speaker in the round ("" if nobody)."""
        following = self.turn + 1
        return self.order[following] if self.in_round and following < len(self.order) else ""


class NextMeeting(msgspec.Struct, frozen=True):
    """The date, time and place of the group's next meeting, set by the facilitator."""

    date: str  # ISO "YYYY-MM-DD"
    time: str = ""  # "HH:MM" (local, floating), "" for a whole day
    place: str = ""
    minutes: int = 0  # expected length; 0: unknown
    set_at: int = 0  # ms, facilitator's clock


class Roles(msgspec.Struct, frozen=True):
    facilitator: str = ""
    client: str = ""
    scribe: str = ""


class ControlState(msgspec.Struct, frozen=True):
    """The result of replaying every control log."""

    phase: PhaseState
    roles: Roles
    ignored: int = 0  # events present in the document that did not count
    floor: Floor = Floor()
    case: str = ""  # id of the proposal chosen as today's case
    meeting: NextMeeting | None = None
    # Who held the floor in the current phase, first time first (a phase move
    # clears it): the facilitator's participation view, never exported.
    spoke: tuple[str, ...] = ()
    # Everyone who ever held each role in this session, first time first (the
    # creator is the first facilitator): whose marks and updates count.
    facilitators: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    scribes: tuple[str, ...] = ()

    def ever_held(self, who: str, *roles: str) -> bool:
        """Whether ``who`` held one of ``roles`` at some point of the session."""
        if not who:
            return False
        held = {"facilitator": self.facilitators, "client": self.clients,
                "scribe": self.scribes}
        return any(who in held.get(role, ()) for role in roles)


class UnsupportedValue(ValueError):
    """A value that has no canonical encoding (a timestamp, a counter...)."""


def plain_value(value: Any) -> Any:
    """``value`` as a writer stores it and a reader reads it back: str, int, float, bool,
    None, bytes, lists and string-keyed maps of those (a tuple is a list)."""
    if value is None or isinstance(value, (str, int, float, bytes)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return str(value)


_PLAIN_TYPES = (ScalarType.Str, ScalarType.Int, ScalarType.Uint, ScalarType.F64,
                ScalarType.Boolean, ScalarType.Null, ScalarType.Bytes)


def read_plain(doc: Document, value: Any, obj: bytes) -> Any:
    """The document value ``(value, obj)`` as plain Python; UnsupportedValue for a type
    that ``canonical_event`` cannot encode."""
    if value == ObjType.Map:
        return {key: read_plain(doc, v, o) for key, (v, o) in entries(doc, obj).items()}
    if value == ObjType.List:
        return [read_plain(doc, v, o) for v, o in doc.values(obj)]
    if value == ObjType.Text:
        return doc.text(obj)
    if isinstance(value, tuple) and value[0] in _PLAIN_TYPES:
        return value[1]
    raise UnsupportedValue(str(value))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def canonical_event(event: Mapping[str, Any], by: str) -> bytes:
    """The bytes a control event's signature covers.

    Every field of the event except ``sig``, plus ``"by"``: the hex id of the log
    owner, as one MessagePack map with its keys (and those of nested maps) in
    sorted order, encoded in the shortest form (see ``docs/file-format.md``).
    """
    body = {key: value for key, value in event.items() if key != E_SIG}
    body[E_BY] = by
    return msgspec.msgpack.encode(_sorted(body))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(v if isinstance(v, str) else "" for v in value)


def decode_event(data: Mapping[str, Any], actor: str, counter: int) -> ControlEvent | None:
    """The control event in ``data`` (a log entry as plain Python), None if it is none."""
    kind = _text(data, "type")
    if kind not in CONTROL_TYPES:
        return None
    return ControlEvent(
        type=kind,
        at=_int(data, "at", 0),
        actor=actor,
        counter=counter,
        id=_text(data, E_ID),
        to=_int(data, "to", -1),
        minutes=_int(data, "minutes", 0),
        role=_text(data, "role"),
        who=_text(data, "who"),
        heads=tuple(h for h in _texts(data, "heads") if len(h) == 64),
        order=_texts(data, "order"),
        step=_int(data, "step", 0),
        item=_text(data, "item"),
        date=_text(data, "date"),
        time=_text(data, "time"),
        place=_text(data, "place"),
    )


_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
MEETING_MAX_MINUTES = 720
PLACE_MAX = 200


def valid_date(text: str) -> bool:
    """An ISO calendar date, ``YYYY-MM-DD``."""
    if len(text) != 10:
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def valid_time(text: str) -> bool:
    """A 24-hour clock time, ``HH:MM``."""
    return _TIME.fullmatch(text) is not None


def meeting_problem(day: str, at: str, place: str, minutes: int) -> str:
    """Why these next-meeting values are refused ("" when they are fine)."""
    if day and not valid_date(day):
        return f"the date must be YYYY-MM-DD, got {day!r}"
    if at and not valid_time(at):
        return f"the time must be HH:MM (24-hour), got {at!r}"
    if at and not day:
        return "a time needs a date"
    if len(place) > PLACE_MAX or "\n" in place or "\r" in place:
        return f"the place is one line of at most {PLACE_MAX} characters"
    if not 0 <= minutes <= MEETING_MAX_MINUTES:
        return f"the length is 0 to {MEETING_MAX_MINUTES} minutes"
    return ""


# Verified events, by (entry object id, canonical bytes, signature): a refresh re-reads
# every log, and checking a signature costs about 0.1 ms.
VerifiedCache = dict[tuple[bytes, bytes, bytes], bool]
_CACHE_MAX = 20_000


def _signed(entry: bytes, data: Mapping[str, Any], owner: str, session_id: str,
            cache: VerifiedCache) -> bool:
    sig = data.get(E_SIG)
    if not isinstance(sig, bytes) or not _text(data, E_ID):
        return False
    canonical = canonical_event(data, owner)
    key = (entry, canonical, sig)
    ok = cache.get(key)
    if ok is None:
        try:
            owner_key = bytes.fromhex(owner)
        except ValueError:
            return False
        ok = verify(owner_key, sig, control_message(session_id, canonical))
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = ok
    return ok


def gather_events(
    doc: Document, logs: bytes | None, *, session_id: str = "", signed: bool = False,
    cache: VerifiedCache | None = None,
) -> tuple[list[ControlEvent], int]:
    """Every authentic control event in causal order, and the count of the others.

    An entry counts only when the log's owner created it; when ``signed``, also
    when its signature by the owner verifies for ``session_id`` and its id is
    the first of its kind (copies are counted with the others).
    """
    events: list[ControlEvent] = []
    forged = 0
    if logs is None:
        return events, 0
    cache = {} if cache is None else cache
    for actor, (value, log) in entries(doc, logs).items():
        if value != ObjType.List:
            continue
        for kind, entry in doc.values(log):
            op = parse_op_id(entry)
            if kind != ObjType.Map or op is None or op.actor != actor:
                forged += 1
                continue
            try:
                data = read_plain(doc, kind, entry)
            except UnsupportedValue:
                forged += 1
                continue
            event = decode_event(data, actor, op.counter)
            if event is None or (signed and not _signed(entry, data, actor, session_id, cache)):
                forged += 1
                continue
            events.append(event)
    events.sort(key=lambda e: (e.counter, e.actor))
    if signed:
        seen: set[str] = set()
        unique = []
        for event in events:
            if event.id in seen:
                forged += 1
                continue
            seen.add(event.id)
            unique.append(event)
        events = unique
    return events, forged


def _valid(event: ControlEvent, phase: PhaseState, floor: Floor, phase_count: int) -> bool:
    if event.type == "meeting":  # the next meeting may be set after the end
        return not meeting_problem(event.date, event.time, event.place, event.minutes)
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
        case "floor":
            return True
        case "round":
            return bool(event.order) and all(event.order) and len(set(event.order)) == len(
                event.order)
        case "turn":
            if not floor.order or event.step not in (1, -1):
                return False
            return 0 <= floor.turn + event.step <= len(floor.order)
        case "case":
            return bool(event.item) and bool(event.who)
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
    extended: list[tuple[int, int]] = []
    ignored = forged
    floor = Floor()
    spoke: list[str] = []
    case = ""
    meeting: NextMeeting | None = None
    held: dict[str, list[str]] = {"facilitator": [creator] if creator else [], "client": [],
                                  "scribe": []}

    def state() -> PhaseState:
        return PhaseState(
            index, status, run_since, elapsed, extra, entered, tuple(transitions),
            tuple(actual), tuple(extended),
        )

    for ev in events:
        if ev.actor != roles["facilitator"] or not _valid(ev, state(), floor, phase_count):
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
                extended.append((index, extra))
                transitions.append(Transition(index, ev.to, ev.at, ev.actor, ev.heads))
                index, status, run_since, elapsed, extra, entered = (
                    ev.to, "running", ev.at, 0, 0, ev.at,
                )
                floor = Floor()  # a round belongs to its phase
                spoke = []
            case "role":
                roles[ev.role] = ev.who
                if ev.who and ev.who not in held[ev.role]:
                    held[ev.role].append(ev.who)
            case "end":
                actual.append((index, elapsed))
                extended.append((index, extra))
                transitions.append(Transition(index, -1, ev.at, ev.actor, ev.heads))
                status, elapsed = "ended", 0
                floor = Floor()
            case "floor":
                floor = Floor(speaker=ev.who)
            case "round":
                floor = Floor(speaker=ev.order[0], order=ev.order, turn=0)
            case "turn":
                turn = floor.turn + ev.step
                speaker = floor.order[turn] if turn < len(floor.order) else ""
                floor = Floor(speaker=speaker, order=floor.order, turn=turn)
            case "case":
                case, roles["client"] = ev.item, ev.who
                if ev.who not in held["client"]:
                    held["client"].append(ev.who)
            case "meeting":
                meeting = NextMeeting(ev.date, ev.time, clean_line(ev.place, PLACE_MAX),
                                      ev.minutes, ev.at) if ev.date else None
        if floor.speaker and floor.speaker not in spoke:
            spoke.append(floor.speaker)
    return ControlState(state(), Roles(**roles), ignored, floor, case, meeting, tuple(spoke),
                        tuple(held["facilitator"]), tuple(held["client"]),
                        tuple(held["scribe"]))


def read_control(
    doc: Document, logs: bytes | None, creator: str, phase_count: int, *,
    session_id: str = "", signed: bool = False, cache: VerifiedCache | None = None,
) -> ControlState:
    """The session's phase state and roles, as every honest reader agrees on them.

    ``logs`` is the ``control`` map; ``signed`` (a verified session) requires every
    event to be signed by its log's owner for ``session_id``.
    """
    events, forged = gather_events(doc, logs, session_id=session_id, signed=signed,
                                   cache=cache)
    return replay(events, creator, phase_count, forged)
