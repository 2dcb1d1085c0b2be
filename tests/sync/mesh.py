"""Stand-ins for replication tests: nodes on loopback, a faulty TCP proxy, waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from model.protocols import Protocol, builtin_protocols
from model.session import Session
from sync.events import NodeEvent
from sync.link import LinkClosed, open_link
from sync.node import SessionNode
from sync.wire import PROTOCOL_VERSION, Changes, Hello, Ping, Pong, Sync
from tests.conftest import open_to_all

CODE = "4821-9130"
LOOPBACK = "127.0.0.1"

OPEN_CODEV = open_to_all(builtin_protocols()["codev"])  # any kind, any phase


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        await asyncio.sleep(0.01)


class Recorder:
    """Collects a node's events."""

    def __init__(self) -> None:
        self.events: list[NodeEvent] = []

    def __call__(self, event: NodeEvent) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[NodeEvent]:
        return [e for e in self.events if isinstance(e, kind)]


def host_node(title: str = "Séance test", *, name: str = "Anne", code: str = CODE,
              save_path: Path | None = None, protocol: Protocol = OPEN_CODEV,
              **kwargs: object) -> SessionNode:
    session = Session.create(title=title, protocol=protocol, name=name)
    return SessionNode(session, code=code, name=name, is_host=True, listen_host=LOOPBACK,
                       save_path=save_path, on_event=Recorder(), **kwargs)  # type: ignore[arg-type]


def joiner_node(name: str, *, code: str = CODE, **kwargs: object) -> SessionNode:
    return SessionNode(Session.empty(), code=code, name=name, listen_host=LOOPBACK,
                       on_event=Recorder(), **kwargs)  # type: ignore[arg-type]


def recorder(node: SessionNode) -> Recorder:
    assert isinstance(node._on_event, Recorder)
    return node._on_event


async def join(node: SessionNode, host: SessionNode | tuple[str, int],
               timeout: float = 10.0) -> None:
    """Connect ``node`` to ``host``, wait for the document, then join as a participant."""
    addr = (LOOPBACK, host.port) if isinstance(host, SessionNode) else host
    node.connect(*addr)
    await until(lambda: not node.session.is_empty, timeout, f"{node.name} to receive the session")
    node.session.join(node.name)
    node.local_changed()


def converged(nodes: list[SessionNode]) -> bool:
    heads = [sorted(n.session.doc.get_heads()) for n in nodes]
    return all(h == heads[0] for h in heads)


def texts(node: SessionNode) -> set[str]:
    return {item.text for item in node.session.snapshot.items}


class FaultyProxy:
    """A TCP relay between peers that can cut, hold back and record the traffic."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.cut = False
        self.delay = 0.0
        self.captured = bytearray()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> FaultyProxy:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.sever()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def sever(self) -> None:
        """Drop every connection going through (the wifi goes down)."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await src.read(65536):
                if self.cut:
                    break
                self.captured += data
                if self.delay:
                    await asyncio.sleep(self.delay)
                dst.write(data)
                await dst.drain()
        dst.close()


@contextlib.asynccontextmanager
async def running(*nodes: SessionNode) -> AsyncIterator[list[SessionNode]]:
    """Start nodes and stop them all afterwards, whatever happens."""
    started: list[SessionNode] = []
    try:
        for node in nodes:
            await node.start()
            started.append(node)
        yield started
    finally:
        for node in reversed(started):
            await node.stop()


async def send_as_peer(port: int, payloads: list[bytes], *, pushed: bool = False) -> str:
    """Join the node at ``port`` with the code as a peer of our own making, send ``payloads``
    as Sync envelopes (as pushed Changes, one each, if ``pushed``), wait until they are
    taken, leave; why the link ended."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    link = await open_link(reader, writer, code=CODE, tag=None, initiator=True)
    await link.send(Hello(version=PROTOCOL_VERSION, peer_id="f" * 32, name="Fuzz",
                          listen_port=None, is_host=False))
    try:
        for payload in payloads:
            await link.send(Changes(changes=[payload]) if pushed else Sync(data=payload))
        # Frames are handled in order: a Pong means every payload was taken without harm.
        await link.send(Ping(nonce=7, sent=0.0))
        async with asyncio.timeout(10):
            while not isinstance(await link.receive(), Pong):
                pass
        return "still open"
    except LinkClosed as exc:
        return exc.reason
    finally:
        await link.close()
