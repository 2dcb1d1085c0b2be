import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given
from hypothesis import strategies as st

from sync.channel import (
    MAX_PLAINTEXT,
    OVERHEAD,
    ChannelError,
    CounterExhausted,
    ReplayedFrame,
    SecureChannel,
    SessionKeys,
    TamperedFrame,
)
from sync.wire import MAX_FRAME, encode_frame

KEY_AB = bytes(range(32))
KEY_BA = bytes(range(32, 64))


def channels() -> tuple[SecureChannel, SecureChannel]:
    a = SecureChannel(SessionKeys(send_key=KEY_AB, recv_key=KEY_BA))
    b = SecureChannel(SessionKeys(send_key=KEY_BA, recv_key=KEY_AB))
    return a, b


def test_error_hierarchy() -> None:
    for cls in (TamperedFrame, ReplayedFrame, CounterExhausted):
        assert issubclass(cls, ChannelError)


def test_sealed_format_is_counter_then_chacha20poly1305() -> None:
    a, _ = channels()
    aead = ChaCha20Poly1305(KEY_AB)
    for counter, text in enumerate([b"hello", b"", b"third"]):
        prefix = counter.to_bytes(8, "big")
        nonce = counter.to_bytes(12, "big")
        assert a.seal(text) == prefix + aead.encrypt(nonce, text, prefix)


def test_overhead_and_plaintext_limit() -> None:
    a, _ = channels()
    assert OVERHEAD == 24
    assert len(a.seal(b"12345")) == 5 + OVERHEAD
    assert MAX_PLAINTEXT == MAX_FRAME - 24


def test_largest_plaintext_still_fits_in_a_frame() -> None:
    a, b = channels()
    sealed = a.seal(bytes(MAX_PLAINTEXT))
    assert len(encode_frame(sealed)) == 4 + MAX_FRAME
    assert b.open(sealed) == bytes(MAX_PLAINTEXT)


def test_round_trip_both_directions() -> None:
    a, b = channels()
    for i in range(5):
        assert b.open(a.seal(b"from a %d" % i)) == b"from a %d" % i
        assert a.open(b.seal(b"from b %d" % i)) == b"from b %d" % i


@given(st.lists(st.binary(max_size=200), max_size=20))
def test_round_trip_any_sequence(messages: list[bytes]) -> None:
    a, b = channels()
    assert [b.open(a.seal(m)) for m in messages] == messages


def test_same_plaintext_seals_differently_each_time() -> None:
    a, _ = channels()
    assert a.seal(b"same") != a.seal(b"same")


@given(
    text=st.binary(max_size=16),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_altered_byte_is_tampering(text: bytes, position: int, flip: int) -> None:
    a, b = channels()
    original = a.seal(text)
    sealed = bytearray(original)
    sealed[position % len(sealed)] ^= flip
    with pytest.raises(TamperedFrame, match="failed authentication"):
        b.open(bytes(sealed))
    # The failure consumed nothing: the genuine frame still opens.
    assert b.open(original) == text


def test_every_byte_position_of_a_small_frame() -> None:
    a, _ = channels()
    sealed = a.seal(b"abc")
    for position in range(len(sealed)):
        _, b = channels()
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(TamperedFrame):
            b.open(bytes(altered))
        assert b.open(sealed) == b"abc"


@pytest.mark.parametrize("length", [0, 1, 8, OVERHEAD - 1])
def test_truncated_frame_is_tampering(length: int) -> None:
    a, b = channels()
    with pytest.raises(TamperedFrame, match=f"frame of {length} bytes is shorter than"):
        b.open(a.seal(b"x")[:length])


def test_dropped_tail_is_tampering() -> None:
    a, b = channels()
    with pytest.raises(TamperedFrame):
        b.open(a.seal(b"a long enough message")[:-1])


def test_replay_is_reported_as_such() -> None:
    a, b = channels()
    first = a.seal(b"one")
    assert b.open(first) == b"one"
    with pytest.raises(ReplayedFrame, match=r"frame 0 was already received \(expected 1\)"):
        b.open(first)
    assert b.open(a.seal(b"two")) == b"two"


def test_reorder_is_reported_and_recoverable() -> None:
    a, b = channels()
    first, second = a.seal(b"one"), a.seal(b"two")
    with pytest.raises(ReplayedFrame, match="frame 1 arrived before frame 0"):
        b.open(second)
    assert b.open(first) == b"one"
    assert b.open(second) == b"two"


def test_altered_counter_is_tampering_not_replay() -> None:
    a, b = channels()
    first = a.seal(b"one")
    b.open(first)
    moved = (5).to_bytes(8, "big") + first[8:]
    with pytest.raises(TamperedFrame):
        b.open(moved)


def test_wrong_key_is_tampering() -> None:
    a, _ = channels()
    stranger = SecureChannel(SessionKeys(send_key=bytes(32), recv_key=bytes(32)))
    with pytest.raises(TamperedFrame):
        stranger.open(a.seal(b"secret"))


def test_own_frames_reflected_back_do_not_open() -> None:
    a, _ = channels()
    with pytest.raises(TamperedFrame):
        a.open(a.seal(b"echo"))


def test_send_counter_exhaustion() -> None:
    a, b = channels()
    a._send_counter = 2**64 - 1
    b._recv_counter = 2**64 - 1
    last = a.seal(b"last")
    assert last[:8] == b"\xff" * 8
    assert b.open(last) == b"last"
    with pytest.raises(CounterExhausted, match="too many frames sent"):
        a.seal(b"one too many")
    with pytest.raises(CounterExhausted, match="too many frames received"):
        b.open(last)


@given(st.binary(max_size=100))
def test_random_bytes_only_raise_channel_errors(data: bytes) -> None:
    _, b = channels()
    with pytest.raises(ChannelError):
        b.open(data)
