"""Replication between real nodes over TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from automerge.core import Document, SyncState

from model import sessionfile
from model.binding import fork_at
from model.protocols import builtin_protocols
from model.session import Session
from sync.events import AuthFailure, DocumentChanged, HandshakeFailed, LinkProblem, SaveFailed
from sync.node import SessionNode
from sync.wire import Changes, Sync
from tests.sync.mesh import (
    LOOPBACK,
    FaultyProxy,
    converged,
    host_node,
    join,
    joiner_node,
    recorder,
    running,
    send_as_peer,
    texts,
    until,
)


async def test_two_peers_replicate_both_ways() -> None:
    async with running(host_node(), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        assert bob.session.snapshot.info.title == "Séance test"
        await until(lambda: len(host.session.snapshot.participants) == 2, what="Bob's join")
        host.session.add_item("question", "Qui décide ?")
        host.local_changed()
        await until(lambda: texts(bob) == {"Qui décide ?"}, what="the question at Bob's")
        bob.session.add_item("advice", "Demande-lui")
        bob.local_changed()
        await until(lambda: "Demande-lui" in texts(host), what="the advice at the host's")
        assert recorder(host).of(DocumentChanged)


async def test_phase_advanced_by_facilitator_advances_everywhere() -> None:
    async with running(host_node(), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        host.session.start()
        host.session.advance()
        host.local_changed()
        await until(lambda: bob.session.snapshot.control.phase.index == 1, what="phase 2")


@pytest.mark.parametrize("count", [5, 10])
async def test_many_peers_converge_on_concurrent_edits(count: int) -> None:
    nodes = [host_node()] + [joiner_node(f"P{i}") for i in range(1, count)]
    async with running(*nodes):
        host = nodes[0]
        for node in nodes[1:]:
            await join(node, host)
        # Peer exchange fills in the mesh: everyone links to everyone.
        await until(lambda: all(len(n.peers) == count - 1 for n in nodes), 20, "a full mesh")
        for round_ in range(3):
            for node in nodes:
                node.session.add_item("note", f"{node.name} {round_}")
                node.local_changed()
        expected = {f"{n.name} {r}" for n in nodes for r in range(3)}
        await until(lambda: all(texts(n) == expected for n in nodes), 20, "every note everywhere")
        await until(lambda: converged(nodes), 10, "identical heads")


async def test_late_joiner_receives_everything() -> None:
    async with running(host_node()) as (host,):
        for i in range(200):
            host.session.add_item("question", f"Question {i}")
        host.local_changed()
        async with running(joiner_node("Late")) as (late,):
            await join(late, host)
            await until(lambda: len(late.session.snapshot.items) == 200, what="200 items")
            await until(lambda: converged([host, late]), what="the late joiner's own join")
            assert late.session.snapshot == host.session.snapshot


async def test_wrong_code_is_refused_on_both_sides() -> None:
    async with running(host_node(), joiner_node("Eve", code="0000-0000")) as (host, eve):
        eve.connect(LOOPBACK, host.port)
        await until(lambda: eve.refused is not None, what="the refusal")
        assert "refused" in (eve.refused or "")
        await until(lambda: bool(recorder(host).of(AuthFailure)), what="the host to be told")
        failure = recorder(host).of(AuthFailure)[0]
        assert isinstance(failure, AuthFailure) and failure.incoming and failure.failures == 1
        assert eve.session.is_empty
        assert host.peers == []


@pytest.mark.parametrize(("junk", "reason"), [
    (b"\x00\x00\x00\x05hello", "malformed"),
    (b"\xff\xff\xff\xff" + bytes(100), "4294967295-byte frame"),
])
async def test_junk_before_the_handshake_is_reported_and_changes_nothing(
        junk: bytes, reason: str) -> None:
    async with running(host_node()) as (host,):
        before = host.session.save()
        reader, writer = await asyncio.open_connection(LOOPBACK, host.port)
        writer.write(junk)
        await writer.drain()
        await until(lambda: bool(recorder(host).of(HandshakeFailed)), what="the host to be told")
        assert await reader.read() != b""  # its Spake came first; then the host hung up
        writer.close()
        [event] = recorder(host).of(HandshakeFailed)
        assert isinstance(event, HandshakeFailed)
        assert event.address == LOOPBACK and reason in event.reason
        assert not recorder(host).of(AuthFailure)
        assert host.session.save() == before and host.peers == []


async def test_repeated_failures_are_slowed_down() -> None:
    async with running(host_node()) as (host,):
        for attempt in range(1, 5):
            async with running(joiner_node("Eve", code=f"{attempt}111-2222")) as (eve,):
                eve.connect(LOOPBACK, host.port)
                await until(lambda: eve.refused is not None, 15, "the refusal")
        assert host.limiter.failures(LOOPBACK) == 4
        assert host.limiter.delay_for(LOOPBACK) > 0


async def test_partition_and_heal_through_a_proxy() -> None:
    async with running(host_node(), joiner_node("Bob", accept_incoming=False)) as (host, bob):
        async with FaultyProxy((LOOPBACK, host.port)) as proxy:
            await join(bob, (LOOPBACK, proxy.port))
            await until(lambda: converged([host, bob]), what="first sync")
            proxy.cut = True
            proxy.sever()
            await until(lambda: bob.peers == [] and host.peers == [], what="the cut")
            for i in range(5):
                host.session.add_item("note", f"host {i}")
                host.local_changed()
                bob.session.add_item("note", f"bob {i}")
                bob.local_changed()
            assert "bob 0" not in texts(host)
            proxy.cut = False  # the wifi comes back; Bob's node reconnects by itself
            await until(lambda: converged([host, bob]), 15, "the heal")
            assert len(texts(host)) == 10 and texts(host) == texts(bob)


async def test_no_plaintext_on_the_wire() -> None:
    secret = "Mon manager me harcèle depuis mars"
    async with running(host_node("Titre confidentiel"), joiner_node("Bob")) as (host, bob):
        async with FaultyProxy((LOOPBACK, host.port)) as proxy:
            bob.accept_incoming = False
            await join(bob, (LOOPBACK, proxy.port))
            host.session.add_item("note", secret * 3)
            host.local_changed()
            await until(lambda: any(secret in t for t in texts(bob)), what="the note")
            wire = bytes(proxy.captured)
            assert len(wire) > 1000
            for needle in (secret, "Titre confidentiel", "Anne", "Bob", "codev"):
                assert needle.encode() not in wire
            assert bytes.fromhex("856f4a83") not in wire  # no Automerge chunk in clear


async def test_duplicate_links_are_resolved() -> None:
    async with running(host_node(), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        host.connect(LOOPBACK, bob.port)  # both sides now dial each other
        bob.connect(LOOPBACK, host.port)
        await asyncio.sleep(0.5)  # give a duplicate the time to appear, then check none did
        assert len(host.peers) == 1 and len(bob.peers) == 1
        # Presence that went over a link closed as a duplicate was sent again on the other
        # (when Anne's id is the smaller, her new link replaced Bob's).
        assert host.peers[0].presence is not None and bob.peers[0].presence is not None
        host.session.add_item("note", "still works")
        host.local_changed()
        await until(lambda: "still works" in texts(bob))


async def test_presence_is_shared_and_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "s.cercle"
    async with running(host_node(save_path=path), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        await until(lambda: len(host.peers) == 1)
        bob.set_presence(hand_raised=True, hand_raised_at=1.0, done_phase=0)
        await until(lambda: bool(host.peers) and host.peers[0].presence is not None
                    and host.peers[0].presence.hand_raised, what="Bob's raised hand")
    assert b"hand_raised" not in path.read_bytes()


async def test_clock_offset_to_the_facilitator() -> None:
    host = host_node(ping_interval=0.05)
    bob = joiner_node("Bob", ping_interval=0.05, clock=lambda: __import__("time").time() - 180)
    async with running(host, bob):
        await join(bob, host)
        await until(lambda: bool(bob.peers) and bob.peers[0].clock_offset is not None)
        now_host = host.facilitator_now_ms()
        now_bob = bob.facilitator_now_ms()
        assert abs(now_host - now_bob) < 100  # Bob's clock is three minutes late


async def test_received_changes_are_saved(tmp_path: Path) -> None:
    path = tmp_path / "bob.cercle"
    async with running(host_node(), joiner_node("Bob", save_path=path)) as (host, bob):
        await join(bob, host)
        host.session.add_item("learning", "écouter d'abord")
        host.local_changed()
        await until(lambda: path.exists() and "écouter d'abord" in {
            i.text for i in sessionfile_items(path)}, what="the saved file")


async def test_under_steady_arrivals_received_changes_are_saved_now_and_then(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each save writes the whole session and holds the app's keys: while items keep
    arriving, Bob saves about every SAVE_WITHIN (here 1 s), not after each save_delay
    (0.3 s, which saved six times in these two seconds); once they stop, within save_delay."""
    import sync.node

    monkeypatch.setattr(sync.node, "SAVE_WITHIN", 1.0)
    path = tmp_path / "bob.cercle"
    bob = joiner_node("Bob", save_path=path, save_delay=0.3)
    async with running(host_node(), bob) as (host, _):
        await join(bob, host)
        await until(lambda: converged([host, bob]), what="Bob in step")
        saves: list[float] = []
        original = bob._save

        def counting() -> bool:
            saves.append(asyncio.get_running_loop().time())
            return original()

        bob._save = counting  # type: ignore[method-assign]
        start = asyncio.get_running_loop().time()
        for i in range(40):  # 2 s of arrivals, 50 ms apart
            host.session.add_item("note", f"n° {i}")
            host.local_changed()
            await asyncio.sleep(0.05)
        steady = [t - start for t in saves]
        assert 1 <= len(steady) <= 3, steady  # about every second, not every 0.3 s, or never
        await until(lambda: {f"n° {i}" for i in range(40)} <= {
            i.text for i in sessionfile_items(path)}, 2, "every note in Bob's file")


def sessionfile_items(path: Path):  # type: ignore[no-untyped-def]
    from model.session import Session

    return Session(sessionfile.load(path).doc).snapshot.items


async def test_save_failure_holds_local_changes_back(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    path = folder / "host.cercle"
    async with running(host_node(save_path=path), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        folder.rename(tmp_path / "moved")  # the file can no longer be written
        host.session.add_item("note", "pas encore sauvé")
        host.local_changed()
        await until(lambda: bool(recorder(host).of(SaveFailed)), what="the save failure")
        await asyncio.sleep(0.3)
        assert "pas encore sauvé" not in texts(bob)
        (tmp_path / "moved").rename(folder)  # space is back
        await until(lambda: "pas encore sauvé" in texts(bob), 5, "the change after recovery")


async def test_clean_shutdown_leaves_nothing_running() -> None:
    before = asyncio.all_tasks()
    host, bob = host_node(), joiner_node("Bob")
    async with running(host, bob):
        await join(bob, host)
        bob.connect(LOOPBACK, 1)  # an unreachable address keeps a dialer busy
        await until(lambda: len(host.peers) == 1)
    assert host.running_tasks == 0 and bob.running_tasks == 0
    assert asyncio.all_tasks() - before == set()


async def test_garbage_to_the_listener_does_not_hurt(tmp_path: Path) -> None:
    async with running(host_node(), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        await until(lambda: converged([host, bob]), what="Bob's join to arrive")
        before = host.session.doc.get_heads()
        for payload in (b"\x00\x00\x00\x05hello", b"\xff\xff\xff\xff", b"GET / HTTP/1.0\r\n\r\n"):
            reader, writer = await asyncio.open_connection(LOOPBACK, host.port)
            writer.write(payload)
            await writer.drain()
            await reader.read()  # the host hangs up on us
            writer.close()
        assert host.session.doc.get_heads() == before
        host.session.add_item("note", "toujours là")
        host.local_changed()
        await until(lambda: "toujours là" in texts(bob))


def test_weak_code_is_refused() -> None:
    from sync.codes import InvalidCode

    with pytest.raises(InvalidCode):
        host_node(code="123")
    assert SessionNode  # the module imports without a running loop


def links_known(nodes: list[SessionNode]) -> bool:
    """Every node knows whom each of its peers is linked to (so nobody relays needlessly)."""
    return all(len(node._peers) == len(nodes) - 1 and all(
        p.presence is not None and len(p.presence.links) == len(nodes) - 1
        for p in node._peers.values()) for node in nodes)


def spy_on_sends(node: SessionNode) -> list[tuple[str, object]]:
    """Record (peer name, envelope) for everything ``node`` sends from now on."""
    sent: list[tuple[str, object]] = []
    original = node._send

    def spy(peer, envelope):  # type: ignore[no-untyped-def]
        sent.append((peer.name, envelope))
        original(peer, envelope)

    node._send = spy  # type: ignore[method-assign]
    return sent


async def test_each_change_is_pushed_once_to_each_peer() -> None:
    """In a full mesh a change crosses each link once, from its author, and the sync
    exchange carries none: what made a ten-writer burst slow was every message of the
    exchange carrying the changes the other side had just received from their authors."""
    nodes = [host_node(ping_interval=60), joiner_node("Bob", ping_interval=60),
             joiner_node("Carl", ping_interval=60)]
    async with running(*nodes) as (host, bob, carl):
        for node in (bob, carl):
            await join(node, host)
        await until(lambda: converged(nodes) and links_known(nodes), what="a settled mesh")
        sent = {node.name: spy_on_sends(node) for node in nodes}
        for i in range(50):  # one add per loop turn: pushes cross in both directions
            for node in (host, bob):
                node.session.add_item("note", f"{node.name} {i}")
                node.local_changed()
            await asyncio.sleep(0)
        expected = {f"{n} {i}" for n in ("Anne", "Bob") for i in range(50)}
        await until(lambda: all(expected <= texts(n) for n in nodes), 10, "100 notes everywhere")
        await until(lambda: converged(nodes), what="identical heads")
        for name, mine in (("Anne", 50), ("Bob", 50), ("Carl", 0)):
            pushed = [(to, len(e.changes)) for to, e in sent[name] if isinstance(e, Changes)]
            assert sum(n for _, n in pushed) == 2 * mine, (name, pushed)
            assert {to for to, _ in pushed} == ({"Anne", "Bob", "Carl"} - {name} if mine else set())
            exchanged = [e for _, e in sent[name] if isinstance(e, Sync) and e.data]
            assert not exchanged, (name, exchanged)


async def test_a_change_reaches_a_peer_with_no_link_to_its_author_through_a_relay() -> None:
    """Anne and Carl cannot reach each other (say, two wifi access points): Bob, linked to
    both, passes each one's changes to the other at once."""
    nodes = [host_node(ping_interval=60), joiner_node("Bob", ping_interval=60),
             joiner_node("Carl", ping_interval=60)]
    async with running(*nodes) as (host, bob, carl):
        for node, unreachable in ((host, carl), (carl, host)):
            dial = node.connect

            def only(h: str, p: int, dial=dial, unreachable=unreachable) -> None:  # type: ignore[no-untyped-def]
                if p != unreachable.port:
                    dial(h, p)

            node.connect = only  # type: ignore[method-assign]
        await join(bob, host)
        await join(carl, bob)
        await until(lambda: converged(nodes), what="one session in three places")
        await until(lambda: all(p.presence is not None for n in nodes for p in n._peers.values()),
                    what="presence everywhere")
        assert set(host._peers) == {bob.session.me} and set(carl._peers) == {bob.session.me}
        host.session.add_item("note", "d'Anne")
        host.local_changed()
        carl.session.add_item("note", "de Carl")
        carl.local_changed()
        assert host.flush() and carl.flush()  # both pushes leave now: Bob takes them together
        # Far sooner than a ping (a minute): the relay did it, not the backstop.
        await until(lambda: {"d'Anne", "de Carl"} <= texts(host) & texts(carl), 5,
                    "each note at the other end of the chain")


async def test_a_change_whose_push_was_lost_arrives_with_the_next_ping() -> None:
    """The backstop: a change no push carried (here, made without telling the node) is found
    by the exchange that starts over when a ping shows the documents differ."""
    async with running(host_node(ping_interval=0.2), joiner_node("Bob", ping_interval=0.2)) as (
            host, bob):
        await join(bob, host)
        await until(lambda: converged([host, bob]), what="Bob in step")
        host.session.add_item("note", "jamais poussée")  # no local_changed(): no push
        await until(lambda: "jamais poussée" in texts(bob), 5, "the note at Bob's")
        resets = [e for _, e in spy_on_sends(host) if isinstance(e, Sync) and e.reset]
        await asyncio.sleep(1.0)  # in step now: pings agree and nothing starts over again
        assert not resets


async def test_the_sync_exchange_keeps_one_message_unacknowledged_per_link() -> None:
    """With every push lost, the exchange alone carries two writers' changes: each data
    message waits for the last one's acknowledgement, and both end with everything."""
    nodes = [host_node(ping_interval=0.05), joiner_node("Bob", ping_interval=0.05)]
    async with running(*nodes) as (host, bob):
        await join(bob, host)
        await until(lambda: converged([host, bob]), what="Bob in step")
        sent: dict[str, list[Sync]] = {"Anne": [], "Bob": []}
        for node in (host, bob):
            original = node._send

            def spy(peer, envelope, node=node, original=original):  # type: ignore[no-untyped-def]
                if isinstance(envelope, Changes):
                    return  # lost
                if isinstance(envelope, Sync) and envelope.data:
                    # Everything before this message has been acknowledged.
                    assert peer.acked == envelope.seq - 1, (node.name, peer.acked, envelope.seq)
                    sent[node.name].append(envelope)
                original(peer, envelope)

            node._send = spy  # type: ignore[method-assign]
        for i in range(200):
            for node in (host, bob):
                node.session.add_item("note", f"{node.name} {i}")
                node.local_changed()
            await asyncio.sleep(0)
        expected = {f"{n} {i}" for n in ("Anne", "Bob") for i in range(200)}
        await until(lambda: texts(host) == expected == texts(bob), 20, "all 400 notes on both")
        await until(lambda: converged([host, bob]), what="identical heads")
        for name, messages in sent.items():
            assert messages, name
            assert [m.seq for m in messages] == sorted({m.seq for m in messages}), name


@pytest.mark.parametrize("pushed", [False, True], ids=["in a sync message", "pushed"])
async def test_changes_missing_their_dependencies_are_dropped_and_joiners_still_join(
        pushed: bool) -> None:
    """An insider sends changes without what they depend on: Automerge would hold them for
    good and send a new joiner nothing. The node drops them, and the joiner gets the session."""
    other = Session.create(title="Ailleurs", protocol=builtin_protocols()["codev"], name="Eve")
    base = other.doc.get_heads()
    other.add_item("note", "sans ses fondations")
    # A sync message carrying only the last change, as if we already held the ones before.
    holder = Session(Document.load(other.doc.save()))
    state = SyncState()
    message = holder.doc.generate_sync_message(state)  # opening: heads and bloom
    assert message is not None
    fooled = Session(fork_at(other.doc, base))
    fooled_state = SyncState()
    fooled.doc.receive_sync_message(fooled_state, message)
    reply = fooled.doc.generate_sync_message(fooled_state)
    assert reply is not None
    holder.doc.receive_sync_message(state, reply)
    dangling = holder.doc.generate_sync_message(state)  # carries the note's change alone
    assert dangling is not None

    async with running(host_node()) as (host,):
        # Eve joins with the code, sends it, is answered, and leaves.
        payload = other.doc.get_changes(base)[-1].bytes if pushed else dangling.encode()
        assert await send_as_peer(host.port, [payload], pushed=pushed) == "still open"
        assert host.session.has_dangling_changes()  # held back
        await until(lambda: not host.session.has_dangling_changes(), 5, "the change dropped")
        assert "sans ses fondations" not in texts(host)
        async with running(joiner_node("Bob")) as (bob,):
            await join(bob, host)
            await until(lambda: converged([host, bob]), 10, "Bob holding the session")
        assert host.session.snapshot.info.title == "Séance test"


async def test_a_change_that_waits_a_moment_for_its_dependency_restarts_nothing() -> None:
    """Pushes from two authors cross: a change arrives 1.3 s before the one it depends on.
    Nothing is asked of the peers meanwhile, and both apply when the second comes."""
    async with running(host_node(ping_interval=60), joiner_node("Bob", ping_interval=60)) as (
            host, bob):
        await join(bob, host)
        await until(lambda: converged([host, bob]), what="Bob in step")
        heads = host.session.doc.get_heads()
        eve = Session(host.session.doc.fork())
        eve.add_item("note", "premier")
        eve.add_item("note", "second")
        first, second = eve.changes_since(heads, mine=True)
        sent = spy_on_sends(host)
        assert await send_as_peer(host.port, [second], pushed=True) == "still open"
        assert host.session.has_dangling_changes()
        await asyncio.sleep(1.3)  # past the first look
        assert await send_as_peer(host.port, [first], pushed=True) == "still open"
        await until(lambda: {"premier", "second"} <= texts(host), what="both notes")
        await until(lambda: {"premier", "second"} <= texts(bob), what="relayed to Bob")
        await asyncio.sleep(1.0)  # past the second look
        assert not [e for _, e in sent if isinstance(e, Sync) and e.reset]


async def test_a_change_is_saved_and_pushed_even_while_the_exchange_waits(
        tmp_path: Path) -> None:
    """An unacknowledged sync message holds back the exchange, not a new change: ``flush``
    (a status, a quit) saves it and pushes it at once."""
    path = tmp_path / "bob.cercle"
    async with running(host_node()) as (host,):
        bob = joiner_node("Bob", save_path=path)
        async with running(bob):
            await join(bob, host)
            await until(lambda: converged([host, bob]), what="Bob in step")
            [link] = bob._peers.values()
            link.sent_seq += 1  # as if a message of ours were on its way, unacknowledged
            link.sent_at = asyncio.get_running_loop().time() + 1e9
            bob.session.add_item("note", "dernier mot")
            bob.local_changed()
            assert bob.flush()
            saved = Session(sessionfile.load(path).doc).snapshot.items
            assert "dernier mot" in {item.text for item in saved}
            await until(lambda: "dernier mot" in texts(host), what="the last note at the host's")
            assert link.awaiting(asyncio.get_running_loop().time())  # the exchange still waits


class PanicException(BaseException):
    """Stands for pyo3's PanicException (what a panic inside the binding becomes)."""


class PanickingDoc:
    """A session document whose next ``method`` call panics, as the binding did once."""

    def __init__(self, doc: object, method: str) -> None:
        self._doc, self._method = doc, method

    def __getattr__(self, name: str) -> object:
        if name == self._method:
            self._method = ""

            def panic(*args: object) -> None:
                raise PanicException("called `Result::unwrap()` on an `Err` value: MissingOps")
            return panic
        return getattr(self._doc, name)


@pytest.mark.parametrize("method", ["receive_sync_message", "generate_sync_message"])
async def test_a_panic_in_the_binding_drops_the_link_which_heals(method: str) -> None:
    """The link is dropped and dialled again with a fresh sync state; nothing is lost."""
    async with running(host_node(), joiner_node("Bob")) as (host, bob):
        await join(bob, host)
        await until(lambda: converged([host, bob]), what="Bob in step")
        doc = bob.session.doc
        bob.session.doc = PanickingDoc(doc, method)  # type: ignore[assignment]
        host.session.add_item("note", "après la panique")
        host.local_changed()
        # The next exchange makes Bob take a sync message, or make one.
        [(node, peer)] = [(host, p) for p in host._peers.values()] if method.startswith(
            "receive") else [(bob, p) for p in bob._peers.values()]
        node._reconcile(peer)
        await until(lambda: any("Automerge failed" in e.reason  # type: ignore[attr-defined]
                                for e in recorder(bob).of(LinkProblem)), what="the failure said")
        if isinstance(bob.session.doc, PanickingDoc):  # a failed receive puts back a copy
            bob.session.doc = doc  # type: ignore[assignment]
        bob.session.add_item("note", "et Bob aussi")
        bob.local_changed()
        await until(lambda: {"après la panique", "et Bob aussi"} <= texts(host) & texts(bob),
                    15, "both notes on both sides after the link came back")
