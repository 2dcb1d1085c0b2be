"""Replication between laptops, on a simulated network with a fake clock (no sockets, no
sleeps): pushes, relays, the exchange, changes waiting for their dependencies, saving."""

from __future__ import annotations

import pytest
from automerge.core import ROOT, ObjType, ScalarType

from model.reading import child
from sync.events import DocumentChanged, Saved, SaveFailed
from sync.wire import Changes, Code, Document, Have, Peer, Peers, Ping, Pong, Presence
from tests.sync.forge import push, signed
from tests.sync.people import add, texts
from tests.sync.sim import SimNet, SimPeer


def joined(net: SimNet, name: str, *to: SimPeer) -> SimPeer:
    """A member who links to ``to`` (the creator first), receives the session and joins."""
    peer = net.member(name)
    for other in to:
        net.link(peer, other)
    assert net.run(5, lambda: peer.core.session is not None), f"{name} got no session"
    peer.session.join(name)
    peer.changed()
    net.settle()
    return peer


def room(count: int = 3) -> tuple[SimNet, list[SimPeer]]:
    net = SimNet()
    people = [net.creator("Anne")]
    for name in ["Bob", "Carl", "Dee", "Eve"][: count - 1]:
        people.append(joined(net, name, *people))
    return net, people


def test_a_newcomer_gets_the_whole_session_from_its_creator_and_both_then_write() -> None:
    net = SimNet()
    anne = net.creator()
    for i in range(50):
        add(anne.session, f"question {i}")
    anne.changed()
    net.run(1)
    bob = joined(net, "Bob", anne)
    assert len(net.frames(Document)) == 1  # the whole session, once, from Anne
    assert len(bob.session.snapshot.items) == 50
    add(bob.session, "from Bob")
    bob.changed()
    add(anne.session, "from Anne")
    anne.changed()
    net.settle()
    assert texts(anne.session) == texts(bob.session)
    assert {"from Bob", "from Anne"} <= texts(anne.session)
    assert [p.name for p in anne.session.snapshot.participants] == ["Anne", "Bob"]


def test_each_change_is_pushed_once_to_each_peer_and_nobody_relays_in_a_full_mesh() -> None:
    net, (anne, bob, carl, dee) = room(4)
    before = len(net.frames(Changes))
    add(carl.session, "one change")
    carl.changed()
    net.settle()
    pushed = net.frames(Changes)[before:]
    assert len(pushed) == 3
    assert all(len(frame.changes) == 1 and len(frame.heads) == 1 for frame in pushed)
    assert {p.name for p in (anne, bob, dee) if "one change" in texts(p.session)} == \
        {"Anne", "Bob", "Dee"}


def test_a_change_reaches_a_peer_with_no_link_to_its_author_through_a_relay() -> None:
    net = SimNet()
    anne = net.creator()
    bob = joined(net, "Bob", anne)
    carl = joined(net, "Carl", anne)  # Bob and Carl have no link to each other
    net.run(1)
    add(bob.session, "via Anne")
    bob.changed()
    net.settle()
    assert "via Anne" in texts(carl.session)
    relayed = [e for s, r, e in net.delivered if s is anne and r is carl
               and isinstance(e, Changes) and e.changes]
    assert relayed, "Anne relayed Bob's change to Carl"


def test_after_a_partition_both_sides_merge_and_nothing_is_lost() -> None:
    net, (anne, bob, carl) = room(3)
    net.cut(anne, carl)
    net.cut(bob, carl)
    for i in range(5):
        add(anne.session, f"in the room {i}")
        add(carl.session, f"in the corridor {i}")
    anne.changed()
    carl.changed()
    net.run(2)
    assert "in the corridor 0" not in texts(anne.session)
    net.link(carl, anne)
    net.link(carl, bob)
    net.settle()
    assert len(texts(anne.session)) == len(texts(carl.session)) == 10
    haves = net.frames(Have)
    assert haves and all(len(h.seqs) == 3 for h in haves[-2:])  # how many of each author


def test_a_lost_push_is_recovered_with_the_next_ping() -> None:
    net, (anne, bob) = room(2)
    lost: list[Changes] = []

    def lose_the_push(sender: SimPeer, receiver: SimPeer, frame: object) -> bool:
        if isinstance(frame, Changes) and sender is anne and not lost and frame.changes:
            lost.append(frame)
            return True
        return False

    net.drop = lose_the_push
    add(anne.session, "lost once")
    anne.changed()
    net.run(0.5)
    assert lost and "lost once" not in texts(bob.session)
    net.drop = None
    pings_before = len(net.frames(Ping))
    net.settle(15)
    assert "lost once" in texts(bob.session)
    assert len(net.frames(Ping)) > pings_before  # it came back through a ping's heads


def test_a_change_that_arrives_before_what_it_depends_on_waits_for_it() -> None:
    net, (anne, bob, carl) = room(3)
    held: list[tuple[SimPeer, SimPeer, Changes]] = []

    def hold_annes_push(sender: SimPeer, receiver: SimPeer, frame: object) -> bool:
        if isinstance(frame, Changes) and sender is anne and receiver is carl and frame.changes:
            held.append((sender, receiver, frame))
            return True
        return False

    net.drop = hold_annes_push
    add(anne.session, "first")
    anne.changed()
    net.run(0.1)  # Bob has it, Carl does not
    add(bob.session, "answer to first")
    bob.changed()
    net.run(0.1)
    assert len(carl.core.pending) == 1  # Bob's change waits for Anne's
    assert "answer to first" not in texts(carl.session)
    net.drop = None
    _, _, frame = held[0]
    anne.send(carl, frame)
    net.run(0.1)
    assert {"first", "answer to first"} <= texts(carl.session)
    assert len(carl.core.pending) == 0


def test_a_dependency_nobody_sends_is_asked_for_then_the_change_is_dropped() -> None:
    """Bob signs a change that depends on one he never sends (a broken or hostile client):
    Carl holds it outside the document, asks every peer once, then lets it go; his
    replica and his links are untouched."""
    net, (anne, bob, carl) = room(3)
    copy = bob.session.doc.fork()
    copy.set_actor(bob.person.actor)
    mine = child(copy, child(copy, ROOT, "participants", ObjType.Map), bob.person.me,
                 ObjType.Map)
    assert mine is not None
    with copy.transaction() as tx:
        tx.put(mine, "feedback", ScalarType.Str, "first")
    with copy.transaction() as tx:
        tx.put(mine, "feedback", ScalarType.Str, "second")
    orphan = copy.get_last_local_change()
    assert orphan is not None and orphan.deps
    before = len(net.frames(Have))
    bob.send(carl, push(orphan.bytes, signed(bob.person.identity, net.anchor, orphan.hash)))
    net.run(0.5)
    assert len(carl.core.pending) == 1
    net.run(1.0)
    assert len(net.frames(Have)) > before  # asked its peers for what it lacks
    net.run(3.0)
    assert len(carl.core.pending) == 0
    assert bob.link_to(carl) is not None  # a missing dependency is not an attack
    add(anne.session, "life goes on")
    anne.changed()
    net.settle()


def test_local_changes_are_saved_before_they_leave() -> None:
    net, (anne, bob) = room(2)
    anne.save_ok = False
    saves = anne.saves
    add(anne.session, "unsaved")
    anne.changed()
    net.run(0.5)
    assert anne.saves > saves and "unsaved" not in texts(bob.session)
    assert anne.of(SaveFailed)
    anne.save_ok = True
    net.settle(3)
    assert "unsaved" in texts(bob.session)
    assert anne.of(Saved)


def test_received_changes_are_saved_once_arrivals_pause() -> None:
    net, (anne, bob) = room(2)
    saves = bob.saves
    for i in range(20):  # a change every 0.3 s for six seconds
        add(anne.session, f"steady {i}")
        anne.changed()
        net.run(0.3)
    # Not after every change (20), nor every second (6): at most one every five seconds,
    # and once more when they stop.
    assert 1 <= bob.saves - saves <= 2
    net.run(2)
    assert bob.saves - saves <= 3 and not bob.core.saving.pending


def test_a_member_back_after_a_restart_exchanges_only_what_it_lacks() -> None:
    net, (anne, bob) = room(2)
    for i in range(30):
        add(anne.session, f"before {i}")
    anne.changed()
    net.settle()
    net.cut(anne, bob)
    add(anne.session, "while Bob was away")
    anne.changed()
    net.run(1)
    before = len(net.delivered)
    net.link(bob, anne)
    net.settle()
    answers = [e for _, _, e in net.delivered[before:] if isinstance(e, Changes) and e.answer]
    assert sum(len(a.changes) for a in answers) == 1
    assert not [e for _, _, e in net.delivered[before:] if isinstance(e, Document)]


@pytest.mark.parametrize("kept", [True, False])
def test_signed_heads_kept_beside_the_file_let_a_restarted_laptop_pass_others_changes_on(
        kept: bool) -> None:
    """Bob holds Carl's latest changes when he restarts. With the signed heads he kept,
    he can prove them to Dee, who missed them (Carl and Anne are away); without them, he
    can pass on only his own. His own head is not kept: he signs his changes again."""
    net, (anne, bob, carl) = room(3)
    dee = joined(net, "Dee", anne, bob, carl)
    for other in (anne, bob, carl):
        net.cut(dee, other)
    add(carl.session, "Carl, while Dee was away")
    carl.changed()
    add(bob.session, "Bob, while Dee was away")
    bob.changed()
    net.run(2)
    blob = bob.core.heads_blob()
    assert bob.person.actor not in blob and carl.person.actor in blob
    bob = net.restart(bob, heads=blob if kept else b"")
    net.cut(anne, carl)
    for away in (anne, carl):
        net.peers.remove(away)
    net.link(dee, bob)
    net.run(3)
    assert "Bob, while Dee was away" in texts(dee.session)
    assert ("Carl, while Dee was away" in texts(dee.session)) is kept


def test_synced_means_linked_and_nothing_in_flight() -> None:
    net = SimNet()
    anne = net.creator()
    bob = net.member("Bob")
    assert not bob.core.is_synced(net.now)
    net.link(bob, anne)
    assert not bob.core.is_synced(net.now)  # waiting for the answer to its Have
    net.run(1)
    assert bob.core.is_synced(net.now)
    add(bob.session, "x") if bob.core.session else None
    bob.changed()
    assert not bob.core.is_synced(net.now)  # unsaved local change


def test_two_links_to_one_peer_are_resolved_alike_on_both_sides() -> None:
    net, (anne, bob) = room(2)
    net.link(anne, bob)  # a second link, the other way
    net.run(1)
    assert len(anne.links) == len(bob.links) == 1
    add(bob.session, "still flowing")
    bob.changed()
    net.settle()
    assert "still flowing" in texts(anne.session)


def test_presence_and_the_clock_offset_are_shared() -> None:
    net, (anne, bob) = room(2)
    net.apply(bob, bob.core.set_presence(hand_raised=True, hand_raised_at=1.8e9))
    net.run(6)
    view = next(v for v in anne.core.links() if v.peer_id == bob.person.me)
    assert view.presence is not None and view.presence.hand_raised
    assert view.clock_offset is not None and abs(view.clock_offset) < 0.01
    assert net.frames(Pong)


def test_a_pong_with_an_impossible_time_is_not_believed() -> None:
    net, (anne, bob) = room(2)
    bob.send(anne, Pong(nonce=1, sent=1.0, peer_time=99_999_999_999.0))
    net.run(0.1)
    view = next(v for v in anne.core.links() if v.peer_id == bob.person.me)
    assert view.clock_offset is None or abs(view.clock_offset) < 1.0


def test_the_mesh_fills_itself_in_but_dials_only_admitted_members() -> None:
    net = SimNet()
    anne = net.creator()
    bob = joined(net, "Bob", anne)
    carl = joined(net, "Carl", anne)
    net.run(1)
    # Anne told Carl where Bob listens: Carl dials him (the node does; here we look).
    assert any(d.actor == bob.person.actor for d in carl.dials)
    strangers = [Peer(bytes([i]) * 32, f"10.9.0.{i}", 4000 + i) for i in range(1, 200)]
    dials = len(carl.dials)
    anne.send(carl, Peers(peers=strangers))
    net.run(0.1)
    assert len(carl.dials) == dials  # none of them was admitted: not one dial


def test_a_join_code_is_taken_only_from_the_creator() -> None:
    net, (anne, bob, carl) = room(3)
    carl.send(bob, Code(code="0000-1111"))
    anne.send(bob, Code(code="2222-3333", reason="guessing"))
    net.run(0.1)
    assert bob.core.code_shown == "2222-3333"


def test_document_changed_is_told_once_for_a_burst() -> None:
    net, (anne, bob) = room(2)
    told = len(bob.of(DocumentChanged))
    for i in range(10):
        add(anne.session, f"burst {i}")
        anne.changed()
    net.settle()
    assert 1 <= len(bob.of(DocumentChanged)) - told <= 2


def test_presence_from_a_link_is_its_own() -> None:
    net, (anne, bob) = room(2)
    bob.send(anne, Presence(hand_raised=True, hand_raised_at=1.8e9))
    net.run(0.1)
    raised = [v.peer_id for v in anne.core.links() if v.presence and v.presence.hand_raised]
    assert raised == [bob.person.me]
