"""Join-code handshake as a sans-IO state machine: fed frame bodies, returns frame bodies.

Each side sends a Spake message (SPAKE2 bound to the session tag), then a Confirm holding an
HMAC of the transcript under a key only the holder of the same code can derive. SPAKE2 never
fails by itself on a wrong code, it just yields different keys, so the Confirm is what tells.

Derivation (changing it breaks compatibility; 3 is ``PROTOCOL_VERSION``): SPAKE2_Symmetric
with idSymmetric "cercle/3/" + tag gives a secret; HKDF-SHA256 (no salt) of it with info
"cercle/3/confirm initiator" / "... responder" gives each role's confirmation key, and "cercle/3/key
initiator->responder" / "... responder->initiator" the session keys. Each Confirm is
HMAC-SHA256 of "cercle/3/transcript" + the length-prefixed (4-byte big-endian) initiator Spake
msg, responder Spake msg and tag.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import ClassVar, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_Symmetric

from sync.codes import normalize_code
from sync.wire import (
    PROTOCOL_VERSION,
    REJECT_BUSY,
    REJECT_VERSION,
    REJECT_WRONG_CODE,
    REJECT_WRONG_SESSION,
    Confirm,
    MalformedFrame,
    Reject,
    Spake,
    UnsupportedVersion,
    decode_handshake,
    encode_handshake,
)

__all__ = [
    "KEY_SIZE",
    "Handshake",
    "HandshakeError",
    "IncompatibleVersion",
    "PeerRejected",
    "SessionKeys",
    "WrongCode",
    "WrongSession",
]

KEY_SIZE: Final = 32

_DOMAIN: Final = b"cercle/%d/" % PROTOCOL_VERSION
_CONFIRM_INITIATOR: Final = _DOMAIN + b"confirm initiator"
_CONFIRM_RESPONDER: Final = _DOMAIN + b"confirm responder"
_KEY_INITIATOR_TO_RESPONDER: Final = _DOMAIN + b"key initiator->responder"
_KEY_RESPONDER_TO_INITIATOR: Final = _DOMAIN + b"key responder->initiator"
_TRANSCRIPT: Final = _DOMAIN + b"transcript"

_PEER_REASONS: Final = {
    REJECT_WRONG_CODE: "the other side says the join code is wrong",
    REJECT_WRONG_SESSION: "the other side is not hosting this session",
    REJECT_VERSION: "the other side runs an incompatible version of Cercle",
    REJECT_BUSY: "the other side is busy; try again in a moment",
}


class HandshakeError(Exception):
    """The handshake cannot complete; str(error) says why in plain English.

    reject_reason is what to send the peer (via Handshake.reject_frame) before closing, or None
    when the peer should not be told anything.
    """

    reject_reason: ClassVar[str | None] = "protocol"


class WrongCode(HandshakeError):
    """The peer's key confirmation does not match: the two sides typed different codes."""

    reject_reason = REJECT_WRONG_CODE


class WrongSession(HandshakeError):
    """The peer is in another session (its tag differs from ours)."""

    reject_reason = REJECT_WRONG_SESSION


class IncompatibleVersion(HandshakeError):
    """The peer speaks another protocol version."""

    reject_reason = REJECT_VERSION


class PeerRejected(HandshakeError):
    """The peer sent a Reject; .reason is its machine-readable reason."""

    reject_reason = None

    def __init__(self, reason: str) -> None:
        self.reason = reason
        # The reason comes from an unauthenticated peer: show unknown ones short and quoted.
        super().__init__(_PEER_REASONS.get(reason, f"the other side refused: {reason[:80]!r}"))


@dataclass(frozen=True)
class SessionKeys:
    """One key per direction; a peer's send_key is the other side's recv_key."""

    send_key: bytes = field(repr=False)
    recv_key: bytes = field(repr=False)


class _State(enum.Enum):
    NEW = "not started"
    WAIT_SPAKE = "waiting for the peer's key exchange message"
    WAIT_CONFIRM = "waiting for the peer's key confirmation"
    DONE = "finished"
    FAILED = "failed"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(secret)


def _hmac(key: bytes, data: bytes) -> hmac.HMAC:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac


def _length_prefixed(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


class Handshake:
    """One side of the join-code handshake; exactly one of the two sides is the initiator.

    Call start() and send its result, then feed each frame body from the peer to receive() and
    send what it returns, until done. Any HandshakeError leaves the machine failed.
    """

    def __init__(self, code: str, tag: str, initiator: bool) -> None:
        self._tag = tag
        self._initiator = initiator
        self._spake = SPAKE2_Symmetric(
            normalize_code(code).encode("utf-8"), idSymmetric=_DOMAIN + tag.encode("utf-8")
        )
        self._state = _State.NEW
        self._outbound = b""
        self._peer_confirm_key = b""
        self._transcript = b""
        self._pending_keys: SessionKeys | None = None
        self._keys: SessionKeys | None = None

    @property
    def done(self) -> bool:
        """True once the peer has proved it knows the code."""
        return self._state is _State.DONE

    @property
    def keys(self) -> SessionKeys:
        """The session keys; raises HandshakeError until done."""
        if self._keys is None:
            raise HandshakeError(f"no session keys yet: the handshake is {self._state.value}")
        return self._keys

    def start(self) -> bytes:
        """Return the first frame body to send (our Spake message)."""
        if self._state is not _State.NEW:
            raise HandshakeError("start() was already called")
        self._outbound = self._spake.start()
        self._state = _State.WAIT_SPAKE
        return encode_handshake(Spake(version=PROTOCOL_VERSION, tag=self._tag, msg=self._outbound))

    def receive(self, body: bytes) -> list[bytes]:
        """Process one frame body from the peer and return the frame bodies to send back."""
        if self._state in (_State.NEW, _State.DONE, _State.FAILED):
            raise HandshakeError(
                f"cannot receive a handshake message: the handshake is {self._state.value}"
            )
        try:
            return self._receive(body)
        except HandshakeError:
            self._state = _State.FAILED
            self._pending_keys = None
            raise

    def reject_frame(self, reason: str) -> bytes:
        """Return a Reject frame body to send before closing; the handshake counts as failed."""
        if self._state is not _State.DONE:
            self._state = _State.FAILED
            self._pending_keys = None
        return encode_handshake(Reject(reason=reason))

    def _receive(self, body: bytes) -> list[bytes]:
        try:
            msg = decode_handshake(body)
        except UnsupportedVersion as exc:
            raise IncompatibleVersion(str(exc)) from exc
        except MalformedFrame as exc:
            raise HandshakeError(f"the peer sent a malformed handshake message ({exc})") from exc
        match msg:
            case Reject(reason=reason):
                raise PeerRejected(reason)
            case Spake() if self._state is _State.WAIT_SPAKE:
                return [self._on_spake(msg)]
            case Confirm() if self._state is _State.WAIT_CONFIRM:
                self._on_confirm(msg)
                return []
            case _:
                raise HandshakeError(
                    f"unexpected {type(msg).__name__} message while {self._state.value}"
                )

    def _on_spake(self, msg: Spake) -> bytes:
        if msg.tag != self._tag:
            raise WrongSession(f"the peer is in session {msg.tag[:40]!r}, not {self._tag[:40]!r}")
        # Checked here rather than left to spake2, whose length checks are assertions.
        if len(msg.msg) != len(self._outbound):
            raise HandshakeError("the peer's key exchange message has the wrong length")
        try:
            secret: bytes = self._spake.finish(msg.msg)
        except Exception as exc:
            # spake2 reports a bad point, a reflected message or a wrong side byte with assorted
            # exception types (ValueError, NotOnCurve, SPAKEError...): all mean a hostile peer.
            raise HandshakeError(
                f"the peer's key exchange message is invalid ({type(exc).__name__})"
            ) from exc

        ours, theirs = self._outbound, msg.msg
        first, second = (ours, theirs) if self._initiator else (theirs, ours)
        self._transcript = _TRANSCRIPT + _length_prefixed(first, second, self._tag.encode())
        # Each role confirms under its own key, so a Confirm reflected back at us never verifies.
        initiator_key = _hkdf(secret, _CONFIRM_INITIATOR)
        responder_key = _hkdf(secret, _CONFIRM_RESPONDER)
        my_key, self._peer_confirm_key = (
            (initiator_key, responder_key) if self._initiator else (responder_key, initiator_key)
        )
        i2r = _hkdf(secret, _KEY_INITIATOR_TO_RESPONDER)
        r2i = _hkdf(secret, _KEY_RESPONDER_TO_INITIATOR)
        self._pending_keys = (
            SessionKeys(send_key=i2r, recv_key=r2i)
            if self._initiator
            else SessionKeys(send_key=r2i, recv_key=i2r)
        )
        self._state = _State.WAIT_CONFIRM
        return encode_handshake(Confirm(mac=_hmac(my_key, self._transcript).finalize()))

    def _on_confirm(self, msg: Confirm) -> None:
        try:
            _hmac(self._peer_confirm_key, self._transcript).verify(msg.mac)  # constant time
        except InvalidSignature:
            raise WrongCode(
                "the join code does not match the other side's; check it and try again"
            ) from None
        self._keys = self._pending_keys
        self._pending_keys = None
        self._state = _State.DONE
