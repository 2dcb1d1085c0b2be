"""A stranger on the meeting room's network, without the join code.

Each command targets one session address and prints JSON lines::

    python -m tests.lab.stranger guess     --target IP:PORT --codes 111-111 222-222 ...
    python -m tests.lab.stranger siege     --targets IP:PORT ... --seconds 60 [--cheat]
    python -m tests.lab.stranger replay    --target IP:PORT --file STREAM
    python -m tests.lab.stranger garbage   --target IP:PORT [--count 5] [--size 3000]
    python -m tests.lab.stranger oversized --target IP:PORT
    python -m tests.lab.stranger halfopen  --target IP:PORT [--count 200] [--hold 12]

``guess`` runs real handshakes with wrong codes, one after the other, and
times each; ``siege`` guesses as fast as it can against every laptop given, several
connections at a time, for a while, and counts how many guesses were answered (with
``--cheat`` it also hangs up as soon as an answer could tell it anything, as the cheating
client of the trust issue did); ``replay`` sends bytes captured from a genuine joiner's
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

from model.keys import Identity
from sync.handshake import HandshakeError, Initiator, PeerRejected, WrongCode
from sync.link import LinkClosed, dial
from sync.transport import TcpTransport, TransportClosed
from sync.wire import FrameDecoder, Reject, Spake, WireError, decode_handshake

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


async def _attempt(addr: tuple[str, int], code: str, cheat: bool) -> str:
    """One code attempt; what came of it ("wrong-code", "joined", "busy", "no-answer"...)."""
    try:
        transport = await TcpTransport.connect(*addr, 5.0)
    except (OSError, TimeoutError) as exc:
        return f"unreachable: {exc}"
    machine = Initiator(identity=Identity.generate(), code=code)
    try:
        if not cheat:
            await dial(transport, machine, finish=15.0)
            return "joined"
        machine.start()
        async with asyncio.timeout(15.0):
            body = await transport.receive()
            for reply in machine.receive(body):  # our Spake
                transport.send_nowait(reply)
            answer = decode_handshake(await transport.receive())
        # The cheating client of the trust issue hung up here, having read the host's
        # confirmation. Now the host's answer is its own Spake: it tells nothing of the
        # guess, which only a confirmation sent by us can test (and the host counts).
        if isinstance(answer, Reject):
            return "wrong-code" if answer.reason == "wrong-code" else f"Reject:{answer.reason}"
        return "hung up before confirming" if isinstance(answer, Spake) else \
            type(answer).__name__
    except PeerRejected as exc:
        return "wrong-code" if exc.reason == "wrong-code" else f"Reject:{exc.reason}"
    except WrongCode:  # the other side does not hold this code either
        return "wrong-code"
    except (HandshakeError, LinkClosed, TransportClosed, WireError, TimeoutError) as exc:
        return f"closed: {exc}"
    finally:
        await transport.close()


async def guess(addr: tuple[str, int], codes: list[str]) -> None:
    for number, code in enumerate(codes, start=1):
        started = time.monotonic()
        outcome = await _attempt(addr, code, cheat=False)
        say("guess", n=number, code=code, seconds=round(time.monotonic() - started, 3),
            outcome=outcome)


async def siege(targets: list[tuple[str, int]], seconds: float, parallel: int,
                cheat: bool, seed: int) -> None:
    """Guess against every laptop at once for ``seconds``: how many guesses were answered.

    A guess is answered when the host said whether the code was right ("wrong-code"); a
    "busy" answer or a hang-up before confirming tells the guesser nothing."""
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    started = time.monotonic()

    async def worker(addr: tuple[str, int]) -> None:
        while time.monotonic() - started < seconds:
            code = f"{rng.randrange(10**8):08d}"
            outcome = await _attempt(addr, f"{code[:4]}-{code[4:]}", cheat)
            key = outcome.split(":")[0] if outcome.startswith("closed") else outcome
            outcomes[key] = outcomes.get(key, 0) + 1
            if outcome == "wrong-code":
                say("answered", target=f"{addr[0]}:{addr[1]}",
                    t=round(time.monotonic() - started, 2))

    await asyncio.gather(*(worker(addr) for addr in targets for _ in range(parallel)))
    elapsed = time.monotonic() - started
    answered = outcomes.get("wrong-code", 0) + outcomes.get("joined", 0)
    say("siege", seconds=round(elapsed, 1), targets=len(targets), attempts=sum(
        outcomes.values()), answered=answered, per_minute=round(answered / elapsed * 60, 2),
        outcomes=outcomes)


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
    p = sub.add_parser("siege")
    p.add_argument("--targets", nargs="+", required=True, type=target)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--cheat", action="store_true")
    p.add_argument("--seed", type=int, default=1)
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
        case "siege":
            job = siege(args.targets, args.seconds, args.parallel, args.cheat, args.seed)
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
