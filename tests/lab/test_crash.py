"""Scenario 4 — crash: a host SIGKILLed in the middle of a burst of its own edits.

Bob types 300 items as fast as his laptop takes them; while they are still
flowing out he is killed (SIGKILL: no goodbye, no last save), three times at
different points of the burst, and restarted from his file each time.

Pass criteria, at every crash:
- Bob's file loads;
- everything of Bob's that reached the others is in his file (a change is
  saved before it is sent, so a restart never reuses a change number);
- after the restart every host holds every item Bob had saved, and the four
  hosts hold the same items; at the end the four files export identical JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.lab.peers import Event, Lab, burst, file_matches

pytestmark = pytest.mark.lab

BURST = 300
KILL_AFTER = [20, 120, 220]  # items of the burst the facilitator has seen when Bob dies


def _holding(items: int) -> Callable[[Event], bool]:
    return lambda e: e["event"] == "changed" and e["items"] >= items


def test_crash(make_lab: Callable[[int], Lab], figure: Callable[[str, object], None]) -> None:
    lab = make_lab(4)
    anne = lab.host_session(lab.hosts[0], "Anne", title="Crash")
    bob, chloe, driss = (lab.join(h, n, anne, wait=False)
                         for h, n in zip(lab.hosts[1:], ["Bob", "Chloé", "Driss"], strict=True))
    for person in (bob, chloe, driss):
        lab.synced(person)
    lab.converge([anne, bob, chloe, driss], 30, "a full mesh", peers=3)
    saved_total: set[str] = set()
    sent = 0
    restarts = []
    for round_, kill_after in enumerate(KILL_AFTER, start=1):
        [before] = {s["items"] for s in lab.status([anne])}
        mark = anne.mark()
        burst(bob, [f"add advice Bob r{round_} #{i}" for i in range(BURST)])
        sent += BURST
        lab.expect_where(anne, _holding(before + kill_after), 60,
                         f"{kill_after} of Bob's items", start=mark)
        lab.kill(bob)
        lab.note(f"round {round_}: Bob killed after Anne saw {kill_after} items")

        saved = lab.holdings(bob.file)  # type: ignore[arg-type]  # the file always loads
        mine = {t for t in saved["texts"] if t.startswith(f"Bob r{round_} ")}
        assert kill_after <= len(mine) < BURST, f"Bob died with {len(mine)} items saved"
        survivors = [anne, chloe, driss]
        lab.converge(survivors, 30, "the survivors", peers=2)
        [digest] = {s["digest"] for s in lab.status(survivors)}
        at_anne = file_matches(lab, anne, digest)["texts"]
        left_bob = {t for t in at_anne if t.startswith(f"Bob r{round_} ")}
        assert left_bob <= mine, f"{len(left_bob - mine)} of Bob's items reached the others " \
            "but were not in his file"
        saved_total |= {t for t in saved["texts"] if t.startswith("Bob r")}

        restarted = time.monotonic()
        bob = lab.join(lab.hosts[1], "Bob", anne, home=bob.home, file=bob.file,
                       label=f"Bob#{round_ + 1}")
        lab.converge([anne, bob, chloe, driss], 60, "the restart", peers=3)
        restarts.append(time.monotonic() - restarted)
        [digest] = {s["digest"] for s in lab.status([anne])}
        everywhere = file_matches(lab, anne, digest)["texts"]
        assert saved_total <= everywhere, "an item Bob had saved is missing after his restart"

    figure("kills mid-burst", len(KILL_AFTER))
    figure("items Bob sent / saved before dying", f"{sent} / {len(saved_total)}")
    figure("restart from the file to converged (s, max)", f"{max(restarts):.1f}")
    everyone = [anne, bob, chloe, driss]
    lab.stop(everyone)
    exports = {lab.export_json(p.file) for p in everyone if p.file}
    assert len(exports) == 1, "the four files differ"
    final = lab.holdings(anne.file)  # type: ignore[arg-type]
    figure("saved items lost", len(saved_total - final["texts"]))
    assert final["participants"] == ["Anne", "Bob", "Chloé", "Driss"]  # same Bob each time
