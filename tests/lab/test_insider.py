"""Scenario 10 — a hostile insider: a participant with the code and a modified client.

Mallory joins with the right code (``tests.lab.insider``: the real join, in her own
namespace), then tries the trust issue's findings 5 to 11 against three honest headless
laptops, one after the other: a copy of the session's settings written at the root (5), a
phase change under the facilitator's actor id sent to one laptop only, and one in her own
log (6), a link opened with someone else's admission (7), a Pong with an infinite time (8),
writes into another's item and name, a deletion of another's item, an item claiming
another's name, and another's name taken (9), one change of 40,000 items and one holding a
300 MB string (10), and 1,279 made-up addresses (11).

Pass criteria, at the end:
- 0 forged controls obeyed: every honest laptop stays in the facilitator's phase, and
  moves when she moves it;
- 0 items shown under a wrong author, and the taken name shown apart from its owner's;
- 0 crashes: the three honest laptops run throughout, linked to each other;
- all honest digests equal, and the files export identical JSON;
- honest files under twice their size without the attack;
- the facilitator was told who sent what.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from model import sessionfile
from model.session import Session
from tests.lab.peers import CODE, Lab, burst

pytestmark = pytest.mark.lab

ATTACKS = ["take-session", "forge-facilitator 4", "forge-own 4", "claim", "bad-pong",
           "rewrite", "steal-name Bob", "flood-items", "flood-string", "peers"]


def test_hostile_insider(make_lab: Callable[[int], Lab],
                         figure: Callable[[str, object], None]) -> None:
    lab = make_lab(4)
    anne_host, bob_host, chloe_host, mallory_host = lab.hosts
    anne = lab.host_session(anne_host, "Anne", title="Autorité")
    honest = [anne, *(lab.join(h, n, anne) for h, n in
                      zip([bob_host, chloe_host], ["Bob", "Chloé"], strict=True))]
    for proc in honest:
        burst(proc, [f"add note {proc.name}: note {i}" for i in range(30)])
    anne.send("start")
    lab.converge(honest, 30, "the honest session", items=90, peers=2)
    for proc in honest:
        proc.send("status")
    lab.converge(honest, 30, "saved", items=90)
    baseline = {p.name: p.file.stat().st_size for p in honest if p.file}  # type: ignore[union-attr]

    mallory = lab.tool("Mallory", mallory_host, "insider", "--peer",
                       f"{anne.address}:{anne.port}", "--code", CODE, "--name", "Mallory",
                       "--interface", mallory_host.address)
    synced = lab.expect(mallory, "synced", 60)
    mallory_id = synced["me"]
    marks = {p.name: p.mark() for p in honest}
    for attack in ATTACKS:
        mark = mallory.mark()
        command = f"claim {anne.address}:{anne.port}" if attack == "claim" else attack
        mallory.send(command)
        lab.expect_where(mallory, lambda e: e["event"] in ("done", "error"), 60,
                         f"Mallory's {attack}", start=mark)
        lab.wait(lambda: all(p.alive for p in honest), 5, "the honest laptops to run")
    claimed = mallory.last("claim")
    assert claimed is not None and claimed["outcome"].startswith("refused"), claimed
    errors = mallory.all("error")
    assert not errors, errors

    # The facilitator's own control still works, and is the only one obeyed.
    statuses = lab.status(honest)
    assert all(s["phase"] == 0 and s["peers"] >= 2 for s in statuses), statuses
    anne.send("advance")
    lab.wait(lambda: all(s["phase"] == 1 for s in lab.status(honest)), 60,
             "the facilitator's phase change, after the attacks")
    told = [e for e in anne.all("refused", start=marks["Anne"])
            if e.get("culprit") == mallory_id]
    assert len({e["reason"] for e in told}) >= 5, [e["reason"] for e in told]
    dialled = [e for p in honest for e in p.all("link-problem", start=marks[p.name])
               if e["address"].startswith("10.100.")]
    assert not dialled, dialled[:3]

    mallory.send("quit")
    lab.stop(honest)
    assert all(p.popen.returncode == 0 for p in honest), [p.popen.returncode for p in honest]
    exports = {lab.export_json(p.file) for p in honest if p.file}
    assert len(exports) == 1, "the honest files differ"
    sizes = {p.name: p.file.stat().st_size for p in honest if p.file}  # type: ignore[union-attr]
    ratio = max(sizes[n] / baseline[n] for n in sizes)
    assert ratio < 2, (baseline, sizes)
    snap = Session(sessionfile.load(anne.file).doc).snapshot  # type: ignore[arg-type]
    names = {p.id: p.name for p in snap.participants}
    wrong = [i for i in snap.items if i.text.split(":")[0] in ("Anne", "Bob", "Chloé")
             and names.get(i.author, "").split(" ·")[0] != i.text.split(":")[0]]
    claim_item = [i for i in snap.items if "says Mallory" in i.text]
    assert not wrong, wrong
    assert claim_item and claim_item[0].author == mallory_id
    bobs = sorted(n for n in names.values() if n.startswith("Bob"))
    assert len(bobs) == 2 and all(" ·" in n for n in bobs), bobs  # told apart
    assert snap.control.phase.index == 1
    figure("attacks tried (findings 5 to 11)", len(ATTACKS))
    figure("forged controls obeyed / items under a wrong author / crashes", "0 / 0 / 0")
    figure("honest file size, after / before the attack (max)", f"×{ratio:.2f}")
    figure("distinct refusals the facilitator was told of", len({e['reason'] for e in told}))
