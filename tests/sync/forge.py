"""A modified client's tools: changes written as anyone, signed by whoever holds a key.

A hostile participant is not bound by ``model.session``: it can write any op into its
replica under any actor id, and send any envelope on its links. These helpers make such
changes; the tests send them with ``SimPeer.send`` (or over a real link) and check that
honest laptops refuse them.
"""

from __future__ import annotations

from collections.abc import Callable

from automerge.core import Document

from model.keys import Identity, change_message
from model.session import Session
from sync.handshake import Anchor
from sync.wire import Changes, SignedHead

Write = Callable[[object], None]  # gets the open transaction


def change_as(session: Session, actor: bytes, write: Write) -> bytes:
    """One change made on a copy of ``session``'s document under ``actor`` (anyone's id):
    its encoded bytes. The copy is thrown away; the session is untouched."""
    copy: Document = session.doc.fork()
    copy.set_actor(actor)
    with copy.transaction() as tx:
        write(tx)
    last = copy.get_last_local_change()
    assert last is not None
    return last.bytes


def change_hash(session: Session, actor: bytes, write: Write) -> tuple[bytes, bytes]:
    copy: Document = session.doc.fork()
    copy.set_actor(actor)
    with copy.transaction() as tx:
        write(tx)
    last = copy.get_last_local_change()
    assert last is not None
    return last.bytes, last.hash


def signed(identity: Identity, anchor: Anchor, change_hash: bytes,
           actor: bytes | None = None) -> SignedHead:
    """``identity``'s signature of a change; ``actor`` may claim someone else's key."""
    return SignedHead(actor or identity.actor, change_hash,
                      identity.sign(change_message(anchor.session_id, change_hash)))


def push(data: bytes, *heads: SignedHead) -> Changes:
    return Changes(changes=[data], heads=list(heads))
