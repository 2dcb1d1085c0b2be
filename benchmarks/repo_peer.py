"""Baseline peer for ``sync_bench.py``: the experimental ``automerge.repo`` over WebSocket.

One ``hub`` process creates the document and accepts every ``client`` on
127.0.0.1 (automerge-repo's usual star: a sync server that also holds the
document). Both speak like ``cercle host --json --script --watch``: one JSON
object per line on stdout, commands on stdin (``add KIND TEXT``, ``status``,
``watch on|off``, ``quit``).

The experimental Repo fires no event for remote changes, so this peer polls
the document's heads every ``--poll`` seconds and prints a ``changed`` line
when the item count grows; latencies measured with it include that interval.

    python benchmarks/repo_peer.py hub [--fill SCRIPT]
    python benchmarks/repo_peer.py client --server ws://127.0.0.1:PORT --url automerge:...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

# The Repo's transport imports the legacy websockets API; its warnings are noise here.
warnings.filterwarnings("ignore", category=DeprecationWarning)

from automerge._automerge import AutomergeUrl, DocumentId, StorageKey  # noqa: E402
from automerge.core import ROOT, Document, ObjType, ScalarType  # noqa: E402
from automerge.document import ImmutableString  # noqa: E402
from automerge.repo import DocHandle, InMemoryStorage, Repo  # noqa: E402
from automerge.transports.websocket import (  # noqa: E402
    WebSocketClientTransport,
    WebSocketServer,
)

LOOPBACK = "127.0.0.1"


def say(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, **data}, ensure_ascii=False), flush=True)


def _read_stdin(queue: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop) -> None:
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


class Peer:
    """A Repo holding one session-like document: ``{"items": {id: {kind, text, ...}}}``."""

    def __init__(self, repo: Repo, handle: DocHandle, name: str, poll: float) -> None:
        self.repo = repo
        self.handle = handle
        self.name = name
        self.poll = poll
        self.watching = asyncio.Event()
        self.watching.set()
        self.author = uuid.uuid4().hex
        self.known = self.count()
        self.heads = self._core().get_heads()

    def _core(self) -> Any:
        return self.handle.doc()._doc

    def _items_obj(self) -> bytes | None:
        got = self._core().get(ROOT, "items")
        return got[1] if got else None

    def count(self) -> int:
        obj = self._items_obj()
        return self._core().length(obj) if obj is not None else 0

    def digest(self) -> str:
        """Same fingerprint as ``tui.headless.digest``: sorted ``id:text`` lines."""
        doc = self._core()
        obj = self._items_obj()
        lines = []
        if obj is not None:
            for key in doc.keys(obj):
                item = doc.get(obj, key)
                text = doc.get(item[1], "text") if item else None
                lines.append(f"{key}:{doc.text(text[1]) if text else ''}")
        return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]

    def add(self, kind: str, text: str) -> None:
        with self.handle.change() as d:
            d["items"][uuid.uuid4().hex[:12]] = {
                "kind": ImmutableString(kind), "text": text,
                "author": ImmutableString(self.author), "phase": 0,
                "created": int(time.time() * 1000),
            }
        self.known = self.count()
        self.heads = self._core().get_heads()

    def status(self) -> None:
        say("status", items=self.count(), peers=len(self.repo._transports),
            digest=self.digest())

    async def watch_loop(self) -> None:
        while True:
            await self.watching.wait()  # 'watch off' stops the polling itself, not just its work
            await asyncio.sleep(self.poll)
            heads = self._core().get_heads()
            if heads == self.heads:
                continue
            self.heads = heads
            count = self.count()
            if count != self.known:
                self.known = count
                say("changed", items=count, t=time.time())

    async def serve(self) -> None:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=_read_stdin, args=(queue, asyncio.get_running_loop()),
                         daemon=True).start()
        watcher = asyncio.create_task(self.watch_loop())
        try:
            while (line := await queue.get()) is not None:
                word, _, rest = line.strip().partition(" ")
                if word == "quit":
                    break
                if word == "add":
                    kind, _, text = rest.partition(" ")
                    self.add(kind, text)
                elif word == "status":
                    self.status()
                elif word == "watch" and rest.strip() == "off":
                    self.watching.clear()
                elif word == "watch":
                    self.watching.set()
                elif word:
                    say("error", message=f"unknown command: {word}")
        finally:
            watcher.cancel()


def prebuilt(script: str, author: str) -> bytes:
    """A saved document holding the script's ``add`` lines, one transaction per item (as
    ``Peer.add`` makes them; through the Repo each change costs more as the document grows)."""
    doc = Document()
    with doc.transaction() as tx:
        items = tx.put_object(ROOT, "items", ObjType.Map)
    for line in Path(script).read_text(encoding="utf-8").splitlines():
        word, _, rest = line.partition(" ")
        if word != "add":
            continue
        kind, _, text = rest.partition(" ")
        with doc.transaction() as tx:
            item = tx.put_object(items, uuid.uuid4().hex[:12], ObjType.Map)
            tx.put(item, "kind", ScalarType.Str, kind)
            tx.splice_text(tx.put_object(item, "text", ObjType.Text), 0, 0, text)
            tx.put(item, "author", ScalarType.Str, author)
            tx.put(item, "phase", ScalarType.Int, 0)
            tx.put(item, "created", ScalarType.Int, int(time.time() * 1000))
    return bytes(doc.save())


async def run_hub(args: argparse.Namespace) -> None:
    storage = InMemoryStorage()
    document = None
    if args.fill:
        # Repo.create() cannot take content: put a saved document in the Repo's storage under
        # a fresh id (samod's layout: <document id>/snapshot/<name>) and find() it there.
        document = DocumentId.from_bytes(os.urandom(16))
        await storage.put(StorageKey.from_parts([document.to_string(), "snapshot", "fill"]),
                          prebuilt(args.fill, uuid.uuid4().hex))
    repo = await Repo.load(storage)
    async with repo:
        server = WebSocketServer(repo, LOOPBACK, 0)
        await server.start()
        port = server._server.sockets[0].getsockname()[1]
        if document is not None:
            handle = await repo.find(AutomergeUrl.from_document_id(document))
            if handle is None:
                raise SystemExit("the prepared document was not found in the Repo's storage")
        else:
            handle = await repo.create()  # create(doc=...) ignores its content: set it after
            with handle.change() as d:
                d["items"] = {}
        peer = Peer(repo, handle, args.name, args.poll)
        say("ready", port=port, url=str(handle.url), pid=os.getpid())
        await peer.serve()


async def run_client(args: argparse.Namespace) -> None:
    repo = await Repo.load(InMemoryStorage())
    async with repo:
        transport = await WebSocketClientTransport.connect(args.server)
        connection = asyncio.create_task(repo.connect(transport))
        # find() answers at once, before the hub has answered: ask again until it is here,
        # then wait for the document's content (an empty document may come first).
        async with asyncio.timeout(args.timeout):
            while (handle := await repo.find(args.url)) is None:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.005)
            while True:
                with contextlib.suppress(KeyError, IndexError):
                    handle.doc()["items"]  # proxies raise IndexError for a missing key
                    break
                await asyncio.sleep(0.005)
        peer = Peer(repo, handle, args.name, args.poll)
        say("synced", items=peer.count(), t=time.time())
        try:
            await peer.serve()
        finally:
            connection.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("hub", "client"))
    parser.add_argument("--server", help="ws://127.0.0.1:PORT of the hub (client)")
    parser.add_argument("--url", help="automerge: URL of the document (client)")
    parser.add_argument("--name", default="peer")
    parser.add_argument("--poll", type=float, default=0.01,
                        help="seconds between looks for remote changes (default 0.01)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--fill", metavar="SCRIPT",
                        help="hub: start with the items of this script's 'add' lines")
    args = parser.parse_args()
    if args.role == "client" and not (args.server and args.url):
        parser.error("a client needs --server and --url")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_hub(args) if args.role == "hub" else run_client(args))
    say("stopped")
    sys.stdout.flush()
    os._exit(0)  # the Repo's own tasks may linger on a closed socket: do not wait for them


if __name__ == "__main__":
    main()
