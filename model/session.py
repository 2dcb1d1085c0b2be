"""A live session replica: one Automerge document, its snapshot and who we are.

``Session`` is what the app and the network layer hold. Local intents go
through its named methods (each one ``model.ops`` transaction); remote
changes arrive through ``receive_sync_message`` or ``merge``; either way
``refresh`` brings the snapshot up to date and listeners hear one event.
Permission checks here mirror the rules that ``model.control`` enforces on
read, so a local user gets a clear refusal instead of a silently ignored edit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from automerge.core import Document, Message, SyncState

from model import ops
from model.protocols import Protocol
from model.snapshot import Snapshot, SnapshotBuilder

Listener = Callable[[Snapshot], None]


class NotAllowed(PermissionError):
    """The local participant's role does not allow this operation."""


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class Session:
    """One replica of a session document, as seen by the participant ``actor``."""

    def __init__(
        self,
        doc: Document,
        *,
        actor: bytes | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.actor = actor or ops.new_actor()
        doc.set_actor(self.actor)
        self.doc = doc
        self.clock = clock
        self._builder = SnapshotBuilder(doc)
        self._listeners: list[Listener] = []

    # -- construction -----------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        title: str,
        protocol: Protocol,
        name: str,
        actor: bytes | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        extra: dict[str, Any] | None = None,
        continuing: bool = False,
    ) -> Session:
        """A brand-new session whose creator (``name``) is its first facilitator.

        The protocol is copied into the document with its follow-up phase only
        when the session ``continuing`` an earlier one of the same group.
        """
        actor = actor or ops.new_actor()
        protocol = msgspec.structs.replace(protocol, phases=protocol.phases_for(continuing))
        doc = ops.create_session(
            actor=actor, session_id=uuid.uuid4().hex, title=title,
            protocol=protocol, name=name, now=clock(), extra=extra,
        )
        return cls(doc, actor=actor, clock=clock)

    @classmethod
    def empty(cls, *, actor: bytes | None = None,
              clock: Callable[[], int] = wall_clock_ms) -> Session:
        """An empty replica that a joiner fills through sync."""
        return cls(Document(), actor=actor, clock=clock)

    # -- reading ----------------------------------------------------------
    @property
    def me(self) -> str:
        """This replica's participant id (the actor id in hex)."""
        return self.actor.hex()

    @property
    def snapshot(self) -> Snapshot:
        return self._builder.snapshot

    @property
    def is_facilitator(self) -> bool:
        return self.snapshot.control.roles.facilitator == self.me

    @property
    def is_client(self) -> bool:
        return self.snapshot.control.roles.client == self.me

    @property
    def is_empty(self) -> bool:
        return not self.snapshot.info.id

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with the new snapshot after every change; returns unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def refresh(self) -> bool:
        """Update the snapshot from the document and notify listeners if it changed."""
        changed = self._builder.refresh()
        if changed:
            snap = self.snapshot
            for listener in list(self._listeners):
                listener(snap)
        return changed

    # -- replication ------------------------------------------------------
    def save(self) -> bytes:
        return self.doc.save()

    def generate_sync_message(self, state: SyncState) -> Message | None:
        return self.doc.generate_sync_message(state)

    def receive_sync_message(self, state: SyncState, message: Message) -> bool:
        """Apply a peer's sync message; True when the document changed."""
        self.doc.receive_sync_message(state, message)
        return self.refresh()

    def merge(self, other: Document) -> bool:
        self.doc.merge(other)
        return self.refresh()

    # -- participants and items ---------------------------------------------
    def _done(self) -> None:
        self.refresh()

    def join(self, name: str) -> None:
        ops.join(self.doc, actor=self.actor, name=name, now=self.clock())
        self._done()

    def add_item(self, kind: str, text: str, *, on_behalf: str = "", **fields: Any) -> str:
        """Add an item in the current phase; returns its id."""
        if on_behalf and on_behalf != self.me:
            roles = self.snapshot.control.roles
            if self.me not in (roles.scribe, roles.facilitator):
                raise NotAllowed("only the scribe or the facilitator can write for someone else")
        item_id = ops.add_item(
            self.doc, actor=self.actor, kind=kind, text=text,
            phase=self.snapshot.control.phase.index, now=self.clock(),
            on_behalf=on_behalf if on_behalf != self.me else "", **fields,
        )
        self._done()
        return item_id

    def edit_item(self, item_id: str, text: str) -> None:
        ops.edit_item(self.doc, item_id, text)
        self._done()

    def delete_item(self, item_id: str) -> None:
        ops.delete_item(self.doc, item_id)
        self._done()

    def mark_answered(self, item_id: str, answered: bool = True) -> None:
        ops.set_item_fields(self.doc, item_id, answered=answered)
        self._done()

    def mark_retained(self, item_id: str, retained: bool = True) -> None:
        ops.set_item_fields(self.doc, item_id, retained=retained)
        self._done()

    def set_action(self, item_id: str, **fields: Any) -> None:
        """Set an action's owner, due date (ISO), status or status note."""
        ops.set_item_fields(self.doc, item_id, **fields)
        self._done()

    # -- facilitator controls -------------------------------------------------
    def _control(self, type: str, **fields: Any) -> None:
        if not self.is_facilitator:
            raise NotAllowed("only the facilitator can do this")
        if self.snapshot.control.phase.status == "ended":
            raise NotAllowed("the session has ended")
        ops.append_control(self.doc, actor=self.actor, type=type, now=self.clock(), **fields)
        self._done()

    def start(self) -> None:
        """Start the timer of the current phase."""
        if self.snapshot.control.phase.status != "waiting":
            raise NotAllowed("the phase has already started")
        self._control("start")

    def pause(self) -> None:
        if self.snapshot.control.phase.status != "running":
            raise NotAllowed("the timer is not running")
        self._control("pause")

    def resume(self) -> None:
        if self.snapshot.control.phase.status != "paused":
            raise NotAllowed("the timer is not paused")
        self._control("resume")

    def extend(self, minutes: int) -> None:
        """Give the current phase more (or, negative, less) time."""
        if minutes == 0 or abs(minutes) > 240:
            raise ops.OperationError("extend by 1 to 240 minutes")
        self._control("extend", minutes=minutes)

    def goto(self, index: int) -> None:
        if not 0 <= index < len(self.snapshot.phases):
            raise ops.OperationError(f"no phase {index + 1} in this protocol")
        self._control("goto", to=index, heads=self._heads())

    def advance(self) -> None:
        """Move to the next phase (its timer starts at once)."""
        index = self.snapshot.control.phase.index
        if index + 1 >= len(self.snapshot.phases):
            raise NotAllowed("this is the last phase: end the session instead")
        self.goto(index + 1)

    def go_back(self) -> None:
        index = self.snapshot.control.phase.index
        if index == 0:
            raise NotAllowed("this is the first phase")
        self.goto(index - 1)

    def assign_role(self, role: str, who: str) -> None:
        """Give ``role`` (client, scribe) to participant ``who`` ("" clears it)."""
        if role == "facilitator":
            self.hand_over(who)
            return
        self._control("role", role=role, who=who)

    def hand_over(self, who: str) -> None:
        """Pass facilitation to ``who``: from then on only their controls count."""
        if who not in {p.id for p in self.snapshot.participants}:
            raise ops.OperationError("facilitation can only go to a participant")
        self._control("role", role="facilitator", who=who)

    def end(self) -> None:
        """Close the session: no control counts after this."""
        self._control("end", heads=self._heads())

    def _heads(self) -> list[str]:
        return [h.hex() for h in self.doc.get_heads()]

    def board_at(self, index: int) -> Snapshot:
        """The session as it stood when phase ``index`` last closed (now if it has not)."""
        closing = [tr for tr in self.snapshot.control.phase.transitions if tr.from_ == index]
        if not closing or not closing[-1].heads:
            return self.snapshot
        try:
            # fork_at is the binding's fork at given heads (missing from its stubs).
            past = self.doc.fork_at(  # type: ignore[attr-defined]
                [bytes.fromhex(h) for h in closing[-1].heads])
        except Exception:  # heads this replica does not hold (a partial copy)
            return self.snapshot
        return SnapshotBuilder(past).snapshot
