"""Stand-ins for node tests over real TCP: nodes on loopback, a faulty proxy, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from sync.events import NodeEvent
from sync.node import SessionNode
from tests.sync.people import CODE, Person, creator, member, session_of

LOOPBACK = "127.0.0.1"


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


def host_node(name: str = "Anne", *, any_kind: bool = True,
              **kwargs: object) -> tuple[SessionNode, Person, Recorder]:
    """The creator's node, holding her new session, admitting with ``CODE``."""
    person, session, anchor = creator(name, any_kind=any_kind)
    events = Recorder()
    options: dict[str, object] = {"code": CODE, "listen_host": LOOPBACK, "on_event": events}
    options.update(kwargs)
    node = SessionNode(identity=person.identity, session=session, anchor=anchor,
                       **options)  # type: ignore[arg-type]
    return node, person, events


def newcomer(name: str = "Bob", *, code: str = CODE, **kwargs: object
             ) -> tuple[SessionNode, Person, Recorder]:
    """A laptop that knows only the code (and, when it joins, the host's address)."""
    from model.keys import Identity

    person = Person(name, Identity.generate())
    events = Recorder()
    options: dict[str, object] = {"listen_host": LOOPBACK, "on_event": events}
    options.update(kwargs)
    node = SessionNode(identity=person.identity, code=code,
                       make_session=lambda doc: session_of(person, doc),
                       **options)  # type: ignore[arg-type]
    return node, person, events


async def joined(node: SessionNode, host: SessionNode, name: str, timeout: float = 10.0) -> None:
    """``node`` joins ``host`` with the code, receives the session and joins it as ``name``."""
    node.join(LOOPBACK, host.port, tag=host.tag)
    await until(lambda: node.session is not None, timeout, f"{name} to receive the session")
    assert node.session is not None
    node.session.join(name)
    node.local_changed()


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


__all__ = ["CODE", "LOOPBACK", "FaultyProxy", "Recorder", "host_node", "joined", "member",
           "newcomer", "running", "until"]
