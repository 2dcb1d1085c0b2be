"""Keys and what they prove: the identities of a session and its signatures.

Every laptop has one Ed25519 key per session (``Identity``). Its public key
*is* its Automerge actor id (32 bytes), so an op id names the key that wrote
it and no table can bind a key to someone else's actor. The session id
commits to its creator's public key (``session_id_for``), so a reader who
knows the session id knows the creator, whatever the document says. Every
signature is taken over a domain-separated message (``cercle/<what>/1``), so
a signature made for one purpose never verifies for another.

Nothing here talks to the network or the disk: the identity store keeps the
private keys (``tui.identity``), the sync layer signs and checks changes and
links with these functions.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "SIGNATURE_SIZE",
    "Identity",
    "admission_message",
    "change_message",
    "control_message",
    "is_actor_key",
    "new_nonce",
    "session_id_for",
    "session_tag",
    "verify",
]

KEY_SIZE: Final = 32  # an Ed25519 public key, and so an actor id
SIGNATURE_SIZE: Final = 64
NONCE_SIZE: Final = 16  # the creator's random part of a session id

_SESSION: Final = b"cercle/session/1\x00"
_TAG: Final = b"cercle/tag/1\x00"
_CHANGE: Final = b"cercle/change/1\x00"
_CONTROL: Final = b"cercle/control/1\x00"
_ADMISSION: Final = b"cercle/admission/1\x00"


class Identity:
    """One laptop's signing key in one session; ``actor`` is its public key."""

    __slots__ = ("_private", "actor")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.actor: bytes = private.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> Identity:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, seed: bytes) -> Identity:
        """The identity whose 32-byte private seed is ``seed`` (ValueError otherwise)."""
        if len(seed) != KEY_SIZE:
            raise ValueError(f"a private key is {KEY_SIZE} bytes, not {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def to_bytes(self) -> bytes:
        """The private seed, for the identity store (keep it private: file mode 0600)."""
        return self._private.private_bytes_raw()

    @property
    def me(self) -> str:
        """The participant id: the actor (public key) in hex."""
        return self.actor.hex()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:  # never the private key
        return f"Identity({self.me[:16]}…)"


def is_actor_key(actor: bytes) -> bool:
    """Whether ``actor`` can be a Cercle actor id (an Ed25519 public key's length)."""
    return len(actor) == KEY_SIZE


def verify(actor: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``actor``'s signature of ``message`` (False on any bad input)."""
    if len(actor) != KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(actor).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_SIZE)


def session_id_for(creator: bytes, nonce: bytes) -> str:
    """The session id that commits to its creator's public key (32 hex characters)."""
    return hashlib.sha256(_SESSION + creator + nonce).hexdigest()[:32]


def session_tag(session_id: str) -> str:
    """The public tag a session is announced and dialled by (16 hex characters).

    Derived from the session id, so it commits to the creator's key too: a
    laptop restarted from its file announces the same tag, and an impostor
    announcing it cannot prove the key behind it.
    """
    return hashlib.sha256(_TAG + session_id.encode("ascii")).hexdigest()[:16]


def change_message(session_id: str, change_hash: bytes) -> bytes:
    """What an author signs to say the change ``change_hash`` is theirs, in this session."""
    return _CHANGE + session_id.encode("ascii") + b"\x00" + change_hash


def control_message(session_id: str, canonical_event: bytes) -> bytes:
    """What the facilitator signs for one control event (its canonical encoding)."""
    return _CONTROL + session_id.encode("ascii") + b"\x00" + canonical_event


def admission_message(session_id: str, member: bytes) -> bytes:
    """What the creator signs to admit the laptop whose public key is ``member``."""
    return _ADMISSION + session_id.encode("ascii") + b"\x00" + member
