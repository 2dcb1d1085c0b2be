"""People for replication tests: a creator with her session, and members she admitted.

Every test builds its sessions here, so that what a session is (its id committing to the
creator's key, item keys that start with their author's id) has one home in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.keys import Identity, admission_message
from model.protocols import builtin_protocols
from model.session import Session
from sync.handshake import Anchor
from tests.conftest import open_to_all

CODE = "4821-9130"


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


def creator(name: str = "Anne", title: str = "Séance test", protocol: str = "codev",
            *, any_kind: bool = True) -> tuple[Person, Session, Anchor]:
    """A creator, the session she opened (facilitator), and its anchor. With ``any_kind``
    the protocol takes any kind in any phase (replication tests add what they like;
    ``model.rules`` has its own tests)."""
    person = Person(name, Identity.generate())
    template = builtin_protocols()[protocol]
    session = Session.create(title=title, protocol=open_to_all(template) if any_kind
                             else template, name=name, identity=person.identity)
    info = session.snapshot.info
    return person, session, Anchor(info.id, info.creator_key, info.nonce)


def member(name: str, anchor: Anchor, by: Person) -> Person:
    """Someone the creator ``by`` admitted into the session of ``anchor``."""
    identity = Identity.generate()
    return Person(name, identity, by.identity.sign(
        admission_message(anchor.session_id, identity.actor)))


def session_of(person: Person, doc: object) -> Session:
    """``person``'s replica of a document received whole."""
    return Session(doc, identity=person.identity)  # type: ignore[arg-type]


def add(session: Session, text: str, kind: str = "question") -> str:
    """Add an item the way the app does."""
    return session.add_item(kind, text)


def texts(session: Session | None) -> set[str]:
    return {item.text for item in session.snapshot.items} if session is not None else set()
