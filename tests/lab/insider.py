"""A participant who knows the join code and writes facilitator controls anyway.

    python -m tests.lab.insider --peer IP:PORT --code CODE --name NAME --interface IP

It joins like everyone (a ``SessionNode`` over the real network), then
obeys commands on standard input, writing straight into the document the way
a modified client could, past every local check of ``model.session``:

    forge-own PHASE          a "goto" event appended to its own control log
    forge-facilitator PHASE  a "goto" event written into the facilitator's log
    status                   {"event": "status", "phase": ..., "ignored": ...} as it reads them
    quit

Each forged write is saved and pushed to every peer like any local change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time

from automerge.core import ROOT, ObjType, ScalarType

from model import ops
from model.reading import child
from model.session import Session
from sync.node import SessionNode
from tui.headless import digest


def say(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


def forge_into(session: Session, log_owner: str, to: int) -> None:
    """Append a goto event to ``log_owner``'s control list, as raw document writes."""
    logs = child(session.doc, ROOT, "control", ObjType.Map)
    if logs is None:
        raise SystemExit("the session has no control section")
    with session.doc.transaction() as tx:
        got = tx.get(logs, log_owner)
        log = got[1] if got else tx.put_object(logs, log_owner, ObjType.List)
        entry = tx.insert_object(log, tx.length(log), ObjType.Map)
        tx.put(entry, "type", ScalarType.Str, "goto")
        tx.put(entry, "at", ScalarType.Int, session.clock())
        tx.put(entry, "to", ScalarType.Int, to)
    session.refresh()


def status(node: SessionNode) -> None:
    snap = node.session.snapshot
    say("status", phase=snap.control.phase.index, ignored=snap.control.ignored,
        items=len(snap.items), peers=len(node.peers), digest=digest(node.session))


async def run(peer: str, code: str, name: str, interface: str) -> None:
    host, _, port = peer.rpartition(":")
    session = Session.empty()
    node = SessionNode(session, code=code, name=name, listen_host=interface)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:  # a thread: stdin is buffered, so add_reader would miss lines
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, daemon=True).start()
    async with node:
        node.connect(host, int(port))
        async with asyncio.timeout(30):
            await node.wait_synced()
        session.join(name)
        node.local_changed()
        async with asyncio.timeout(30):
            await node.wait_synced()
        say("synced", facilitator=session.snapshot.control.roles.facilitator, me=session.me)
        while True:
            word, _, arg = (await lines.get()).strip().partition(" ")
            match word:
                case "" | "quit":
                    break
                case "forge-own":
                    ops.append_control(session.doc, identity=session.identity,
                                       session_id=session.snapshot.info.id, type="goto",
                                       now=session.clock(), to=int(arg))
                    session.refresh()
                case "forge-facilitator":
                    forge_into(session, session.snapshot.control.roles.facilitator, int(arg))
                case "status":
                    status(node)
                    continue
                case _:
                    say("error", message=f"unknown command {word}")
                    continue
            node.local_changed()
            say("forged", kind=word, to=int(arg))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True)
    parser.add_argument("--code", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--interface", required=True)
    args = parser.parse_args()
    asyncio.run(run(args.peer, args.code, args.name, args.interface))
    return 0


if __name__ == "__main__":
    sys.exit(main())
