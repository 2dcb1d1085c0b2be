"""Whatever a peer sends, the sync layer answers with its own typed errors, never a crash."""

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sync.handshake import Handshake, HandshakeError
from sync.wire import (
    PROTOCOL_VERSION,
    Bye,
    Confirm,
    Envelope,
    FrameDecoder,
    HandshakeMsg,
    Hello,
    Peers,
    Ping,
    Presence,
    Reject,
    Spake,
    Sync,
    WireError,
    decode_envelope,
    decode_handshake,
    encode_envelope,
    encode_frame,
    encode_handshake,
)

TAG = "room-42"
CODE = "3141-5926"

VALID_ENVELOPES = [
    encode_envelope(Hello(version=PROTOCOL_VERSION, peer_id="p", name="Ana", listen_port=4000,
                          is_host=True)),
    encode_envelope(Sync(data=b"\x01\x02\x03")),
    encode_envelope(Presence(peer_id="p", name="Ana", hand_raised=True, hand_raised_at=2.5)),
    encode_envelope(Peers(addrs=[("10.0.0.1", 4000)])),
    encode_envelope(Ping(nonce=1, sent=0.5)),
    encode_envelope(Bye(reason="done")),
]
VALID_HANDSHAKES = [
    encode_handshake(Spake(version=PROTOCOL_VERSION, tag=TAG, msg=b"S" + bytes(range(32)))),
    encode_handshake(Confirm(mac=bytes(32))),
    encode_handshake(Reject(reason="busy")),
]

TYPE_NAMES = ["Spake", "Confirm", "Reject", "Hello", "Sync", "Presence", "Peers", "Ping", "Pong"]
FIELD_NAMES = [
    "type", "version", "tag", "msg", "mac", "reason", "peer_id", "name", "listen_port",
    "is_host", "data", "hand_raised", "hand_raised_at", "done_phase", "typing", "addrs",
    "nonce", "sent", "peer_time",
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


@pytest.mark.parametrize("stage", ["spake", "confirm"])
@given(data=hostile(VALID_HANDSHAKES))
@example(data=encode_handshake(Spake(version=PROTOCOL_VERSION, tag=TAG, msg=b"S" + bytes(32))))
def test_handshake_receive_raises_only_handshake_errors(stage: str, data: bytes) -> None:
    ours = Handshake(CODE, TAG, initiator=True)
    ours.start()
    if stage == "confirm":
        peer = Handshake(CODE, TAG, initiator=False)
        ours.receive(peer.start())
    try:
        replies = ours.receive(data)
    except HandshakeError:
        assert not ours.done
        return
    assert all(isinstance(r, bytes) for r in replies)


@given(point=st.binary(min_size=32, max_size=32), side=st.sampled_from([b"S", b"A", b"B", b"\0"]))
def test_any_spake_point_raises_only_handshake_errors(point: bytes, side: bytes) -> None:
    ours = Handshake(CODE, TAG, initiator=False)
    ours.start()
    try:
        spake = Spake(version=PROTOCOL_VERSION, tag=TAG, msg=side + point)
        [reply] = ours.receive(encode_handshake(spake))
    except HandshakeError:
        return
    # A point that happens to be valid just leads to a Confirm that a guesser cannot forge.
    assert isinstance(decode_handshake(reply), Confirm)


@given(data=st.data())
def test_mutated_genuine_handshake_never_crashes_nor_completes_wrongly(data: st.DataObject) -> None:
    a = Handshake(CODE, TAG, initiator=True)
    b = Handshake(CODE, TAG, initiator=False)
    spake_a, spake_b = a.start(), b.start()
    [confirm_b] = b.receive(spake_a)
    target = data.draw(st.sampled_from(["spake", "confirm"]))
    try:
        if target == "spake":
            replies = a.receive(data.draw(mutated([spake_b])))
            a.receive(confirm_b)
        else:
            replies = a.receive(spake_b)
            a.receive(data.draw(mutated([confirm_b])))
    except HandshakeError:
        assert not a.done
        return
    # Only a mutation that still decodes to the genuine message gets through (msgpack has
    # several encodings of one value); then both sides must agree on the keys.
    assert a.done
    b.receive(replies[0])
    assert a.keys.send_key == b.keys.recv_key
