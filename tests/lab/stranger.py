"""A stranger on the meeting room's network, without the join code.

Each command targets one session address and prints JSON lines::

    python -m tests.lab.stranger guess     --target IP:PORT --codes 111-111 222-222 ...
    python -m tests.lab.stranger replay    --target IP:PORT --file STREAM
    python -m tests.lab.stranger garbage   --target IP:PORT [--count 5] [--size 3000]
    python -m tests.lab.stranger oversized --target IP:PORT
    python -m tests.lab.stranger halfopen  --target IP:PORT [--count 200] [--hold 12]

``guess`` runs real handshakes with wrong codes, one after the other, and
times each; ``replay`` sends bytes captured from a genuine joiner's
connection; ``garbage`` sends random bytes; ``oversized`` announces frames
beyond the limits; ``halfopen`` opens many connections and never speaks.
Every connection goes to the one target given: the lab's own host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import sys
import time
from pathlib import Path

from sync.handshake import HandshakeError
from sync.link import LinkClosed, open_link
from sync.wire import FrameDecoder, Reject, WireError, decode_handshake

READ_LIMIT = 12.0


def say(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


def target(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _describe(body: bytes) -> str:
    try:
        msg = decode_handshake(body)
    except WireError:
        return "undecodable"
    return f"Reject:{msg.reason}" if isinstance(msg, Reject) else type(msg).__name__


async def _answer(reader: asyncio.StreamReader, limit: float = READ_LIMIT) -> dict[str, object]:
    """Read until the other side closes (or ``limit``); what it said, decoded if it can be."""
    data = bytearray()
    started = time.monotonic()
    closed = False
    try:
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                data += chunk
            closed = True
    except TimeoutError:
        pass
    except (ConnectionError, OSError):
        closed = True
    said = []
    decoder = FrameDecoder(1 << 20)
    try:
        for body in decoder.feed(bytes(data)):
            said.append(_describe(body))
    except WireError:
        said.append("bad framing")
    return {"closed": closed, "after": round(time.monotonic() - started, 3),
            "bytes_back": len(data), "said": said}


async def guess(addr: tuple[str, int], codes: list[str]) -> None:
    for number, code in enumerate(codes, start=1):
        started = time.monotonic()
        outcome = "joined"
        try:
            reader, writer = await asyncio.open_connection(*addr)
            try:
                link = await open_link(reader, writer, code=code, tag=None, initiator=True)
                await link.close()
            except HandshakeError as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            except LinkClosed as exc:
                outcome = f"closed: {exc.reason}"
            finally:
                writer.close()
        except OSError as exc:
            outcome = f"unreachable: {exc}"
        say("guess", n=number, code=code, seconds=round(time.monotonic() - started, 3),
            outcome=outcome)


async def _send_and_listen(addr: tuple[str, int], data: bytes, label: str) -> None:
    reader, writer = await asyncio.open_connection(*addr)
    try:
        writer.write(data)
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    answer = await _answer(reader)
    writer.close()
    say(label, sent=len(data), **answer)


async def replay(addr: tuple[str, int], stream: bytes) -> None:
    await _send_and_listen(addr, stream, "replayed")


async def garbage(addr: tuple[str, int], count: int, size: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        await _send_and_listen(addr, rng.randbytes(size), "garbage")


async def oversized(addr: tuple[str, int]) -> None:
    cases = {
        "4 GiB announced": struct.pack(">I", 0xFFFFFFFF) + bytes(1000),
        "5000-byte handshake frame": struct.pack(">I", 5000) + bytes(5000),
        "9 MiB frame": struct.pack(">I", 9 << 20) + bytes(64 << 10),
    }
    for label, data in cases.items():
        reader, writer = await asyncio.open_connection(*addr)
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        answer = await _answer(reader)
        writer.close()
        say("oversized", case=label, sent=len(data), **answer)


async def halfopen(addr: tuple[str, int], count: int, hold: float) -> None:
    conns = []
    for _ in range(count):
        try:
            conns.append(await asyncio.open_connection(*addr))
        except OSError as exc:
            say("refused", error=str(exc))
    say("holding", open=len(conns))
    answers = await asyncio.gather(*(_answer(r, hold) for r, _ in conns))
    for _, writer in conns:
        writer.close()
    say("released", opened=len(conns),
        closed_by_host=sum(1 for a in answers if a["closed"]),
        busy=sum(1 for a in answers if "Reject:busy" in str(a["said"])),
        still_open=sum(1 for a in answers if not a["closed"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("guess", "replay", "garbage", "oversized", "halfopen"):
        p = sub.add_parser(name)
        p.add_argument("--target", required=True, type=target)
        if name == "guess":
            p.add_argument("--codes", nargs="+", required=True)
        if name == "replay":
            p.add_argument("--file", required=True)
        if name in ("garbage", "halfopen"):
            p.add_argument("--count", type=int, default=5 if name == "garbage" else 200)
        if name == "garbage":
            p.add_argument("--size", type=int, default=3000)
            p.add_argument("--seed", type=int, default=6)
        if name == "halfopen":
            p.add_argument("--hold", type=float, default=12.0)
    args = parser.parse_args()
    match args.command:
        case "guess":
            job = guess(args.target, args.codes)
        case "replay":
            job = replay(args.target, Path(args.file).read_bytes())
        case "garbage":
            job = garbage(args.target, args.count, args.size, args.seed)
        case "oversized":
            job = oversized(args.target)
        case _:
            job = halfopen(args.target, args.count, args.hold)
    asyncio.run(job)
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
