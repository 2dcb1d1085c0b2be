"""Scenario 2 — partition: six hosts split 3/3, both sides keep writing, the split heals.

The split is silent, as when a meeting room's wifi breaks in two: the ports
of h4..h6 move to another bridge, so frames just vanish (no reset, no error)
and each side has to notice by itself that the others stopped answering.

Pass criteria:
- during the split, each side converges on its own items, and neither holds
  the other side's;
- after healing, every host holds every item (none lost, none doubled) and
  the JSON exports of the six session files are identical.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.lab.peers import Lab, Proc, burst

pytestmark = pytest.mark.lab

NAMES = ["Bob", "Chloé", "Driss", "Emma", "Farid"]


def test_partition(make_lab: Callable[[int], Lab], figure: Callable[[str, object], None]) -> None:
    lab = make_lab(6)
    anne = lab.host_session(lab.hosts[0], "Anne", title="Partition")
    people = [lab.join(h, name, anne, wait=False)
              for h, name in zip(lab.hosts[1:], NAMES, strict=True)]
    for person in people:
        lab.synced(person)
    everyone = [anne, *people]
    lab.converge(everyone, 30, "a full mesh", peers=5)
    expected: set[str] = set()

    def write(round_: str, count: int) -> None:
        for proc in everyone:
            texts = [f"{proc.name} {round_} {i}" for i in range(count)]
            expected.update(texts)
            burst(proc, [f"add note {t}" for t in texts])

    def side_items(side: list[Proc]) -> int:  # what one side holds: the shared start, then its own
        names = {p.name for p in side}
        return len({t for t in expected if " before " in t or t.split(" ")[0] in names})

    write("before", 5)
    lab.converge(everyone, 30, "the first items", items=len(expected))

    side_a, side_b = everyone[:3], everyone[3:]
    lab.net.partition([lab.hosts[:3], lab.hosts[3:]])
    lab.note(f"partition: {side_a} | {side_b}")
    split_at = time.monotonic()
    write("during", 10)
    for side in (side_a, side_b):
        lab.converge(side, 60, "a side alone", items=side_items(side), peers=2)
    figure("split noticed by both sides (s)", f"{time.monotonic() - split_at:.1f}")
    [a] = {s["digest"] for s in lab.status(side_a)}
    [b] = {s["digest"] for s in lab.status(side_b)}
    assert a != b, "the two sides hold the same items through a partition"

    write("still split", 5)
    for side in (side_a, side_b):
        lab.converge(side, 30, "a side alone", items=side_items(side), peers=2)

    lab.net.heal()
    lab.note("healed")
    healed = lab.converge(everyone, 90, "the heal", items=len(expected), peers=5)
    figure("items written during the split", 6 * 15)
    figure("heal to every item everywhere (s)", f"{healed:.1f}")

    lab.stop(everyone)
    exports = {p.name: lab.export_json(p.file) for p in everyone if p.file}
    assert len(exports) == 6
    assert len(set(exports.values())) == 1, "the six files differ after the heal"
    held = lab.holdings(anne.file)  # type: ignore[arg-type]
    assert held["texts"] == expected
    figure("items lost", len(expected - held["texts"]))
