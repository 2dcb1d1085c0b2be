"""Scenario 5 — disk full: a host whose data folder is a tiny tmpfs runs out of space.

Bob's ``CERCLE_HOME`` (and his session file) live on a 256 KiB tmpfs. Once he
is in the session, the rest of the disk is filled; he keeps typing, Anne
keeps typing; then space comes back.

Pass criteria:
- Bob is told clearly ("save-failed", "the disk is full"), once;
- his last good file stays intact (it loads and holds exactly what it held
  before the disk filled) and no temporary file is left behind;
- what he types while the disk is full stays on his laptop (never sent
  unsaved), while he still receives Anne's items;
- when space returns he says "saved" by himself, his items reach everyone,
  and every file ends identical.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lab.peers import Lab, burst, file_matches

pytestmark = pytest.mark.lab


def fill(path: Path) -> int:
    """Write zeros to ``path`` until the filesystem says it is full; bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                written += os.write(fd, bytes(4096))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return written
    finally:
        os.close(fd)


def test_disk_full(make_lab: Callable[[int], Lab], figure: Callable[[str, object], None],
                   tmp_path: Path) -> None:
    lab = make_lab(3)
    tiny = tmp_path / "tiny"
    lab.net.mount_tmpfs(tiny, "256k")
    anne = lab.host_session(lab.hosts[0], "Anne", title="Disque plein")
    bob = lab.join(lab.hosts[1], "Bob", anne, home=tiny, file=tiny / "session.cercle")
    chloe = lab.join(lab.hosts[2], "Chloé", anne)
    everyone = [anne, bob, chloe]
    for proc in everyone:
        burst(proc, [f"add note {proc.name} avant {i}" for i in range(5)])
    lab.converge(everyone, 30, "the first items", items=15, peers=2)
    [good] = {s["digest"] for s in lab.status([bob])}
    file_matches(lab, bob, good)

    filler = tiny / "filler"
    figure("tmpfs left after Bob's file (bytes filled)", fill(filler))
    lab.note("Bob's disk is full")
    mark = bob.mark()
    burst(bob, [f"add note Bob pendant {i}" for i in range(5)])
    failed = lab.expect(bob, "save-failed", 15, start=mark)
    assert "disk is full" in failed["message"], failed
    burst(anne, [f"add note Anne pendant {i}" for i in range(3)])
    # Bob still receives: 15 + his 5 + Anne's 3; the others never get his unsaved 5.
    lab.expect_where(bob, lambda e: e["event"] == "changed" and e["items"] == 23, 20,
                     "Anne's items", start=mark)
    lab.converge([anne, chloe], 20, "Anne and Chloé", items=18)
    assert [s["items"] for s in lab.status([bob])] == [23]
    held = lab.holdings(bob.file)  # type: ignore[arg-type]
    assert held["digest"] == good and held["items"] == 15, "the last good file changed"
    assert not list(tiny.glob(".session.cercle.*.tmp")), "a temporary file was left behind"
    assert len(bob.all("save-failed", mark)) == 1, "told more than once"

    filler.unlink()
    freed = time.monotonic()
    lab.expect(bob, "saved", 15, start=mark)
    figure("space back to 'saved' (s)", f"{time.monotonic() - freed:.1f}")
    lab.converge(everyone, 30, "everything everywhere", items=23)
    figure("space back to every item everywhere (s)", f"{time.monotonic() - freed:.1f}")
    lab.stop(everyone)
    exports = {lab.export_json(p.file) for p in everyone if p.file}
    assert len(exports) == 1, "the three files differ"
    figure("items lost", 23 - lab.holdings(bob.file)["items"])  # type: ignore[arg-type]
