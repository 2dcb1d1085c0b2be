"""The session file on every system: private modes, and saves while Windows holds the file."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from model import sessionfile
from model.sessionfile import SessionFileError

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX mode bits")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_a_new_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        sessionfile.write_atomic(tmp_path / "s.cercle", b"data")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "s.cercle") == 0o600


@posix_only
def test_a_shared_file_becomes_private(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"{}")
    path.chmod(0o644)
    sessionfile.write_atomic(path, b"{}")
    assert _mode(path) == 0o600


@posix_only
def test_a_stricter_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.cercle"
    path.write_bytes(b"old")
    path.chmod(0o400)
    sessionfile.write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert _mode(path) == 0o400


def _held(winerror: int | None, errno_: int = errno.EACCES) -> PermissionError:
    exc = PermissionError(errno_, "Access is denied")
    if winerror is not None:
        exc.winerror = winerror  # type: ignore[attr-defined]  # set by Windows only
    return exc


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between tries, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(sessionfile, "_sleep", slept.append)
    return slept


def _replace_failing(monkeypatch: pytest.MonkeyPatch, times: int,
                     exc: Callable[[], OSError]) -> list[tuple[str, str]]:
    """os.replace fails ``times`` times with ``exc()``, then works; returns the calls."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def fake(src: str, dst: str) -> None:
        calls.append((str(src), str(dst)))
        if len(calls) <= times:
            raise exc()
        real(src, dst)

    monkeypatch.setattr(sessionfile.os, "replace", fake)
    return calls


@pytest.mark.parametrize("winerror", [5, 32, 33])
def test_a_held_file_is_saved_once_let_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          waits: list[float], winerror: int) -> None:
    path = tmp_path / "s.cercle"
    path.write_bytes(b"old")
    calls = _replace_failing(monkeypatch, 2, lambda: _held(winerror))
    sessionfile.write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert len(calls) == 3
    assert waits == [0.05, 0.1]  # growing
    assert [p.name for p in tmp_path.iterdir()] == ["s.cercle"]


def test_a_file_held_too_long_says_so_and_keeps_the_last_save(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    path = tmp_path / "s.cercle"
    path.write_bytes(b"old")
    calls = _replace_failing(monkeypatch, 100, lambda: _held(32))
    with pytest.raises(SessionFileError) as caught:
        sessionfile.write_atomic(path, b"new")
    message = str(caught.value)
    assert message.startswith(f"{path}: is held by another program (an antivirus or OneDrive?)")
    assert "previous save is intact" in message and "Cercle will try again" in message
    assert "read-only" not in message
    assert len(calls) == len(sessionfile.REPLACE_WAITS) + 1
    assert waits == sorted(waits) and sum(waits) <= 1.0
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.cercle"]  # no temporary file left


def test_access_denied_may_also_be_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             waits: list[float]) -> None:
    _replace_failing(monkeypatch, 100, lambda: _held(5))
    with pytest.raises(SessionFileError, match=r"OneDrive.*or is read-only"):
        sessionfile.write_atomic(tmp_path / "s.cercle", b"new")


def test_posix_permission_denied_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                waits: list[float]) -> None:
    calls = _replace_failing(monkeypatch, 100, lambda: _held(None))
    with pytest.raises(SessionFileError, match="cannot write here"):
        sessionfile.write_atomic(tmp_path / "s.cercle", b"new")
    assert len(calls) == 1
    assert waits == []


def test_other_windows_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              waits: list[float]) -> None:
    calls = _replace_failing(monkeypatch, 100, lambda: _held(1920))  # cannot access the file
    with pytest.raises(SessionFileError, match="cannot write here"):
        sessionfile.write_atomic(tmp_path / "s.cercle", b"new")
    assert len(calls) == 1 and waits == []
