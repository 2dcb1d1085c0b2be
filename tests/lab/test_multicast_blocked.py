"""Scenario 6 — multicast blocked: no mDNS, people join by address, peer exchange does the rest.

The bridge drops UDP port 5353 both ways (nftables, bridge family), as on a
guest wifi that filters multicast. The facilitator still advertises.

Pass criteria:
- the block is real: looking the session up by tag fails, and the filter
  counts dropped mDNS packets;
- a newcomer who knows only a participant's address is told to join through
  the host (only the laptop that opened the session takes the code);
- people join with the host's address (the join link of the lobby), and still
  every laptop ends up linked to all four others through peer exchange (the
  members dial each other with their keys, no code);
- every item written by anyone reaches everyone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.lab.netlab import LabError
from tests.lab.peers import Lab, burst

pytestmark = pytest.mark.lab


def test_multicast_blocked(make_lab: Callable[[int], Lab],
                           figure: Callable[[str, object], None]) -> None:
    lab = make_lab(5)
    try:
        lab.net.block_mdns()
    except LabError as exc:
        pytest.skip(str(exc))
    lab.note("mDNS dropped on the bridge")
    anne = lab.host_session(lab.hosts[0], "Anne", title="Sans multicast", advertise=True)
    lookup = lab.join(lab.hosts[1], "Bob", None, "--tag", anne.tag, wait=False, timeout=3,
                      label="Bob by tag")
    lookup.may_fail = True
    lab.wait(lambda: not lookup.alive, 30, "the look-up by tag to give up")
    assert lookup.popen.returncode == 1
    assert "no session with tag" in lookup.stderr_path.read_text()
    dropped = lab.net.mdns_dropped()
    assert dropped > 0, "the filter dropped nothing: was mDNS ever sent?"
    figure("mDNS packets dropped by the bridge", dropped)

    started = time.monotonic()
    chain = [anne, lab.join(lab.hosts[1], "Bob", anne)]
    wrong_door = lab.join(lab.hosts[2], "Chloé", chain[1], wait=False, timeout=10,
                          label="Chloé via Bob")
    wrong_door.may_fail = True
    lab.wait(lambda: not wrong_door.alive, 30, "Chloé to be sent to the host")
    assert "join through the host" in wrong_door.stderr_path.read_text()
    for host, name in zip(lab.hosts[2:], ["Chloé", "Driss", "Emma"], strict=True):
        chain.append(lab.join(host, name, anne))
    mesh = lab.converge(chain, 30, "a full mesh through peer exchange", peers=4)
    figure("4 joins by the host's address to a full mesh (s)",
           f"{time.monotonic() - started:.1f}")
    figure("full mesh after the last join (s)", f"{mesh:.1f}")
    for proc in chain:
        burst(proc, [f"add note {proc.name} {i}" for i in range(10)])  # the exposé takes notes
    lab.converge(chain, 30, "every item everywhere", items=50, peers=4)
    lab.stop(chain)
    assert len({lab.export_json(p.file) for p in chain if p.file}) == 1
