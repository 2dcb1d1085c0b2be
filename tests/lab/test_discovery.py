"""Scenario 1 — discovery: five hosts see the session within 2 s; whoever leaves disappears.

Real mDNS across the lab's bridge: the facilitator advertises on h1; people
on h2..h5 browse (``sync.discovery.Browser``) and join by tag, as the app
does (``cercle join --tag``).

Pass criteria:
- browsers already open see the session within 2 s of it being announced;
- browsers opened later see it within 2 s of starting to browse;
- four people join by tag, and the five laptops link in a full mesh;
- a participant who leaves is gone from every other laptop's peer list
  within 2 s, and the session is gone from every browser within 2 s of the
  facilitator leaving.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.lab.peers import Event, Lab, Proc

pytestmark = pytest.mark.lab

WITHIN = 2.0


def _seen(lab: Lab, browser: Proc, tag: str, present: bool, timeout: float,
          start: int = 0) -> Event:
    def pred(e: Event) -> bool:
        return e["event"] == "sessions" and (tag in e["tags"]) == present

    return lab.expect_where(browser, pred, timeout,
                            f"{'seeing' if present else 'losing'} session {tag}", start)


def test_discovery(make_lab: Callable[[int], Lab], figure: Callable[[str, object], None]) -> None:
    lab = make_lab(5)
    first, *others = lab.hosts
    early = [lab.tool(f"browser-{h.name}", h, "browse", "--interface", h.address)
             for h in others]
    for browser in early:
        lab.expect(browser, "ready", 20)

    anne = lab.host_session(first, "Anne", "--label", "Salle 4", advertise=True)
    announced = anne.first(lambda e: e["event"] == "ready")
    assert announced is not None
    lab.note(f"session {anne.tag} announced by {anne}")
    waits = []
    for browser in early:
        found = _seen(lab, browser, anne.tag, True, WITHIN + 10)
        waits.append(found["t"] - anne.spawned)
        assert found["t"] - announced["_rx"] <= WITHIN, f"{browser} saw it late"
    figure("already browsing: seen after the facilitator started (s, max)",
           f"{max(waits):.2f}")

    late = [lab.tool(f"late-browser-{h.name}", h, "browse", "--interface", h.address)
            for h in others]
    late_waits = []
    for browser in late:
        ready = lab.expect(browser, "ready", 20)
        found = _seen(lab, browser, anne.tag, True, WITHIN + 10)
        late_waits.append(found["t"] - ready["t"])
    assert max(late_waits) <= WITHIN, f"browsers opened later waited {late_waits}"
    figure("opened later: seen after starting to browse (s, max)", f"{max(late_waits):.2f}")

    names = ["Bob", "Chloé", "Driss", "Emma"]
    started = time.monotonic()
    people = [lab.join(h, name, None, "--tag", anne.tag, wait=False)
              for h, name in zip(others, names, strict=True)]
    for person in people:
        lab.synced(person, 60)
    figure("four people joined by tag (s)", f"{time.monotonic() - started:.2f}")
    mesh = lab.converge([anne, *people], 30, "a full mesh", peers=4)
    figure("full mesh of 5 after the joins (s)", f"{mesh:.2f}")

    leaver, *staying = people
    quit_at = time.monotonic()
    lab.stop([leaver])
    lab.converge([anne, *staying], WITHIN + 10, "the leaver to disappear", peers=3)
    gone = time.monotonic() - quit_at
    assert gone <= WITHIN, f"a participant who left was listed for {gone:.2f} s"
    figure("participant who left gone from every peer list (s)", f"{gone:.2f}")

    marks = {b.name: b.mark() for b in early + late}
    left_at = time.time()
    lab.stop([anne])
    lost = [_seen(lab, b, anne.tag, False, WITHIN + 10, marks[b.name])["t"] - left_at
            for b in early + late]
    assert max(lost) <= WITHIN, f"the session stayed listed for {max(lost):.2f} s"
    figure("session gone from all 8 browsers after the host left (s, max)", f"{max(lost):.2f}")
