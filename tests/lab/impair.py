"""A userspace Ethernet switch that loses and delays frames: netem where the kernel has none.

The lab's kernel is built without ``sch_netem`` (``CONFIG_NET_SCH_NETEM`` is
not set), so ``tc qdisc ... netem`` fails. This switch takes the bridge's
place between the lab's veth ports, inside the bridge namespace::

    python -m tests.lab.impair --loss 10 --delay 100 --jitter 50 p1 p2 p3

Every frame that enters a port is forwarded like a learning switch would
(unicast to the port that last sent from that MAC address, flooded
otherwise); each copy is dropped with probability ``loss`` percent, or sent
after ``delay ± jitter`` milliseconds, drawn uniformly per frame like netem's
default. Reordering follows from the jitter, as with netem. Frames are read
and written with a ``virtio_net_hdr`` (``PACKET_VNET_HDR``), so checksum and
segmentation offloads pass through untouched.

It prints one JSON line when ready and one with its counters when it stops
(SIGTERM or SIGINT). It never opens an IP socket: it only moves frames
between the ports it is given.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import selectors
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_OUTGOING = 4
VNET_HDR = 10  # struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
MAX_FRAME = 65536 + VNET_HDR


def open_port(name: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind((name, 0))
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", type=float, default=0.0, help="percent of frames dropped")
    parser.add_argument("--delay", type=float, default=0.0, help="milliseconds")
    parser.add_argument("--jitter", type=float, default=0.0, help="± milliseconds, uniform")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("ports", nargs="+")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    ports = {name: open_port(name) for name in args.ports}
    selector = selectors.DefaultSelector()
    for name, sock in ports.items():
        selector.register(sock, selectors.EVENT_READ, name)
    mac_port: dict[bytes, str] = {}
    queue: list[tuple[float, int, str, bytes]] = []
    counts = {"frames": 0, "copies": 0, "dropped": 0, "sent": 0, "send_errors": 0}
    seq = 0
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"event": "ready", "ports": list(ports)}), flush=True)
    loss = args.loss / 100.0
    while running:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, name, frame = heapq.heappop(queue)
            try:
                ports[name].send(frame)
                counts["sent"] += 1
            except OSError:
                counts["send_errors"] += 1  # a full queue drops the frame, like a real switch
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 0.5
        for key, _ in selector.select(timeout):
            name = key.data
            sock = ports[name]
            while True:
                try:
                    frame, address = sock.recvfrom(MAX_FRAME)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if address[2] == PACKET_OUTGOING:  # our own sends, seen again
                    continue
                counts["frames"] += 1
                dst, src = frame[VNET_HDR:VNET_HDR + 6], frame[VNET_HDR + 6:VNET_HDR + 12]
                mac_port[src] = name
                known = mac_port.get(dst) if not dst[0] & 1 else None
                targets = [known] if known is not None else [p for p in ports if p != name]
                now = time.monotonic()
                for target in targets:
                    if target == name:
                        continue
                    counts["copies"] += 1
                    if rng.random() < loss:
                        counts["dropped"] += 1
                        continue
                    wait = max(0.0, args.delay + rng.uniform(-args.jitter, args.jitter)) / 1000
                    seq += 1
                    heapq.heappush(queue, (now + wait, seq, target, frame))
    print(json.dumps({"event": "stopped", **counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
