"""Scenario 3 — bad network: 10% loss, 100 ms ± 50 ms on every link, 600 concurrent items.

This kernel has no ``sch_netem``, so the bridge is replaced by the
userspace switch of ``tests.lab.impair``: every frame between two hosts is
lost with probability 10%, else delayed by 100 ms ± 50 ms (uniform, so
frames reorder), exactly once on its way. Everything happens on that
network: the joins, the mesh, the burst.

Pass criteria: six hosts each add 100 items at the same moment; every host
ends with the same 600 items, and the six session files export identical
JSON. The time from the burst to the last host holding all 600 is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.lab.peers import Lab, Proc, burst

pytestmark = [pytest.mark.lab, pytest.mark.slow]

NAMES = ["Bob", "Chloé", "Driss", "Emma", "Farid"]
PER_HOST = 100


def _reached(proc: Proc, items: int, start: int) -> float | None:
    """When ``proc`` first held ``items`` items (its own watch lines, or a status)."""
    event = proc.first(lambda e: e["event"] in ("changed", "status") and e["items"] >= items,
                       start)
    return None if event is None else event.get("t", event["_rx"])


def test_bad_network(make_lab: Callable[[int], Lab],
                     figure: Callable[[str, object], None]) -> None:
    lab = make_lab(6)
    lab.net.impair(loss=10, delay_ms=100, jitter_ms=50, seed=3)
    lab.note("impaired: 10% loss, 100 ms ± 50 ms")
    started = time.monotonic()
    anne = lab.host_session(lab.hosts[0], "Anne", title="Mauvais réseau")
    people = [lab.join(h, name, anne, wait=False, timeout=90)
              for h, name in zip(lab.hosts[1:], NAMES, strict=True)]
    for person in people:
        lab.synced(person, 100)
    everyone = [anne, *people]
    lab.converge(everyone, 120, "a full mesh", peers=5)
    figure("five joins and a full mesh on the bad network (s)",
           f"{time.monotonic() - started:.1f}")

    marks = [p.mark() for p in everyone]
    burst_at = time.time()
    for proc in everyone:
        burst(proc, [f"add note {proc.name} {i}" for i in range(PER_HOST)])
    total = PER_HOST * len(everyone)
    lab.converge(everyone, 300, "600 items everywhere", items=total)
    reached = [_reached(p, total, m) for p, m in zip(everyone, marks, strict=True)]
    assert all(t is not None for t in reached)
    converge = max(t for t in reached if t is not None) - burst_at
    figure("600 concurrent items: burst to the last host holding all (s)", f"{converge:.1f}")

    counters = lab.net.restore()
    lab.note(f"switch counters: {counters}")
    if counters.get("copies"):
        figure("frames lost by the switch (%)",
               f"{100 * counters['dropped'] / counters['copies']:.1f} of {counters['copies']}")
    lab.stop(everyone)
    exports = {lab.export_json(p.file) for p in everyone if p.file}
    assert len(exports) == 1, "the six files differ"
    held = lab.holdings(anne.file)  # type: ignore[arg-type]
    assert held["items"] == total
    figure("items lost", total - held["items"])
