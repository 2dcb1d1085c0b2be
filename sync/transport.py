"""How frames travel between two laptops: a ``Transport`` protocol and its implementations.

A transport carries frame bodies (bytes), in order, both ways, until it is closed. It knows
nothing of keys or envelopes: the handshake and the secure channel run on top of any
transport alike. ``TcpTransport`` frames bodies over an asyncio stream (4-byte length
prefix, see ``sync.wire``); ``memory_pair`` links two in-process endpoints and can lose,
delay, duplicate or cut frames on demand, for tests.

A ``Network`` is how a node is reached and reaches others: ``listen`` hands each incoming
transport to the node, ``connect`` opens one to an address. ``TcpNetwork`` is the local
network; ``MemoryNetwork`` connects nodes in one process through memory pairs (tests). A
broker link (MQTT) is another ``Network`` whose transports carry the same frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sync.wire import HANDSHAKE_MAX_FRAME, MAX_FRAME, FrameDecoder, WireError, encode_frame

__all__ = ["Faults", "Listening", "MemoryNetwork", "MemoryTransport", "Network", "TcpNetwork",
           "TcpTransport", "Transport", "TransportClosed", "memory_pair"]

READ_CHUNK: Final = 65536


class TransportClosed(Exception):
    """The transport ended (cleanly or not); ``reason`` says why, for logs and people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transport(Protocol):
    """Frame bodies in order, both ways."""

    remote: str  # who is at the other end, for people (an address)

    @property
    def closed(self) -> bool: ...

    @property
    def max_frame(self) -> int: ...

    @max_frame.setter
    def max_frame(self, value: int) -> None: ...

    def send_nowait(self, body: bytes) -> None:
        """Queue one frame body; raises TransportClosed once closed."""

    async def drain(self) -> None:
        """Wait until what was queued has left (or the transport closed)."""

    async def receive(self) -> bytes:
        """The next frame body; raises TransportClosed at the end, WireError on bad bytes."""

    async def close(self) -> None: ...


class TcpTransport:
    """Frames over an asyncio stream. Until ``max_frame`` is raised (once the other side
    proved who it is), frames are held to ``HANDSHAKE_MAX_FRAME``, so a stranger cannot
    make us buffer megabytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = FrameDecoder(HANDSHAKE_MAX_FRAME)
        peer = writer.get_extra_info("peername")
        self.remote = str(peer[0]) if peer else "?"
        self.port = int(peer[1]) if peer else 0
        self._closed = False
        self.bytes_sent = 0

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float) -> TcpTransport:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        return self._closed or self._writer.is_closing()

    @property
    def max_frame(self) -> int:
        return self._decoder.max_frame

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        self._decoder.max_frame = value

    def send_nowait(self, body: bytes) -> None:
        if self.closed:
            raise TransportClosed("the connection is closed")
        frame = encode_frame(body)
        self.bytes_sent += len(frame)
        try:
            self._writer.write(frame)
        except (ConnectionError, OSError, RuntimeError) as exc:
            raise TransportClosed(f"sending failed ({exc})") from None

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await self._writer.drain()

    async def receive(self) -> bytes:
        try:
            while (body := self._decoder.pop()) is None:
                data = await self._reader.read(READ_CHUNK)
                if not data:
                    raise TransportClosed("the connection was closed by the other side")
                self._decoder.push(data)
        except (ConnectionError, OSError) as exc:
            raise TransportClosed(f"the connection broke ({exc})") from None
        return body

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)


@dataclass
class Faults:
    """What a memory transport does to the frames it carries (tests set these)."""

    drop: float = 0.0  # probability a frame is lost (the link then dies: frames are in order)
    delay: float = 0.0  # seconds each frame takes
    duplicate: float = 0.0  # probability a frame arrives twice
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311


class MemoryTransport:
    """One end of an in-process pair (see ``memory_pair``)."""

    def __init__(self, remote: str, faults: Faults) -> None:
        self.remote = remote
        self.faults = faults
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._other: MemoryTransport | None = None
        self._closed = False
        self._max_frame = HANDSHAKE_MAX_FRAME
        self.sent: list[bytes] = []  # every frame body sent, for tests to inspect
        self.on_send: Callable[[bytes], None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def max_frame(self) -> int:
        return self._max_frame

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        if not 0 <= value <= MAX_FRAME:
            raise ValueError(f"max_frame must be between 0 and {MAX_FRAME}")
        self._max_frame = value

    def send_nowait(self, body: bytes) -> None:
        if self._closed or self._other is None:
            raise TransportClosed("the connection is closed")
        self.sent.append(body)
        if self.on_send is not None:
            self.on_send(body)
        other, faults = self._other, self.faults
        if faults.drop and faults.rng.random() < faults.drop:
            return
        copies = 2 if faults.duplicate and faults.rng.random() < faults.duplicate else 1
        for _ in range(copies):
            if faults.delay:
                asyncio.get_running_loop().call_later(faults.delay, other._deliver, body)
            else:
                other._deliver(body)

    def _deliver(self, body: bytes | None) -> None:
        if not self._closed:
            self._inbox.put_nowait(body)

    async def drain(self) -> None:
        await asyncio.sleep(0)

    async def receive(self) -> bytes:
        if self._closed:
            raise TransportClosed("the connection is closed")
        body = await self._inbox.get()
        if body is None:
            self._closed = True
            raise TransportClosed("the connection was closed by the other side")
        if len(body) > self._max_frame:
            raise WireError(f"a {len(body)}-byte frame; the limit is {self._max_frame}")
        return body

    def cut(self) -> None:
        """Break the connection at once, both ways (a wifi drop)."""
        for end in (self, self._other):
            if end is not None and not end._closed:
                end._inbox.put_nowait(None)
                end._closed = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._other is not None:
            self._other._deliver(None)
        self._inbox.put_nowait(None)


def memory_pair(a: str = "10.0.0.1", b: str = "10.0.0.2",
                faults: Faults | None = None) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-process ends: what one sends, the other receives. ``a`` and ``b``
    are the addresses each end sees for the other."""
    shared = faults or Faults()
    first, second = MemoryTransport(b, shared), MemoryTransport(a, shared)
    first._other, second._other = second, first
    return first, second


# -- networks ---------------------------------------------------------------------------------
Accept = Callable[["Transport"], Coroutine[Any, Any, None]]


class Listening(Protocol):
    """A listener a ``Network`` opened: the port it got, and how to stop it."""

    port: int

    async def close(self) -> None: ...


class Network(Protocol):
    """How a node is reached (``listen``) and reaches others (``connect``)."""

    async def listen(self, host: str, port: int, accept: Accept) -> Listening:
        """Hand every incoming transport to ``accept`` (each in a task of its own) until
        the listener is closed; ``port`` 0 picks a free one. Raises OSError."""

    async def connect(self, host: str, port: int, timeout: float) -> Transport:
        """A transport to ``host:port``. Raises OSError or TimeoutError."""


class _TcpListening:
    def __init__(self, server: asyncio.Server) -> None:
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)


class TcpNetwork:
    """The local network: TCP, one connection per link."""

    async def listen(self, host: str, port: int, accept: Accept) -> Listening:
        async def incoming(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await accept(TcpTransport(reader, writer))
            except asyncio.CancelledError:
                # The node stopping ends this connection; asyncio's stream server would
                # report a cancelled handler as an error (Python 3.11).
                writer.close()

        return _TcpListening(await asyncio.start_server(incoming, host=host, port=port))

    async def connect(self, host: str, port: int, timeout: float) -> Transport:
        return await TcpTransport.connect(host, port, timeout)


class MemoryNetwork:
    """Nodes in one process, linked by memory pairs (tests): ``at(address)`` is the network
    as the laptop at ``address`` sees it. ``faults`` apply to every pair; ``pairs`` keeps
    them, so a test can cut one (a wifi drop)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.pairs: list[tuple[MemoryTransport, MemoryTransport]] = []
        self._listeners: dict[tuple[str, int], tuple[Accept, _MemoryListening]] = {}
        self._ports = itertools.count(40_000)

    def at(self, address: str) -> _MemoryHost:
        return _MemoryHost(self, address)


class _MemoryListening:
    def __init__(self, network: MemoryNetwork, key: tuple[str, int]) -> None:
        self._network, self._key, self.port = network, key, key[1]
        self.tasks: set[asyncio.Task[None]] = set()  # the accepts still running

    async def close(self) -> None:
        """Stop listening, and end what it accepted that still runs (a node's stop
        ends its links first; this leaves no task behind the loop)."""
        self._network._listeners.pop(self._key, None)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class _MemoryHost:
    def __init__(self, network: MemoryNetwork, address: str) -> None:
        self.network, self.address = network, address

    async def listen(self, host: str, port: int, accept: Accept) -> Listening:
        key = (self.address, port or next(self.network._ports))
        if key in self.network._listeners:
            raise OSError(f"{key[0]}:{key[1]} is already in use")
        listening = _MemoryListening(self.network, key)
        self.network._listeners[key] = (accept, listening)
        return listening

    async def connect(self, host: str, port: int, timeout: float) -> Transport:
        listener = self.network._listeners.get((host, port))
        if listener is None:
            raise ConnectionRefusedError(f"nothing listens at {host}:{port}")
        accept, listening = listener
        mine, theirs = memory_pair(self.address, host, self.network.faults)
        self.network.pairs.append((mine, theirs))
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(accept(theirs))
        listening.tasks.add(task)
        task.add_done_callback(listening.tasks.discard)
        return mine
