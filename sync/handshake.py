"""The handshake that opens a link, as sans-IO state machines: fed frame bodies, returning
frame bodies.

The listener (``Responder``) speaks first with an ``Offer``: the session's tag, an
ephemeral X25519 key, and whether it admits newcomers (only the session's creator does).
Then one of two paths:

**A member** (a laptop the creator admitted before, or the creator) answers ``KeyHello``
with its own ephemeral key. Both send a ``KeyProof``: their public key, the creator's
admission of it, and their signature of the transcript (the tag, both ephemeral keys and
the keys proven so far), the responder first. The link keys come from X25519 of the two
ephemeral keys and the transcript (HKDF-SHA256). No code is involved: a member's links
never expose the join code to a guess.

**A newcomer** answers ``Spake``: SPAKE2 (``spake2``, symmetric, identity
``cercle/4/<tag>``) on the spoken join code. The admitting laptop answers with its own
``Spake``, then waits for the newcomer's ``Confirm`` (HMAC-SHA256 of the transcript under a
key only the holder of the same code derives) and checks it *before* revealing its own:
a guesser learns whether its guess was right only after the guess was counted, whatever
it does mid-handshake. Once both confirmed, the link keys come from the SPAKE2 secret; the
newcomer sends its public key signing the transcript (``Join``, sealed), and the creator
answers ``Welcome`` (sealed): the creator's key and nonce, from which the newcomer checks
that the session id (and so the tag it dialled) commits to that key, the creator's
signature of the transcript, and the newcomer's admission.

Derivation (changing it breaks compatibility; 4 is ``PROTOCOL_VERSION``): every label
below starts with ``cercle/4/``. Transcripts are SHA-256 of the label ``transcript`` and
the length-prefixed (4-byte big-endian) parts named in ``_Transcript``. A signature is
Ed25519 of ``link/<role>`` + the transcript hash. Keys are HKDF-SHA256 (no salt) of the
shared secret with info ``key initiator->responder`` / ``key responder->initiator`` +
the transcript hash; confirmation keys with ``confirm initiator`` / ``confirm responder``.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_Symmetric

from model.keys import (
    Identity,
    admission_message,
    session_id_for,
    session_tag,
    verify,
)
from sync.channel import ChannelError, SecureChannel, SessionKeys
from sync.codes import normalize_code
from sync.wire import (
    PROTOCOL_VERSION,
    REJECT_BUSY,
    REJECT_NOT_A_MEMBER,
    REJECT_NOT_ADMITTING,
    REJECT_VERSION,
    REJECT_WRONG_CODE,
    REJECT_WRONG_SESSION,
    Confirm,
    Envelope,
    Join,
    KeyHello,
    KeyProof,
    MalformedFrame,
    Offer,
    Reject,
    Spake,
    UnsupportedVersion,
    Welcome,
    WireError,
    decode_envelope,
    decode_handshake,
    encode_envelope,
    encode_handshake,
)

__all__ = [
    "KEY_SIZE",
    "Anchor",
    "Credentials",
    "GuessRefused",
    "HandshakeError",
    "IncompatibleVersion",
    "Initiator",
    "NotAMember",
    "NotAdmitting",
    "Outcome",
    "PeerRejected",
    "Responder",
    "SessionKeys",
    "WrongCode",
    "WrongSession",
]

KEY_SIZE: Final = 32

_DOMAIN: Final = b"cercle/%d/" % PROTOCOL_VERSION

_PEER_REASONS: Final = {
    REJECT_WRONG_CODE: "the join code was refused",
    REJECT_WRONG_SESSION: "the other side is not in this session",
    REJECT_VERSION: "the other side runs an incompatible version of Cercle",
    REJECT_BUSY: "the session is busy; trying again in a moment",
    REJECT_NOT_ADMITTING: "this laptop does not let newcomers in: join through the host",
    REJECT_NOT_A_MEMBER: "the other side does not recognise this laptop as a member",
}


class HandshakeError(Exception):
    """The handshake cannot complete; str(error) says why in plain English.

    ``reject_reason`` is what to send the peer (via ``reject_frame``) before closing, or
    None when the peer should not be told anything.
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


class NotAMember(HandshakeError):
    """The peer's key proof, or the admission of its key, does not verify."""

    reject_reason = REJECT_NOT_A_MEMBER


class NotAdmitting(HandshakeError):
    """A newcomer reached a laptop that does not admit newcomers (or with no code set)."""

    reject_reason = REJECT_NOT_ADMITTING


class GuessRefused(HandshakeError):
    """The admitting laptop will not take another code attempt yet (``retry_after`` s)."""

    reject_reason = None

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many wrong codes lately: try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class PeerRejected(HandshakeError):
    """The peer sent a Reject; ``reason`` is its machine-readable reason."""

    reject_reason = None

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        self.reason = reason
        self.retry_after = retry_after
        # The reason comes from an unauthenticated peer: show unknown ones short and quoted.
        super().__init__(_PEER_REASONS.get(reason, f"the other side refused: {reason[:80]!r}"))


@dataclass(frozen=True)
class Anchor:
    """What a member knows of its session: the id, which commits to the creator's key."""

    session_id: str
    creator: bytes
    nonce: bytes

    @property
    def tag(self) -> str:
        return session_tag(self.session_id)

    def admits(self, member: bytes, admission: bytes) -> bool:
        """Whether ``member`` is the creator or holds the creator's admission."""
        return member == self.creator or verify(
            self.creator, admission, admission_message(self.session_id, member))

    @classmethod
    def proven(cls, creator: bytes, nonce: bytes) -> Anchor:
        return cls(session_id_for(creator, nonce), creator, nonce)


@dataclass(frozen=True)
class Credentials:
    """A member's proof: its key and the creator's admission of it (empty for the creator)."""

    identity: Identity
    admission: bytes = b""


@dataclass(frozen=True)
class Outcome:
    """What a finished handshake established."""

    channel: SecureChannel
    peer: bytes  # the peer's proven public key (its actor id)
    peer_admission: bytes
    newcomer: bool  # responder: the peer was admitted with the code now; initiator: we were
    anchor: Anchor  # the session, as proven (learned by a newcomer)
    admission: bytes = b""  # initiator: its own admission (from the creator, if just now)


class _State(enum.Enum):
    NEW = "not started"
    OFFERED = "waiting for the peer's answer to the offer"
    WAIT_OFFER = "waiting for the listener's offer"
    WAIT_PROOF = "waiting for the peer's key proof"
    WAIT_SPAKE = "waiting for the peer's key exchange message"
    WAIT_CONFIRM = "waiting for the peer's key confirmation"
    WAIT_JOIN = "waiting for the newcomer's key"
    WAIT_WELCOME = "waiting for the creator's welcome"
    DONE = "finished"
    FAILED = "failed"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None,
                info=_DOMAIN + info).derive(secret)


def _hmac(key: bytes, data: bytes) -> hmac.HMAC:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac


class _Transcript:
    """A running hash of the length-prefixed parts of a handshake."""

    def __init__(self, kind: bytes) -> None:
        self._hash = hashlib.sha256(_DOMAIN + b"transcript/" + kind)

    def add(self, *parts: bytes) -> bytes:
        for part in parts:
            self._hash.update(struct.pack(">I", len(part)) + part)
        return self._hash.copy().digest()


def _signed(role: bytes, transcript: bytes) -> bytes:
    return _DOMAIN + b"link/" + role + b"\x00" + transcript


def _keys(secret: bytes, transcript: bytes, initiator: bool) -> SessionKeys:
    i2r = _hkdf(secret, b"key initiator->responder" + transcript)
    r2i = _hkdf(secret, b"key responder->initiator" + transcript)
    return SessionKeys(i2r, r2i) if initiator else SessionKeys(r2i, i2r)


def _x25519(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:  # a low-order point: all-zero secret
        raise HandshakeError("the peer's ephemeral key is invalid") from None


class _Machine:
    """What both sides share: state, failure, the reject frame, SPAKE2 bits."""

    def __init__(self) -> None:
        self._state = _State.NEW
        self._outcome: Outcome | None = None
        self._channel: SecureChannel | None = None
        self._eph = X25519PrivateKey.generate()
        self._eph_pub = self._eph.public_key().public_bytes_raw()

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    @property
    def outcome(self) -> Outcome:
        if self._outcome is None:
            raise HandshakeError(f"the handshake is {self._state.value}")
        return self._outcome

    def receive(self, body: bytes) -> list[bytes]:
        """Process one frame body from the peer; the frame bodies to send back."""
        if self._state in (_State.NEW, _State.DONE, _State.FAILED):
            raise HandshakeError(f"cannot receive: the handshake is {self._state.value}")
        try:
            return self._receive(body)
        except HandshakeError:
            self._state = _State.FAILED
            raise

    def reject_frame(self, error: HandshakeError) -> bytes | None:
        """The Reject to send before closing because of ``error`` (None: say nothing)."""
        self._state = _State.FAILED
        if error.reject_reason is None:
            return None
        return encode_handshake(Reject(reason=error.reject_reason))

    def _receive(self, body: bytes) -> list[bytes]:
        raise NotImplementedError

    def _plain(self, body: bytes) -> object:
        try:
            msg = decode_handshake(body)
        except UnsupportedVersion as exc:
            raise IncompatibleVersion(str(exc)) from exc
        except MalformedFrame as exc:
            raise HandshakeError(f"the peer sent a malformed handshake message ({exc})") from exc
        if isinstance(msg, Reject):
            raise PeerRejected(msg.reason, msg.retry_after)
        return msg

    def _sealed(self, body: bytes) -> Envelope:
        assert self._channel is not None  # noqa: S101 - set before any sealed frame
        try:
            return decode_envelope(self._channel.open(body))
        except (ChannelError, WireError) as exc:
            # A Reject in plaintext is still possible here (the peer failed on its side).
            try:
                msg = decode_handshake(body)
            except WireError:
                msg = None
            if isinstance(msg, Reject):
                raise PeerRejected(msg.reason, msg.retry_after) from None
            raise HandshakeError(f"the peer's sealed message is invalid ({exc})") from None

    def _seal(self, envelope: Envelope) -> bytes:
        assert self._channel is not None  # noqa: S101
        return self._channel.seal(encode_envelope(envelope))

    @staticmethod
    def _spake(code: str, tag: str) -> SPAKE2_Symmetric:
        return SPAKE2_Symmetric(normalize_code(code).encode("utf-8"),
                                idSymmetric=_DOMAIN + tag.encode("ascii"))

    @staticmethod
    def _finish(spake: SPAKE2_Symmetric, ours: bytes, theirs: bytes) -> bytes:
        # Checked here rather than left to spake2, whose length checks are assertions.
        if len(theirs) != len(ours):
            raise HandshakeError("the peer's key exchange message has the wrong length")
        try:
            secret: bytes = spake.finish(theirs)
        except Exception as exc:
            # spake2 reports a bad point, a reflected message or a wrong side byte with
            # assorted exception types: all mean a hostile peer.
            raise HandshakeError(
                f"the peer's key exchange message is invalid ({type(exc).__name__})") from exc
        return secret


class Responder(_Machine):
    """The listening side. ``code`` is None on a laptop that does not admit newcomers;
    ``guess()`` says whether one more code attempt may be taken now (0) or in how many
    seconds (the admission gate), and is asked only when a newcomer starts one."""

    def __init__(self, *, anchor: Anchor, credentials: Credentials, code: str | None = None,
                 guess: Callable[[], float] = lambda: 0.0) -> None:
        super().__init__()
        self._anchor = anchor
        self._me = credentials
        self._code = code
        self._guess = guess
        self._transcript: _Transcript | None = None
        self._secret = b""
        self._newcomer_transcript = b""
        self.guessing = False  # a code attempt was counted against the gate (until it ends)

    @property
    def admitting(self) -> bool:
        return self._code is not None

    def start(self) -> bytes:
        if self._state is not _State.NEW:
            raise HandshakeError(f"cannot start: the handshake is {self._state.value}")
        self._state = _State.OFFERED
        return encode_handshake(Offer(version=PROTOCOL_VERSION, tag=self._anchor.tag,
                                      eph=self._eph_pub, admits=self.admitting))

    def _receive(self, body: bytes) -> list[bytes]:
        if self._state is _State.WAIT_JOIN:
            return self._on_join(self._sealed(body))
        msg = self._plain(body)
        match msg:
            case KeyHello(eph=eph) if self._state is _State.OFFERED:
                return [self._on_key_hello(eph)]
            case KeyProof() if self._state is _State.WAIT_PROOF:
                self._on_proof(msg)
                return []
            case Spake(msg=theirs) if self._state is _State.OFFERED:
                return [self._on_spake(theirs)]
            case Confirm(mac=mac) if self._state is _State.WAIT_CONFIRM:
                return [self._on_confirm(mac)]
            case _:
                raise HandshakeError(
                    f"unexpected {type(msg).__name__} while {self._state.value}")

    # -- a member ------------------------------------------------------------------
    def _on_key_hello(self, eph: bytes) -> bytes:
        self._secret = _x25519(self._eph, eph)
        me = self._me.identity
        self._transcript = _Transcript(b"member")
        proof_hash = self._transcript.add(self._anchor.tag.encode(), self._eph_pub, eph,
                                          me.actor, self._me.admission)
        self._state = _State.WAIT_PROOF
        return encode_handshake(KeyProof(key=me.actor, admission=self._me.admission,
                                         sig=me.sign(_signed(b"responder", proof_hash))))

    def _on_proof(self, proof: KeyProof) -> None:
        assert self._transcript is not None  # noqa: S101
        final = self._transcript.add(proof.key, proof.admission)
        if not verify(proof.key, proof.sig, _signed(b"initiator", final)):
            raise NotAMember("the peer's key proof does not verify")
        if not self._anchor.admits(proof.key, proof.admission):
            raise NotAMember("the peer's key was not admitted to this session")
        channel = SecureChannel(_keys(self._secret, final, initiator=False))
        self._outcome = Outcome(channel, proof.key, proof.admission, False, self._anchor)
        self._state = _State.DONE

    # -- a newcomer -------------------------------------------------------------------
    def _on_spake(self, theirs: bytes) -> bytes:
        if self._code is None or self._anchor.creator != self._me.identity.actor:
            raise NotAdmitting("this laptop does not admit newcomers")
        wait = self._guess()
        if wait > 0:
            self._state = _State.FAILED
            raise GuessRefused(wait)
        self.guessing = True
        spake = self._spake(self._code, self._anchor.tag)
        ours: bytes = spake.start()
        self._secret = self._finish(spake, ours, theirs)
        self._transcript = _Transcript(b"newcomer")
        self._newcomer_transcript = self._transcript.add(
            self._anchor.tag.encode(), self._eph_pub, theirs, ours)
        self._state = _State.WAIT_CONFIRM
        return encode_handshake(Spake(msg=ours))

    def _on_confirm(self, mac: bytes) -> bytes:
        transcript = self._newcomer_transcript
        try:
            _hmac(_hkdf(self._secret, b"confirm initiator"), transcript).verify(mac)
        except InvalidSignature:
            raise WrongCode("a newcomer typed a wrong join code") from None
        self._channel = SecureChannel(_keys(self._secret, transcript, initiator=False))
        self._state = _State.WAIT_JOIN
        ours = _hmac(_hkdf(self._secret, b"confirm responder"), transcript).finalize()
        return encode_handshake(Confirm(mac=ours))

    def _on_join(self, envelope: Envelope) -> list[bytes]:
        if not isinstance(envelope, Join):
            raise HandshakeError(f"expected the newcomer's key, got {type(envelope).__name__}")
        transcript = self._newcomer_transcript
        if not verify(envelope.key, envelope.sig, _signed(b"join", transcript)):
            raise NotAMember("the newcomer's key proof does not verify")
        me = self._me.identity
        anchor = self._anchor
        admission = me.sign(admission_message(anchor.session_id, envelope.key))
        welcome = Welcome(creator=anchor.creator, nonce=anchor.nonce, admission=admission,
                          sig=me.sign(_signed(b"welcome", transcript + envelope.key)))
        frame = self._seal(welcome)
        assert self._channel is not None  # noqa: S101
        self._outcome = Outcome(self._channel, envelope.key, admission, True, anchor)
        self._state = _State.DONE
        return [frame]


Known = Callable[[str], "tuple[Anchor, Credentials] | None"]


class Initiator(_Machine):
    """The dialling side. A member gives its ``credentials`` and ``anchor``; a newcomer
    gives a fresh ``identity`` and the ``code`` (and the ``tag`` it expects, if it knows
    it: a link or a session seen on the network). A newcomer who may have been admitted
    before gives ``known``: once the listener names its session, a membership kept for
    that tag opens the link as a member instead, with no code."""

    def __init__(self, *, anchor: Anchor | None = None, credentials: Credentials | None = None,
                 identity: Identity | None = None, code: str | None = None,
                 tag: str | None = None, known: Known | None = None) -> None:
        super().__init__()
        if (anchor is None) != (credentials is None):
            raise ValueError("a member gives both its anchor and its credentials")
        if credentials is None and (identity is None or code is None) and known is None:
            raise ValueError("a newcomer gives its identity and the join code")
        self._known = known
        self._anchor = anchor
        self._me = credentials
        self._identity = credentials.identity if credentials is not None else identity
        self._code = code
        self._tag = anchor.tag if anchor is not None else tag
        self._transcript: _Transcript | None = None
        self._secret = b""
        self._newcomer_transcript = b""
        self._spake_state: SPAKE2_Symmetric | None = None
        self._spake_out = b""
        self.sent_confirm = False  # a newcomer's guess is on the table (counted by the host)
        self.tag: str | None = self._tag  # the tag the listener announced

    def start(self) -> None:
        """The initiator sends nothing first: it waits for the listener's Offer."""
        if self._state is not _State.NEW:
            raise HandshakeError(f"cannot start: the handshake is {self._state.value}")
        self._state = _State.WAIT_OFFER

    def _receive(self, body: bytes) -> list[bytes]:
        if self._state is _State.WAIT_WELCOME:
            self._on_welcome(self._sealed(body))
            return []
        msg = self._plain(body)
        match msg:
            case Offer() if self._state is _State.WAIT_OFFER:
                return [self._on_offer(msg)]
            case KeyProof() if self._state is _State.WAIT_PROOF:
                return [self._on_proof(msg)]
            case Spake(msg=theirs) if self._state is _State.WAIT_SPAKE:
                return [self._on_spake(theirs)]
            case Confirm(mac=mac) if self._state is _State.WAIT_CONFIRM:
                return [self._on_confirm(mac)]
            case _:
                raise HandshakeError(
                    f"unexpected {type(msg).__name__} while {self._state.value}")

    def _on_offer(self, offer: Offer) -> bytes:
        if self._tag is not None and offer.tag != self._tag:
            raise WrongSession(f"the other side is in session {offer.tag!r}, "
                               f"not {self._tag!r}")
        self.tag = offer.tag
        self._offer = offer
        if self._me is None and self._known is not None:
            found = self._known(offer.tag)
            if found is not None:
                self._anchor, self._me = found
                self._identity = self._me.identity
        if self._me is not None:
            self._secret = _x25519(self._eph, offer.eph)
            self._state = _State.WAIT_PROOF
            return encode_handshake(KeyHello(eph=self._eph_pub))
        if self._code is None or self._identity is None:
            raise NotAMember("this laptop was not admitted to that session: it needs the "
                             "join code")
        if not offer.admits:
            raise NotAdmitting("this laptop does not let newcomers in: join through the host "
                               "(the address in the lobby or on the join screen)")
        self._spake_state = self._spake(self._code, offer.tag)
        self._spake_out = self._spake_state.start()
        self._state = _State.WAIT_SPAKE
        return encode_handshake(Spake(msg=self._spake_out))

    def _on_proof(self, proof: KeyProof) -> bytes:
        assert self._me is not None and self._anchor is not None  # noqa: S101
        me = self._me.identity
        self._transcript = _Transcript(b"member")
        proof_hash = self._transcript.add(self._anchor.tag.encode(), self._offer.eph,
                                          self._eph_pub, proof.key, proof.admission)
        if not verify(proof.key, proof.sig, _signed(b"responder", proof_hash)):
            raise NotAMember("the other side's key proof does not verify")
        if not self._anchor.admits(proof.key, proof.admission):
            raise NotAMember("the other side's key was not admitted to this session")
        final = self._transcript.add(me.actor, self._me.admission)
        channel = SecureChannel(_keys(self._secret, final, initiator=True))
        self._outcome = Outcome(channel, proof.key, proof.admission, False, self._anchor,
                                self._me.admission)
        self._state = _State.DONE
        return encode_handshake(KeyProof(key=me.actor, admission=self._me.admission,
                                         sig=me.sign(_signed(b"initiator", final))))

    def _on_spake(self, theirs: bytes) -> bytes:
        assert self._spake_state is not None and self.tag is not None  # noqa: S101
        self._secret = self._finish(self._spake_state, self._spake_out, theirs)
        self._transcript = _Transcript(b"newcomer")
        self._newcomer_transcript = self._transcript.add(
            self.tag.encode(), self._offer.eph, self._spake_out, theirs)
        self._state = _State.WAIT_CONFIRM
        self.sent_confirm = True
        mac = _hmac(_hkdf(self._secret, b"confirm initiator"), self._newcomer_transcript)
        return encode_handshake(Confirm(mac=mac.finalize()))

    def _on_confirm(self, mac: bytes) -> bytes:
        transcript = self._newcomer_transcript
        try:
            _hmac(_hkdf(self._secret, b"confirm responder"), transcript).verify(mac)
        except InvalidSignature:
            raise WrongCode("the other side does not hold this join code") from None
        self._channel = SecureChannel(_keys(self._secret, transcript, initiator=True))
        assert self._identity is not None  # noqa: S101
        self._state = _State.WAIT_WELCOME
        return self._seal(Join(key=self._identity.actor,
                               sig=self._identity.sign(_signed(b"join", transcript))))

    def _on_welcome(self, envelope: Envelope) -> None:
        if not isinstance(envelope, Welcome):
            raise HandshakeError(f"expected a welcome, got {type(envelope).__name__}")
        assert self._identity is not None and self.tag is not None  # noqa: S101
        anchor = Anchor.proven(envelope.creator, envelope.nonce)
        if anchor.tag != self.tag:
            raise WrongSession("the host's key does not match the session it announced")
        me = self._identity.actor
        if not verify(anchor.creator, envelope.sig,
                      _signed(b"welcome", self._newcomer_transcript + me)):
            raise NotAMember("the host's proof does not verify")
        if not anchor.admits(me, envelope.admission):
            raise NotAMember("the host's admission of this laptop does not verify")
        assert self._channel is not None  # noqa: S101
        self._outcome = Outcome(self._channel, anchor.creator, b"", True, anchor,
                                envelope.admission)
        self._state = _State.DONE
