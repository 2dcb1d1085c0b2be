"""Shared fixtures: a fake clock, sessions, and the user's folders kept out of tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from model.protocols import ITEM_KINDS, Protocol, builtin_protocols
from model.session import Session
from tests.replicas import FakeClock


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Config and data folders point into a temporary folder, never the user's."""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CERCLE_HOME", str(base))
    yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def open_to_all(protocol: Protocol) -> Protocol:
    """``protocol`` with every phase open to everyone for every kind of item."""
    return msgspec.structs.replace(protocol, phases=tuple(
        msgspec.structs.replace(phase, contributors=("everyone",), kinds=ITEM_KINDS)
        for phase in protocol.phases))


@pytest.fixture
def codev() -> Protocol:
    """Co-development's phases (titles, time boxes, follow-up), each open to everyone for
    every kind: tests of storage, merging, sync and exports need not walk the method's
    phases to add an item. ``tests/model/test_rules.py`` tests the rules on the real
    protocol (``builtin_protocols()["codev"]``)."""
    return open_to_all(builtin_protocols()["codev"])


@pytest.fixture
def session(clock: FakeClock, codev) -> Session:  # type: ignore[no-untyped-def]
    return Session.create(title="Le cas de Claire", protocol=codev, name="Anne", clock=clock)


@pytest.fixture
def tmp_session_file(tmp_path: Path, session: Session) -> Path:
    from model import sessionfile

    path = tmp_path / "claire.cercle"
    sessionfile.save(path, session.doc)
    return path
