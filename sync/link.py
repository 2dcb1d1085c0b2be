"""One authenticated, encrypted link to a peer over a ``Transport``.

``accept`` and ``dial`` run the handshake machines of ``sync.handshake`` on a fresh
transport (the listener speaks first) and return its ``Outcome``; a ``Link`` then sends and
receives typed envelopes through the ``SecureChannel`` the handshake produced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from sync.channel import ChannelError, SecureChannel
from sync.handshake import HandshakeError, Initiator, Outcome, Responder
from sync.transport import Transport, TransportClosed
from sync.wire import MAX_FRAME, Envelope, WireError, decode_envelope, encode_envelope

__all__ = ["HANDSHAKE_TIMEOUT", "Link", "LinkClosed", "accept", "dial"]

HANDSHAKE_TIMEOUT: Final = 10.0
FIRST_MESSAGE_TIMEOUT: Final = 5.0


class LinkClosed(Exception):
    """The link ended (cleanly or not); ``reason`` says why, for logs and people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Link:
    """An established secure link: typed envelopes in, typed envelopes out."""

    def __init__(self, transport: Transport, channel: SecureChannel, *, initiator: bool,
                 peer: bytes) -> None:
        self.transport = transport
        self._channel = channel
        self.initiator = initiator
        self.peer = peer
        self.remote = transport.remote
        transport.max_frame = MAX_FRAME

    @property
    def closed(self) -> bool:
        return self.transport.closed

    def send_nowait(self, envelope: Envelope) -> None:
        """Encrypt and queue one envelope; frames leave in the order they were queued."""
        try:
            self.transport.send_nowait(self._channel.seal(encode_envelope(envelope)))
        except (TransportClosed, WireError) as exc:
            raise LinkClosed(str(exc)) from None

    async def drain(self) -> None:
        await self.transport.drain()

    async def receive(self) -> Envelope:
        """The next envelope; any malformed, tampered or replayed frame closes the link."""
        try:
            return decode_envelope(self._channel.open(await self.transport.receive()))
        except TransportClosed as exc:
            raise LinkClosed(exc.reason) from None
        except (WireError, ChannelError) as exc:
            raise LinkClosed(f"bad frame from {self.remote}: {exc}") from None

    async def close(self) -> None:
        await self.transport.close()


async def _exchange(transport: Transport, machine: Responder | Initiator,
                    on_first: Callable[[], None]) -> Outcome:
    first = True
    while not machine.done:
        body = await transport.receive()
        if first:
            first = False
            on_first()
        try:
            replies = machine.receive(body)
        except HandshakeError as exc:
            frame = machine.reject_frame(exc)
            if frame is not None:
                with contextlib.suppress(TransportClosed):
                    transport.send_nowait(frame)
                    await transport.drain()
            raise
        for reply in replies:
            transport.send_nowait(reply)
    return machine.outcome


async def accept(transport: Transport, machine: Responder, *,
                 first_message: float = FIRST_MESSAGE_TIMEOUT,
                 finish: float = HANDSHAKE_TIMEOUT,
                 on_first: Callable[[], None] = lambda: None) -> Outcome:
    """Run the listener's side of the handshake; raises HandshakeError or LinkClosed.

    The other side must speak within ``first_message`` seconds and finish within
    ``finish``: a silent connection does not hold a slot for long."""
    spoke = asyncio.Event()

    def first() -> None:
        spoke.set()
        on_first()

    async def run() -> Outcome:
        transport.send_nowait(machine.start())
        return await _exchange(transport, machine, first)

    task = asyncio.ensure_future(run())
    waiter = asyncio.ensure_future(spoke.wait())
    try:
        async with asyncio.timeout(finish):
            done, _ = await asyncio.wait({task, waiter}, timeout=first_message,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                raise LinkClosed("the other side never spoke")
            return await task
    except TimeoutError:
        raise LinkClosed("the handshake timed out") from None
    except (TransportClosed, WireError) as exc:
        raise LinkClosed(f"the handshake failed ({exc})") from None
    finally:
        # Awaited even when done: a handshake that failed as this one was cancelled (the
        # node stopping) has its exception taken, not left for the loop to complain of.
        for pending in (task, waiter):
            if not pending.done():
                pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


async def dial(transport: Transport, machine: Initiator, *,
               finish: float = HANDSHAKE_TIMEOUT) -> Outcome:
    """Run the dialler's side of the handshake; raises HandshakeError or LinkClosed."""
    machine.start()
    try:
        async with asyncio.timeout(finish):
            return await _exchange(transport, machine, lambda: None)
    except TimeoutError:
        raise LinkClosed("the handshake timed out") from None
    except (TransportClosed, WireError) as exc:
        raise LinkClosed(f"the handshake failed ({exc})") from None
