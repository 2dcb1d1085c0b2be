import functools
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from spake2 import SPAKE2_Symmetric

from sync import handshake as handshake_module
from sync.channel import SecureChannel
from sync.codes import InvalidCode
from sync.handshake import (
    Handshake,
    HandshakeError,
    IncompatibleVersion,
    PeerRejected,
    SessionKeys,
    WrongCode,
    WrongSession,
)
from sync.wire import (
    PROTOCOL_VERSION,
    Confirm,
    Reject,
    Spake,
    decode_handshake,
    encode_handshake,
)

TAG = "room-42"
DOMAIN = b"cercle/%d/" % PROTOCOL_VERSION  # every derivation is bound to the version


def pair(
    code_a: str = "3141-5926",
    code_b: str = "3141-5926",
    tag_a: str = TAG,
    tag_b: str = TAG,
) -> tuple[Handshake, Handshake]:
    return Handshake(code_a, tag_a, initiator=True), Handshake(code_b, tag_b, initiator=False)


def run(a: Handshake, b: Handshake) -> None:
    """Wire two handshakes together in memory, each side sending as soon as it can."""
    to_b = [a.start()]
    to_a = [b.start()]
    while to_a or to_b:
        if to_b:
            to_a.extend(b.receive(to_b.pop(0)))
        if to_a:
            to_b.extend(a.receive(to_a.pop(0)))


def hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


# --- The happy path --------------------------------------------------------------------------


def test_right_code_gives_mirrored_keys() -> None:
    a, b = pair()
    run(a, b)
    assert a.done and b.done
    assert a.keys.send_key == b.keys.recv_key
    assert a.keys.recv_key == b.keys.send_key
    assert a.keys.send_key != a.keys.recv_key
    assert len(a.keys.send_key) == len(a.keys.recv_key) == 32


def test_right_code_gives_a_working_channel_both_ways() -> None:
    a, b = pair()
    run(a, b)
    chan_a, chan_b = SecureChannel(a.keys), SecureChannel(b.keys)
    assert chan_b.open(chan_a.seal(b"question 1")) == b"question 1"
    assert chan_a.open(chan_b.seal(b"advice 1")) == b"advice 1"
    assert chan_b.open(chan_a.seal(b"question 2")) == b"question 2"


def test_code_written_differently_on_each_side_still_matches() -> None:
    a, b = pair(code_a="314-159", code_b=" 314 159 ")
    run(a, b)
    assert a.keys.send_key == b.keys.recv_key


def test_each_handshake_gives_fresh_keys() -> None:
    a1, b1 = pair()
    a2, b2 = pair()
    run(a1, b1)
    run(a2, b2)
    assert a1.keys.send_key != a2.keys.send_key


def test_message_sequence_is_spake_then_confirm() -> None:
    a, b = pair()
    first = decode_handshake(a.start())
    assert isinstance(first, Spake)
    assert (first.version, first.tag, len(first.msg), first.msg[:1]) == (
        PROTOCOL_VERSION, TAG, 33, b"S")
    b.start()
    [reply] = b.receive(encode_handshake(first))
    confirm = decode_handshake(reply)
    assert isinstance(confirm, Confirm)
    assert len(confirm.mac) == 32


def test_keys_are_hidden_from_repr() -> None:
    keys = SessionKeys(send_key=b"\x01" * 32, recv_key=b"\x02" * 32)
    assert repr(keys) == "SessionKeys()"


def test_invalid_code_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidCode):
        Handshake("12-34", TAG, initiator=True)


# --- Key derivation, checked independently of the implementation ------------------------------


@pytest.fixture
def deterministic(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, bool], Handshake]:
    """Build Handshakes whose SPAKE2 randomness is fixed by a seed byte."""

    def make(seed: int, initiator: bool) -> Handshake:
        monkeypatch.setattr(
            handshake_module,
            "SPAKE2_Symmetric",
            functools.partial(SPAKE2_Symmetric, entropy_f=lambda n: bytes([seed]) * n),
        )
        return Handshake("3141-5926", TAG, initiator=initiator)

    return make


def test_derivation_matches_the_documented_construction(
    deterministic: Callable[[int, bool], Handshake],
) -> None:
    a = deterministic(1, True)
    b = deterministic(2, False)
    spake_a = decode_handshake(a.start())
    spake_b = decode_handshake(b.start())
    assert isinstance(spake_a, Spake) and isinstance(spake_b, Spake)
    confirm_a = decode_handshake(a.receive(encode_handshake(spake_b))[0])
    confirm_b = decode_handshake(b.receive(encode_handshake(spake_a))[0])
    assert isinstance(confirm_a, Confirm) and isinstance(confirm_b, Confirm)
    a.receive(encode_handshake(confirm_b))
    b.receive(encode_handshake(confirm_a))

    # Same computation from the libraries alone, following the module docstring.
    ref_a = SPAKE2_Symmetric(
        b"31415926", idSymmetric=DOMAIN + TAG.encode(), entropy_f=lambda n: b"\x01" * n
    )
    ref_b = SPAKE2_Symmetric(
        b"31415926", idSymmetric=DOMAIN + TAG.encode(), entropy_f=lambda n: b"\x02" * n
    )
    assert ref_a.start() == spake_a.msg
    assert ref_b.start() == spake_b.msg
    secret = ref_a.finish(spake_b.msg)

    def lp(part: bytes) -> bytes:
        return struct.pack(">I", len(part)) + part

    transcript = DOMAIN + b"transcript" + lp(spake_a.msg) + lp(spake_b.msg) + lp(TAG.encode())
    for label, confirm in ((b"initiator", confirm_a), (b"responder", confirm_b)):
        mac = hmac.HMAC(hkdf(secret, DOMAIN + b"confirm " + label), hashes.SHA256())
        mac.update(transcript)
        assert confirm.mac == mac.finalize()

    i2r = hkdf(secret, DOMAIN + b"key initiator->responder")
    r2i = hkdf(secret, DOMAIN + b"key responder->initiator")
    assert a.keys == SessionKeys(send_key=i2r, recv_key=r2i)
    assert b.keys == SessionKeys(send_key=r2i, recv_key=i2r)
    # Frozen value (protocol 3): changing any label or the transcript breaks compatibility.
    assert i2r.hex() == "0508464a6a8dec441956e97fa23a3ecbbc2597ed17209dc189791c98d4d5d0d5"


# --- Wrong code, wrong session, wrong version ---------------------------------------------------


def test_wrong_code_detected_by_confirmation_and_reported_to_the_peer() -> None:
    a, b = pair(code_a="3141-5926", code_b="3141-5927")
    spake_a, spake_b = a.start(), b.start()
    # SPAKE2 itself does not fail: both sides happily produce a Confirm.
    assert len(a.receive(spake_b)) == 1
    [confirm_b] = b.receive(spake_a)
    with pytest.raises(WrongCode, match="join code does not match") as info:
        a.receive(confirm_b)
    assert info.value.reject_reason == "wrong-code"
    assert not a.done
    assert info.value.reject_reason is not None
    reject = a.reject_frame(info.value.reject_reason)
    assert decode_handshake(reject) == Reject(reason="wrong-code")
    with pytest.raises(PeerRejected, match="the other side says the join code is wrong") as rej:
        b.receive(reject)
    assert rej.value.reason == "wrong-code"
    assert rej.value.reject_reason is None
    assert not b.done
    with pytest.raises(HandshakeError, match="no session keys yet: the handshake is failed"):
        _ = b.keys


def test_wrong_code_is_detected_by_both_sides_on_their_own() -> None:
    a, b = pair(code_a="aaaaaa", code_b="aaaaab")
    spake_a, spake_b = a.start(), b.start()
    [confirm_a] = a.receive(spake_b)
    [confirm_b] = b.receive(spake_a)
    with pytest.raises(WrongCode):
        a.receive(confirm_b)
    with pytest.raises(WrongCode):
        b.receive(confirm_a)


def test_wrong_tag_is_a_wrong_session_on_both_sides() -> None:
    a, b = pair(tag_a="room-42", tag_b="room-43")
    spake_a, spake_b = a.start(), b.start()
    with pytest.raises(WrongSession, match="the peer is in session 'room-43', not 'room-42'") as e:
        a.receive(spake_b)
    assert e.value.reject_reason == "wrong-session"
    with pytest.raises(PeerRejected, match="not hosting this session"):
        b.receive(a.reject_frame(e.value.reject_reason or ""))
    # The other side, had it looked first, would have refused the same way.
    other_b = Handshake("3141-5926", "room-43", initiator=False)
    other_b.start()
    with pytest.raises(WrongSession, match="the peer is in session 'room-42', not 'room-43'"):
        other_b.receive(spake_a)


def test_tag_is_bound_into_the_key_not_only_compared() -> None:
    # A peer keyed for room-43 that claims room-42 passes the tag check but not confirmation.
    a = Handshake("3141-5926", "room-42", initiator=True)
    liar = Handshake("3141-5926", "room-43", initiator=False)
    liar._tag = "room-42"
    spake_a, spake_liar = a.start(), liar.start()
    a.receive(spake_liar)
    [confirm_liar] = liar.receive(spake_a)
    with pytest.raises(WrongCode):
        a.receive(confirm_liar)


def test_other_protocol_version_is_incompatible() -> None:
    a, _ = pair()
    a.start()
    other = PROTOCOL_VERSION - 1  # a peer of the previous release
    with pytest.raises(IncompatibleVersion, match=f"protocol version {other}") as info:
        a.receive(encode_handshake(Spake(version=other, tag=TAG, msg=b"S" + bytes(32))))
    assert info.value.reject_reason == "version"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("busy", "the other side is busy; try again in a moment"),
        ("version", "the other side runs an incompatible version of Cercle"),
        ("x" * 200, "the other side refused: '" + "x" * 80 + "'"),
        ("\x1b[2J", r"the other side refused: '\\x1b\[2J'"),
    ],
)
def test_peer_rejection_messages(reason: str, message: str) -> None:
    a, _ = pair()
    a.start()
    with pytest.raises(PeerRejected, match=f"^{message}$") as info:
        a.receive(encode_handshake(Reject(reason=reason)))
    assert info.value.reason == reason


def test_reject_is_honoured_at_any_point_before_done() -> None:
    a, b = pair()
    spake_b = b.start()
    a.start()
    a.receive(spake_b)
    with pytest.raises(PeerRejected):
        a.receive(encode_handshake(Reject(reason="busy")))


# --- Hostile or confused peers ------------------------------------------------------------------


def test_confirm_before_spake_is_out_of_order() -> None:
    a, _ = pair()
    a.start()
    with pytest.raises(
        HandshakeError,
        match="unexpected Confirm message while waiting for the peer's key exchange message",
    ):
        a.receive(encode_handshake(Confirm(mac=bytes(32))))


def test_second_spake_is_out_of_order() -> None:
    a, b = pair()
    a.start()
    spake_b = b.start()
    a.receive(spake_b)
    with pytest.raises(
        HandshakeError, match="unexpected Spake message while waiting for the peer's key confirm"
    ):
        a.receive(spake_b)


def test_receive_before_start() -> None:
    a, b = pair()
    with pytest.raises(HandshakeError, match="the handshake is not started"):
        a.receive(b.start())


def test_start_twice() -> None:
    a, _ = pair()
    a.start()
    with pytest.raises(HandshakeError, match=r"start\(\) was already called"):
        a.start()


def test_nothing_is_accepted_after_done() -> None:
    a, b = pair()
    run(a, b)
    with pytest.raises(HandshakeError, match="the handshake is finished"):
        a.receive(encode_handshake(Reject(reason="busy")))
    assert a.done


def test_failure_is_final() -> None:
    a, b = pair()
    a.start()
    spake_b = b.start()
    with pytest.raises(HandshakeError):
        a.receive(b"garbage")
    with pytest.raises(HandshakeError, match="the handshake is failed"):
        a.receive(spake_b)
    assert not a.done


def test_reflected_spake_is_refused() -> None:
    a, _ = pair()
    spake_a = a.start()
    with pytest.raises(
        HandshakeError, match=r"key exchange message is invalid \(ReflectionThwarted"
    ):
        a.receive(spake_a)


def test_reflected_confirm_does_not_verify() -> None:
    a, b = pair()
    spake_a, spake_b = a.start(), b.start()
    [confirm_a] = a.receive(spake_b)
    b.receive(spake_a)
    with pytest.raises(WrongCode):
        a.receive(confirm_a)


def test_two_initiators_fail_confirmation() -> None:
    a = Handshake("3141-5926", TAG, initiator=True)
    b = Handshake("3141-5926", TAG, initiator=True)
    with pytest.raises(WrongCode):
        run(a, b)


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (b"", "wrong length"),
        (b"S" + bytes(31), "wrong length"),
        (b"S" + bytes(33), "wrong length"),
        (b"S" + bytes(32), r"invalid \(ValueError\)"),  # the identity element
        (b"A" + bytes(32), r"invalid \(OffSides\)"),
        (b"S" + b"\xff" * 32, "invalid"),
    ],
)
def test_bad_spake_payloads(msg: bytes, reason: str) -> None:
    a, _ = pair()
    a.start()
    with pytest.raises(HandshakeError, match=reason):
        a.receive(encode_handshake(Spake(version=PROTOCOL_VERSION, tag=TAG, msg=msg)))


def test_malformed_body_is_a_handshake_error() -> None:
    a, _ = pair()
    a.start()
    with pytest.raises(HandshakeError, match="malformed handshake message"):
        a.receive(b"\x00\x01\x02")
