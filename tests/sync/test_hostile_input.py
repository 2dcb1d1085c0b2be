"""Whatever a stranger or a peer sends, the sync layer answers with its own typed errors,
never a crash: decoders, framing, and both handshake machines, fuzzed."""

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from model.keys import Identity, admission_message, new_nonce
from sync.handshake import Anchor, Credentials, HandshakeError, Initiator, Responder
from sync.wire import (
    PROTOCOL_VERSION,
    Bye,
    Changes,
    Confirm,
    Envelope,
    FrameDecoder,
    HandshakeMsg,
    Have,
    Hello,
    KeyHello,
    KeyProof,
    Offer,
    Peer,
    Peers,
    Ping,
    Presence,
    Reject,
    SignedHead,
    Spake,
    WireError,
    decode_envelope,
    decode_handshake,
    encode_envelope,
    encode_frame,
    encode_handshake,
)

CODE = "3141-5926"
KEY = bytes(range(32))

VALID_ENVELOPES = [
    encode_envelope(Hello(version=PROTOCOL_VERSION, listen_port=4000)),
    encode_envelope(Have(seqs=[(KEY, 3)])),
    encode_envelope(Changes(changes=[b"\x85o"], heads=[SignedHead(KEY, KEY, bytes(64))])),
    encode_envelope(Presence(hand_raised=True, hand_raised_at=2.5)),
    encode_envelope(Peers(peers=[Peer(KEY, "10.0.0.1", 4000)])),
    encode_envelope(Ping(nonce=1, sent=0.5)),
    encode_envelope(Bye(reason="done")),
]
VALID_HANDSHAKES = [
    encode_handshake(Offer(version=PROTOCOL_VERSION, tag="abcd", eph=KEY, admits=True)),
    encode_handshake(KeyHello(eph=KEY)),
    encode_handshake(KeyProof(key=KEY, admission=bytes(64), sig=bytes(64))),
    encode_handshake(Spake(msg=b"S" + bytes(32))),
    encode_handshake(Confirm(mac=bytes(32))),
    encode_handshake(Reject(reason="busy", retry_after=3.0)),
]

TYPE_NAMES = ["Offer", "KeyHello", "KeyProof", "Spake", "Confirm", "Reject", "Join", "Welcome",
              "Hello", "Have", "Changes", "Document", "Presence", "Peers", "Ping", "Pong",
              "Code", "Report", "Bye"]
FIELD_NAMES = [
    "type", "version", "tag", "eph", "admits", "key", "admission", "sig", "msg", "mac",
    "reason", "retry_after", "creator", "nonce", "listen_port", "seqs", "changes", "heads",
    "admissions", "answer", "data", "hand_raised", "hand_raised_at", "done_phase", "typing",
    "links", "peers", "sent", "peer_time", "code", "about",
]  # fmt: skip

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@st.composite
def typed_looking_messages(draw: st.DrawFn) -> bytes:
    """Maps that look like our messages, with a plausible type tag and random field values."""
    fields = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), msgpack_values, max_size=7))
    fields["type"] = draw(st.sampled_from(TYPE_NAMES) | st.text(max_size=8))
    return msgspec.msgpack.encode(fields)


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[pos]
    return bytes(data)


def hostile(samples: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=200) | typed_looking_messages() | mutated(samples)


# Declared lengths far beyond the data must not make the decoder allocate or crash.
HUGE_DECLARED = [b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff", b"\xdd\xff\xff\xff\xff"]


@given(hostile(VALID_ENVELOPES))
@example(HUGE_DECLARED[0])
@example(HUGE_DECLARED[1])
@example(HUGE_DECLARED[2])
@example(b"\x91" * 10_000)
def test_decode_envelope_raises_only_wire_errors(data: bytes) -> None:
    try:
        env = decode_envelope(data)
    except WireError:
        return
    assert isinstance(env, Envelope)


@given(hostile(VALID_HANDSHAKES))
@example(HUGE_DECLARED[0])
@example(b"\x81" * 10_000)
def test_decode_handshake_raises_only_wire_errors(data: bytes) -> None:
    try:
        msg = decode_handshake(data)
    except WireError:
        return
    assert isinstance(msg, HandshakeMsg)


@given(
    chunks=st.lists(
        st.binary(max_size=64) | st.sampled_from([encode_frame(b"ok"), b"\xff\xff\xff\xff"]),
        max_size=20,
    ),
    limit=st.sampled_from([0, 16, 4096]),
)
def test_frame_decoder_raises_only_wire_errors(chunks: list[bytes], limit: int) -> None:
    dec = FrameDecoder(max_frame=limit)
    failed = False
    for chunk in chunks:
        try:
            bodies = dec.feed(chunk)
        except WireError:
            failed = True
            continue
        assert not failed, "a failed decoder must keep failing"
        assert all(isinstance(b, bytes) and len(b) <= limit for b in bodies)


CREATOR = Identity.generate()
ANCHOR = Anchor.proven(CREATOR.actor, new_nonce())
MEMBER = Identity.generate()
MEMBER_CREDENTIALS = Credentials(MEMBER, CREATOR.sign(admission_message(ANCHOR.session_id,
                                                                        MEMBER.actor)))


@pytest.mark.parametrize("side", ["admitting responder", "member responder"])
@given(data=hostile(VALID_HANDSHAKES))
@example(data=encode_handshake(Spake(msg=b"S" + bytes(32))))
@example(data=encode_handshake(KeyHello(eph=bytes(32))))  # a low-order X25519 point
def test_a_listener_takes_anything_with_handshake_errors_only(side: str, data: bytes) -> None:
    if side == "admitting responder":
        ours = Responder(anchor=ANCHOR, credentials=Credentials(CREATOR), code=CODE)
    else:
        ours = Responder(anchor=ANCHOR, credentials=MEMBER_CREDENTIALS)
    ours.start()
    try:
        replies = ours.receive(data)
    except HandshakeError:
        assert not ours.done
        return
    assert all(isinstance(r, bytes) for r in replies) and not ours.done


@pytest.mark.parametrize("who", ["newcomer", "member"])
@given(data=hostile(VALID_HANDSHAKES))
def test_a_dialler_takes_anything_with_handshake_errors_only(who: str, data: bytes) -> None:
    if who == "newcomer":
        ours = Initiator(identity=Identity.generate(), code=CODE, tag=ANCHOR.tag)
    else:
        ours = Initiator(anchor=ANCHOR, credentials=MEMBER_CREDENTIALS)
    ours.start()
    try:
        ours.receive(data)
    except HandshakeError:
        assert not ours.done
        return
    assert not ours.done  # one message never completes a handshake


@given(point=st.binary(min_size=32, max_size=32), side=st.sampled_from([b"S", b"A", b"B", b"\0"]))
def test_any_spake_point_raises_only_handshake_errors(point: bytes, side: bytes) -> None:
    ours = Responder(anchor=ANCHOR, credentials=Credentials(CREATOR), code=CODE)
    ours.start()
    try:
        [reply] = ours.receive(encode_handshake(Spake(msg=side + point)))
    except HandshakeError:
        return
    # A point that happens to be valid leads to our own Spake: no confirmation of ours
    # leaves before the other side has confirmed.
    assert isinstance(decode_handshake(reply), Spake)


@given(data=st.data())
def test_a_mutated_genuine_handshake_never_crashes_nor_completes_wrongly(
        data: st.DataObject) -> None:
    newcomer = Identity.generate()
    host = Responder(anchor=ANCHOR, credentials=Credentials(CREATOR), code=CODE)
    joiner = Initiator(identity=newcomer, code=CODE, tag=ANCHOR.tag)
    joiner.start()
    offer = host.start()
    frames = {"offer": offer}
    [spake] = joiner.receive(offer)
    [host_spake] = host.receive(spake)
    frames["spake"] = host_spake
    target = data.draw(st.sampled_from(["offer", "spake"]))
    fresh = Initiator(identity=newcomer, code=CODE, tag=ANCHOR.tag)
    fresh.start()
    try:
        if target == "offer":
            fresh.receive(data.draw(mutated([frames["offer"]])))
        else:
            fresh.receive(offer)
            fresh.receive(data.draw(mutated([frames["spake"]])))
    except HandshakeError:
        assert not fresh.done
        return
    assert not fresh.done
