"""The session file: round trip, bad files, atomic writes, merge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from automerge.core import ROOT, Document, ScalarType

from model import sessionfile
from model.session import Session
from model.sessionfile import SessionFileError
from tests.replicas import replica_of


def test_round_trip(tmp_path: Path, session: Session) -> None:
    session.add_item("question", "Pourquoi maintenant ?")
    session.start()
    path = tmp_path / "s.cercle"
    sessionfile.save(path, session.doc)
    loaded = sessionfile.load(path)
    assert loaded.session_id == session.snapshot.info.id
    assert Session(loaded.doc).snapshot == session.snapshot
    assert not loaded.newer_format


def test_file_is_plain_automerge(tmp_session_file: Path) -> None:
    data = tmp_session_file.read_bytes()
    assert data[:4] == bytes.fromhex("856f4a83")
    doc = Document.load(data)
    assert doc.get(ROOT, "app")[0][1] == "cercle"  # type: ignore[index]


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "empty"),
    (b"hello, this is a text file", "not an Automerge document"),
    (bytes.fromhex("856f4a83") + b"\x00garbage", "corrupt or truncated"),
])
def test_bad_files_are_named_and_explained(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.cercle"
    path.write_bytes(content)
    with pytest.raises(SessionFileError, match=problem) as info:
        sessionfile.load(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # never touched


def test_truncated_file(tmp_path: Path, tmp_session_file: Path) -> None:
    data = tmp_session_file.read_bytes()
    for cut in (len(data) // 2, len(data) - 1, 5):
        path = tmp_path / f"cut{cut}.cercle"
        path.write_bytes(data[:cut])
        with pytest.raises(SessionFileError, match="corrupt or truncated"):
            sessionfile.load(path)


def test_foreign_automerge_document(tmp_path: Path) -> None:
    doc = Document()
    with doc.transaction() as tx:
        tx.put(ROOT, "todo", ScalarType.Str, "buy milk")
    path = tmp_path / "todo.automerge"
    path.write_bytes(doc.save())
    with pytest.raises(SessionFileError, match="not a Cercle session"):
        sessionfile.load(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="no such file"):
        sessionfile.load(tmp_path / "nope.cercle")
    with pytest.raises(SessionFileError, match="folder"):
        sessionfile.load(tmp_path)
    with pytest.raises(SessionFileError, match="folder does not exist"):
        sessionfile.write_atomic(tmp_path / "no" / "x.cercle", b"data")


def test_newer_format_opens(tmp_path: Path, session: Session) -> None:
    with session.doc.transaction() as tx:
        tx.put(ROOT, "format", ScalarType.Int, 7)
    path = tmp_path / "future.cercle"
    sessionfile.save(path, session.doc)
    loaded = sessionfile.load(path)
    assert loaded.newer_format
    assert Session(loaded.doc).snapshot.info.title == "Le cas de Claire"


def test_failed_write_keeps_previous_file(tmp_path: Path, tmp_session_file: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = tmp_session_file.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(SessionFileError, match="disk is full"):
        sessionfile.write_atomic(tmp_session_file, b"new content")
    assert tmp_session_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [tmp_session_file.name]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="mounting a tiny tmpfs needs root")
def test_real_full_disk(tmp_path: Path, session: Session) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        path = mount / "s.cercle"
        sessionfile.save(path, session.doc)
        good = path.read_bytes()
        big = Session(session.doc.fork())
        for i in range(400):
            big.add_item("note", f"{i} " + os.urandom(200).hex())
        with pytest.raises(SessionFileError, match="disk is full"):
            sessionfile.save(path, big.doc)
        assert path.read_bytes() == good
        assert sorted(p.name for p in mount.iterdir()) == ["s.cercle"]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_merge_two_copies(tmp_path: Path, session: Session) -> None:
    bob = replica_of(session, "Bob")
    session.add_item("question", "A?")
    bob.add_item("advice", "B!")
    a, b = tmp_path / "a.cercle", tmp_path / "b.cercle"
    sessionfile.save(a, session.doc)
    sessionfile.save(b, bob.doc)
    merged = Session(sessionfile.merge_files([a, b])).snapshot
    assert sorted(i.text for i in merged.items) == ["A?", "B!"]
    assert len(merged.participants) == 2


def test_merge_refuses_other_sessions(tmp_path: Path, session: Session, codev) -> None:  # type: ignore[no-untyped-def]
    other = Session.create(title="Autre", protocol=codev, name="Zoé")
    a, b = tmp_path / "a.cercle", tmp_path / "b.cercle"
    sessionfile.save(a, session.doc)
    sessionfile.save(b, other.doc)
    with pytest.raises(SessionFileError, match="another session"):
        sessionfile.merge_files([a, b])


CRASH_WRITER = """
import sys
from model import sessionfile
from model.protocols import builtin_protocols
from model.session import Session

s = Session.create(title="crash", protocol=builtin_protocols()["codev"], name="A")
i = 0
while True:
    s.add_item("note", f"note {i} " + "x" * 200)
    sessionfile.save(sys.argv[1], s.doc)
    i += 1
    if i >= 3:
        print("saved", i, flush=True)
"""


def test_kill_while_saving_leaves_a_loadable_file(tmp_path: Path) -> None:
    path = tmp_path / "crash.cercle"
    counts = []
    for round_ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path)],
                                stdout=subprocess.PIPE, cwd=Path(__file__).parents[2])
        assert proc.stdout is not None
        # Land the kill at a different point of the loop each round: after 1, 3, 5... saves
        # are said (the writer keeps saving while the lines are read).
        for _ in range(1 + 2 * round_):
            assert proc.stdout.readline().startswith(b"saved")
        proc.kill()
        proc.wait()
        loaded = sessionfile.load(path)
        counts.append(len(Session(loaded.doc).snapshot.items))
        # At most the temporary file of the save that was interrupted.
        assert len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]) <= 1
    assert all(count >= 3 for count in counts)
    sessionfile.save(path, loaded.doc)  # the next save sweeps what a kill left behind
    assert [p.name for p in tmp_path.iterdir()] == ["crash.cercle"]
