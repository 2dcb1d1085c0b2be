"""A participant who knows the join code and runs a modified client.

    python -m tests.lab.insider --peer IP:PORT --code CODE --name NAME --interface IP

It joins like everyone (``tui.meeting.join`` over the real network), then obeys commands on
standard input, writing straight into its replica and onto its links what a modified client
could, past every check of ``model.session`` and ``sync.core``:

    take-session         a copy of the session's settings at the document's root (finding 5)
    forge-facilitator N  "go to phase N" under the facilitator's actor id, sent to one
                         laptop only (finding 6)
    forge-own N          "go to phase N" in her own control log, signed by her
    claim                a link opened with another member's admission and her own key
                         (finding 7)
    bad-pong             a Pong with an infinite time on every link (finding 8)
    rewrite              write into another's item, rename another, delete another's item,
                         add an item claiming another as its author (finding 9)
    steal-name NAME      take another participant's name (finding 9)
    flood-items          one change adding 40,000 items (finding 10)
    flood-string         one change holding a 300 MB string, compressed small (finding 10)
    peers                1,279 made-up addresses to every laptop (finding 11)
    status               {"event": "status", ...} as she reads it
    quit

Each attack prints {"event": "done", "attack": ...}. Every connection goes to the lab's
own hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import sys
import threading
import time
from typing import Any

import msgspec
from automerge.core import ROOT, ObjType, ScalarType

from model.keys import Identity, change_message
from model.reading import child
from model.session import Session
from sync.handshake import Credentials, Initiator
from sync.link import Link, LinkClosed, dial
from sync.node import SessionNode
from sync.transport import TcpTransport
from sync.wire import Changes, Hello, Peer, Peers, SignedHead
from tests.sync.forge import change_hash
from tui.meeting import Meeting, Target, digest, join


def say(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


def links(node: SessionNode) -> list[Link]:
    return list(node._links.values())  # a modified client reaches into its own node


def push(node: SessionNode, data: bytes, head: SignedHead, only: Link | None = None) -> None:
    for link in [only] if only is not None else links(node):
        with contextlib.suppress(LinkClosed):
            link.send_nowait(Changes(changes=[data], heads=[head]))


async def linked(node: SessionNode, count: int = 1) -> None:
    """Wait until she is linked again to ``count`` laptops (each refusal drops her links;
    her node redials, with her key)."""
    async with asyncio.timeout(30):
        while len([lnk for lnk in links(node) if not lnk.closed]) < count:
            await asyncio.sleep(0.05)


def sign(me: Identity, meeting: Meeting, digest_: bytes, claim: bytes | None = None
         ) -> SignedHead:
    sid = meeting.session.snapshot.info.id
    return SignedHead(claim or me.actor, digest_, me.sign(change_message(sid, digest_)))


def mine(session: Session, key: str) -> bytes:
    obj = child(session.doc, ROOT, key, ObjType.Map)
    assert obj is not None
    return obj


async def attack(word: str, arg: str, meeting: Meeting) -> None:
    session, node = meeting.session, meeting.node
    await linked(node, 2 if word == "forge-facilitator" else 1)
    me = session.identity
    snap = session.snapshot
    match word:
        case "take-session":
            data, h = change_hash(session, me.actor, lambda tx: (
                tx.put_object(ROOT, "session", ObjType.Map)))
            push(node, data, sign(me, meeting, h))
        case "forge-facilitator" | "forge-own":
            facilitator = bytes.fromhex(snap.control.roles.facilitator)
            logs = mine(session, "control")
            author = facilitator if word == "forge-facilitator" else me.actor

            def goto(tx: Any) -> None:
                got = tx.get(logs, author.hex())
                log = got[1] if got else tx.put_object(logs, author.hex(), ObjType.List)
                entry = tx.insert_object(log, tx.length(log), ObjType.Map)
                tx.put(entry, "type", ScalarType.Str, "goto")
                tx.put(entry, "at", ScalarType.Int, int(time.time() * 1000))
                tx.put(entry, "to", ScalarType.Int, int(arg))

            data, h = change_hash(session, author, goto)
            others = [lnk for lnk in links(node) if lnk.peer != facilitator]
            push(node, data, sign(me, meeting, h, claim=author if author != me.actor else None),
                 only=others[0] if others and word == "forge-facilitator" else None)
        case "claim":
            anchor = node.anchor
            assert anchor is not None
            host, port = arg.rsplit(":", 1)
            transport = await TcpTransport.connect(host, int(port), 5.0)
            try:
                outcome = await dial(transport, Initiator(anchor=anchor, credentials=Credentials(
                    Identity.generate(), node.admission)))
                link = Link(transport, outcome.channel, initiator=True, peer=outcome.peer)
                link.send_nowait(Hello(version=4))
                await asyncio.wait_for(link.receive(), 5)
                say("claim", outcome="accepted")
            except Exception as exc:
                say("claim", outcome=f"refused: {type(exc).__name__}")
            finally:
                await transport.close()
        case "bad-pong":
            raw = msgspec.msgpack.encode({"type": "Pong", "nonce": 1, "sent": float("-inf"),
                                          "peer_time": float("nan")})
            for link in links(node):
                with contextlib.suppress(Exception):
                    link.transport.send_nowait(link._channel.seal(raw))
        case "rewrite":
            items = mine(session, "items")
            people = mine(session, "participants")
            theirs = [i for i in snap.items if i.author and i.author != session.me]
            victim = theirs[0]
            victim_obj = child(session.doc, items, victim.id, ObjType.Map)
            victim_person = child(session.doc, people, victim.author, ObjType.Map)
            writes = [
                lambda tx: tx.put(victim_obj, "kind", ScalarType.Str, "advice"),
                lambda tx: tx.delete(items, victim.id),
                lambda tx: tx.put(victim_person, "name", ScalarType.Str, "Liar"),
            ]
            for write in writes:
                await linked(node)
                data, h = change_hash(session, me.actor, write)
                push(node, data, sign(me, meeting, h))
                await asyncio.sleep(0.5)  # each refusal drops her links; they come back
            # Honest by the rules, a lie by its content: an item claiming another's name.
            session.add_item("note", f"I am {snap.name_of(victim.author)}, says Mallory")
            node.local_changed()
        case "steal-name":
            session.join(arg)
            node.local_changed()
        case "flood-items":
            items = mine(session, "items")
            prefix = session.me[:32]

            def many(tx: Any) -> None:
                for i in range(40_000):
                    tx.put_object(items, f"{prefix}{i:016x}", ObjType.Map)

            data, h = change_hash(session, me.actor, many)
            say("flood", bytes=len(data))
            push(node, data, sign(me, meeting, h))
        case "flood-string":
            items = mine(session, "items")
            data, h = change_hash(session, me.actor, lambda tx: tx.put(
                items, session.me[:32] + "f" * 16, ScalarType.Str, "x" * 300_000_000))
            say("flood", bytes=len(data))
            push(node, data, sign(me, meeting, h))
        case "peers":
            made_up = [Peer(Identity.generate().actor, str(ipaddress.IPv4Address(0x0A640000 + i)),
                            4000 + i % 60000) for i in range(1_279)]
            for link in links(node):
                for start in range(0, len(made_up), 1000):
                    with contextlib.suppress(LinkClosed):
                        link.send_nowait(Peers(peers=made_up[start:start + 1000]))
        case _:
            say("error", message=f"unknown command {word}")
            return
    await asyncio.sleep(1.0)  # the refusals land (and drop her links) before the next one
    say("done", attack=word)


def status(meeting: Meeting) -> None:
    snap = meeting.session.snapshot
    say("status", phase=snap.control.phase.index, ignored=snap.control.ignored,
        items=len(snap.items), peers=len(meeting.node.peers), digest=digest(meeting.session),
        me=meeting.session.me)


async def run(peer: str, code: str, name: str, interface: str) -> None:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:  # a thread: stdin is buffered, so add_reader would miss lines
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read, daemon=True).start()
    meeting = await join(Target.parse(peer), name=name, code=code, interface=interface,
                         timeout=30, remember=False, keep_file=False)
    try:
        async with asyncio.timeout(30):
            await meeting.node.wait_synced()
        say("synced", facilitator=meeting.session.snapshot.control.roles.facilitator,
            me=meeting.session.me)
        while True:
            word, _, arg = (await lines.get()).strip().partition(" ")
            if word in ("", "quit"):
                break
            if word == "status":
                status(meeting)
                continue
            try:
                await attack(word, arg, meeting)
            except Exception as exc:  # the tool says what failed and goes on
                say("error", attack=word, message=f"{type(exc).__name__}: {exc}")
    finally:
        await meeting.close()


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
