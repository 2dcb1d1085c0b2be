"""Sniff the lab's switch into a pcap file, and read such a file back.

Run inside the switch's namespace, it records every frame that enters any
lab port (``p1``, ``p2``...) with a raw ``AF_PACKET`` socket, once each
(frames leaving a port are the same frames again and are skipped)::

    python -m tests.lab.capture OUT.pcap

It prints ``{"event": "ready"}`` once the socket is open and, on SIGTERM or
SIGINT, ``{"event": "stopped", "frames": N, "bytes": B}``. The file is a
standard pcap (Ethernet), readable by tcpdump or Wireshark.

The reading side (``read_pcap``, ``packets``, ``tcp_streams``) parses IPv4
TCP and UDP and puts TCP streams back together by sequence number, so a
string cut across two segments is still found.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SNAPLEN = 262144  # offloaded (GSO) frames can be far longer than the MTU
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1)


def sniff(out: Path) -> int:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.settimeout(0.2)
    running = True
    frames = total = 0

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with out.open("wb") as pcap:
        pcap.write(PCAP_HEADER)
        print(json.dumps({"event": "ready"}), flush=True)
        while running:
            try:
                frame, address = sock.recvfrom(SNAPLEN)
            except TimeoutError:
                continue
            except InterruptedError:
                continue
            ifname, pkttype = address[0], address[2]
            if pkttype == PACKET_OUTGOING or not (ifname.startswith("p") and ifname[1:].isdigit()):
                continue
            now = time.time()
            seconds = int(now)
            pcap.write(struct.pack("<IIII", seconds, int((now - seconds) * 1e6), len(frame),
                                   len(frame)))
            pcap.write(frame)
            frames += 1
            total += len(frame)
    print(json.dumps({"event": "stopped", "frames": frames, "bytes": total}), flush=True)
    return 0


# -- reading --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Packet:
    ts: float
    src: str
    dst: str
    proto: str  # "tcp", "udp" or "ip" (another protocol) or "other" (not IPv4)
    sport: int
    dport: int
    seq: int
    syn: bool
    payload: bytes
    frame: bytes


def read_pcap(path: Path) -> list[tuple[float, bytes]]:
    data = path.read_bytes()
    if len(data) < 24 or data[:4] != PCAP_HEADER[:4]:
        raise ValueError(f"{path} is not a pcap file written by this module")
    out = []
    pos = 24
    while pos + 16 <= len(data):
        seconds, micros, caplen, _ = struct.unpack_from("<IIII", data, pos)
        pos += 16
        out.append((seconds + micros / 1e6, data[pos:pos + caplen]))
        pos += caplen
    return out


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def parse(ts: float, frame: bytes) -> Packet:
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype != 0x0800 or len(frame) < 34:
        return Packet(ts, "", "", "other", 0, 0, 0, False, frame[14:], frame)
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total = int.from_bytes(ip[2:4], "big") or len(ip)  # 0 with TSO: take what is there
    proto_no = ip[9]
    src, dst = _ip(ip[12:16]), _ip(ip[16:20])
    body = ip[ihl:max(total, ihl)] if total <= len(ip) else ip[ihl:]
    if proto_no == 6 and len(body) >= 20:
        offset = (body[12] >> 4) * 4
        return Packet(ts, src, dst, "tcp", int.from_bytes(body[0:2], "big"),
                      int.from_bytes(body[2:4], "big"), int.from_bytes(body[4:8], "big"),
                      bool(body[13] & 0x02), body[offset:], frame)
    if proto_no == 17 and len(body) >= 8:
        return Packet(ts, src, dst, "udp", int.from_bytes(body[0:2], "big"),
                      int.from_bytes(body[2:4], "big"), 0, False, body[8:], frame)
    return Packet(ts, src, dst, "ip", 0, 0, 0, False, body, frame)


def packets(path: Path) -> list[Packet]:
    return [parse(ts, frame) for ts, frame in read_pcap(path)]


Flow = tuple[str, int, str, int]


def tcp_streams(pkts: list[Packet]) -> dict[Flow, bytes]:
    """Each TCP direction's bytes in sequence order (retransmissions counted once)."""
    segments: dict[Flow, list[Packet]] = defaultdict(list)
    isn: dict[Flow, int] = {}
    for p in pkts:
        if p.proto != "tcp":
            continue
        flow = (p.src, p.sport, p.dst, p.dport)
        if p.syn:
            isn[flow] = (p.seq + 1) & 0xFFFFFFFF
        elif p.payload:
            segments[flow].append(p)
    streams: dict[Flow, bytes] = {}
    for flow, segs in segments.items():
        base = isn.get(flow, min(s.seq for s in segs))
        buffer = bytearray()
        for seg in segs:
            offset = (seg.seq - base) & 0xFFFFFFFF
            if offset > 1 << 30:  # before the first byte we know of
                continue
            end = offset + len(seg.payload)
            if end > len(buffer):
                buffer.extend(bytes(end - len(buffer)))
            buffer[offset:end] = seg.payload
        streams[flow] = bytes(buffer)
    return streams


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tests.lab.capture OUT.pcap", file=sys.stderr)
        return 2
    return sniff(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
