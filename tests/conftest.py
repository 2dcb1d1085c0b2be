"""Shared fixtures: a fake clock, sessions, and the user's folders kept out of tests.

The suite runs in worker processes (pytest-xdist, ``-n auto``): two per core, since the
interface and network tests spend much of their time waiting. Tests that share
something of the machine run one after the other in one worker: the network lab (it
sweeps the namespaces it left), and those that announce or browse sessions on loopback
(zeroconf's multicast reaches every process there)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from model.protocols import ITEM_KINDS, Protocol, builtin_protocols
from model.session import Session
from tests.replicas import FakeClock

# Tests that announce or browse sessions on loopback: their zeroconf traffic reaches every
# process on the machine, so they do not run beside each other.
_ON_LOOPBACK_MDNS = ("tests/sync/test_discovery.py", "tests/tui/test_announcing.py")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return min(8, 2 * (os.cpu_count() or 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith("tests/lab/"):
            item.add_marker(pytest.mark.xdist_group("lab"))
        elif item.nodeid.startswith(_ON_LOOPBACK_MDNS):
            item.add_marker(pytest.mark.xdist_group("mdns"))


# -- the network lab's figures, gathered from the reports (workers included) -------------
_LAB_FIGURES: list[tuple[str, str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _LAB_FIGURES.extend(tuple(value) for key, value in report.user_properties  # type: ignore[misc]
                            if key == "lab-figure")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _LAB_FIGURES:
        return
    terminalreporter.section("network lab figures")
    width = max(len(s) + len(n) for s, n, _ in _LAB_FIGURES) + 3
    for scenario, name, value in _LAB_FIGURES:
        terminalreporter.write_line(f"{scenario} / {name}".ljust(width) + f"  {value}")
    target = os.environ.get("CERCLE_LAB_FIGURES")
    if target:
        Path(target).write_text(json.dumps(_LAB_FIGURES, indent=1, ensure_ascii=False) + "\n")


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
