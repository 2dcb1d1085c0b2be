"""One authenticated, encrypted connection to a peer over an asyncio stream.

``open_link`` runs the join-code handshake (``sync.handshake``) on a fresh
TCP stream and returns a ``Link`` that sends and receives typed envelopes
through a ``SecureChannel``. The responder speaks first with its session tag,
so a joiner that only knows ``host:port`` learns the tag from the host and
binds its own key exchange to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from sync.channel import ChannelError, SecureChannel
from sync.handshake import Handshake, HandshakeError, WrongCode, WrongSession
from sync.wire import (
    HANDSHAKE_MAX_FRAME,
    MAX_FRAME,
    REJECT_WRONG_CODE,
    REJECT_WRONG_SESSION,
    Envelope,
    FrameDecoder,
    Spake,
    WireError,
    decode_envelope,
    decode_handshake,
    encode_envelope,
    encode_frame,
)

HANDSHAKE_TIMEOUT: Final = 10.0
READ_CHUNK: Final = 65536


class LinkClosed(Exception):
    """The connection ended (cleanly or not); ``reason`` says why, for logs and users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Frames:
    """Frame bodies read from a stream, one at a time.

    Until the peer has proved it knows the code, frames are held to
    ``HANDSHAKE_MAX_FRAME`` so a stranger cannot make us buffer megabytes.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.decoder = FrameDecoder(HANDSHAKE_MAX_FRAME)

    async def next(self) -> bytes:
        while (body := self.decoder.pop()) is None:
            data = await self._reader.read(READ_CHUNK)
            if not data:
                raise LinkClosed("the connection was closed by the other side")
            self.decoder.push(data)
        return body


class Link:
    """An established secure connection: typed envelopes in, typed envelopes out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 frames: _Frames, channel: SecureChannel, initiator: bool, tag: str) -> None:
        self._writer = writer
        self._frames = frames
        self._channel = channel
        self.initiator = initiator
        self.tag = tag
        peer = writer.get_extra_info("peername")
        self.remote: tuple[str, int] = (peer[0], peer[1]) if peer else ("?", 0)
        self.bytes_sent = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or self._writer.is_closing()

    def send_nowait(self, envelope: Envelope) -> None:
        """Encrypt and queue one envelope; frames leave in the order they were queued."""
        if self.closed:
            raise LinkClosed("the link is closed")
        frame = encode_frame(self._channel.seal(encode_envelope(envelope)))
        self.bytes_sent += len(frame)
        try:
            self._writer.write(frame)
        except (ConnectionError, OSError, RuntimeError) as exc:
            raise LinkClosed(f"sending failed ({exc})") from None

    async def send(self, envelope: Envelope) -> None:
        """Encrypt and send one envelope, waiting while the socket's buffer is full."""
        self.send_nowait(envelope)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise LinkClosed(f"sending failed ({exc})") from None

    async def receive(self) -> Envelope:
        """The next envelope; any malformed, tampered or replayed frame closes the link."""
        try:
            body = await self._frames.next()
            return decode_envelope(self._channel.open(body))
        except (WireError, ChannelError) as exc:
            raise LinkClosed(f"bad frame from {self.remote[0]}: {exc}") from None
        except (ConnectionError, OSError) as exc:
            raise LinkClosed(f"the connection broke ({exc})") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)


async def _send_raw(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(encode_frame(body))
    await writer.drain()


async def open_link(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    code: str,
    tag: str | None,
    initiator: bool,
) -> Link:
    """Authenticate a fresh stream with the join code; raise HandshakeError or LinkClosed.

    The responder must know its ``tag``; an initiator may pass ``None`` to take
    the tag the responder announces (joining by address).
    """
    frames = _Frames(reader)

    async def run() -> tuple[Handshake, str]:
        if initiator:
            first = await frames.next()
            try:
                announced = decode_handshake(first)
            except WireError as exc:
                raise HandshakeError(f"the other side did not start a handshake ({exc})") from None
            if not isinstance(announced, Spake):
                machine = Handshake(code, tag or "", initiator=True)
                machine.start()
                machine.receive(first)  # raises PeerRejected / HandshakeError with the reason
                raise HandshakeError("unexpected first message")
            used = tag if tag is not None else announced.tag
            machine = Handshake(code, used, initiator=True)
            await _send_raw(writer, machine.start())
            pending = [first]
        else:
            if tag is None:
                raise ValueError("a responder needs its session tag")
            used = tag
            machine = Handshake(code, tag, initiator=False)
            await _send_raw(writer, machine.start())
            pending = []
        while not machine.done:
            body = pending.pop(0) if pending else await frames.next()
            try:
                replies = machine.receive(body)
            except WrongCode:
                with contextlib.suppress(Exception):
                    await _send_raw(writer, machine.reject_frame(REJECT_WRONG_CODE))
                raise
            except WrongSession:
                with contextlib.suppress(Exception):
                    await _send_raw(writer, machine.reject_frame(REJECT_WRONG_SESSION))
                raise
            for reply in replies:
                await _send_raw(writer, reply)
        return machine, used

    try:
        machine, used_tag = await asyncio.wait_for(run(), HANDSHAKE_TIMEOUT)
    except TimeoutError:
        writer.close()
        raise LinkClosed("the handshake timed out") from None
    except (HandshakeError, LinkClosed, WireError, ConnectionError, OSError) as exc:
        writer.close()
        if isinstance(exc, (HandshakeError, LinkClosed)):
            raise
        raise LinkClosed(f"the handshake failed ({exc})") from None
    frames.decoder.max_frame = MAX_FRAME
    return Link(reader, writer, frames, SecureChannel(machine.keys), initiator, used_tag)
