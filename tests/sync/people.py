"""People for replication tests: a creator with her session, and members she admitted.

Every test builds its sessions here, so that what a session is (its id committing to the
creator's key, item keys that start with their author's id) has one home in the tests.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from model import ops
from model.keys import Identity, admission_message, new_nonce, session_id_for
from model.protocols import builtin_protocols
from model.session import Session
from sync.handshake import Anchor

CODE = "4821-9130"
_counter = itertools.count(1)


@dataclass
class Person:
    name: str
    identity: Identity
    admission: bytes = b""

    @property
    def actor(self) -> bytes:
        return self.identity.actor

    @property
    def me(self) -> str:
        return self.identity.me


def creator(name: str = "Anne", title: str = "Séance test",
            protocol: str = "codev") -> tuple[Person, Session, Anchor]:
    """A creator, the session she opened (facilitator), and its anchor."""
    person = Person(name, Identity.generate())
    nonce = new_nonce()
    session_id = session_id_for(person.actor, nonce)
    doc = ops.create_session(actor=person.actor, session_id=session_id, title=title,
                             protocol=builtin_protocols()[protocol], name=name,
                             now=int(time.time() * 1000))
    return person, Session(doc, actor=person.actor), Anchor(session_id, person.actor, nonce)


def member(name: str, anchor: Anchor, by: Person) -> Person:
    """Someone the creator ``by`` admitted into the session of ``anchor``."""
    identity = Identity.generate()
    return Person(name, identity, by.identity.sign(
        admission_message(anchor.session_id, identity.actor)))


def session_of(person: Person, doc: object) -> Session:
    """``person``'s replica of a document received whole."""
    return Session(doc, actor=person.actor)  # type: ignore[arg-type]


def add(session: Session, text: str, kind: str = "question") -> str:
    """Add an item the way the app does (its key starts with its author's id)."""
    item_id = session.actor.hex()[:32] + f"{next(_counter):016x}"
    ops.add_item(session.doc, actor=session.actor, kind=kind, text=text,
                 phase=session.snapshot.control.phase.index, now=int(time.time() * 1000),
                 item_id=item_id)
    session.refresh()
    return item_id


def texts(session: Session | None) -> set[str]:
    return {item.text for item in session.snapshot.items} if session is not None else set()
