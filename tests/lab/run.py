"""Run the network lab by hand: hosts on a private bridge, with Cercle peers in them.

    sudo uv run python -m tests.lab.run --hosts 3
    sudo uv run python -m tests.lab.run --hosts 6 --impair 10,100,50 --block-mdns
    sudo uv run python -m tests.lab.run --hosts 2 --no-peers --for 600

It builds the lab, starts a facilitator on h1 (advertised over mDNS) and a
participant on every other host, each joining by tag (by address when mDNS
is blocked), prints where everything is and how to get a shell in a host,
then waits: press Enter to see who holds what, type ``add TEXT`` to have
every peer add an item, Ctrl-D or Ctrl-C to tear everything down (also after
``--for SECONDS``). The scenarios themselves run with ``uv run pytest
tests/lab`` (see docs/reliability.md).
"""

from __future__ import annotations

import argparse
import select
import sys
import tempfile
import time
from pathlib import Path

from tests.lab import netlab
from tests.lab.peers import CODE, Lab, Proc

NAMES = ["Anne", "Bob", "Chloé", "Driss", "Emma", "Farid", "Gaëlle", "Hugo", "Inès", "Jules"]


def start_peers(lab: Lab, mdns: bool) -> list[Proc]:
    first, *others = lab.hosts
    anne = lab.host_session(first, NAMES[0], title="Laboratoire", advertise=True)
    people = [lab.join(h, NAMES[i % len(NAMES)], None if mdns else anne,
                       *(["--tag", anne.tag] if mdns else []), wait=False)
              for i, h in enumerate(others, start=1)]
    for person in people:
        lab.synced(person, 90)
    return [anne, *people]


def show(lab: Lab) -> None:
    print(lab.describe(), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3, help="how many hosts (default 3)")
    parser.add_argument("--impair", metavar="LOSS,DELAY,JITTER",
                        help="lose LOSS %% of frames and delay them DELAY ± JITTER ms")
    parser.add_argument("--block-mdns", action="store_true", help="drop mDNS on the bridge")
    parser.add_argument("--no-peers", action="store_true", help="only the network")
    parser.add_argument("--for", dest="seconds", type=float, help="tear down after SECONDS")
    args = parser.parse_args(argv)
    reason = netlab.unavailable()
    if reason:
        print(f"the lab cannot run here: {reason}", file=sys.stderr)
        return 1
    netlab.sweep_stale()
    base = Path(tempfile.mkdtemp(prefix="cercle-lab-"))
    lab = Lab(netlab.Network(args.hosts), base)
    try:
        lab.net.start()
        if args.impair:
            loss, delay, jitter = (float(x) for x in args.impair.split(","))
            lab.net.impair(loss, delay, jitter)
        if args.block_mdns:
            lab.net.block_mdns()
        print(f"lab of {args.hosts} hosts on {netlab.SUBNET}.0/24, switch namespace "
              f"{lab.net.switch}, files in {base}")
        for host in lab.hosts:
            print(f"  {host.name}  {host.address:<14} ip netns exec {host.ns} bash")
        peers = [] if args.no_peers else start_peers(lab, not args.block_mdns)
        if peers:
            print(f"session {peers[0].tag} at {peers[0].address}:{peers[0].port}, "
                  f"code {CODE}")
            show(lab)
        print("Enter: who holds what; 'add TEXT': every peer adds it; Ctrl-D: tear down",
              flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            ready, _, _ = select.select([sys.stdin], [], [], 1.0)
            if not ready:
                continue
            line = sys.stdin.readline()
            if not line:
                break
            if line.startswith("add ") and peers:
                for peer in peers:
                    peer.send(f"add note {peer.name}: {line[4:].strip()}")
            show(lab)
    except KeyboardInterrupt:
        pass
    finally:
        print("tearing down", file=sys.stderr)
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
