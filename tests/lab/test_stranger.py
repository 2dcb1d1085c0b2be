"""Scenarios 8 and 9 — a stranger on the same network, without the join code.

Scenario 8: the stranger tries to join, guesses codes, and listens to
everything that crosses the bridge (a raw ``AF_PACKET`` capture of every
port, from before the session starts to the end).

Pass criteria:
- joining with a wrong code fails ("wrong join code", no file left) and the
  facilitator is told each time;
- repeated guesses are slowed down for the whole session: the host answers a
  handful of attempts a minute (a burst of three, then one every ten seconds)
  and tells every other attempt to come back later ("busy") without taking
  the guess;
- not one byte of any title, name, item text or the join code appears in
  any packet or in any TCP stream put back together, and neither do
  Automerge's magic bytes ``85 6f 4a 83`` (a document or change in clear);
  while the public label and tag do appear in the mDNS packets, which shows
  the capture sees clear text where there is some.

Scenario 9: the stranger replays a genuine joiner's captured bytes, sends
garbage and oversized frames, and opens 200 connections that never speak.

Pass criteria:
- meanwhile the session keeps working: people keep writing and a new
  participant joins while the half-open connections are held;
- nothing the stranger sent changes the document (every host ends with
  exactly the participants' items and participants);
- the facilitator is told: a wrong-code failure for the replay and a
  handshake failure for the garbage, the oversized frames and the silent
  connections, all naming the stranger's address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from model.sessionfile import AUTOMERGE_MAGIC
from tests.lab import capture
from tests.lab.peers import CODE, Event, Lab, Proc, burst

pytestmark = pytest.mark.lab

TITLE = "Le cas confidentiel de Claire Zorglub"
LABEL = "Salle Azur"
NAMES = ["Anne Quillard", "Bernard Vernisse", "Chloé Dartois"]
WRONG = ["1111-2222", "3333-4444", "5555-6666", "7777-8888", "9999-0000"]


def secret_texts(name: str, count: int) -> list[str]:
    return [f"Confidentiel {name} n°{i} : la fusion Xylophone-{i * 7919}" for i in range(count)]


def sniff(lab: Lab, path: Path) -> Proc:
    sniffer = lab.tool("sniffer", None, "capture", str(path))
    lab.expect(sniffer, "ready", 20)
    return sniffer


def stop_sniffing(lab: Lab, sniffer: Proc) -> Event:
    sniffer.popen.terminate()
    return lab.expect(sniffer, "stopped", 20)


def test_stranger_cannot_join_nor_read(make_lab: Callable[[int], Lab],
                                       figure: Callable[[str, object], None],
                                       tmp_path: Path) -> None:
    lab = make_lab(4)
    facilitator, bob_host, chloe_host, stranger = lab.hosts
    pcap = tmp_path / "bridge.pcap"
    sniffer = sniff(lab, pcap)
    anne = lab.host_session(facilitator, NAMES[0], "--label", LABEL, title=TITLE,
                            advertise=True)
    people = [lab.join(h, n, None, "--tag", anne.tag, wait=False)
              for h, n in zip([bob_host, chloe_host], NAMES[1:], strict=True)]
    for person in people:
        lab.synced(person)
    everyone = [anne, *people]
    secrets = [TITLE, *NAMES, CODE, CODE.replace("-", "")]
    for proc, name in zip(everyone, NAMES, strict=True):
        texts = secret_texts(name, 20)
        secrets += texts
        burst(proc, [f"add note {t}" for t in texts])
    lab.converge(everyone, 30, "the secret items", items=60, peers=2)

    eve = lab.join(stranger, "Eve", None, "--tag", anne.tag, "--until-synced", wait=False,
                   code="1234-5678", timeout=10)
    eve.may_fail = True
    lab.wait(lambda: not eve.alive, 30, "Eve's join to be refused")
    assert eve.popen.returncode == 1
    assert "wrong join code" in eve.stderr_path.read_text()
    assert eve.file is not None and not eve.file.exists()
    lab.expect(anne, "auth-failure", 10, address=stranger.address, failures=1)

    guesser = lab.tool("guesser", stranger, "stranger", "guess", "--target",
                       f"{anne.address}:{anne.port}", "--codes", *WRONG)
    lab.expect(guesser, "done", 60)
    guesses = guesser.all("guess")
    outcomes = [g["outcome"] for g in guesses]
    assert set(outcomes) <= {"wrong-code", "Reject:busy"}, outcomes
    answered = outcomes.count("wrong-code")
    # Eve's join above spent one of the burst of three; the others wait their turn.
    assert answered <= 2, outcomes
    assert all(g["seconds"] < 1 for g in guesses)  # a busy answer comes at once
    told = [e["failures"] for e in anne.all("auth-failure")]
    assert len(told) == 1 + answered, told
    figure("guesses answered / told to come back later (5 tried at once)",
           f"{answered} / {outcomes.count('Reject:busy')}")

    for proc in everyone:  # the session goes on after the attempts
        burst(proc, [f"add note {t}" for t in secret_texts(proc.name, 2)])
    lab.converge(everyone, 30, "the items after the attempts", items=66, peers=2)
    capture_stats = stop_sniffing(lab, sniffer)
    lab.stop(everyone)

    pkts = capture.packets(pcap)
    streams = capture.tcp_streams(pkts)
    haystacks = [p.frame for p in pkts] + list(streams.values())
    needles = sorted({s.encode() for s in secrets} | {AUTOMERGE_MAGIC})
    leaks = {n: sum(h.count(n) for h in haystacks) for n in needles}
    leaked = {n: c for n, c in leaks.items() if c}
    tcp_bytes = sum(len(s) for s in streams.values())
    figure("frames captured on the bridge", f"{len(pkts)} ({capture_stats['bytes']} bytes)")
    figure("TCP payload bytes between the laptops", tcp_bytes)
    figure("secret strings searched / found", f"{len(needles)} / {len(leaked)}")
    assert not leaked, f"found in clear on the bridge: {leaked}"
    mdns = b"".join(p.payload for p in pkts if p.proto == "udp" and 5353 in (p.sport, p.dport))
    assert LABEL.encode() in mdns and anne.tag.encode() in mdns, \
        "the capture did not see the public advertisement: is it capturing at all?"
    secret_bytes = sum(len(s.encode()) for s in secrets)
    assert tcp_bytes > secret_bytes, "less traffic than the secrets themselves: no sync seen"


def test_stranger_attacks(make_lab: Callable[[int], Lab], figure: Callable[[str, object], None],
                          tmp_path: Path) -> None:
    lab = make_lab(5)
    facilitator, bob_host, chloe_host, stranger, driss_host = lab.hosts
    pcap = tmp_path / "join.pcap"
    sniffer = sniff(lab, pcap)
    anne = lab.host_session(facilitator, "Anne", title="Attaques")
    bob = lab.join(bob_host, "Bob", anne)
    stop_sniffing(lab, sniffer)
    genuine = [s for (src, _, dst, dport), s in capture.tcp_streams(capture.packets(pcap)).items()
               if src == bob_host.address and dst == facilitator.address and dport == anne.port]
    assert genuine, "no joiner-to-host stream in the capture"
    replay_file = tmp_path / "bob-to-anne.bin"
    replay_file.write_bytes(genuine[0])
    chloe = lab.join(chloe_host, "Chloé", anne)
    people = [anne, bob, chloe]
    expected: set[str] = set()

    def write(tag: str) -> None:
        for proc in people:
            texts = [f"{proc.name} {tag} {i}" for i in range(5)]
            expected.update(texts)
            burst(proc, [f"add note {t}" for t in texts])

    write("before")
    lab.converge(people, 30, "the first items", items=len(expected), peers=2)
    target = f"{anne.address}:{anne.port}"
    mark = anne.mark()

    replay = lab.tool("replay", stranger, "stranger", "replay", "--target", target, "--file",
                      str(replay_file))
    replayed = lab.expect(replay, "replayed", 30)
    assert "Reject:wrong-code" in replayed["said"], replayed
    lab.expect(anne, "auth-failure", 10, start=mark, address=stranger.address)

    garbage = lab.tool("garbage", stranger, "stranger", "garbage", "--target", target)
    oversized = lab.tool("oversized", stranger, "stranger", "oversized", "--target", target)
    write("during garbage")
    for tool in (garbage, oversized):
        lab.expect(tool, "done", 60)
        assert all(e["closed"] for e in tool.all("garbage") + tool.all("oversized")), \
            "a connection carrying junk was left open"

    halfopen = lab.tool("half-open", stranger, "stranger", "halfopen", "--target", target,
                        "--count", "200", "--hold", "13")
    holding = lab.expect(halfopen, "holding", 30)
    lab.note(f"{holding['open']} half-open connections held")
    joined = time.monotonic()
    driss = lab.join(driss_host, "Driss", anne)
    figure("a newcomer joins during 200 half-open connections (s)",
           f"{time.monotonic() - joined:.1f}")
    people.append(driss)
    write("during half-open")
    released = lab.expect(halfopen, "released", 60)
    figure("half-open: refused busy / closed after the handshake timeout / still open",
           f"{released['busy']} / {released['closed_by_host'] - released['busy']} / "
           f"{released['still_open']}")
    lab.converge(people, 30, "everyone after the attacks", items=len(expected), peers=3)

    failures = [e for e in anne.events[mark:] if e["event"] == "handshake-failed"
                and e["address"] == stranger.address]
    reasons = sorted({e["reason"] for e in failures})
    lab.note(f"facilitator told: {reasons}")
    assert any("frame" in r for r in reasons), reasons  # garbage and oversized frames
    assert any("never spoke" in r for r in reasons), reasons  # the silent connections
    figure("distinct warnings shown to the facilitator", len(reasons) + 1)

    lab.stop(people)
    exports = {lab.export_json(p.file) for p in people if p.file}
    assert len(exports) == 1
    held = lab.holdings(anne.file)  # type: ignore[arg-type]
    assert held["texts"] == expected
    assert held["participants"] == ["Anne", "Bob", "Chloé", "Driss"]
    figure("document changes by the stranger", len(held["texts"] - expected))
