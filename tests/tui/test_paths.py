"""Cercle's folders: private data and config, exports in the person's documents."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import platformdirs
import pytest

from tui import paths

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX mode bits")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_new_folders_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_HOME", str(tmp_path / "home"))
    old = os.umask(0)
    try:
        folders = [paths.data_dir(), paths.config_dir(), paths.sessions_dir()]
    finally:
        os.umask(old)
    assert [_mode(f) for f in folders] == [0o700] * 3


@posix_only
def test_folders_an_earlier_version_left_open_are_closed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_HOME", str(tmp_path))
    for name in ("data", "config", "data/sessions"):
        (tmp_path / name).mkdir(mode=0o755, exist_ok=True)
        (tmp_path / name).chmod(0o755)
    assert _mode(paths.sessions_dir()) == 0o700
    assert _mode(paths.data_dir()) == 0o700
    assert _mode(paths.config_dir()) == 0o700


@posix_only
def test_a_folder_whose_mode_cannot_change_still_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_HOME", str(tmp_path))
    (tmp_path / "data").mkdir(mode=0o755)
    (tmp_path / "data").chmod(0o755)

    def refuse(self: Path, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "chmod", refuse)
    assert paths.data_dir() == tmp_path / "data"


def test_windows_leaves_modes_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "win32")
    changed: list[int] = []
    monkeypatch.setattr(Path, "chmod", lambda self, mode: changed.append(mode))
    (tmp_path / "config").mkdir(mode=0o755)
    assert paths.config_dir().is_dir()
    assert changed == []


def test_exports_go_to_the_documents_folder(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CERCLE_HOME")
    monkeypatch.setattr(platformdirs, "user_documents_path", lambda: tmp_path / "Documents")
    folder = paths.exports_dir()
    assert folder == tmp_path / "Documents" / "Cercle"
    assert folder.is_dir()
    assert paths.exports_dir() == folder  # a second call finds it


def test_exports_under_cercle_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERCLE_HOME", str(tmp_path))
    assert paths.exports_dir() == tmp_path / "exports"
    assert (tmp_path / "exports").is_dir()
