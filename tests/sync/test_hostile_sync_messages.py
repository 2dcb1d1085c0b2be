"""Hostile Automerge sync messages: only clean errors, and the document stays as it was.

An authenticated peer (someone with the code, or a buggy client) can send any
bytes inside a ``Sync`` envelope. Fed random, truncated and mutated copies of
genuine sync messages:

- ``Session.receive_sync_message`` either applies a message that still holds
  together, or raises an ``Exception`` (the binding's bare one, never a Rust
  panic, which Python sees as a ``BaseException``) and leaves the document,
  its heads and its snapshot exactly as they were;
- ``Session.apply_changes`` does the same with pushed changes;
- a running ``SessionNode`` closes the offending link, keeps its document,
  and goes on serving other peers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from automerge.core import Message, SyncState
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from model.protocols import builtin_protocols
from model.session import Session
from sync.events import LinkProblem
from tests.conftest import open_to_all
from tests.sync.mesh import (
    converged,
    host_node,
    join,
    joiner_node,
    recorder,
    running,
    send_as_peer,
)
from tests.sync.test_hostile_input import mutated

OPEN_CODEV = open_to_all(builtin_protocols()["codev"])  # any kind, any phase


def _genuine_messages() -> list[bytes]:
    """Every message of a real exchange: a replica with items meeting an empty one."""
    ours = Session.create(title="Séance", protocol=OPEN_CODEV, name="Anne")
    for i in range(6):
        ours.add_item("question", f"Question {i} ?")
    theirs = Session.empty()
    theirs.doc.merge(ours.doc.fork())  # share the start, then diverge
    theirs.refresh()
    theirs.join("Bob")
    theirs.add_item("advice", "Un conseil")
    messages = []
    a, b = SyncState(), SyncState()
    for _ in range(10):
        sent = False
        for sender, receiver, out, into in ((ours, theirs, a, b), (theirs, ours, b, a)):
            message = sender.generate_sync_message(out)
            if message is not None:
                messages.append(message.encode())
                receiver.receive_sync_message(into, message)
                sent = True
        if not sent:
            break
    return messages


def _genuine_changes() -> list[bytes]:
    """The changes a replica pushes: a session made from nothing, then items added."""
    ours = Session.create(title="Séance", protocol=OPEN_CODEV, name="Anne")
    for i in range(3):
        ours.add_item("question", f"Question {i} ?")
    return [change.bytes for change in ours.doc.get_changes([])]


def _damaged(genuine: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=300) | mutated(genuine) | st.sampled_from(genuine).flatmap(
        lambda m: st.integers(min_value=0, max_value=len(m) - 1).map(lambda n: m[:n]))


GENUINE = _genuine_messages()
GENUINE_CHANGES = _genuine_changes()
hostile = _damaged(GENUINE)
hostile_changes = _damaged(GENUINE_CHANGES)


def _target() -> Session:
    session = Session.create(title="Cible", protocol=OPEN_CODEV, name="Zoé")
    session.add_item("note", "déjà là")
    return session


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile, fresh_state=st.booleans())
@example(data=b"", fresh_state=True)
@example(data=b"\x42", fresh_state=True)
@example(data=GENUINE[-1][:-1], fresh_state=True)
def test_session_takes_hostile_sync_messages_cleanly(data: bytes, fresh_state: bool) -> None:
    session = _target()
    state = SyncState()
    if not fresh_state:  # a state that has already exchanged with someone
        peer = Session(session.doc.fork())
        peer_state = SyncState()
        message = peer.generate_sync_message(peer_state)
        assert message is not None
        session.receive_sync_message(state, message)
    takes_cleanly(session, lambda: session.receive_sync_message(state, Message.decode(data)))


def takes_cleanly(session: Session, take: Callable[[], bool]) -> None:
    """``take`` (hostile input) applies and holds together, or raises and changes nothing."""
    heads, saved, snapshot = session.doc.get_heads(), session.save(), session.snapshot
    try:
        changed = take()
    except Exception:  # the binding's bare Exception is the clean error here
        event("refused")
        assert session.doc.get_heads() == heads
        assert session.save() == saved
        assert session.snapshot == snapshot
        return
    event("applied, changed" if changed else "applied, no change")
    # It held together: whatever it applied, the snapshot must read like a fresh replica's.
    assert changed == (session.doc.get_heads() != heads)
    assert session.snapshot == Session(session.doc.fork()).snapshot


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(hostile_changes, min_size=1, max_size=3),
       genuine=st.lists(st.sampled_from(GENUINE_CHANGES), max_size=3))
@example(changes=[b""], genuine=[])
@example(changes=[GENUINE_CHANGES[-1][:-1]], genuine=GENUINE_CHANGES[:-1])
def test_session_takes_hostile_pushed_changes_cleanly(changes: list[bytes],
                                                      genuine: list[bytes]) -> None:
    """Pushed changes, damaged and mixed with genuine ones: applied if they hold together,
    else refused with the document, its heads and its snapshot as they were."""
    session = _target()
    takes_cleanly(session, lambda: session.apply_changes([*genuine, *changes]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(hostile | hostile_changes, min_size=1, max_size=3), pushed=st.booleans())
@example(payloads=[b"\x00garbage"], pushed=False)
@example(payloads=[b"\x00garbage"], pushed=True)
def test_node_drops_a_link_that_sends_hostile_sync_messages(payloads: list[bytes],
                                                            pushed: bool) -> None:
    async def scenario() -> None:
        async with running(host_node()) as (host,):
            host.session.add_item("note", "déjà là")
            host.local_changed()
            before = host.session.save()
            reason = await send_as_peer(host.port, payloads, pushed=pushed)
            event("link still open" if reason == "still open" else "link dropped")
            problems = [e.reason for e in recorder(host).of(LinkProblem)]  # type: ignore[attr-defined]
            if reason == "still open":
                assert not problems, problems
            else:
                said = "bad changes from Fuzz" if pushed else "bad sync message from Fuzz"
                assert any(said in p for p in problems), (reason, problems)
                assert host.session.save() == before, "a rejected message changed the document"
            # Whatever was taken held together: the replica reads like a fresh one.
            assert host.session.snapshot == Session(host.session.doc.fork()).snapshot
            async with running(joiner_node("Bob")) as (bob,):  # the node still serves
                await join(bob, host)
                async with asyncio.timeout(10):
                    while not converged([host, bob]):
                        await asyncio.sleep(0.01)

    asyncio.run(scenario())
