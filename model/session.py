"""A live session replica: one Automerge document, its snapshot and who we are.

``Session`` is what the app and the network layer hold. Local intents go
through its named methods (each one ``model.ops`` transaction); remote
changes arrive through ``receive_sync_message`` or ``merge``; either way
``refresh`` brings the snapshot up to date and listeners hear one event.
Every intent checks the method's rules (``model.rules``) first, so a person,
a script or a headless peer gets a clear refusal (``NotAllowed``) instead of
a write that every reader would ignore.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from automerge.core import ROOT, Document, ObjType

from model import continuation, ops, rules, validation
from model.binding import apply_changes, fork_at, is_rust_panic
from model.control import meeting_problem
from model.keys import Identity, admission_message
from model.protocols import Protocol
from model.reading import child, scalar
from model.records import Item
from model.rules import NotAllowed
from model.schema import (
    ACTION_STATUSES,
    FEEDBACK_MAX,
    FIRST_SIGNED_FORMAT,
    K_ITEMS,
    K_PARTICIPANTS,
    MARKS_BY_KIND,
    P_HIDDEN,
    RATINGS,
)
from model.snapshot import Snapshot, SnapshotBuilder
from model.validation import (
    ITEM_PREFIX,
    MAX_CHANGE_OPS,
    MAX_ITEMS_PER_AUTHOR,
    MAX_ITEMS_PER_CHANGE,
)

__all__ = ["ApplyFailed", "LegacySession", "NotAllowed", "Session", "wall_clock_ms"]

Listener = Callable[[Snapshot], None]

# Bytes kept free below an author's cap for the writes ``_check_share`` does not look at
# (marks, votes, updates: a few hundred bytes each).
SHARE_SLACK = 64 * 1024


class ApplyFailed(ValueError):
    """The binding refused a change part-way; ``applied`` are the hashes it applied
    before, ``error`` what it said."""

    def __init__(self, applied: set[bytes], error: BaseException) -> None:
        super().__init__(f"Automerge refused a change: {error}")
        self.applied = applied
        self.error = error



class LegacySession(ValueError):
    """A session from an older Cercle: nothing in it proves who created it, so it cannot
    be hosted live (it can be read, exported, merged and continued)."""


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class Session:
    """One replica of a session document, as seen by the participant ``identity``
    (a laptop's key in this session: its public key is the Automerge actor)."""

    def __init__(
        self,
        doc: Document,
        *,
        identity: Identity | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.identity = identity or Identity.generate()
        self.actor: bytes = self.identity.actor
        doc.set_actor(self.actor)
        self.doc = doc
        self.clock = clock
        self._builder = SnapshotBuilder(doc)
        self._listeners: list[Listener] = []
        # Changes the snapshot has not been brought up to yet: any (remote ones), or only
        # items we added ourselves (which cannot change phase, roles or anonymity).
        self._stale = False
        self._items_added = False
        self._last_created = 0  # the creation stamp of the last item we added (ms)
        # Bytes of our own changes (every laptop caps them: model.validation), counted up
        # to ``_share_heads`` and brought up to date by the next write that checks them.
        self._own_bytes = 0
        self._share_heads: list[bytes] = []

    # -- construction -----------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        title: str,
        protocol: Protocol,
        name: str,
        identity: Identity | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        extra: dict[str, Any] | None = None,
        continuing: bool = False,
        anonymous: Sequence[str] = (),
        group: str = "",
    ) -> Session:
        """A brand-new session whose creator (``name``) is its first facilitator.

        ``anonymous`` lists the item kinds whose authors nobody will see (a
        choice fixed at creation); ``group`` names the group this first
        session starts (default: the title). The protocol is copied into the
        document with its follow-up phase only when the session is
        ``continuing`` an earlier one; to continue one for real, with its
        actions and history, use :meth:`continue_from`.
        """
        identity = identity or Identity.generate()
        session_extra = {} if continuing else continuation.first_session_extra(
            protocol, title=title, group=group)
        protocol = msgspec.structs.replace(protocol, phases=protocol.phases_for(continuing))
        doc = ops.create_session(
            identity=identity, title=title, protocol=protocol, name=name, now=clock(),
            extra={**session_extra, **(extra or {})}, anonymous=anonymous,
        )
        return cls(doc, identity=identity, clock=clock)

    @classmethod
    def continue_from(
        cls,
        previous: Document | Path | str,
        *,
        name: str,
        title: str | None = None,
        protocol: Protocol | None = None,
        group: str | None = None,
        anonymous: Sequence[str] | None = None,
        identity: Identity | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> Session:
        """The next session of the group of ``previous`` (a document or a file).

        It carries the group (name, members), the chain of sessions, the open
        actions (owner by name, due date, origin, history) and the closed ones;
        it opens with the protocol's follow-up phase. ``protocol`` defaults to
        the previous one, ``anonymous`` to the previous choice, ``title`` to
        "<group> — <date>". ``group`` (a name or id), when given, must be the
        previous session's group. Raises ``SessionFileError`` for a file that
        is missing, corrupt, not a Cercle session or of another group.
        """
        from model import sessionfile

        if isinstance(previous, Document):
            source, doc = "<document>", previous
        else:
            source, doc = str(previous), sessionfile.load(previous).doc
        snap = continuation.read_previous(doc, source)
        if group is not None and group.strip():
            continuation.check_group(snap, group, source)
        identity = identity or Identity.generate()
        new = continuation.next_session_document(
            snap, identity=identity, name=name, now=clock(), title=title, protocol=protocol,
            anonymous=anonymous, source=source)
        return cls(new, identity=identity, clock=clock)

    @classmethod
    def empty(cls, *, identity: Identity | None = None,
              clock: Callable[[], int] = wall_clock_ms) -> Session:
        """An empty replica that a joiner fills through sync."""
        return cls(Document(), identity=identity, clock=clock)

    # -- reading ----------------------------------------------------------
    @property
    def me(self) -> str:
        """This replica's participant id (the actor id in hex)."""
        return self.actor.hex()

    @property
    def snapshot(self) -> Snapshot:
        """The state as of the latest change (remote changes are read in on first use)."""
        if self._stale or self._items_added:
            self.refresh()
        return self._builder.snapshot

    @property
    def is_legacy(self) -> bool:
        """A session from an older Cercle (format 1 or 2), or one whose creator nothing
        proves: it can be read, exported, merged and continued, not hosted live."""
        return not self.snapshot.info.verified

    def check_can_host(self, source: str = "FILE") -> None:
        """Raise ``LegacySession`` (with what to do instead) unless this session can be
        hosted live; ``source`` names its file in the message."""
        info = self.snapshot.info
        if info.verified:
            return
        made = (f"an older Cercle (format {info.format})"
                if info.format < FIRST_SIGNED_FORMAT else "a document that does not hold together")
        raise LegacySession(
            f"this session comes from {made}: nothing in it proves who created it, so it "
            f"cannot be hosted live. Start the group's next session from it with "
            f"`cercle host --continue {source}` (its open actions come along).")

    @property
    def is_facilitator(self) -> bool:
        return self.snapshot.control.roles.facilitator == self.me

    @property
    def is_client(self) -> bool:
        return self.snapshot.control.roles.client == self.me

    @property
    def is_empty(self) -> bool:
        # Once a replica holds a session it always will: no refresh needed to say so.
        return not self._builder.snapshot.info.id and not self.snapshot.info.id

    def item_count(self) -> int:
        """How many items the document holds, read from it directly (no snapshot refresh:
        a headless peer reporting progress need not read every item)."""
        items = child(self.doc, ROOT, K_ITEMS, ObjType.Map)
        return len(self.doc.keys(items)) if items is not None else 0

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with the new snapshot after every change; returns unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def refresh(self) -> bool:
        """Update the snapshot from the document and notify listeners if it changed."""
        self._stale = self._items_added = False
        changed = self._builder.refresh()
        if changed:
            snap = self.snapshot
            for listener in list(self._listeners):
                listener(snap)
        return changed

    # -- replication ------------------------------------------------------
    def save(self) -> bytes:
        return self.doc.save()

    def apply_changes(self, changes: Sequence[bytes],
                      graph: Sequence[tuple[bytes, Sequence[bytes]]] = ()) -> set[bytes]:
        """Apply changes from peers, already checked (``sync`` proves and judges each one,
        and hands them over only once what they depend on is held); the hashes applied.

        ``graph`` may give each change's hash and dependencies, as the caller decoded
        them: when the document's heads after applying are the ones they predict, every
        change was applied, and listing them from the document (a few milliseconds for a
        change of a hundred items) is skipped.

        Nothing is rolled back: if the binding refuses one part-way (``ApplyFailed``),
        the ones it applied before it stay, as they were checked too. The snapshot is
        brought up to date on its next read, so a burst costs one refresh.
        """
        before = self.doc.get_heads()
        error: BaseException | None = None
        try:
            apply_changes(self.doc, changes)
        except BaseException as exc:  # the binding raises bare Exception on bad input
            if not (isinstance(exc, Exception) or is_rust_panic(exc)):
                raise
            error = exc
        after = self.doc.get_heads()
        applied: set[bytes] = set()
        if after != before:
            predicted = set(before) | {change_hash for change_hash, _ in graph}
            for _, deps in graph:
                predicted.difference_update(deps)
            if error is None and graph and len(graph) == len(changes) \
                    and predicted == set(after):
                applied = {change_hash for change_hash, _ in graph}
            else:
                applied = {c.hash for c in self.doc.get_changes(before)}
        if applied:
            self._stale = True
        if error is not None:
            raise ApplyFailed(applied, error)
        return applied

    def changes_since(self, heads: Sequence[bytes], *, mine: bool = False) -> list[bytes]:
        """The encoded changes the document holds beyond ``heads`` (only ours if ``mine``)."""
        changes = self.doc.get_changes(list(heads))
        if mine:
            return [c.bytes for c in changes if c.actor_id == self.actor]
        return [c.bytes for c in changes]

    def poke(self) -> None:
        """Remote changes arrived: refresh at once if someone listens, else on first read."""
        if self._stale and self._listeners:
            self.refresh()

    def merge(self, other: Document) -> bool:
        self.doc.merge(other)
        return self.refresh()

    # -- participants and items ---------------------------------------------
    def _done(self) -> None:
        self.refresh()

    def join(self, name: str, admission: bytes = b"") -> None:
        """Join (or change one's name); ``admission`` is the creator's signature that
        admits this laptop (``admission_for``), kept in one's own participant map."""
        ops.join(self.doc, actor=self.actor, name=name, now=self.clock(), admission=admission)
        self._done()

    def admission_for(self, member_actor: bytes) -> bytes:
        """The creator's signature admitting the laptop whose actor is ``member_actor``
        to this session (readers then show it as admitted)."""
        info = self.snapshot.info
        if not info.verified or info.creator != self.me:
            raise NotAllowed("only the session's creator admits a laptop")
        return self.identity.sign(admission_message(info.id, member_actor))

    def _fresh(self) -> Snapshot:
        # Items we added since the last refresh change neither the phase, the roles nor
        # anonymity: a script adding a hundred items refreshes once, on the next read.
        return self._builder.snapshot if not self._stale else self.snapshot

    def check_add(self, kind: str, text: str, on_behalf: str = "") -> None:
        """Raise (``OperationError``, ``NotAllowed``) unless ``kind`` with ``text`` may be
        added now by this participant."""
        ops.check_item(kind, text, {})
        rules.enforce(rules.may_add(self._fresh(), self.me, kind, on_behalf))

    def _check_share(self, count: int, chars: int = 0) -> None:
        """Every laptop refuses an author's changes past its share of the session
        (``model.validation``: items, and bytes of changes): refuse here what the others
        would, with a sentence, before writing ``count`` items of ``chars`` characters."""
        if self.actor == self._fresh().info.creator_key:
            return
        if count:
            items = child(self.doc, ROOT, K_ITEMS, ObjType.Map)
            prefix = self.me[:ITEM_PREFIX]
            mine = sum(1 for key in self.doc.keys(items) if key.startswith(prefix)) \
                if items else 0
            if mine + count > MAX_ITEMS_PER_AUTHOR:
                raise NotAllowed(f"one participant adds at most {MAX_ITEMS_PER_AUTHOR:,} "
                                 "items to a session")
        heads = self.doc.get_heads()
        if heads != self._share_heads:
            self._own_bytes += sum(len(change.raw_bytes)
                                   for change in self.doc.get_changes(self._share_heads)
                                   if change.actor_id == self.actor)
            self._share_heads = heads
        # A generous bound on what the write costs (a character is well under a byte in a
        # change), and room for the small writes (marks, votes) that are not checked.
        needed = SHARE_SLACK + 64 * count + 2 * chars
        if self._own_bytes + needed > validation.MAX_BYTES_PER_AUTHOR:
            raise NotAllowed(
                f"you have written {self._own_bytes // 1024:,} KiB in this session, near the "
                f"{validation.MAX_BYTES_PER_AUTHOR // 1024:,} KiB one participant may write: "
                "the others' laptops would refuse more")

    def add_item(self, kind: str, text: str, *, on_behalf: str = "", **fields: Any) -> str:
        """Add an item in the current phase; returns its id."""
        snap = self._fresh()
        ops.check_item(kind, text, fields)
        rules.enforce(rules.may_add(snap, self.me, kind, on_behalf))
        self._check_share(1, len(text) + sum(len(str(value)) for value in fields.values()))
        item_id = ops.add_item(
            self.doc, actor=self.actor, kind=kind, text=text,
            phase=snap.control.phase.index, now=self._created(),
            on_behalf=on_behalf if on_behalf != self.me else "",
            anonymous=snap.is_anonymous(kind), **fields,
        )
        self._items_added = True
        if self._listeners:
            self.refresh()
        return item_id

    def add_items(self, entries: Sequence[tuple[str, str]]) -> list[str]:
        """Add several ``(kind, text)`` items in the current phase, in as few changes as
        the limits every laptop applies allow (``MAX_ITEMS_PER_CHANGE`` items, and their
        characters, a change); their ids. Nothing is added if any of them is invalid
        (OperationError) or not allowed now (NotAllowed)."""
        snap = self._fresh()
        for kind, text in entries:
            ops.check_item(kind, text, {})
            rules.enforce(rules.may_add(snap, self.me, kind))
        self._check_share(len(entries), sum(len(text) for _, text in entries))
        ids: list[str] = []
        start = self._created(len(entries))
        batch: list[tuple[str, str, bool]] = []
        weight = 0
        for kind, text in [*entries, ("", "")]:
            # A character is one op; a change stays well under the ops and bytes it may hold.
            cost = 64 + 2 * len(text)
            if kind == "" or len(batch) == MAX_ITEMS_PER_CHANGE \
                    or weight + cost > MAX_CHANGE_OPS // 2:
                if batch:
                    ids += ops.add_items(self.doc, actor=self.actor,
                                         phase=snap.control.phase.index,
                                         now=start + len(ids), entries=batch)
                batch, weight = [], 0
            if kind:
                batch.append((kind, text, snap.is_anonymous(kind)))
                weight += cost
        self._items_added = True
        if self._listeners:
            self.refresh()
        return ids

    def _created(self, count: int = 1) -> int:
        """The creation stamp of the first of ``count`` new items (ms; the others follow a
        millisecond apart): now, or just after our last item, so that ours keep their order."""
        start = max(self.clock(), self._last_created + 1)
        self._last_created = start + count - 1
        return start

    def is_mine(self, item_id: str) -> bool:
        """Whether this laptop wrote the item: its map was created by our actor.

        Works for anonymous items too (their author is in no snapshot): the
        item's object id names the device that created it.
        """
        items = child(self.doc, ROOT, K_ITEMS, ObjType.Map)
        obj = child(self.doc, items, item_id, ObjType.Map) if items is not None else None
        return obj is not None and ops.created_by(obj, self.actor)

    def _item(self, item_id: str) -> Item:
        item = self.snapshot.item(item_id)
        if item is None:
            raise ops.OperationError(f"no item '{item_id}' in this session")
        return item

    def edit_item(self, item_id: str, text: str) -> None:
        """Change the text of one of our items."""
        item = self._item(item_id)
        rules.enforce(rules.may_edit(self.snapshot, self.me, item, mine=self.is_mine(item_id)))
        self._check_share(0, len(text))
        ops.edit_item(self.doc, item_id, text)
        self._done()

    def delete_item(self, item_id: str) -> None:
        """Delete one of our items (the facilitator hides others' instead)."""
        item = self._item(item_id)
        rules.enforce(rules.may_delete(self.snapshot, self.me, item,
                                       mine=self.is_mine(item_id)))
        ops.delete_item(self.doc, item_id)
        self._done()

    def hide_item(self, item_id: str, hidden: bool = True) -> None:
        """The facilitator hides an item from the board and the minutes (or shows it again).

        It stays in the document and its history: this is moderation, not erasure.
        """
        rules.enforce(rules.may_hide(self.snapshot, self.me))
        if hidden:
            self._item(item_id)
        ops.set_mark(self.doc, item_id, actor=self.actor, mark=P_HIDDEN, value=hidden)
        self._done()

    def _mark(self, item_id: str, kinds: tuple[str, ...], value: bool) -> None:
        item = self._item(item_id)
        if item.kind not in kinds:
            raise ops.OperationError(f"a {item.kind} cannot be marked so")
        rules.enforce(rules.may_mark(self.snapshot, self.me, item))
        ops.set_mark(self.doc, item_id, actor=self.actor, mark=MARKS_BY_KIND[item.kind],
                     value=value)
        self._done()

    def mark_answered(self, item_id: str, answered: bool = True) -> None:
        """The client (or the facilitator) marks a question answered."""
        self._mark(item_id, ("question",), answered)

    def mark_retained(self, item_id: str, retained: bool = True) -> None:
        """The client (or the facilitator) marks advice or a hypothesis retained."""
        self._mark(item_id, ("advice", "hypothesis"), retained)

    def set_action(self, item_id: str, **fields: Any) -> None:
        """Set an action's owner, due date (ISO), status or status note.

        A status or note goes through :meth:`update_action` (each writer's updates
        are kept in their own list, so concurrent updates are all kept). Nothing
        is written when any part is refused.
        """
        status = fields.pop("status", None)
        note = fields.pop("status_note", None)
        updating = status is not None or note is not None
        item = self._action(item_id)
        if updating:
            self._check_update(item, status, note or "")
        if fields:
            rules.enforce(rules.may_set_action(self.snapshot, self.me, item,
                                               mine=self.is_mine(item_id)))
            ops.set_item_fields(self.doc, item_id, **fields)
            self.refresh()
        if updating:
            self.update_action(item_id, status, note or "")
        else:
            self._done()

    def _action(self, item_id: str) -> Item:
        item = self._item(item_id)
        if item.kind != "action":
            raise ops.OperationError("only an action has a status")
        return item

    def may_update(self, item: Item) -> bool:
        """Who may update an action's status: its owner (for a carried action,
        the participant with the owner's name), its writer, the facilitator, the
        scribe — or anyone when it has no owner (``rules.may_update_status``)."""
        return bool(rules.may_update_status(self.snapshot, self.me, item))

    def _check_update(self, item: Item, status: str | None, note: str) -> None:
        rules.enforce(rules.may_update_status(self.snapshot, self.me, item))
        if status is not None and status not in ACTION_STATUSES:
            raise ops.OperationError(f"unknown action status '{status}'")
        if len(" ".join(note.split())) > FEEDBACK_MAX:
            raise ops.OperationError(f"a status note is at most {FEEDBACK_MAX} characters")

    def update_action(self, item_id: str, status: str | None = None, note: str = "") -> None:
        """Record a status update of an action (``status`` None keeps the current
        one) with a short note. Two people updating at once both keep their
        note; the status shown is the same on every replica."""
        item = self._action(item_id)
        self._check_update(item, status, note)
        ops.append_action_update(self.doc, item_id, actor=self.actor,
                                 status=status or item.status or "open",
                                 note=" ".join(note.split()), now=self.clock())
        self._done()

    # -- choosing the case, evaluation --------------------------------------------
    def vote(self, proposal_id: str) -> None:
        """Vote for a proposal (one vote each; voting again moves it, "" withdraws it)."""
        rules.enforce(rules.may_vote(self.snapshot, self.me))
        if proposal_id:
            proposal = self.snapshot.item(proposal_id)
            if proposal is None or proposal.kind != "proposal":
                raise ops.OperationError("you can only vote for a proposal")
        ops.set_participant_fields(self.doc, actor=self.actor, vote=proposal_id or None)
        self._done()

    @property
    def my_vote(self) -> str:
        """The proposal this replica's participant votes for ("" for none)."""
        for person in self.snapshot.participants:
            if person.id == self.me:
                return person.vote
        return ""

    def evaluate(self, rating: int | None, feedback: str = "") -> None:
        """Give (or change) the closing rating, 1 to 5, and a one-line feedback.

        ``rating`` None and an empty feedback withdraw them. Only the
        aggregate appears in snapshots and exports.
        """
        rules.enforce(rules.may_evaluate(self.snapshot, self.me))
        if rating is not None and (isinstance(rating, bool) or rating not in RATINGS):
            raise ops.OperationError("a rating is a whole number from 1 to 5")
        line = " ".join(feedback.split())
        if len(line) > FEEDBACK_MAX:
            raise ops.OperationError(f"feedback is one line of at most {FEEDBACK_MAX} "
                                     f"characters ({len(line)} given)")
        ops.set_participant_fields(self.doc, actor=self.actor, rating=rating,
                                   feedback=line or None)
        self._done()

    @property
    def my_evaluation(self) -> tuple[int | None, str]:
        """This replica's own rating (None if not given) and feedback."""
        people = child(self.doc, ROOT, K_PARTICIPANTS, ObjType.Map)
        me = child(self.doc, people, self.me, ObjType.Map) if people is not None else None
        if me is None:
            return None, ""
        rating = scalar(self.doc, me, "rating", int, 0)
        return (rating if rating in RATINGS else None), scalar(self.doc, me, "feedback", str, "")

    # -- facilitator controls -------------------------------------------------
    def _control(self, type: str, **fields: Any) -> None:
        snap = self.snapshot
        rules.enforce(rules.may_control(snap, self.me, type))
        ops.append_control(self.doc, identity=self.identity, session_id=snap.info.id,
                           type=type, now=self.clock(), **fields)
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

    def _participant(self, who: str) -> None:
        if who not in {p.id for p in self.snapshot.participants}:
            raise ops.OperationError("the floor can only go to a participant")

    def give_floor(self, who: str) -> None:
        """Give the floor to participant ``who`` ("" takes it back); ends a round."""
        if who:
            self._participant(who)
        self._control("floor", who=who)

    def start_round(self, order: Sequence[str] | None = None) -> None:
        """Start a round-robin ("tour de table") in ``order`` (default: every
        participant, in the order they joined); the first one has the floor."""
        people = [p.id for p in self.snapshot.participants] if order is None else list(order)
        if not people:
            raise ops.OperationError("a round needs at least one participant")
        if len(set(people)) != len(people):
            raise ops.OperationError("a round names each participant once")
        for who in people:
            self._participant(who)
        self._control("round", order=people)

    def next_speaker(self) -> None:
        """Pass the floor to the next person of the round (after the last: nobody)."""
        floor = self.snapshot.control.floor
        if not floor.in_round:
            raise NotAllowed("no round in progress" if not floor.order
                             else "everyone has spoken in this round")
        self._control("turn", step=1)

    def previous_speaker(self) -> None:
        """Give the floor back to the previous person of the round."""
        floor = self.snapshot.control.floor
        if not floor.order:
            raise NotAllowed("no round in progress")
        if floor.turn <= 0:
            raise NotAllowed("this is the first person of the round")
        self._control("turn", step=-1)

    def choose_case(self, proposal_id: str | None = None) -> None:
        """Make a proposal today's case (default: the one with the most votes);
        its proposer becomes the client."""
        snap = self.snapshot
        if proposal_id is None:
            winner = snap.winner
            if winner is None:
                raise NotAllowed("no proposal has the most votes: choose one")
            proposal_id = winner.proposal
        proposal = snap.item(proposal_id)
        if proposal is None or proposal.kind != "proposal":
            raise ops.OperationError("choose one of the proposals")
        if not proposal.speaker:
            raise ops.OperationError("this proposal has no known author to become the client")
        self._control("case", item=proposal_id, who=proposal.speaker)

    def set_next_meeting(self, date: str, time: str = "", place: str = "",
                         minutes: int | None = None) -> None:
        """Set the group's next meeting: ISO date, "HH:MM" ("" for a whole day),
        place, length in minutes (default: this protocol's time boxes, with the
        follow-up). The facilitator may do it after the end too."""
        if not date:
            raise ops.OperationError("give the date of the next meeting (YYYY-MM-DD)")
        if minutes is None:
            minutes = sum(p.minutes for p in self.snapshot.phases) + sum(
                p.minutes for p in self.snapshot.info.follow_up_phases)
        problem = meeting_problem(date, time, " ".join(place.split()), minutes)
        if problem:
            raise ops.OperationError(problem)
        self._control("meeting", date=date, time=time, place=" ".join(place.split()),
                      minutes=minutes)

    def clear_next_meeting(self) -> None:
        self._control("meeting", date="")

    def _heads(self) -> list[str]:
        return [h.hex() for h in self.doc.get_heads()]

    def board_at(self, index: int) -> Snapshot | None:
        """The session as it stood when phase ``index`` last closed (now if it has not);
        None when it closed but cannot be rebuilt here (heads this replica does not hold,
        or the binding failing to fork)."""
        closing = [tr for tr in self.snapshot.control.phase.transitions if tr.from_ == index]
        if not closing or not closing[-1].heads:
            return self.snapshot
        try:
            past = fork_at(self.doc, [bytes.fromhex(h) for h in closing[-1].heads])
        except ValueError:
            return None
        return SnapshotBuilder(past).snapshot
