"""Scenario 7 — late and sleepy: one joins after 1,000 items, another sleeps for 60 s.

Four laptops write 1,000 items between them. Then Chloé's laptop goes to
sleep (SIGSTOP: her sockets stay open, she answers nothing) for
``CERCLE_LAB_SLEEP`` seconds (60 by default), while Emma arrives late and the
others keep writing. Then Chloé wakes up (SIGCONT).

Pass criteria:
- Emma receives all 1,000 items when she joins (her "synced" counts them);
- the others notice that Chloé stopped answering and carry on together;
- after waking up, Chloé and Emma both hold every item, linked to all four
  others, and the five files export identical JSON.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from tests.lab.peers import Lab, burst

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SLEEP = float(os.environ.get("CERCLE_LAB_SLEEP", "60"))
EXISTING = 1000


def test_late_and_sleepy(make_lab: Callable[[int], Lab],
                         figure: Callable[[str, object], None]) -> None:
    lab = make_lab(5)
    anne = lab.host_session(lab.hosts[0], "Anne", title="Retard et sommeil")
    bob, chloe, driss = (lab.join(h, n, anne, wait=False)
                         for h, n in zip(lab.hosts[1:4], ["Bob", "Chloé", "Driss"], strict=True))
    for person in (bob, chloe, driss):
        lab.synced(person)
    present = [anne, bob, chloe, driss]
    lab.converge(present, 30, "a full mesh", peers=3)
    filled = time.monotonic()
    for proc in present:
        burst(proc, [f"add note {proc.name} {i}" for i in range(EXISTING // len(present))])
    lab.converge(present, 180, "1,000 items", items=EXISTING)
    figure("1,000 items written by 4 laptops, converged (s)", f"{time.monotonic() - filled:.1f}")

    lab.freeze(chloe)
    asleep = time.monotonic()
    lab.note(f"Chloé frozen for {SLEEP:.0f} s")
    emma = lab.join(lab.hosts[4], "Emma", anne, wait=False)
    synced = lab.synced(emma, 60)
    assert synced["items"] == EXISTING, synced
    figure("late joiner: start to all 1,000 items (s)", f"{synced['_rx'] - emma.spawned:.1f}")

    awake = [anne, bob, driss, emma]
    for proc in awake:
        burst(proc, [f"add note {proc.name} sans Chloé {i}" for i in range(10)])
    total = EXISTING + 10 * len(awake)
    lab.converge(awake, max(SLEEP, 30), "the others without Chloé", items=total, peers=3)
    time.sleep(max(0.0, SLEEP - (time.monotonic() - asleep)))  # the scenario's sleep
    lab.thaw(chloe)
    woke = time.monotonic()
    lab.note("Chloé woke up")
    lab.converge([*awake, chloe], 90, "everyone after the wake-up", items=total, peers=4)
    figure(f"after {SLEEP:.0f} s asleep: wake-up to every item and full mesh (s)",
           f"{time.monotonic() - woke:.1f}")
    everyone = [*awake, chloe]
    lab.stop(everyone)
    assert len({lab.export_json(p.file) for p in everyone if p.file}) == 1
    figure("items lost", total - lab.holdings(chloe.file)["items"])  # type: ignore[arg-type]
