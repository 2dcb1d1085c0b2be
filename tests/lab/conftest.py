"""The network lab's fixtures: skip where it cannot run, tear down always, explain failures.

``make_lab(n)`` builds a lab of ``n`` hosts (see ``netlab`` and ``peers``);
whatever happens in the test, every process, namespace and mount it made is
removed afterwards, and the teardown checks that nothing is left. When a
scenario fails, the report gains a section "network lab: who holds what"
with every peer's items, digest, peers and phase.

``figure(name, value)`` records a measured figure; the run ends with a table
of them (and writes them as JSON to ``$CERCLE_LAB_FIGURES`` when set, see
``tests/conftest.py``), which is where ``docs/reliability.md`` takes its numbers
from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.lab import netlab
from tests.lab.peers import Lab

LABS = pytest.StashKey[list[Lab]]()


@pytest.fixture
def make_lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[int], Lab]]:
    reason = netlab.unavailable()
    if reason:
        pytest.skip(f"network lab unavailable: {reason}")
    netlab.sweep_stale()
    labs: list[Lab] = []
    request.node.stash[LABS] = labs

    def make(hosts: int) -> Lab:
        lab = Lab(netlab.Network(hosts), tmp_path / f"lab{len(labs) + 1}")
        labs.append(lab)
        lab.net.start()
        return lab

    yield make
    for lab in labs:
        lab.close()
    left = [ns for lab in labs for ns in lab.net.leftovers()]
    assert not left, f"the lab left namespaces behind: {left}"


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    scenario = request.node.name.removeprefix("test_")

    def record(name: str, value: object) -> None:
        # Carried on the test's report, so that the run's end (tests/conftest.py) lists it
        # also when the tests run in worker processes (pytest-xdist).
        request.node.user_properties.append(("lab-figure", (scenario, name, str(value))))

    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for lab in item.stash.get(LABS, []):
        try:
            text = lab.describe()
        except Exception as exc:  # the report must never hide the failure itself
            text = f"(could not describe the lab: {exc!r})"
        report.sections.append(("network lab: who holds what", text))
