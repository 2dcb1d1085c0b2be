"""A group across sessions: the next session starts from the previous file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import msgspec
import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType

from model import export, ops, sessionfile
from model.keys import Identity
from model.ops import OperationError
from model.protocols import builtin_protocols, parse_protocol_toml
from model.session import NotAllowed, Session
from model.sessionfile import SessionFileError
from model.snapshot import SnapshotBuilder
from tests.replicas import FakeClock, make_legacy, replica_of, sync_pair

DAY = 86_400


def _first_session(clock: FakeClock, codev) -> tuple[Session, Session, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Session 1: Anne facilitates, Bob is the client and writes four actions."""
    anne = Session.create(title="Janvier", protocol=codev, name="Anne", clock=clock,
                          group="Managers de Lyon")
    bob = replica_of(anne, "Bob")
    sync_pair(anne, bob)
    anne.start()
    ids = {}
    for key, text, owner, due in (
            ("call", "Appeler la DRH", bob.me, "2027-02-01"),
            ("read", "Lire Schein", anne.me, ""),
            ("done", "Envoyer le compte rendu", bob.me, ""),
            ("drop", "Changer d'équipe", bob.me, "")):
        clock.advance(60)  # board order is creation order
        ids[key] = bob.add_item("action", text, owner=owner, due=due)
    bob.add_item("note", "pas une action")
    bob.update_action(ids["done"], "done", "envoyé pendant la pause")
    bob.update_action(ids["drop"], "dropped")
    sync_pair(anne, bob)
    anne.end()
    sync_pair(anne, bob)
    return anne, bob, ids


def test_next_session_carries_group_members_and_open_actions(
        clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, ids = _first_session(clock, codev)
    first = anne.snapshot
    clock.advance(30 * DAY)
    nxt = Session.continue_from(anne.doc, name="Anne", clock=clock)
    snap = nxt.snapshot
    assert snap.info.id != first.info.id
    assert (snap.group.id, snap.group.name) == (first.group.id, first.group.name)
    assert (snap.group.name, snap.group.members) == ("Managers de Lyon", ("Anne", "Bob"))
    assert [(c.id, c.title, c.created) for c in snap.chain] == [
        (first.info.id, "Janvier", first.info.created)]
    assert snap.phases[0].key == "follow-up" and snap.phases[0].follow_up
    assert [p.key for p in snap.phases[1:]] == [p.key for p in first.phases]
    assert snap.control.phase.index == 0
    assert snap.info.title.startswith("Managers de Lyon — ")
    carried = {item.text: item for item in snap.items}
    assert set(carried) == {"Appeler la DRH", "Lire Schein"}
    call = carried["Appeler la DRH"]
    assert (call.kind, call.phase, call.owner, call.owner_name, call.due, call.status) == (
        "action", 0, "", "Bob", "2027-02-01", "open")
    assert call.origin is not None
    assert (call.origin.session, call.origin.title, call.origin.created, call.origin.item) == (
        first.info.id, "Janvier", first.info.created, ids["call"])
    assert [(s.session, s.status, s.updates) for s in call.history] == [
        (first.info.id, "open", ())]
    assert snap.carried_actions() == snap.items
    # Closed actions are kept for the history, not carried.
    assert [(c.text, c.owner, c.status, c.history[-1].notes) for c in snap.info.closed_actions
            ] == [("Envoyer le compte rendu", "Bob", "done", ("envoyé pendant la pause",)),
                  ("Changer d'équipe", "Bob", "dropped", ())]
    assert snap.absent_members() == ("Bob",)


def test_owner_is_found_by_name_when_they_join(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    nxt = Session.continue_from(anne.doc, name="Anne", clock=clock)
    bob = replica_of(nxt, "  bob ")
    carl = replica_of(nxt, "Carl")
    sync_pair(nxt, bob)
    sync_pair(nxt, carl)
    snap = nxt.snapshot
    call = next(i for i in snap.items if i.text == "Appeler la DRH")
    read = next(i for i in snap.items if i.text == "Lire Schein")
    assert snap.owner_id(call) == bob.me and snap.owner_label(call) == "Bob"
    # Anne's laptop copied the action into this session; it is shown as Bob's.
    assert call.author == nxt.me and snap.author_name(call) == "Bob"
    assert "Appeler la DRH — Bob" in export.to_markdown(snap)
    assert snap.owner_id(read) == nxt.me
    assert snap.actions_for(bob.me) == (call,)
    assert snap.absent_members() == ()
    with pytest.raises(NotAllowed, match="owner"):
        carl.update_action(call.id, "done")
    bob.update_action(call.id, "in_progress", "rendez-vous le 3")
    sync_pair(nxt, bob)
    nxt.update_action(call.id, note="Anne relancera")  # the facilitator may too
    sync_pair(nxt, bob)
    item = nxt.snapshot.item(call.id)
    assert item is not None
    assert (item.status, item.status_note) == ("in_progress", "Anne relancera")
    assert [(u.status, u.note, u.by) for u in item.updates] == [
        ("in_progress", "rendez-vous le 3", bob.me), ("in_progress", "Anne relancera", nxt.me)]


def test_concurrent_status_updates_lose_nothing(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    nxt = Session.continue_from(anne.doc, name="Anne", clock=clock)
    bob = replica_of(nxt, "Bob")
    sync_pair(nxt, bob)
    call = next(i.id for i in nxt.snapshot.items if i.text == "Appeler la DRH")
    # Offline from each other, both update the same action.
    nxt.update_action(call, "carried_over", "pas eu le temps, on en reparle")
    bob.update_action(call, "done", "appel fait lundi")
    sync_pair(nxt, bob)
    ours, theirs = nxt.snapshot.item(call), bob.snapshot.item(call)
    assert ours == theirs and ours is not None
    assert sorted((u.note, u.by) for u in ours.updates) == sorted(
        [("pas eu le temps, on en reparle", nxt.me), ("appel fait lundi", bob.me)])
    assert ours.status == ours.updates[-1].status  # one status, the same everywhere
    assert ours.status_note == ours.updates[-1].note
    # Both notes reach the next session's history.
    nxt.end()
    third = Session.continue_from(nxt.doc, name="Anne", clock=clock)
    track = next(t for t in third.snapshot.action_tracks() if t.text == "Appeler la DRH")
    assert sorted(track.steps[1].notes) == ["appel fait lundi", "pas eu le temps, on en reparle"]


def test_set_action_status_goes_through_the_update_list(session: Session) -> None:
    act = session.add_item("action", "Relancer le fournisseur")
    bob = replica_of(session, "Bob")
    session.set_action(act, status="done", status_note="fait")
    bob.set_action(act, status="dropped")
    sync_pair(session, bob)
    item = session.snapshot.item(act)
    assert item is not None and len(item.updates) == 2
    assert {u.status for u in item.updates} == {"done", "dropped"}
    assert item.status == item.updates[-1].status == bob.snapshot.item(act).status  # type: ignore[union-attr]


def test_three_session_chain_end_to_end(tmp_path: Path, clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    # Session 1 produces actions; its file is saved.
    anne, _, _ = _first_session(clock, codev)
    one = tmp_path / "1.cercle"
    sessionfile.save(one, anne.doc)
    first = anne.snapshot

    # Session 2, from session 1's file: the owners update their actions.
    clock.advance(30 * DAY)
    s2 = Session.continue_from(one, name="Anne", clock=clock)
    bob2 = replica_of(s2, "Bob")
    sync_pair(s2, bob2)
    s2.start()
    items = {i.text: i.id for i in s2.snapshot.items}
    bob2.update_action(items["Appeler la DRH"], "in_progress", "rendez-vous pris")
    s2.update_action(items["Lire Schein"], "carried_over", "pas commencé")
    sync_pair(s2, bob2)
    s2.advance()
    new = bob2.add_item("action", "Préparer l'entretien", owner=bob2.me, due="2027-03-01")
    sync_pair(s2, bob2)
    s2.end()
    two = tmp_path / "2.cercle"
    sessionfile.save(two, s2.doc)
    second = s2.snapshot

    # Session 3, from session 2's file.
    clock.advance(30 * DAY)
    s3 = Session.continue_from(two, name="Anne", clock=clock)
    bob3 = replica_of(s3, "Bob")
    sync_pair(s3, bob3)
    items = {i.text: i.id for i in s3.snapshot.items}
    assert set(items) == {"Appeler la DRH", "Lire Schein", "Préparer l'entretien"}
    bob3.update_action(items["Appeler la DRH"], "done", "entretien très positif")
    sync_pair(s3, bob3)
    snap = s3.snapshot
    assert [c.id for c in snap.chain] == [first.info.id, second.info.id]
    assert snap.group.id == first.group.id
    ids = (first.info.id, second.info.id, snap.info.id)

    tracks = {t.text: t for t in snap.action_tracks()}
    assert set(tracks) == {"Appeler la DRH", "Lire Schein", "Préparer l'entretien",
                           "Envoyer le compte rendu", "Changer d'équipe"}
    call = tracks["Appeler la DRH"]
    assert [(s.session, s.status, s.notes) for s in call.steps] == [
        (ids[0], "open", ()),
        (ids[1], "in_progress", ("rendez-vous pris",)),
        (ids[2], "done", ("entretien très positif",)),
    ]
    assert call.steps[1].updates[0].by == "Bob"
    assert call.origin is not None and call.origin.session == ids[0]
    read = tracks["Lire Schein"]
    assert [(s.status, s.notes) for s in read.steps] == [
        ("open", ()), ("carried_over", ("pas commencé",)), ("carried_over", ())]
    prep = tracks["Préparer l'entretien"]
    assert [(s.session, s.status) for s in prep.steps] == [(ids[1], "open"), (ids[2], "open")]
    assert prep.origin is not None and (prep.origin.session, prep.origin.item) == (ids[1], new)
    assert [s.session for s in tracks["Envoyer le compte rendu"].steps] == [ids[0]]

    # The exports of session 3 show the same history.
    data = json.loads(export.render(snap, "json"))
    assert [c["id"] for c in data["chain"]] == list(ids[:2])
    call_data = next(i for i in data["items"] if i["text"] == "Appeler la DRH")
    assert call_data["owner"] == "Bob" and call_data["owner_id"] == bob3.me
    assert call_data["origin"]["session"] == ids[0]
    assert [(h["session"], h["status"]) for h in call_data["history"]] == [
        (ids[0], "open"), (ids[1], "in_progress")]
    assert call_data["history"][1]["updates"][0]["note"] == "rendez-vous pris"
    assert [(u["status"], u["note"], u["by"]) for u in call_data["updates"]] == [
        ("done", "entretien très positif", "Bob")]
    assert [c["text"] for c in data["closed_actions"]] == [
        "Envoyer le compte rendu", "Changer d'équipe"]
    md = export.render(snap, "md").decode()
    history = md[md.index("## Actions over time"):]
    line = next(x for x in history.splitlines() if "Appeler la DRH" in x)
    assert line.endswith("open → " + line.split("open → ")[1])
    assert "in progress “rendez-vous pris” → " in line and "done “entretien très positif”" in line
    html = export.render(snap, "html").decode()
    start = html.index('<svg class="chart actions"')
    end = html.index("</svg>", start) + len("</svg>")
    svg = ET.fromstring(html[start:end])  # noqa: S314 - our own output
    steps = svg.findall(".//g[@class='step']")
    assert len(steps) == 3 + 3 + 2 + 1 + 1  # one cell per action and session it lived in
    assert any("entretien très positif" in (g.findtext("title") or "") for g in steps)

    # A file written to disk and read back gives the same session 3.
    three = tmp_path / "3.cercle"
    sessionfile.save(three, s3.doc)
    assert SnapshotBuilder(sessionfile.load(three).doc).snapshot == snap


def test_previous_file_is_never_modified(tmp_path: Path, clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    path = tmp_path / "1.cercle"
    sessionfile.save(path, anne.doc)
    before = path.read_bytes()
    Session.continue_from(path, name="Anne", clock=clock).add_item("note", "x")
    assert path.read_bytes() == before


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "empty"),
    (b"# a protocol, perhaps\nkey = 'x'\n", "not an Automerge document"),
    (bytes.fromhex("856f4a83") + b"\x00garbage", "corrupt or truncated"),
])
def test_corrupt_or_foreign_files_are_refused(tmp_path: Path, content: bytes,
                                              problem: str) -> None:
    path = tmp_path / "prev.cercle"
    path.write_bytes(content)
    with pytest.raises(SessionFileError, match=problem) as info:
        Session.continue_from(path, name="Anne")
    assert str(path) in str(info.value)


def test_an_automerge_document_that_is_not_a_session(tmp_path: Path) -> None:
    doc = Document()
    with doc.transaction() as tx:
        tx.put(ROOT, "todo", ScalarType.Str, "milk")
    path = tmp_path / "other.automerge"
    path.write_bytes(doc.save())
    with pytest.raises(SessionFileError, match="not a Cercle session"):
        Session.continue_from(path, name="Anne")
    with pytest.raises(SessionFileError, match="not a Cercle session"):
        Session.continue_from(doc, name="Anne")
    with pytest.raises(SessionFileError, match="no such file"):
        Session.continue_from(tmp_path / "missing.cercle", name="Anne")


def test_a_file_of_another_group_is_refused(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    with pytest.raises(SessionFileError,
                       match="belongs to the group “Managers de Lyon”, not “Infirmières”"):
        Session.continue_from(anne.doc, name="Anne", group="Infirmières")
    # The same group, by name (any case) or by id, is accepted.
    assert Session.continue_from(anne.doc, name="Anne", group="managers DE lyon ")
    assert Session.continue_from(anne.doc, name="Anne", group=anne.snapshot.group.id)


def test_a_session_from_before_groups_starts_its_own(codev) -> None:  # type: ignore[no-untyped-def]
    """A format-1 file: no group, protocol copied without its follow-up phase."""
    identity = Identity.generate()
    stripped = msgspec.structs.replace(codev, phases=codev.phases_for(False))
    doc = ops.create_session(identity=identity, title="Ancienne séance",
                             protocol=stripped, name="Anne", now=1_700_000_000_000)
    old = Session(doc, identity=identity)
    make_legacy(old, format=1, session_id="a" * 32)
    act = old.add_item("action", "Ancienne action")
    ops.set_item_fields(old.doc, act, status="in_progress", status_note="à moitié")
    old.refresh()
    nxt = Session.continue_from(old.doc, name="Anne")
    snap = nxt.snapshot
    assert (snap.group.id, snap.group.name) == ("a" * 32, "Ancienne séance")
    assert snap.phases[0].key == "follow-up"  # from the built-in template
    (item,) = snap.items
    assert item.status == "in_progress"
    assert [(s.status, s.notes) for s in item.history] == [("in_progress", ("à moitié",))]


def test_a_custom_protocol_keeps_its_follow_up_phase(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "model" / "protocol_data" / "codev.toml").read_text()
    custom = parse_protocol_toml(text.replace('key = "codev"', 'key = "ours"')
                                 .replace('title.en = "Follow-up of open actions"',
                                          'title.en = "Our round"'), filename="ours.toml")
    first = Session.create(title="Une", protocol=custom, name="Anne")
    assert all(not p.follow_up for p in first.snapshot.phases)
    nxt = Session.continue_from(first.doc, name="Anne")
    assert nxt.snapshot.phases[0].title.en == "Our round"
    assert nxt.snapshot.protocol is not None and nxt.snapshot.protocol.key == "ours"
    # And the session after keeps it (its protocol now has the phase).
    third = Session.continue_from(nxt.doc, name="Anne")
    assert [p.key for p in third.snapshot.phases] == [p.key for p in nxt.snapshot.phases]


def test_a_protocol_can_be_chosen_for_the_next_session(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    troika = builtin_protocols()["troika"]
    nxt = Session.continue_from(anne.doc, name="Anne", protocol=troika, title="Février")
    snap = nxt.snapshot
    assert snap.protocol is not None and snap.protocol.key == "troika"
    assert snap.info.title == "Février"
    assert len(snap.items_of("action")) == 2  # carried even without a follow-up phase


def test_continuing_an_unfinished_session_carries_actions_as_they_stand(
        clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    session = Session.create(title="Pas finie", protocol=codev, name="Anne", clock=clock)
    session.add_item("action", "Une action")
    assert session.snapshot.control.phase.status == "waiting"
    nxt = Session.continue_from(session.doc, name="Anne")
    assert [i.text for i in nxt.snapshot.items] == ["Une action"]


def test_the_chain_and_group_are_the_creators_alone(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    nxt = Session.continue_from(anne.doc, name="Anne", clock=clock)
    bob = replica_of(nxt, "Bob")
    session = ops._section(bob.doc, "session")
    with bob.doc.transaction() as tx:
        tx.put_object(session, "chain", ObjType.List)
        group = tx.put_object(session, "group", ObjType.Map)
        tx.put(group, "name", ScalarType.Str, "Pirates")
    bob.refresh()
    sync_pair(nxt, bob)
    for reader in (nxt, bob):
        assert reader.snapshot.chain == ()  # the forged keys read as absent...
        assert reader.snapshot.group.name == ""
        assert reader.snapshot == SnapshotBuilder(reader.doc).snapshot


def test_a_refused_update_writes_nothing(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne, _, _ = _first_session(clock, codev)
    nxt = Session.continue_from(anne.doc, name="Anne", clock=clock)
    carl = replica_of(nxt, "Carl")
    call = next(i for i in carl.snapshot.items if i.text == "Appeler la DRH")
    heads = carl.doc.get_heads()
    with pytest.raises(NotAllowed, match="owner"):
        carl.set_action(call.id, due="2030-01-01", status="done")
    with pytest.raises(OperationError, match="unknown action status 'maybe'"):
        nxt.set_action(call.id, due="2030-01-01", status="maybe")
    with pytest.raises(OperationError, match="at most 280"):
        nxt.update_action(call.id, note="x" * 281)
    assert carl.doc.get_heads() == heads
    assert nxt.snapshot.item(call.id) == call
