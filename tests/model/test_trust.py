"""A hostile participant's raw writes: no claim the writer's key does not prove counts.

Each test writes Automerge ops straight into a replica, as a modified client
would (past every check of ``Session``), then reads the document back on
every replica: the session's creator, an item's author, marks, status
updates, hiding, control events and names are what the keys prove, never what
a field says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import msgspec
import pytest
from automerge.core import ROOT, ObjType, ScalarType

from model import control, ops
from model.binding import Transaction, splice_text
from model.keys import Identity, control_message, new_nonce, session_id_for, verify
from model.reading import child
from model.rules import NotAllowed
from model.session import LegacySession, Session
from model.snapshot import SnapshotBuilder
from tests.replicas import FakeClock, make_legacy, replica_of, sync_pair


@contextmanager
def raw(replica: Session) -> Iterator[Transaction]:
    """One transaction of raw writes under ``replica``'s actor, then a refresh."""
    with replica.doc.transaction() as tx:
        yield tx
    replica.refresh()


def _map(replica: Session, *path: str) -> bytes:
    obj = ROOT
    for key in path:
        found = child(replica.doc, obj, key, ObjType.Map)
        assert found is not None, path
        obj = found
    return obj


def _everyone_reads(replicas: tuple[Session, ...]) -> None:
    for a in replicas:
        for b in replicas:
            if a is not b:
                sync_pair(a, b)
    for replica in replicas:  # and a fresh read agrees with the incremental one
        assert replica.snapshot == SnapshotBuilder(replica.doc).snapshot


@pytest.fixture
def room(session: Session) -> tuple[Session, Session, Session]:
    """Anne (creator, facilitator), Bob (client) and Carl (consultant), in step."""
    bob, carl = replica_of(session, "Bob"), replica_of(session, "Carl")
    _everyone_reads((session, bob, carl))
    session.assign_role("client", bob.me)
    _everyone_reads((session, bob, carl))
    return session, bob, carl


# -- the creator --------------------------------------------------------------------------
def test_the_session_id_proves_the_creator(session: Session) -> None:
    info = session.snapshot.info
    assert info.verified and info.creator == session.me
    assert info.creator_key == session.actor
    assert info.id == session_id_for(session.actor, info.nonce)


def test_a_copy_of_the_session_map_does_not_change_the_creator(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    original = anne.snapshot.info
    with raw(bob) as tx:  # every value copied, in a map Bob writes at the root
        copy = tx.put_object(ROOT, "session", ObjType.Map)
        tx.put(copy, "id", ScalarType.Str, original.id)
        tx.put(copy, "title", ScalarType.Str, "Bob's session now")
        tx.put(copy, "created", ScalarType.Int, original.created)
        tx.put(copy, "creator", ScalarType.Str, anne.me)
        tx.put(copy, "creator_key", ScalarType.Bytes, anne.actor)
        tx.put(copy, "nonce", ScalarType.Bytes, original.nonce)
    # Were Bob the creator, his controls would count.
    ops.append_control(bob.doc, identity=bob.identity, session_id=original.id, type="goto",
                       now=1, to=3)
    bob.refresh()
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        snap = reader.snapshot
        assert (snap.info.creator, snap.info.id, snap.info.title) == (
            anne.me, original.id, original.title)
        assert snap.info.verified
        assert snap.control.roles.facilitator == anne.me
        assert snap.control.phase.index == 0


def test_a_session_map_of_ones_own_does_not_take_the_session(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    nonce = new_nonce()
    with raw(bob) as tx:  # self-consistent: Bob's key, Bob's nonce, the id they make
        mine = tx.put_object(ROOT, "session", ObjType.Map)
        tx.put(mine, "id", ScalarType.Str, session_id_for(bob.actor, nonce))
        tx.put(mine, "title", ScalarType.Str, "Bob's session")
        tx.put(mine, "creator_key", ScalarType.Bytes, bob.actor)
        tx.put(mine, "nonce", ScalarType.Bytes, nonce)
        tx.put_object(mine, "anonymous", ObjType.List)
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        assert reader.snapshot.info.creator == anne.me and reader.snapshot.info.verified
        assert reader.snapshot.control.roles.facilitator == anne.me
    assert not bob.is_facilitator


def test_replacing_every_section_hides_nothing(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    note = anne.add_item("note", "Contexte")
    _everyone_reads((anne, bob, carl))
    with raw(bob) as tx:  # a new items map, participants map and control map at the root
        for key in ("items", "participants", "control", "protocol"):
            tx.put_object(ROOT, key, ObjType.Map)
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        snap = reader.snapshot
        assert [item.id for item in snap.items] == [note]
        assert [p.name for p in snap.participants] == ["Anne", "Bob", "Carl"]
        assert snap.protocol is not None and snap.control.roles.client == bob.me


def test_anonymity_survives_a_copied_session_map(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne = Session.create(title="Anonyme", protocol=codev, name="Anne", clock=clock,
                          anonymous=["advice"])
    bob = replica_of(anne, "Bob")
    advice = bob.add_item("advice", "Délègue")
    info = anne.snapshot.info
    with raw(bob) as tx:  # the same session, without its "anonymous" list
        copy = tx.put_object(ROOT, "session", ObjType.Map)
        tx.put(copy, "id", ScalarType.Str, info.id)
        tx.put(copy, "creator_key", ScalarType.Bytes, anne.actor)
        tx.put(copy, "nonce", ScalarType.Bytes, info.nonce)
    sync_pair(anne, bob)
    item = anne.snapshot.item(advice)
    assert item is not None and item.anonymous and item.author == ""


def test_an_older_file_keeps_the_old_rule_and_cannot_be_hosted(session: Session) -> None:
    make_legacy(session)
    info = session.snapshot.info
    assert (info.format, info.verified, info.creator) == (2, False, session.me)
    assert session.snapshot.control.roles.facilitator == session.me
    with pytest.raises(LegacySession, match=r"cercle host --continue old\.cercle"):
        session.check_can_host("old.cercle")
    assert Session.continue_from(session.doc, name="Anne").snapshot.info.verified


def test_an_older_files_marks_and_updates_in_the_item_count_by_role(
        room: tuple[Session, Session, Session]) -> None:
    """Format 2 kept marks and updates in the item, written by whoever made them."""
    anne, bob, carl = room
    make_legacy(anne)
    question = anne.add_item("question", "Depuis quand ?")
    act = anne.add_item("action", "Appeler Marc", owner=bob.me)
    _everyone_reads((anne, bob, carl))

    def legacy_update(replica: Session, status: str) -> None:
        with raw(replica) as tx:
            item = _map(replica, "items", act)
            got = tx.get(item, "updates")
            listed = got[1] if got else tx.put_object(item, "updates", ObjType.List)
            entry = tx.insert_object(listed, tx.length(listed), ObjType.Map)
            tx.put(entry, "status", ScalarType.Str, status)

    with raw(carl) as tx:  # a consultant, who never was client
        tx.put(_map(carl, "items", question), "answered", ScalarType.Boolean, True)
    legacy_update(carl, "dropped")
    _everyone_reads((anne, bob, carl))
    assert not anne.snapshot.item(question).answered  # type: ignore[union-attr]
    assert anne.snapshot.item(act).status == "open"  # type: ignore[union-attr]
    with raw(bob) as tx:  # the client (Automerge writes nothing for an equal value)
        tx.put(_map(bob, "items", question), "answered", ScalarType.Boolean, False)
    with raw(bob) as tx:
        tx.put(_map(bob, "items", question), "answered", ScalarType.Boolean, True)
    legacy_update(bob, "in_progress")  # the owner
    _everyone_reads((anne, bob, carl))
    assert anne.snapshot.item(question).answered  # type: ignore[union-attr]
    assert anne.snapshot.item(act).status == "in_progress"  # type: ignore[union-attr]


# -- authors ------------------------------------------------------------------------------
def test_a_forged_author_field_does_not_change_the_author(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    annes = anne.add_item("note", "Écrit par Anne")
    _everyone_reads((anne, bob, carl))
    with raw(carl) as tx:
        items = _map(carl, "items")
        forged = tx.put_object(items, carl.me[:32] + "0" * 16, ObjType.Map)
        tx.put(forged, "kind", ScalarType.Str, "note")
        splice_text(tx, tx.put_object(forged, "text", ObjType.Text), 0, 0, "Anne a dit ça")
        tx.put(forged, "author", ScalarType.Str, anne.me)
        tx.put(_map(carl, "items", annes), "author", ScalarType.Str, carl.me)
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        authors = {item.text: item.author for item in reader.snapshot.items}
        assert authors == {"Écrit par Anne": anne.me, "Anne a dit ça": carl.me}


def test_an_item_under_someone_elses_key_is_left_out(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    with raw(carl) as tx:  # a key that starts with Anne's actor: a write rule broken
        item = tx.put_object(_map(carl, "items"), anne.me[:32] + "1" * 16, ObjType.Map)
        tx.put(item, "kind", ScalarType.Str, "note")
        tx.put(item, "text", ScalarType.Str, "sous le nom d'Anne")
    _everyone_reads((anne, bob, carl))
    assert anne.snapshot.items == carl.snapshot.items == ()


def test_written_on_behalf_counts_only_for_a_scribe_or_the_facilitator(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    with raw(carl) as tx:
        item = tx.put_object(_map(carl, "items"), carl.me[:32] + "2" * 16, ObjType.Map)
        tx.put(item, "kind", ScalarType.Str, "note")
        tx.put(item, "text", ScalarType.Str, "Bob pense que…")
        tx.put(item, "on_behalf", ScalarType.Str, bob.me)
    by_anne = anne.add_item("note", "Pour Bob", on_behalf=bob.me)
    _everyone_reads((anne, bob, carl))
    speakers = {item.text: item.speaker for item in anne.snapshot.items}
    assert speakers == {"Bob pense que…": carl.me, "Pour Bob": bob.me}
    assert anne.snapshot.item(by_anne) == carl.snapshot.item(by_anne)


def test_is_mine_is_the_items_creator(room: tuple[Session, Session, Session]) -> None:
    anne, bob, _ = room
    for_bob = anne.add_item("note", "Pour Bob", on_behalf=bob.me)
    sync_pair(anne, bob)
    assert anne.is_mine(for_bob) and not bob.is_mine(for_bob)
    with pytest.raises(NotAllowed, match="only its author"):
        bob.edit_item(for_bob, "Réécrit par Bob")


# -- marks, updates, hiding --------------------------------------------------------------
def test_marks_count_only_from_the_client_or_the_facilitator(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    question = anne.add_item("question", "Depuis quand ?")
    advice = anne.add_item("advice", "Parle-lui")
    _everyone_reads((anne, bob, carl))
    ops.set_mark(carl.doc, question, actor=carl.actor, mark="answered", value=True)
    ops.set_mark(carl.doc, advice, actor=carl.actor, mark="retained", value=True)
    with raw(carl) as tx:  # and the way format 2 kept them, in the items themselves
        tx.put(_map(carl, "items", question), "answered", ScalarType.Boolean, True)
        tx.put(_map(carl, "items", advice), "retained", ScalarType.Boolean, True)
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        assert not reader.snapshot.item(question).answered  # type: ignore[union-attr]
        assert not reader.snapshot.item(advice).retained  # type: ignore[union-attr]
    with pytest.raises(NotAllowed, match="client or the facilitator"):
        carl.mark_answered(question)
    bob.mark_answered(question)
    bob.mark_retained(advice)
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        assert reader.snapshot.item(question).answered  # type: ignore[union-attr]
        assert reader.snapshot.item(advice).retained  # type: ignore[union-attr]


def test_the_latest_mark_of_those_who_may_mark_wins(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    question = anne.add_item("question", "Qui décide ?")
    _everyone_reads((anne, bob, carl))
    bob.mark_answered(question)
    _everyone_reads((anne, bob, carl))
    anne.mark_answered(question, False)  # later: the facilitator takes it back
    _everyone_reads((anne, bob, carl))
    assert not carl.snapshot.item(question).answered  # type: ignore[union-attr]
    bob.mark_answered(question)  # and the client marks it again
    _everyone_reads((anne, bob, carl))
    assert carl.snapshot.item(question).answered  # type: ignore[union-attr]


def test_status_updates_count_only_from_those_who_may_update(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    act = anne.add_item("action", "Appeler Marc", owner=bob.me)
    _everyone_reads((anne, bob, carl))
    ops.append_action_update(carl.doc, act, actor=carl.actor, status="dropped", note="non",
                             now=1)
    with raw(carl) as tx:  # the format-2 way: in the item's own list and fields
        item = _map(carl, "items", act)
        listed = tx.put_object(item, "updates", ObjType.List)
        entry = tx.insert_object(listed, 0, ObjType.Map)
        tx.put(entry, "status", ScalarType.Str, "done")
        tx.put(item, "status", ScalarType.Str, "done")
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        got = reader.snapshot.item(act)
        assert got is not None and (got.status, got.updates) == ("open", ())
    with pytest.raises(NotAllowed, match="owner"):
        carl.update_action(act, "done")
    bob.update_action(act, "in_progress", "rendez-vous pris")
    _everyone_reads((anne, bob, carl))
    got = carl.snapshot.item(act)
    assert got is not None and (got.status, got.status_note) == ("in_progress",
                                                                 "rendez-vous pris")
    assert [u.by for u in got.updates] == [bob.me]


def test_only_a_facilitator_hides(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    rude = carl.add_item("note", "Bob est nul")
    other = bob.add_item("note", "Merci")
    _everyone_reads((anne, bob, carl))
    ops.set_mark(bob.doc, rude, actor=bob.actor, mark="hidden", value=True)
    ops.set_mark(carl.doc, other, actor=carl.actor, mark="hidden", value=True)
    _everyone_reads((anne, bob, carl))
    assert {i.id for i in anne.snapshot.items} == {rude, other}
    with pytest.raises(NotAllowed, match="only the facilitator"):
        bob.hide_item(rude)
    with pytest.raises(NotAllowed, match="you may hide it"):
        anne.delete_item(rude)
    anne.hide_item(rude)
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        assert [i.id for i in reader.snapshot.items] == [other]
        assert reader.snapshot.hidden_count == 1
    anne.hide_item(rude, hidden=False)
    _everyone_reads((anne, bob, carl))
    assert {i.id for i in carl.snapshot.items} == {rude, other}


# -- control events -----------------------------------------------------------------------
def _event(replica: Session, log_owner: str, fields: dict[str, object],
           sig: bytes | None) -> None:
    """An event written raw into ``log_owner``'s log, with ``sig`` (None: unsigned)."""
    with raw(replica) as tx:
        logs = _map(replica, "control")
        got = tx.get(logs, log_owner)
        log = got[1] if got else tx.put_object(logs, log_owner, ObjType.List)
        entry = tx.insert_object(log, tx.length(log), ObjType.Map)
        for key, value in fields.items():
            stype = ScalarType.Int if isinstance(value, int) else ScalarType.Str
            tx.put(entry, key, stype, value)  # type: ignore[arg-type]
        if sig is not None:
            tx.put(entry, "sig", ScalarType.Bytes, sig)


def _signed(identity: Identity, session_id: str, fields: dict[str, object]) -> bytes:
    return identity.sign(control_message(session_id, control.canonical_event(fields,
                                                                             identity.me)))


def test_unsigned_and_badly_signed_events_are_ignored(session: Session) -> None:
    sid = session.snapshot.info.id
    _event(session, session.me, {"type": "goto", "at": 1, "to": 2, "id": "a" * 16}, None)
    event = {"type": "goto", "at": 1, "to": 1, "id": "b" * 16}
    signed_for_one = _signed(session.identity, sid, event)
    _event(session, session.me, {**event, "to": 4}, signed_for_one)  # another phase
    _event(session, session.me, {**event, "id": "c" * 16}, signed_for_one)  # another id
    other_session = _signed(session.identity, "f" * 32, {**event, "id": "d" * 16})
    _event(session, session.me, {**event, "id": "d" * 16}, other_session)
    snap = session.snapshot
    assert (snap.control.phase.index, snap.control.ignored) == (0, 4)


def test_a_copied_event_counts_once(session: Session) -> None:
    session.start()
    session.extend(5)
    ((_, log),) = [(k, v) for k, v in control.read_plain(
        session.doc, ObjType.Map, _map(session, "control")).items()]
    extend = log[-1]
    _event(session, session.me, {k: v for k, v in extend.items() if k != "sig"},
           extend["sig"])  # the facilitator's own signed event, replayed
    snap = session.snapshot
    assert (snap.control.phase.extra_minutes, snap.control.ignored) == (5, 1)


def test_an_event_in_someone_elses_log_or_signed_by_someone_else_is_ignored(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    sid = anne.snapshot.info.id
    anne.hand_over(carl.me)
    _everyone_reads((anne, bob, carl))
    # Anne's signature, copied by Carl (now facilitator) into his own log.
    event = {"type": "goto", "at": 1, "to": 3, "id": "e" * 16}
    carl_copy = _signed(anne.identity, sid, event)
    _event(carl, carl.me, event, carl_copy)
    # Carl's signature, in Anne's log: written by Carl, so not Anne's event.
    _event(carl, anne.me, {**event, "id": "f" * 16}, _signed(carl.identity, sid, event))
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        assert reader.snapshot.control.phase.index == 0
        assert reader.snapshot.control.ignored == 2


def test_a_hand_over_is_a_signed_delegation(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    anne.start()
    anne.hand_over(carl.me)
    _everyone_reads((anne, bob, carl))
    carl.goto(2)
    ops.append_control(anne.doc, identity=anne.identity, session_id=anne.snapshot.info.id,
                       type="goto", now=2, to=4)  # signed, but Anne no longer facilitates
    anne.refresh()
    _everyone_reads((anne, bob, carl))
    for reader in (anne, bob, carl):
        state = reader.snapshot.control
        assert (state.phase.index, state.roles.facilitator, state.ignored) == (2, carl.me, 1)
        assert state.facilitators == (anne.me, carl.me)
        assert state.clients == (bob.me,)


def test_the_signature_covers_the_documented_encoding(session: Session) -> None:
    """What file-format.md says, done with a plain MessagePack encoder: another program
    checks Cercle's signatures this way."""
    session.start()
    session.give_floor(session.me)
    logs = control.read_plain(session.doc, ObjType.Map, _map(session, "control"))
    info = session.snapshot.info
    for owner, log in logs.items():
        for event in log:
            body = {k: v for k, v in event.items() if k != "sig"} | {"by": owner}
            canonical = msgspec.msgpack.encode({k: body[k] for k in sorted(body)})
            message = b"cercle/control/1\x00" + info.id.encode() + b"\x00" + canonical
            assert verify(bytes.fromhex(owner), event["sig"], message)
            assert len(event["id"]) == 16


def test_a_refresh_checks_only_new_signatures(session: Session,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    session.start()
    for _ in range(10):
        session.extend(1)
    checked: list[bytes] = []
    real = control.verify

    def counting(actor: bytes, sig: bytes, message: bytes) -> bool:
        checked.append(message)
        return real(actor, sig, message)

    monkeypatch.setattr(control, "verify", counting)
    session.extend(1)
    assert len(checked) == 1
    assert session.snapshot.control.phase.extra_minutes == 11


def test_an_event_with_a_value_that_has_no_canonical_form_is_ignored(session: Session) -> None:
    with raw(session) as tx:
        log = tx.put_object(_map(session, "control"), session.me, ObjType.List)
        entry = tx.insert_object(log, 0, ObjType.Map)
        tx.put(entry, "type", ScalarType.Str, "start")
        tx.put(entry, "at", ScalarType.Timestamp, datetime.now(tz=UTC))
    assert session.snapshot.control.ignored == 1
    assert session.snapshot.control.phase.status == "waiting"


# -- names --------------------------------------------------------------------------------
def _named(session: Session, *names: str) -> list[Session]:
    people = [replica_of(session, name) for name in names]
    for other in people:
        sync_pair(session, other)
    return people


def test_markup_stays_text_and_invisible_characters_go(session: Session) -> None:
    a, b, c = _named(session, "[/]", "[bold]x", "Ève\u200b\u202e\u2066 Martin")
    shown = {p.id: p.name for p in session.snapshot.participants}
    assert (shown[a.me], shown[b.me], shown[c.me]) == ("[/]", "[bold]x", "Ève Martin")


def test_a_name_that_is_nothing_visible_reads_as_a_question_mark(session: Session) -> None:
    (ghost,) = _named(session, "Bob")
    with raw(ghost) as tx:
        tx.put(_map(ghost, "participants", ghost.me), "name", ScalarType.Str, "\u200b\u200d")
    sync_pair(session, ghost)
    assert session.snapshot.name_of(ghost.me) == "?"


def test_a_huge_name_is_cut(session: Session) -> None:
    (long,) = _named(session, "Bob")
    with raw(long) as tx:  # past ops.join's limit
        tx.put(_map(long, "participants", long.me), "name", ScalarType.Str, "B" * 10_000)
    sync_pair(session, long)
    assert session.snapshot.name_of(long.me) == "B" * 59 + "…"
    with pytest.raises(ops.OperationError, match="at most 60"):
        long.join("B" * 61)


def test_namesakes_are_told_apart(session: Session) -> None:
    b, c, d = _named(session, "Anne", "anne", "Anné")
    snap = session.snapshot
    shown = [snap.name_of(p) for p in (session.me, b.me, c.me, d.me)]
    assert shown == [f"Anne ·{session.me[:4]}", f"Anne ·{b.me[:4]}", f"anne ·{c.me[:4]}",
                     f"Anné ·{d.me[:4]}"]
    assert snap.participant_named("Anne") == ""  # ambiguous
    (e,) = _named(session, "Élise")
    assert session.snapshot.name_of(e.me) == "Élise"
    assert session.snapshot.participant_named("elise") == e.me


def test_nobody_writes_someone_elses_name_or_adds_a_participant(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    fake = Identity.generate().me
    with raw(carl) as tx:
        tx.put(_map(carl, "participants", bob.me), "name", ScalarType.Str, "Bob l'idiot")
        ghost = tx.put_object(_map(carl, "participants"), fake, ObjType.Map)
        tx.put(ghost, "name", ScalarType.Str, "Anne")
    _everyone_reads((anne, bob, carl))
    # Bob's own name was overwritten in the document: no reader shows the forgery (nor,
    # until Bob writes it again, his name).
    assert [p.name for p in anne.snapshot.participants] == ["Anne", "?", "Carl"]
    bob.join("Bob")
    _everyone_reads((anne, bob, carl))
    assert [p.name for p in anne.snapshot.participants] == ["Anne", "Bob", "Carl"]


def test_local_writes_are_limited(session: Session) -> None:
    with pytest.raises(ops.OperationError, match="at most 2,000"):
        session.add_item("note", "x" * 2001)
    session.add_item("note", "x" * 2000)
    with pytest.raises(ops.OperationError, match="at most 200"):
        Session.create(title="T" * 201, protocol=session.snapshot.protocol,  # type: ignore[arg-type]
                       name="Anne")
    with pytest.raises(ops.OperationError, match="at most 60"):
        Session.create(title="T", protocol=session.snapshot.protocol,  # type: ignore[arg-type]
                       name="A" * 61)
    with pytest.raises(ops.OperationError, match="group's name is at most 200"):
        Session.create(title="T", protocol=session.snapshot.protocol,  # type: ignore[arg-type]
                       name="Anne", group="G" * 201)
    longest = Session.create(title="T", protocol=session.snapshot.protocol,  # type: ignore[arg-type]
                             name="Anne", group="G" * 200)
    longest.end()
    title = Session.continue_from(longest.doc, name="Anne").snapshot.info.title
    assert len(title) == 200 and title.startswith("G" * 187 + " — ")


def test_a_huge_text_written_raw_is_cut_on_read(session: Session) -> None:
    with raw(session) as tx:
        item = tx.put_object(_map(session, "items"), session.me[:32] + "3" * 16, ObjType.Map)
        tx.put(item, "kind", ScalarType.Str, "note")
        tx.put(item, "text", ScalarType.Str, "y" * 10_000)
    (got,) = session.snapshot.items
    assert len(got.text) == 2000 and got.text.endswith("…")


# -- admission ----------------------------------------------------------------------------
def test_admission_is_the_creators_signature(session: Session) -> None:
    bob = Session(session.doc.fork(), clock=session.clock)
    carl = Session(session.doc.fork(), clock=session.clock)
    bob.join("Bob", admission=session.admission_for(bob.actor))
    carl.join("Carl", admission=bob.identity.sign(b"anything"))  # not the creator's
    for other in (bob, carl):
        sync_pair(session, other)
    admitted = {p.name: p.admitted for p in session.snapshot.participants}
    assert admitted == {"Anne": True, "Bob": True, "Carl": False}
    with pytest.raises(NotAllowed, match="creator"):
        bob.admission_for(carl.actor)
