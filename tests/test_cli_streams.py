"""Standard streams in UTF-8 whatever the system gives (Windows pipes are cp1252),
and a reader that goes away early."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model import sessionfile
from model.session import Session
from tui import cli

ROOT = Path(__file__).parents[1]
NAME = "Zoë 𝄞"  # ë is in cp1252, the G clef is not


def _cp1252(monkeypatch: pytest.MonkeyPatch, stdin: bytes = b"") -> dict[str, io.BytesIO]:
    """Standard streams as Windows opens pipes: cp1252 text over bytes."""
    buffers = {"stdin": io.BytesIO(stdin), "stdout": io.BytesIO(), "stderr": io.BytesIO()}
    for name, buffer in buffers.items():
        monkeypatch.setattr(sys, name, io.TextIOWrapper(buffer, encoding="cp1252"))
    return buffers


def test_streams_become_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    buffers = _cp1252(monkeypatch, f"add question {NAME}\n".encode())
    cli._utf8_streams()
    assert [s.encoding for s in (sys.stdin, sys.stdout, sys.stderr)] == ["utf-8"] * 3
    assert sys.stdin.readline() == f"add question {NAME}\n"
    print(NAME)
    print("\ud800 lone surrogate", file=sys.stderr)  # not encodable: replaced, not raised
    sys.stdout.flush()
    sys.stderr.flush()
    assert buffers["stdout"].getvalue().decode() == f"{NAME}\n"
    assert buffers["stderr"].getvalue() == b"? lone surrogate\n"


def test_main_switches_before_anything_prints(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    buffers = _cp1252(monkeypatch)
    path = tmp_path / "s.cercle"
    assert cli.main(["new", "--title", NAME, "-o", str(path)]) == 0
    assert cli.main(["info", str(path)]) == 0
    sys.stdout.flush()
    assert f"title:        {NAME}\n" in buffers["stdout"].getvalue().decode()


def test_streams_that_cannot_change_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fixed:
        encoding = "cp1252"

    class Refusing(io.StringIO):
        @property
        def encoding(self) -> str:
            return "cp1252"

        def reconfigure(self, **options: object) -> None:
            raise io.UnsupportedOperation("not here")

    fixed, refusing, utf8 = Fixed(), Refusing(), io.TextIOWrapper(io.BytesIO(), "UTF8")
    monkeypatch.setattr(sys, "stdin", fixed)
    monkeypatch.setattr(sys, "stdout", refusing)
    monkeypatch.setattr(sys, "stderr", utf8)
    cli._utf8_streams()
    assert (sys.stdin, sys.stdout, sys.stderr) == (fixed, refusing, utf8)
    assert utf8.errors == "strict"  # already UTF-8: untouched


def _cercle(*args: str, input: str | None = None, home: Path) -> subprocess.CompletedProcess[bytes]:
    """The real command with Windows' pipe encoding, reading and writing bytes."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "CERCLE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          cwd=ROOT, timeout=60, env=env,
                          input=input.encode() if input is not None else None)


def test_names_outside_the_code_page_in_and_out(tmp_path: Path) -> None:
    path = tmp_path / "s.cercle"
    created = _cercle("new", "--title", NAME, "--name", "Zoë", "-o", str(path), home=tmp_path)
    assert created.returncode == 0, created.stderr.decode()
    assert f"“{NAME}”" in created.stdout.decode()
    info = _cercle("info", str(path), home=tmp_path)
    assert info.returncode == 0, info.stderr.decode()
    assert f"title:        {NAME}" in info.stdout.decode()
    # A script piped in UTF-8 arrives as written.
    hosted = _cercle("host", "--headless", "--file", str(path), "--name", "Zoë",
                     "--no-advertise", "--interface", "127.0.0.1", "--script",
                     input=f"add note {NAME} ?\nquit\n", home=tmp_path)  # the exposé: notes
    assert hosted.returncode == 0, hosted.stderr.decode()
    snap = Session(sessionfile.load(path).doc).snapshot
    assert [item.text for item in snap.items] == [f"{NAME} ?"]


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "protocols"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "CERCLE_HOME": str(tmp_path)})
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head -0` would
    errors = process.stderr.read().decode()
    assert process.wait(60) in (0, 1)  # 0 only if all was written before the close
    assert "Traceback" not in errors and "BrokenPipe" not in errors
