"""The command line: every command, its output and its error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model import sessionfile
from model.session import Session
from tui.cli import main

ROOT = Path(__file__).parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def test_help_everywhere() -> None:
    for command in ([], ["new"], ["info"], ["export"], ["merge"], ["protocols"], ["host"],
                    ["join"], ["review"], ["demo"]):
        out = run(*command, "--help")
        assert out.returncode == 0, out.stderr
        assert "usage: cercle" in out.stdout


def test_top_level_help_lists_every_command() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("new", "info", "export", "merge", "protocols", "host", "join", "review",
                    "demo"):
        assert command in out.stdout
    assert "opens the app" in " ".join(out.stdout.split())


def test_bad_usage_exits_2() -> None:
    out = run("export", "x.cercle", "--format", "pdf")
    assert out.returncode == 2
    assert "invalid choice: 'pdf'" in out.stderr


def test_new_info_export_cycle(tmp_path: Path) -> None:
    path = tmp_path / "s.cercle"
    out = run("new", "--title", "Atelier de janvier", "--name", "Anne", "-o", str(path))
    assert out.returncode == 0, out.stderr
    assert "created" in out.stdout
    info = run("info", str(path))
    assert info.returncode == 0
    assert "title:        Atelier de janvier" in info.stdout
    assert "protocol:     codev" in info.stdout
    assert "phase:        1/" in info.stdout and "[waiting]" in info.stdout
    assert "participants: 1: Anne" in info.stdout
    exported = run("export", str(path), "--format", "json")
    assert json.loads(exported.stdout)["title"] == "Atelier de janvier"
    out_file = tmp_path / "s.html"
    assert run("export", str(path), "--format", "html", "-o", str(out_file)).returncode == 0
    assert out_file.read_text().startswith("<!doctype html>")


def test_new_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.cercle"
    assert main(["new", "--title", "A", "-o", str(path)]) == 0
    before = path.read_bytes()
    assert main(["new", "--title", "B", "-o", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert main(["new", "--title", "B", "-o", str(path), "--force"]) == 0


def test_new_with_protocol_key_file_and_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "--title", "T", "--protocol", "troika", "-o",
                 str(tmp_path / "t.cercle")]) == 0
    assert main(["new", "--title", "T", "--protocol", "nope", "-o",
                 str(tmp_path / "n.cercle")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cercle: error:") and "nope" in err
    assert not (tmp_path / "n.cercle").exists()


def test_info_on_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.cercle"
    bad.write_bytes(b"not a session")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "not an Automerge document" in err
    assert main(["info", str(tmp_path / "missing.cercle")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_merge(tmp_path: Path, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    other = Session(session.doc.fork())
    session.add_item("note", "from A")
    other.add_item("note", "from B")
    a, b, out = tmp_path / "a.cercle", tmp_path / "b.cercle", tmp_path / "m.cercle"
    sessionfile.save(a, session.doc)
    sessionfile.save(b, other.doc)
    assert main(["merge", str(a), str(b), "-o", str(out)]) == 0
    assert "2 items" in capsys.readouterr().out
    assert main(["merge", str(a), "-o", str(out)]) == 1
    assert "at least two" in capsys.readouterr().err


def test_merge_refusal(tmp_path: Path, session: Session, codev,  # type: ignore[no-untyped-def]
                       capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.cercle", tmp_path / "b.cercle"
    sessionfile.save(a, session.doc)
    sessionfile.save(b, Session.create(title="X", protocol=codev, name="Z").doc)
    assert main(["merge", str(a), str(b), "-o", str(tmp_path / "m.cercle")]) == 1
    assert "another session" in capsys.readouterr().err
    assert not (tmp_path / "m.cercle").exists()


def test_protocols_listing() -> None:
    out = run("protocols")
    assert out.returncode == 0
    for key in ("codev (default)", "gapp", "action-learning", "troika", "case-clinic"):
        assert key in out.stdout
    assert "Clarifying questions" in out.stdout or "clarifying" in out.stdout.lower()
    fr = run("protocols", "--lang", "fr")
    assert "Codéveloppement" in fr.stdout
