"""Authenticated encryption of frame bodies once the handshake has produced session keys.

A sealed frame is an 8-byte big-endian counter followed by the ChaCha20-Poly1305 ciphertext
and tag. The counter is the nonce; carrying it lets the receiver tell a replayed or reordered
frame from a tampered one. Each direction has its own key, so the two counters never collide.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync.wire import MAX_FRAME

__all__ = [
    "MAX_PLAINTEXT",
    "OVERHEAD",
    "ChannelError",
    "CounterExhausted",
    "ReplayedFrame",
    "SecureChannel",
    "SessionKeys",
    "TamperedFrame",
]

_COUNTER = struct.Struct(">Q")
_TAG_SIZE: Final = 16
OVERHEAD: Final = _COUNTER.size + _TAG_SIZE
MAX_PLAINTEXT: Final = MAX_FRAME - OVERHEAD
_LAST_COUNTER: Final = 2**64 - 1


@dataclass(frozen=True)
class SessionKeys:
    """One key per direction; a peer's send_key is the other side's recv_key."""

    send_key: bytes = field(repr=False)
    recv_key: bytes = field(repr=False)


class ChannelError(Exception):
    """A frame cannot be sealed or opened; str(error) says why."""


class TamperedFrame(ChannelError):
    """The frame fails authentication: altered, truncated, or sealed under another key."""


class ReplayedFrame(ChannelError):
    """An authentic frame arrived out of turn: a replay, or frames dropped or reordered."""


class CounterExhausted(ChannelError):
    """2**64 frames went one way; the session must be re-keyed by a new handshake."""


def _nonce(counter: int) -> bytes:
    return bytes(4) + _COUNTER.pack(counter)


class SecureChannel:
    """Seal frames to the peer and open frames from it, strictly in order."""

    def __init__(self, keys: SessionKeys) -> None:
        self._sealer = ChaCha20Poly1305(keys.send_key)
        self._opener = ChaCha20Poly1305(keys.recv_key)
        self._send_counter = 0
        self._recv_counter = 0

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt and authenticate the next outgoing frame body."""
        counter = self._send_counter
        if counter > _LAST_COUNTER:
            raise CounterExhausted("too many frames sent under one key; reconnect to re-key")
        prefix = _COUNTER.pack(counter)
        # The prefix is also the associated data, so it is authenticated in its own right.
        sealed = prefix + self._sealer.encrypt(_nonce(counter), plaintext, prefix)
        self._send_counter = counter + 1
        return sealed

    def open(self, ciphertext: bytes) -> bytes:
        """Authenticate and decrypt the next incoming frame body.

        Raises TamperedFrame if it is not authentic, ReplayedFrame if it is not the next one.
        """
        expected = self._recv_counter
        if expected > _LAST_COUNTER:
            raise CounterExhausted("too many frames received under one key; reconnect to re-key")
        if len(ciphertext) < OVERHEAD:
            raise TamperedFrame(
                f"frame of {len(ciphertext)} bytes is shorter than the {OVERHEAD}-byte envelope"
            )
        prefix = bytes(ciphertext[: _COUNTER.size])
        (counter,) = _COUNTER.unpack(prefix)
        # Authenticate before judging the counter: an altered counter is tampering, and only a
        # frame we really sealed, seen at the wrong time, is a replay.
        try:
            plaintext = self._opener.decrypt(
                _nonce(counter), bytes(ciphertext[_COUNTER.size :]), prefix
            )
        except InvalidTag:
            raise TamperedFrame(f"frame {counter} failed authentication") from None
        if counter < expected:
            raise ReplayedFrame(f"frame {counter} was already received (expected {expected})")
        if counter > expected:
            raise ReplayedFrame(
                f"frame {counter} arrived before frame {expected}: frames were lost or reordered"
            )
        self._recv_counter = expected + 1
        return plaintext
