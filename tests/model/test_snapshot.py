"""The incrementally maintained snapshot always equals a fresh read of the document."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import ops
from model.ops import OperationError
from model.session import NotAllowed, Session
from model.snapshot import SnapshotBuilder, touched_by
from tests.replicas import replica_of, sync_pair

ACTIONS = st.lists(
    st.tuples(st.sampled_from(["add", "edit", "delete", "mark", "advance", "join", "sync",
                               "advice", "action", "update", "proposal", "vote", "case",
                               "floor", "round", "next", "evaluate", "meeting", "retain",
                               "hide", "unhide", "client", "scribe", "behalf", "handover",
                               "forge"]),
              st.integers(0, 1), st.text(min_size=1, max_size=12)),
    max_size=25,
)


def _continued(session: Session) -> Session:
    """A second session of the group, with carried actions, anonymous advice."""
    first = Session(session.doc.fork(), identity=session.identity, clock=session.clock)
    first.add_item("action", "Appeler la DRH", owner=first.me)
    first.add_item("action", "Lire", owner=first.me)
    first.end()
    return Session.continue_from(first.doc, name="Anne", anonymous=["advice"],
                                 identity=session.identity, clock=session.clock)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ACTIONS)
def test_incremental_snapshot_equals_full_read(session: Session, steps) -> None:  # type: ignore[no-untyped-def]
    session = _continued(session)
    bob = replica_of(session, "Bob")
    replicas = (session, bob)
    for action, who, text in steps:
        replica = replicas[who]
        snap = replica.snapshot
        items = snap.items
        if not text.strip():
            text = "x" + text
        try:
            if action == "add":
                replica.add_item("question", text)
            elif action == "edit" and items:
                replica.edit_item(items[0].id, text)
            elif action == "delete" and items:
                replica.delete_item(items[-1].id)
            elif action == "mark" and snap.items_of("question"):
                replica.mark_answered(snap.items_of("question")[0].id)
            elif action == "advance" and session.snapshot.control.phase.index < 3:
                session.advance()
            elif action == "join":
                replica.join(text)
            elif action == "sync":
                sync_pair(session, bob)
            elif action == "advice":
                replica.add_item("advice", text)
            elif action == "action":
                replica.add_item("action", text, owner=replica.me)
            elif action == "update" and snap.items_of("action"):
                replica.update_action(snap.items_of("action")[0].id,
                                      ("done", "in_progress", "carried_over")[len(text) % 3],
                                      text)
            elif action == "proposal":
                replica.add_item("proposal", text)
            elif action == "vote" and snap.items_of("proposal"):
                replica.vote(snap.items_of("proposal")[-1].id)
            elif action == "case" and snap.items_of("proposal"):
                session.choose_case(session.snapshot.items_of("proposal")[0].id
                                    if session.snapshot.items_of("proposal") else "")
            elif action == "floor":
                session.give_floor(session.snapshot.participants[-1].id)
            elif action == "round":
                session.start_round()
            elif action == "next":
                session.next_speaker()
            elif action == "evaluate":
                replica.evaluate(len(text) % 5 + 1, text)
            elif action == "meeting":
                session.set_next_meeting("2027-01-14", f"{len(text) % 24:02d}:30", text)
            elif action == "retain" and snap.items_of("advice"):
                replica.mark_retained(snap.items_of("advice")[-1].id, len(text) % 2 == 0)
            elif action == "hide" and items:
                replica.hide_item(items[len(text) % len(items)].id)
            elif action == "unhide" and items:
                replica.hide_item(items[0].id, hidden=False)
            elif action == "client":
                session.assign_role("client", replicas[who].me)
            elif action == "scribe":
                session.assign_role("scribe", replicas[who].me)
            elif action == "behalf":
                replica.add_item("note", text, on_behalf=replicas[1 - who].me)
            elif action == "handover":
                replica.hand_over(replicas[1 - who].me)
            elif action == "forge" and items:  # a mark and an update nobody may write
                ops.set_mark(replica.doc, items[0].id, actor=replica.actor, mark="hidden",
                             value=True)
                if items[0].kind == "action":
                    ops.append_action_update(replica.doc, items[0].id, actor=replica.actor,
                                             status="dropped", note=text, now=1)
                replica.refresh()
        except (NotAllowed, OperationError):
            pass  # refused locally, as a person would be told
    sync_pair(session, bob)
    for replica in replicas:
        assert replica.snapshot == SnapshotBuilder(replica.doc).snapshot
        assert replica._builder.fallbacks == 0  # every change was placed without a diff
    assert session.snapshot == bob.snapshot


def test_refresh_without_change_reports_nothing(session: Session) -> None:
    assert session.refresh() is False


def test_patch_parsing() -> None:
    root = ('Patch { obj: Root, path: [], action: PutMap { key: "phase", value: '
            '(Scalar(Int(2)), Id(9, ActorID("48b3"), 0)), conflict: false } }')
    assert touched_by(root) == ("phase", None)
    in_item = ('Patch { obj: Id(3, ActorID("ab"), 0), path: [(Root, Map("items")), '
               '(Id(1, ActorID("ab"), 0), Map("abc")), (Id(2, ActorID("ab"), 0), '
               'Map("text"))], action: SpliceText { index: 0, value: x, marks: None } }')
    assert touched_by(in_item) == ("items", "abc")
    new_item = ('Patch { obj: Id(1, ActorID("ab"), 0), path: [(Root, Map("items"))], '
                'action: PutMap { key: "f00d", value: x, conflict: false } }')
    assert touched_by(new_item) == ("items", "f00d")
    deleted = ('Patch { obj: Id(1, ActorID("ab"), 0), path: [(Root, Map("items"))], '
               'action: DeleteMap { key: "f00d" } }')
    assert touched_by(deleted) == ("items", "f00d")
    control = ('Patch { obj: Id(4, ActorID("ab"), 0), path: [(Root, Map("control")), '
               '(Id(1, ActorID("ab"), 0), Map("ab"))], action: Insert { index: 0 } }')
    assert touched_by(control) == ("control", None)
    assert touched_by("garbage") is None


def test_unknown_keys_are_kept_and_ignored(session: Session) -> None:
    from automerge.core import ROOT, ObjType, ScalarType

    from model.reading import child

    items = child(session.doc, ROOT, "items", ObjType.Map)
    item_id = session.add_item("note", "x")
    item = child(session.doc, items, item_id, ObjType.Map)  # type: ignore[arg-type]
    with session.doc.transaction() as tx:
        tx.put(ROOT, "future_feature", ScalarType.Str, "kept")
        tx.put(item, "colour", ScalarType.Str, "teal")  # type: ignore[arg-type]
    session.refresh()
    session.add_item("note", "y")
    reloaded = Session(type(session.doc).load(session.save()))
    assert reloaded.doc.get(ROOT, "future_feature")[0][1] == "kept"  # type: ignore[index]
    item = child(reloaded.doc, child(reloaded.doc, ROOT, "items", ObjType.Map), item_id,  # type: ignore[arg-type]
                 ObjType.Map)
    assert reloaded.doc.get(item, "colour")[0][1] == "teal"  # type: ignore[arg-type,index]
    assert len(reloaded.snapshot.items) == 2
