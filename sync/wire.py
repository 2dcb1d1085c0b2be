"""Framing and typed messages exchanged between peers (no I/O here).

A frame is a 4-byte big-endian length followed by that many bytes of body. During the
handshake a body is one msgpack-encoded handshake message in plaintext; afterwards it is a
SecureChannel ciphertext whose plaintext is one msgpack-encoded envelope.
"""

from __future__ import annotations

import struct
from typing import Annotated, Final

import msgspec

__all__ = [
    "HANDSHAKE_MAX_FRAME",
    "MAX_FRAME",
    "MAX_PING_HEADS",
    "PROTOCOL_VERSION",
    "REJECT_BUSY",
    "REJECT_VERSION",
    "REJECT_WRONG_CODE",
    "REJECT_WRONG_SESSION",
    "Bye",
    "Changes",
    "Confirm",
    "Envelope",
    "FrameDecoder",
    "FrameTooLarge",
    "HandshakeMsg",
    "Hello",
    "MalformedFrame",
    "Peers",
    "Ping",
    "Pong",
    "Presence",
    "Reject",
    "Spake",
    "Sync",
    "UnsupportedVersion",
    "WireError",
    "decode_envelope",
    "decode_handshake",
    "encode_envelope",
    "encode_frame",
    "encode_handshake",
]

PROTOCOL_VERSION: Final = 3
MAX_FRAME: Final = 8 * 1024 * 1024
MAX_PING_HEADS: Final = 256  # concurrent heads a ping may carry (more are left out)
# Handshake messages are a few dozen bytes; a listener can hold unauthenticated peers to this
# much smaller limit so a stranger cannot make it buffer megabytes.
HANDSHAKE_MAX_FRAME: Final = 4096

_LENGTH = struct.Struct(">I")

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class WireError(Exception):
    """Bytes from a peer that cannot be framed or decoded; str(error) is the reason."""


class FrameTooLarge(WireError):
    """A frame is longer than the allowed maximum."""


class MalformedFrame(WireError):
    """A frame body is not a valid message."""


class UnsupportedVersion(WireError):
    """The peer speaks another protocol version."""


# --- Handshake phase: plaintext, before any key exists --------------------------------------


class Spake(msgspec.Struct, frozen=True, tag=True):
    """First message from each side: a SPAKE2 message bound to the host's session tag."""

    version: int
    tag: str
    msg: bytes


class Confirm(msgspec.Struct, frozen=True, tag=True):
    """Key confirmation: proves the sender derived the same key, hence knew the code."""

    mac: bytes


class Reject(msgspec.Struct, frozen=True, tag=True):
    """Sent before closing to say why, usually one of the REJECT_* reasons."""

    reason: str


REJECT_WRONG_CODE: Final = "wrong-code"
REJECT_WRONG_SESSION: Final = "wrong-session"
REJECT_VERSION: Final = "version"
REJECT_BUSY: Final = "busy"


HandshakeMsg = Spake | Confirm | Reject

# --- Session envelopes: sent inside the encrypted channel -----------------------------------


class Hello(msgspec.Struct, frozen=True, tag=True):
    """First envelope from each side once the channel is up."""

    version: int
    peer_id: str
    name: str
    listen_port: Port | None
    is_host: bool


class Sync(msgspec.Struct, frozen=True, tag=True):
    """One Automerge sync message, numbered so the receiver can acknowledge it.

    ``seq`` numbers the messages of one link in one direction (from 1); ``ack``
    is the last ``seq`` received from the other side. A frame with empty
    ``data`` only acknowledges. A sender keeps at most one message unacknowledged
    per link: the next one carries everything that happened meanwhile, instead
    of Automerge sending the same changes again on every crossing message.
    """

    data: bytes
    seq: Annotated[int, msgspec.Meta(ge=0)] = 0
    ack: Annotated[int, msgspec.Meta(ge=0)] = 0
    # The sender starts the exchange over from nothing (a fresh ``SyncState``): so does
    # the receiver, and the round costs two Bloom filters instead of a stale guess.
    reset: bool = False


class Changes(msgspec.Struct, frozen=True, tag=True):
    """Automerge changes pushed as soon as they exist, outside the sync exchange.

    The author pushes its own changes to every peer; a peer relays what it
    received to the peers with no link to the sender. Each change is the
    binding's encoded change chunk; one whose dependencies have not arrived
    waits for them. The sync exchange stays the authority: it runs when a link
    comes up and whenever the two documents may differ, so a lost push is only late.
    """

    changes: list[bytes]


class Presence(msgspec.Struct, frozen=True, tag=True):
    """Ephemeral state of one participant; never written to the session file."""

    peer_id: str
    name: str
    hand_raised: bool = False
    hand_raised_at: float | None = None
    done_phase: int | None = None
    typing: bool = False
    links: tuple[str, ...] = ()  # peer ids this peer is linked to (so others need not relay)


class Peers(msgspec.Struct, frozen=True, tag=True):
    """Addresses of other peers in the session, so the mesh can fill itself in."""

    addrs: list[tuple[str, Port]]


class Ping(msgspec.Struct, frozen=True, tag=True):
    """Liveness and clock probe; answered by a Pong echoing nonce and sent."""

    nonce: int
    sent: float
    # The sender's document heads: a peer that has the same need not start a sync over.
    heads: Annotated[list[bytes], msgspec.Meta(max_length=MAX_PING_HEADS)] = []


class Pong(msgspec.Struct, frozen=True, tag=True):
    """Answer to a Ping, with the answerer's clock so offsets can be estimated."""

    nonce: int
    sent: float
    peer_time: float


class Code(msgspec.Struct, frozen=True, tag=True):
    """The facilitator rotated the join code: every peer accepts newcomers with this one."""

    code: str
    by: str


class Bye(msgspec.Struct, frozen=True, tag=True):
    """The sender is leaving on purpose; the receiver should not try to reconnect."""

    reason: str = ""


Envelope = Hello | Sync | Changes | Presence | Peers | Ping | Pong | Code | Bye

# msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8 in a string
# (msgspec/msgspec#714), so both mean "malformed" here.
_DECODE_ERRORS: Final = (msgspec.DecodeError, UnicodeDecodeError)

_encoder: Final = msgspec.msgpack.Encoder()
# msgspec's stubs cannot infer a Decoder's type from a union, hence the explicit annotations.
_handshake_decoder: Final[msgspec.msgpack.Decoder[HandshakeMsg]] = msgspec.msgpack.Decoder(
    HandshakeMsg
)
_envelope_decoder: Final[msgspec.msgpack.Decoder[Envelope]] = msgspec.msgpack.Decoder(Envelope)


def _check_version(version: int) -> None:
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(
            f"peer speaks protocol version {version}, this program speaks {PROTOCOL_VERSION}"
        )


def encode_handshake(msg: HandshakeMsg) -> bytes:
    """Encode one handshake message as a frame body."""
    return _encoder.encode(msg)


def decode_handshake(data: bytes) -> HandshakeMsg:
    """Decode one handshake frame body; raises MalformedFrame or UnsupportedVersion."""
    try:
        msg = _handshake_decoder.decode(data)
    except _DECODE_ERRORS as exc:
        raise MalformedFrame(f"bad handshake message: {exc}") from exc
    if isinstance(msg, Spake):
        _check_version(msg.version)
    return msg


def encode_envelope(env: Envelope) -> bytes:
    """Encode one session envelope (the plaintext given to SecureChannel.seal)."""
    return _encoder.encode(env)


def decode_envelope(data: bytes) -> Envelope:
    """Decode one envelope; raises MalformedFrame or UnsupportedVersion."""
    try:
        env = _envelope_decoder.decode(data)
    except _DECODE_ERRORS as exc:
        raise MalformedFrame(f"bad envelope: {exc}") from exc
    if isinstance(env, Hello):
        _check_version(env.version)
    return env


# --- Framing -------------------------------------------------------------------------------


def encode_frame(body: bytes) -> bytes:
    """Prefix body with its 4-byte big-endian length; raises FrameTooLarge past MAX_FRAME."""
    if len(body) > MAX_FRAME:
        raise FrameTooLarge(f"frame of {len(body)} bytes exceeds the {MAX_FRAME}-byte limit")
    return _LENGTH.pack(len(body)) + body


class FrameDecoder:
    """Split a byte stream into frame bodies, buffering any partial frame.

    Once an error has been raised the stream is out of step, so every later feed raises it again.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if not 0 <= max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be between 0 and {MAX_FRAME}, not {max_frame}")
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._start = 0  # bytes at the front of the buffer already popped
        self._error: WireError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame (non-zero at end of stream means it was cut)."""
        return len(self._buffer) - self._start

    @property
    def max_frame(self) -> int:
        return self._max_frame

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        """Change the limit for the frames not yet popped (raised once a peer is trusted)."""
        if not 0 <= value <= MAX_FRAME:
            raise ValueError(f"max_frame must be between 0 and {MAX_FRAME}, not {value}")
        self._max_frame = value

    def push(self, data: bytes) -> None:
        """Add bytes from the stream; take the frames out with ``pop``."""
        if self._error is not None:
            raise self._error
        if self._start:
            # Compact only when new bytes come, so popping many small frames stays linear.
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    def pop(self) -> bytes | None:
        """The next complete frame body, or None until more bytes arrive."""
        if self._error is not None:
            raise self._error
        start = self._start
        if len(self._buffer) - start < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer, start)
        if length > self._max_frame:
            # Checked before waiting for the body, so a hostile prefix costs nothing.
            self._error = FrameTooLarge(
                f"peer announced a {length}-byte frame; the limit is {self._max_frame}"
            )
            self._buffer.clear()
            self._start = 0
            raise self._error
        end = start + _LENGTH.size + length
        if len(self._buffer) < end:
            return None
        self._start = end
        return bytes(self._buffer[start + _LENGTH.size : end])

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes from the stream and return every frame body completed by them, in order."""
        self.push(data)
        bodies: list[bytes] = []
        while (body := self.pop()) is not None:
            bodies.append(body)
        return bodies
