import itertools

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.wire import (
    HANDSHAKE_MAX_FRAME,
    MAX_FRAME,
    PROTOCOL_VERSION,
    Bye,
    Confirm,
    Envelope,
    FrameDecoder,
    FrameTooLarge,
    HandshakeMsg,
    Hello,
    MalformedFrame,
    Peers,
    Ping,
    Pong,
    Presence,
    Reject,
    Spake,
    Sync,
    UnsupportedVersion,
    WireError,
    decode_envelope,
    decode_handshake,
    encode_envelope,
    encode_frame,
    encode_handshake,
)


def test_constants() -> None:
    assert PROTOCOL_VERSION == 3
    assert MAX_FRAME == 8 * 1024 * 1024
    assert HANDSHAKE_MAX_FRAME < MAX_FRAME


def test_error_hierarchy() -> None:
    for cls in (FrameTooLarge, MalformedFrame, UnsupportedVersion):
        assert issubclass(cls, WireError)
    assert issubclass(WireError, Exception)


# --- Framing --------------------------------------------------------------------------------


def test_encode_frame_exact_bytes() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(b"") == b"\x00\x00\x00\x00"


def test_encode_frame_at_the_limit_and_past_it() -> None:
    assert encode_frame(bytes(MAX_FRAME))[:4] == b"\x00\x80\x00\x00"
    with pytest.raises(FrameTooLarge, match=r"8388609 bytes exceeds the 8388608-byte limit"):
        encode_frame(bytes(MAX_FRAME + 1))


def test_decoder_returns_whole_frames_and_buffers_partial_ones() -> None:
    dec = FrameDecoder()
    stream = encode_frame(b"one") + encode_frame(b"") + encode_frame(b"three")
    assert dec.feed(stream[:2]) == []
    assert dec.buffered == 2
    assert dec.feed(stream[2:8]) == [b"one"]
    assert dec.buffered == 1
    assert dec.feed(stream[8:13]) == [b""]
    assert dec.feed(stream[13:]) == [b"three"]
    assert dec.buffered == 0


def test_decoder_many_frames_in_one_feed() -> None:
    bodies = [bytes([i]) * i for i in range(50)]
    dec = FrameDecoder()
    assert dec.feed(b"".join(encode_frame(b) for b in bodies)) == bodies


def test_decoder_rejects_oversized_prefix_before_the_body_arrives() -> None:
    dec = FrameDecoder()
    with pytest.raises(FrameTooLarge, match=r"8388609-byte frame; the limit is 8388608"):
        dec.feed((MAX_FRAME + 1).to_bytes(4, "big"))
    assert dec.buffered == 0


def test_decoder_accepts_a_frame_of_exactly_max_frame() -> None:
    dec = FrameDecoder()
    body = b"x" * MAX_FRAME
    frame = encode_frame(body)
    assert dec.feed(frame[:-1]) == []
    assert dec.feed(frame[-1:]) == [body]


def test_decoder_stays_failed_after_an_error() -> None:
    dec = FrameDecoder(max_frame=10)
    with pytest.raises(FrameTooLarge):
        dec.feed(b"\x00\x00\x00\x0b")
    with pytest.raises(FrameTooLarge):
        dec.feed(encode_frame(b"fine"))


def test_decoder_custom_limit_for_the_handshake_phase() -> None:
    dec = FrameDecoder(max_frame=HANDSHAKE_MAX_FRAME)
    assert dec.feed(encode_frame(bytes(HANDSHAKE_MAX_FRAME))) == [bytes(HANDSHAKE_MAX_FRAME)]
    with pytest.raises(FrameTooLarge, match="limit is 4096"):
        dec.feed(encode_frame(bytes(HANDSHAKE_MAX_FRAME + 1)))


@pytest.mark.parametrize("limit", [-1, MAX_FRAME + 1])
def test_decoder_limit_must_be_within_the_protocol_limit(limit: int) -> None:
    with pytest.raises(ValueError, match="max_frame"):
        FrameDecoder(max_frame=limit)


@given(
    bodies=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_decoder_any_chunking_yields_the_same_frames(bodies: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(b) for b in bodies)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    dec = FrameDecoder()
    out: list[bytes] = []
    for start, end in itertools.pairwise(points):
        out.extend(dec.feed(stream[start:end]))
    assert out == bodies
    assert dec.buffered == 0


# --- Handshake messages ---------------------------------------------------------------------

HANDSHAKE_SAMPLES: list[HandshakeMsg] = [
    Spake(version=PROTOCOL_VERSION, tag="t-123", msg=b"S" + bytes(32)),
    Confirm(mac=bytes(range(32))),
    Reject(reason="wrong-code"),
]


@pytest.mark.parametrize("msg", HANDSHAKE_SAMPLES, ids=lambda m: type(m).__name__)
def test_handshake_round_trip(msg: HandshakeMsg) -> None:
    assert decode_handshake(encode_handshake(msg)) == msg


def test_handshake_messages_are_tagged_by_class_name() -> None:
    assert msgspec.msgpack.decode(encode_handshake(Reject(reason="busy"))) == {
        "type": "Reject",
        "reason": "busy",
    }
    assert msgspec.msgpack.decode(encode_handshake(Spake(version=1, tag="x", msg=b"m"))) == {
        "type": "Spake",
        "version": 1,
        "tag": "x",
        "msg": b"m",
    }


def test_spake_with_another_version_is_unsupported() -> None:
    data = encode_handshake(Spake(version=PROTOCOL_VERSION + 1, tag="x", msg=b"m"))
    with pytest.raises(UnsupportedVersion,
                       match=f"peer speaks protocol version {PROTOCOL_VERSION + 1}"):
        decode_handshake(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode({"type": "Hello", "version": 1}),
        msgspec.msgpack.encode({"type": "Confirm"}),
        msgspec.msgpack.encode({"type": "Confirm", "mac": "not bytes"}),
        msgspec.msgpack.encode({"mac": b"no tag"}),
        msgspec.msgpack.encode([1, 2, 3]),
        b"\x81\xa4type\xa1\x80",  # invalid UTF-8 in the tag: msgspec raises UnicodeDecodeError
        b"\x82\xa4type\xa6Reject\xa6reason\xa1\xff",  # invalid UTF-8 in a field
    ],
)
def test_bad_handshake_bytes_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFrame, match="bad handshake message"):
        decode_handshake(data)


def test_envelope_is_not_a_handshake_message() -> None:
    with pytest.raises(MalformedFrame):
        decode_handshake(encode_envelope(Bye()))


# --- Envelopes -------------------------------------------------------------------------------

ENVELOPE_SAMPLES: list[Envelope] = [
    Hello(version=PROTOCOL_VERSION, peer_id="p1", name="Ana", listen_port=49152, is_host=True),
    Hello(version=PROTOCOL_VERSION, peer_id="p2", name="Bo", listen_port=None, is_host=False),
    Sync(data=b"\x42\x00\xff"),
    Presence(peer_id="p1", name="Ana"),
    Presence(
        peer_id="p1",
        name="Ana",
        hand_raised=True,
        hand_raised_at=1700000000.5,
        done_phase=3,
        typing=True,
    ),
    Peers(addrs=[("192.168.1.10", 49152), ("fe80::1", 1)]),
    Peers(addrs=[]),
    Ping(nonce=7, sent=12.25),
    Pong(nonce=7, sent=12.25, peer_time=1700000000.0),
    Bye(),
    Bye(reason="session ended"),
]


@pytest.mark.parametrize("env", ENVELOPE_SAMPLES, ids=lambda e: type(e).__name__)
def test_envelope_round_trip(env: Envelope) -> None:
    assert decode_envelope(encode_envelope(env)) == env


def test_presence_defaults_are_exact() -> None:
    p = decode_envelope(msgspec.msgpack.encode({"type": "Presence", "peer_id": "a", "name": "b"}))
    assert p == Presence(
        peer_id="a",
        name="b",
        hand_raised=False,
        hand_raised_at=None,
        done_phase=None,
        typing=False,
    )


def test_peers_addresses_decode_as_tuples() -> None:
    env = decode_envelope(encode_envelope(Peers(addrs=[("10.0.0.2", 4000)])))
    assert isinstance(env, Peers)
    assert env.addrs == [("10.0.0.2", 4000)]
    assert isinstance(env.addrs[0], tuple)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = msgspec.msgpack.encode({"type": "Bye", "reason": "x", "added_in_v1_1": 5})
    assert decode_envelope(data) == Bye(reason="x")


def test_hello_with_another_version_is_unsupported() -> None:
    data = encode_envelope(Hello(version=0, peer_id="p", name="n", listen_port=1, is_host=False))
    with pytest.raises(UnsupportedVersion,
                       match=f"version 0, this program speaks {PROTOCOL_VERSION}"):
        decode_envelope(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x93\x01\x02",
        msgspec.msgpack.encode({"type": "Nope"}),
        msgspec.msgpack.encode({"type": "Ping", "nonce": "seven", "sent": 1.0}),
        msgspec.msgpack.encode({"type": "Peers", "addrs": [["h", 0]]}),
        msgspec.msgpack.encode({"type": "Peers", "addrs": [["h", 65536]]}),
        msgspec.msgpack.encode({"type": "Peers", "addrs": [["h", 1, 2]]}),
        msgspec.msgpack.encode(
            {
                "type": "Hello",
                "version": 1,
                "peer_id": "p",
                "name": "n",
                "listen_port": 70000,
                "is_host": False,
            }
        ),
        encode_handshake(Reject(reason="busy")),
        b"\x81\xa4type\xa5\x00\x00\x00\x00\x80",
        b"\x83\xa4type\xa3Bye\xa6reason\xa2\xc3\x28",
    ],
)
def test_bad_envelope_bytes_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedFrame, match="bad envelope"):
        decode_envelope(data)


def test_malformed_frame_keeps_the_msgspec_error_as_cause() -> None:
    with pytest.raises(MalformedFrame) as info:
        decode_envelope(b"")
    assert isinstance(info.value.__cause__, msgspec.DecodeError)
