"""A person looking for sessions: ``sync.discovery.Browser`` printing what it sees.

    python -m tests.lab.browse --interface IP

Prints ``{"event": "ready", "t": ...}`` once browsing, then ``{"event":
"sessions", "tags": [...], "t": ...}`` each time the list changes, and
stops when standard input closes or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time

from sync.discovery import Browser, FoundSession


def say(event: str, **data: object) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


async def browse(interface: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def on_input() -> None:
        if not os.read(sys.stdin.fileno(), 4096):  # end of input: stop
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_input)

    def changed(found: dict[str, FoundSession]) -> None:
        say("sessions", tags=sorted(s.tag for s in found.values()),
            hosts=sorted(f"{s.host}:{s.port}" for s in found.values()))

    async with Browser(interfaces=[interface], on_change=changed):
        say("ready")
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description="browse for Cercle sessions")
    parser.add_argument("--interface", required=True)
    asyncio.run(browse(parser.parse_args().interface))
    return 0


if __name__ == "__main__":
    sys.exit(main())
