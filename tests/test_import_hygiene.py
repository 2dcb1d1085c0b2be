"""The three packages import in one direction only (see docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

PROBE = """
import importlib, pkgutil, sys
import {package}
for info in pkgutil.walk_packages({package}.__path__, "{package}."):
    importlib.import_module(info.name)
print(" ".join(sorted(m.split(".")[0] for m in sys.modules)))
"""


def loaded_by(package: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(package=package)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(("package", "forbidden"), [
    ("model", {"textual", "sync", "tui", "asyncio", "socket", "zeroconf", "ssl"}),
    ("sync", {"textual", "tui"}),
])
def test_headless_packages_stay_headless(package: str, forbidden: set[str]) -> None:
    modules = loaded_by(package)
    assert package in modules
    assert not modules & forbidden, f"{package} pulls in {sorted(modules & forbidden)}"
