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
    Certificate,
    Changes,
    Code,
    Confirm,
    Document,
    Envelope,
    FrameDecoder,
    FrameTooLarge,
    HandshakeMsg,
    Have,
    Hello,
    Join,
    KeyHello,
    KeyProof,
    MalformedFrame,
    Offer,
    Peer,
    Peers,
    Ping,
    Pong,
    Presence,
    Reject,
    Report,
    SignedHead,
    Spake,
    UnsupportedVersion,
    Welcome,
    WireError,
    decode_envelope,
    decode_handshake,
    encode_envelope,
    encode_frame,
    encode_handshake,
)


def test_constants() -> None:
    assert PROTOCOL_VERSION == 4
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

KEY = bytes(range(32))
SIG = bytes(64)

HANDSHAKE_SAMPLES: list[HandshakeMsg] = [
    Offer(version=PROTOCOL_VERSION, tag="5f3a9c01d2e4b7a6", eph=KEY, admits=True),
    KeyHello(eph=KEY),
    KeyProof(key=KEY, admission=SIG, sig=SIG),
    KeyProof(key=KEY, admission=b"", sig=SIG),
    Spake(msg=b"S" + bytes(32)),
    Confirm(mac=bytes(range(32))),
    Reject(reason="wrong-code"),
    Reject(reason="busy", retry_after=9.5),
]


@pytest.mark.parametrize("msg", HANDSHAKE_SAMPLES, ids=lambda m: type(m).__name__)
def test_handshake_round_trip(msg: HandshakeMsg) -> None:
    assert decode_handshake(encode_handshake(msg)) == msg


def test_handshake_messages_are_tagged_by_class_name() -> None:
    assert msgspec.msgpack.decode(encode_handshake(Reject(reason="busy"))) == {
        "type": "Reject", "reason": "busy", "retry_after": 0.0}
    assert msgspec.msgpack.decode(encode_handshake(Spake(msg=b"m"))) == {
        "type": "Spake", "msg": b"m"}


def test_an_offer_with_another_version_is_unsupported() -> None:
    data = encode_handshake(Offer(version=PROTOCOL_VERSION + 1, tag="ab", eph=KEY))
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
        msgspec.msgpack.encode({"type": "Confirm", "mac": b"short"}),
        msgspec.msgpack.encode({"type": "KeyHello", "eph": bytes(31)}),
        msgspec.msgpack.encode({"type": "KeyProof", "key": KEY, "admission": bytes(65),
                                "sig": SIG}),
        msgspec.msgpack.encode({"type": "Offer", "version": PROTOCOL_VERSION, "tag": "NOT HEX",
                                "eph": KEY}),
        msgspec.msgpack.encode({"type": "Offer", "version": PROTOCOL_VERSION, "tag": "a" * 33,
                                "eph": KEY}),
        msgspec.msgpack.encode({"type": "Reject", "reason": "x" * 201}),
        msgspec.msgpack.encode({"type": "Reject", "reason": "busy", "retry_after": -1.0}),
        msgspec.msgpack.encode({"type": "Reject", "reason": "busy",
                                "retry_after": float("inf")}),
        msgspec.msgpack.encode({"type": "Spake", "msg": bytes(65)}),
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
    Join(key=KEY, sig=SIG),
    Welcome(creator=KEY, nonce=bytes(16), admission=SIG, sig=SIG),
    Hello(version=PROTOCOL_VERSION, listen_port=49152),
    Hello(version=PROTOCOL_VERSION),
    Have(seqs=[(KEY, 3), (bytes(32), 0)]),
    Changes(changes=[b"\x85o", b""], heads=[SignedHead(KEY, KEY, SIG)],
            admissions=[Certificate(KEY, SIG)], answer=True),
    Document(data=b"doc", heads=[SignedHead(KEY, KEY, SIG)]),
    Presence(),
    Presence(hand_raised=True, hand_raised_at=1700000000.5, done_phase=3, typing=True,
             links=[KEY]),
    Peers(peers=[Peer(KEY, "192.168.1.10", 49152)]),
    Peers(peers=[]),
    Ping(nonce=7, sent=12.25, heads=[KEY]),
    Pong(nonce=7, sent=12.25, peer_time=1700000000.0),
    Code(code="1234-5678", reason="guessing"),
    Report(about=KEY, reason="forged a change"),
    Bye(),
    Bye(reason="session ended"),
]


@pytest.mark.parametrize("env", ENVELOPE_SAMPLES, ids=lambda e: type(e).__name__)
def test_envelope_round_trip(env: Envelope) -> None:
    assert decode_envelope(encode_envelope(env)) == env


def test_presence_defaults_are_exact() -> None:
    assert decode_envelope(msgspec.msgpack.encode({"type": "Presence"})) == Presence(
        hand_raised=False, hand_raised_at=None, done_phase=None, typing=False, links=[])


def test_presence_names_nobody_but_its_sender() -> None:
    # A presence used to carry a peer id anyone could set; the sender is the link's key now.
    assert "peer_id" not in Presence.__struct_fields__
    assert "name" not in Presence.__struct_fields__


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = msgspec.msgpack.encode({"type": "Bye", "reason": "x", "added_in_v4_1": 5})
    assert decode_envelope(data) == Bye(reason="x")


def test_hello_with_another_version_is_unsupported() -> None:
    data = encode_envelope(Hello(version=0, listen_port=1))
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
        # Times must be finite and plausible (finding: a Pong with -inf crashed the timer).
        msgspec.msgpack.encode({"type": "Pong", "nonce": 1, "sent": 1.0,
                                "peer_time": float("-inf")}),
        msgspec.msgpack.encode({"type": "Pong", "nonce": 1, "sent": float("nan"),
                                "peer_time": 1.0}),
        msgspec.msgpack.encode({"type": "Ping", "nonce": 1, "sent": 1e300}),
        msgspec.msgpack.encode({"type": "Ping", "nonce": -1, "sent": 1.0}),
        msgspec.msgpack.encode({"type": "Presence", "hand_raised_at": float("inf")}),
        msgspec.msgpack.encode({"type": "Presence", "done_phase": 10**9}),
        msgspec.msgpack.encode({"type": "Presence", "links": ["not a key"]}),
        msgspec.msgpack.encode({"type": "Peers", "peers": [[KEY, "h", 0]]}),
        msgspec.msgpack.encode({"type": "Peers", "peers": [[KEY, "h", 65536]]}),
        msgspec.msgpack.encode({"type": "Peers", "peers": [[KEY, "h" * 65, 1]]}),
        msgspec.msgpack.encode({"type": "Peers", "peers": [[KEY, "h", 1]] * 1025}),
        msgspec.msgpack.encode({"type": "Have", "seqs": [[KEY, -1]]}),
        msgspec.msgpack.encode({"type": "Have", "seqs": [[b"short", 1]]}),
        msgspec.msgpack.encode({"type": "Changes", "changes": [], "heads": [[KEY, KEY, b"x"]]}),
        msgspec.msgpack.encode({"type": "Hello", "version": PROTOCOL_VERSION,
                                "listen_port": 70000}),
        msgspec.msgpack.encode({"type": "Code", "code": "x" * 65}),
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
