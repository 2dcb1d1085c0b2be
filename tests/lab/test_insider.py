"""Scenario 10 — a participant with the code writes a phase change without being facilitator.

Mallory joins with the right code (``tests.lab.insider``: a ``SessionNode``
in her own namespace), then writes "go to phase 5" twice, straight into
the document as a modified client could: once in her own control log, once
forged into the facilitator's log. Both changes replicate like any other.

Pass criteria:
- the facilitator's own phase change moves every laptop (the control works);
- Mallory's two writes reach every laptop (each counts 2 ignored control
  changes) and move no one: every host stays in the facilitator's phase,
  live and in its saved file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from model.sessionfile import SessionFileError
from tests.lab.peers import CODE, Lab

pytestmark = pytest.mark.lab


def test_insider_cannot_move_the_phase(make_lab: Callable[[int], Lab],
                                       figure: Callable[[str, object], None]) -> None:
    lab = make_lab(4)
    facilitator, bob_host, chloe_host, mallory_host = lab.hosts
    anne = lab.host_session(facilitator, "Anne", title="Autorité")
    people = [lab.join(h, n, anne) for h, n in zip([bob_host, chloe_host], ["Bob", "Chloé"],
                                                    strict=True)]
    mallory = lab.tool("Mallory", mallory_host, "insider", "--peer",
                       f"{anne.address}:{anne.port}", "--code", CODE, "--name", "Mallory",
                       "--interface", mallory_host.address)
    lab.expect(mallory, "synced", 60)
    everyone = [anne, *people]
    anne.send("start")
    anne.send("advance")
    lab.wait(lambda: all(s["phase"] == 1 for s in lab.status(everyone)), 20,
             "the facilitator's phase change everywhere")

    mark = mallory.mark()
    mallory.send("forge-own 4")
    mallory.send("forge-facilitator 4")
    lab.expect(mallory, "forged", 10, start=mark, kind="forge-facilitator")
    mallory.send("status")
    seen = lab.expect(mallory, "status", 10, start=mark)
    assert seen["phase"] == 1 and seen["ignored"] == 2, seen  # her own replica ignores them too

    def received() -> bool:  # the files trail the replicas by a few ms
        try:
            return all(lab.holdings(p.file)["ignored"] == 2 for p in everyone)  # type: ignore[arg-type]
        except SessionFileError:
            return False

    lab.wait(received, 20, "Mallory's writes in every file")
    assert all(s["phase"] == 1 for s in lab.status(everyone))
    lab.stop([*everyone])
    mallory.send("quit")
    for proc in everyone:
        held = lab.holdings(proc.file)  # type: ignore[arg-type]
        assert held["phase"] == 1, f"{proc} moved to phase {held['phase'] + 1}"
        assert held["ignored"] == 2, f"{proc} did not receive Mallory's writes: {held}"
    figure("forged phase changes written / obeyed by the 3 other laptops", "2 / 0")
