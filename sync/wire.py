"""Framing and typed messages exchanged between peers (no I/O here).

A frame is a 4-byte big-endian length followed by that many bytes of body. During the
handshake a body is one msgpack-encoded handshake message in plaintext; afterwards it is a
SecureChannel ciphertext whose plaintext is one msgpack-encoded envelope.

Everything here comes from another laptop, so every field is bounded where it is declared:
lengths of bytes, strings and lists, ranges of numbers, and times that must be finite. A
value out of bounds makes the whole message malformed, which drops the connection; nothing
past this module ever sees it.
"""

from __future__ import annotations

import struct
from typing import Annotated, Final

import msgspec

__all__ = [
    "HANDSHAKE_MAX_FRAME",
    "MAX_FRAME",
    "MAX_HEADS",
    "PROTOCOL_VERSION",
    "REJECT_BUSY",
    "REJECT_NOT_ADMITTING",
    "REJECT_NOT_A_MEMBER",
    "REJECT_VERSION",
    "REJECT_WRONG_CODE",
    "REJECT_WRONG_SESSION",
    "Bye",
    "Certificate",
    "Changes",
    "Code",
    "Confirm",
    "Document",
    "Envelope",
    "FrameDecoder",
    "FrameTooLarge",
    "HandshakeMsg",
    "Have",
    "Hello",
    "Join",
    "KeyHello",
    "KeyProof",
    "MalformedFrame",
    "Offer",
    "Peer",
    "Peers",
    "Ping",
    "Pong",
    "Presence",
    "Reject",
    "Report",
    "SignedHead",
    "Spake",
    "UnsupportedVersion",
    "Welcome",
    "WireError",
    "decode_envelope",
    "decode_handshake",
    "encode_envelope",
    "encode_frame",
    "encode_handshake",
]

PROTOCOL_VERSION: Final = 4
MAX_FRAME: Final = 8 * 1024 * 1024
MAX_HEADS: Final = 256  # concurrent heads a ping may carry (more are left out)
MAX_ACTORS: Final = 1024  # participants a session may hold, as far as any message is concerned
MAX_CHANGES: Final = 100_000  # changes in one frame
# Handshake messages are a few dozen bytes; a listener holds unauthenticated peers to this
# much smaller limit so a stranger cannot make it buffer megabytes.
HANDSHAKE_MAX_FRAME: Final = 4096

_LENGTH = struct.Struct(">I")

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Key = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]  # an actor: a public key
Hash = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]  # a change hash
Signature = Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern="^[0-9a-f]+$")]
Reason = Annotated[str, msgspec.Meta(max_length=200)]
# Wall-clock seconds since 1970: finite and between 1970 and about the year 5138. msgspec
# refuses NaN and infinities against these bounds, so nothing downstream sees them.
WallTime = Annotated[float, msgspec.Meta(ge=0.0, le=1e11)]
Seconds = Annotated[float, msgspec.Meta(ge=0.0, le=3600.0)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class WireError(Exception):
    """Bytes from a peer that cannot be framed or decoded; str(error) is the reason."""


class FrameTooLarge(WireError):
    """A frame is longer than the allowed maximum."""


class MalformedFrame(WireError):
    """A frame body is not a valid message."""


class UnsupportedVersion(WireError):
    """The peer speaks another protocol version."""


# --- Handshake phase: plaintext, before any key exists --------------------------------------
# The listener speaks first (Offer). A laptop already in the session answers KeyHello and
# both prove their keys (KeyProof); a newcomer answers Spake and proves it knows the join
# code (Spake, Confirm), which only the laptop that admits newcomers accepts.


class Offer(msgspec.Struct, frozen=True, tag=True):
    """The listener's first message: which session, an ephemeral X25519 key, and whether
    this laptop admits newcomers (only the session's creator does)."""

    version: int
    tag: Tag
    eph: Key
    admits: bool = False


class KeyHello(msgspec.Struct, frozen=True, tag=True):
    """A member's answer to an Offer: its own ephemeral X25519 key."""

    eph: Key


class KeyProof(msgspec.Struct, frozen=True, tag=True):
    """A member's public key, the creator's admission of it (empty for the creator) and its
    signature of the handshake transcript, binding the key to this connection."""

    key: Key
    admission: Annotated[bytes, msgspec.Meta(max_length=64)]
    sig: Signature


class Spake(msgspec.Struct, frozen=True, tag=True):
    """A SPAKE2 message (a newcomer's, then the admitting laptop's)."""

    msg: Annotated[bytes, msgspec.Meta(min_length=1, max_length=64)]


class Confirm(msgspec.Struct, frozen=True, tag=True):
    """Key confirmation: proves the sender derived the same key, hence knew the code.

    The newcomer confirms first; the admitting laptop checks it before sending its own, so
    a guesser learns nothing unless its guess is counted.
    """

    mac: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]


class Reject(msgspec.Struct, frozen=True, tag=True):
    """Sent before closing to say why, usually one of the REJECT_* reasons; ``retry_after``
    says when a busy laptop will answer again."""

    reason: Reason
    retry_after: Seconds = 0.0


REJECT_WRONG_CODE: Final = "wrong-code"
REJECT_WRONG_SESSION: Final = "wrong-session"
REJECT_VERSION: Final = "version"
REJECT_BUSY: Final = "busy"
REJECT_NOT_ADMITTING: Final = "not-admitting"
REJECT_NOT_A_MEMBER: Final = "not-a-member"


HandshakeMsg = Offer | KeyHello | KeyProof | Spake | Confirm | Reject

# --- Session envelopes: sent inside the encrypted channel -----------------------------------


class Join(msgspec.Struct, frozen=True, tag=True):
    """A newcomer, once the code is proven: its public key, signing the transcript."""

    key: Key
    sig: Signature


class Welcome(msgspec.Struct, frozen=True, tag=True):
    """The creator admits a newcomer: the session's creator key and nonce (the session id
    commits to both), the newcomer's admission, and the creator's signature of the
    transcript (so the newcomer knows it reached the session's creator)."""

    creator: Key
    nonce: Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
    admission: Signature
    sig: Signature


class Hello(msgspec.Struct, frozen=True, tag=True):
    """First envelope from each side once the link is up: where the sender listens."""

    version: int
    listen_port: Port | None = None


class SignedHead(msgspec.Struct, frozen=True, array_like=True):
    """``actor``'s signature of one of its changes (by hash), which covers that change and,
    through the hashes each change holds of the ones before, all of that actor's earlier
    changes."""

    actor: Key
    hash: Hash
    sig: Signature


class Certificate(msgspec.Struct, frozen=True, array_like=True):
    """The creator's admission of ``actor`` (a signature of the session id and the key)."""

    actor: Key
    admission: Signature


class Have(msgspec.Struct, frozen=True, tag=True):
    """What the sender holds: how many changes of each actor. The receiver answers with the
    changes it holds beyond that (``Changes`` with ``answer``, possibly empty), or, for a
    newcomer holding nothing, with the whole ``Document`` if it is the creator."""

    seqs: Annotated[list[tuple[Key, Count]], msgspec.Meta(max_length=MAX_ACTORS)]


class Changes(msgspec.Struct, frozen=True, tag=True):
    """Automerge changes, each an encoded change chunk, with what proves who wrote them.

    Pushed by their author as soon as they exist (one signed head per change), relayed to
    peers with no link to the sender, and sent in answer to a ``Have`` (``answer``; one
    signed head per actor, its latest). ``admissions`` carries the admission of authors
    this link has not been told about yet.
    """

    changes: Annotated[list[bytes], msgspec.Meta(max_length=MAX_CHANGES)]
    heads: Annotated[list[SignedHead], msgspec.Meta(max_length=MAX_CHANGES)] = []
    admissions: Annotated[list[Certificate], msgspec.Meta(max_length=MAX_ACTORS)] = []
    answer: bool = False


class Document(msgspec.Struct, frozen=True, tag=True):
    """The whole session, saved, from its creator to a newcomer who holds nothing yet."""

    data: bytes
    heads: Annotated[list[SignedHead], msgspec.Meta(max_length=MAX_ACTORS)] = []
    admissions: Annotated[list[Certificate], msgspec.Meta(max_length=MAX_ACTORS)] = []


class Presence(msgspec.Struct, frozen=True, tag=True):
    """Ephemeral state of the sender (never written to the session file).

    The sender is the link's proven key; a presence names nobody else.
    """

    hand_raised: bool = False
    hand_raised_at: WallTime | None = None
    done_phase: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    typing: bool = False
    links: Annotated[list[Key], msgspec.Meta(max_length=MAX_ACTORS)] = []  # peers linked to


class Peer(msgspec.Struct, frozen=True, array_like=True):
    """Where a member listens, as the sender sees it."""

    actor: Key
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    port: Port


class Peers(msgspec.Struct, frozen=True, tag=True):
    """Where other members listen, so the mesh can fill itself in.

    Only members whose admission is known are dialled, one address each.
    """

    peers: Annotated[list[Peer], msgspec.Meta(max_length=MAX_ACTORS)]


class Ping(msgspec.Struct, frozen=True, tag=True):
    """Liveness and clock probe; answered by a Pong echoing nonce and sent."""

    nonce: Count
    sent: WallTime
    # The sender's document heads: a peer that has the same need not compare further.
    heads: Annotated[list[Hash], msgspec.Meta(max_length=MAX_HEADS)] = []


class Pong(msgspec.Struct, frozen=True, tag=True):
    """Answer to a Ping, with the answerer's clock so offsets can be estimated."""

    nonce: Count
    sent: WallTime
    peer_time: WallTime


class Code(msgspec.Struct, frozen=True, tag=True):
    """The creator's laptop changed the join code (accepted only from the creator's link).

    ``reason`` is "rotated" (by hand) or "guessing" (after repeated wrong codes)."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    reason: Annotated[str, msgspec.Meta(max_length=32)] = "rotated"


class Report(msgspec.Struct, frozen=True, tag=True):
    """A member tells the facilitator's laptop that ``about`` sent something refused."""

    about: Key
    reason: Reason


class Bye(msgspec.Struct, frozen=True, tag=True):
    """The sender is leaving on purpose; the receiver should not try to reconnect."""

    reason: Reason = ""


Envelope = (Join | Welcome | Hello | Have | Changes | Document | Presence | Peers | Ping
            | Pong | Code | Report | Bye)

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
    if isinstance(msg, Offer):
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
