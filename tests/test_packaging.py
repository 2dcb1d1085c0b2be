"""Installing Cercle on every laptop in the room, from wheels only.

The lock must hold a wheel of every package for each system people bring
(Windows, Linux, Apple silicon and Intel Macs) and each supported Python; the
built wheel must carry the package data and run from a fresh environment, as
``uv tool install`` or ``pipx install`` would set it up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging import tags
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
PYTHONS = [(3, minor) for minor in range(11, 15)]  # what requires-python allows

# The laptops: (name, sys_platform, platform_machine, platform_system, os_name, wheel tags),
# for the oldest system each is likely to run (Ubuntu 20.04 / Debian 11 glibc, macOS 12 on
# Intel, macOS 14 on Apple silicon).
_LINUX = [f"manylinux_2_{minor}_x86_64" for minor in range(31, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
SYSTEMS = [
    ("windows", "win32", "AMD64", "Windows", "nt", ["win_amd64"]),
    ("linux", "linux", "x86_64", "Linux", "posix", _LINUX),
    ("macos-arm64", "darwin", "arm64", "Darwin", "posix",
     list(tags.mac_platforms((14, 0), "arm64"))),
    ("macos-x86_64", "darwin", "x86_64", "Darwin", "posix",
     list(tags.mac_platforms((12, 0), "x86_64"))),
]


def _environment(system: tuple[str, ...], python: tuple[int, int]) -> dict[str, str]:
    _, sys_platform, machine, platform_system, os_name, _ = system
    version = f"{python[0]}.{python[1]}"
    return {"sys_platform": sys_platform, "platform_machine": machine,
            "platform_system": platform_system, "os_name": os_name,
            "python_version": version, "python_full_version": f"{version}.0",
            "implementation_name": "cpython", "implementation_version": f"{version}.0",
            "platform_python_implementation": "CPython", "platform_release": "",
            "platform_version": "", "extra": ""}


def _packages() -> dict[str, list[dict[str, Any]]]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in LOCK["package"]:
        by_name.setdefault(package["name"], []).append(package)
    return by_name


def _installed(env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Every locked package that `uv sync` installs in ``env`` (dev group included)."""
    by_name = _packages()
    root = by_name["cercle"][0]
    todo = [*root["dependencies"], *root["dev-dependencies"]["dev"]]
    seen: set[tuple[str, str]] = set()
    while todo:
        dep = todo.pop()
        if "marker" in dep and not Marker(dep["marker"]).evaluate(env):
            continue
        # A package locked at two versions (a fork) is named with its version, or
        # chosen by the environments each version was resolved for.
        candidates = [p for p in by_name[dep["name"]]
                      if dep.get("version", p["version"]) == p["version"]]
        package = next(p for p in candidates
                       if not p.get("resolution-markers")
                       or any(Marker(m).evaluate(env) for m in p["resolution-markers"]))
        for extra in dep.get("extra", []):
            todo += package["optional-dependencies"][extra]
        key = (package["name"], package["version"])
        if key in seen:
            continue
        seen.add(key)
        todo += package.get("dependencies", [])
        yield package


@pytest.mark.parametrize("python", PYTHONS, ids=lambda v: f"py{v[0]}.{v[1]}")
@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s[0])
def test_the_lock_has_a_wheel_of_everything_for_every_laptop(
        system: tuple[Any, ...], python: tuple[int, int]) -> None:
    env = _environment(system, python)
    interpreter = f"cp{python[0]}{python[1]}"
    supported = {*tags.cpython_tags(python, platforms=system[-1]),
                 *tags.compatible_tags(python, interpreter, platforms=system[-1])}
    installed = list(_installed(env))
    assert {"automerge", "cryptography", "zeroconf", "textual", "msgspec"} <= {
        p["name"] for p in installed}
    missing = []
    for package in installed:
        wheels = [parse_wheel_filename(w["url"].rsplit("/", 1)[1])[3]
                  for w in package.get("wheels", [])]
        if not any(wheel_tags & supported for wheel_tags in wheels):
            missing.append(f"{package['name']} {package['version']}")
    assert missing == [], f"no wheel for {system[0]} with Python {python}: {missing}"


def test_intel_macs_get_the_releases_that_still_have_their_wheels() -> None:
    env = _environment(SYSTEMS[3], (3, 13))
    versions = {p["name"]: p["version"] for p in _installed(env)}
    assert Version(versions["cryptography"]) < Version("49")
    assert Version(versions["zeroconf"]) < Version("0.149")
    arm = {p["name"]: p["version"] for p in _installed(_environment(SYSTEMS[2], (3, 13)))}
    assert Version(arm["cryptography"]) >= Version("49")  # the others keep the newest


def test_python_versions_are_bounded_and_pinned() -> None:
    allowed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert SpecifierSet(LOCK["requires-python"]) == allowed
    assert [f"3.{m}" for m in range(10, 17) if f"3.{m}" in allowed] == [
        f"{major}.{minor}" for major, minor in PYTHONS]
    pinned = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
    assert pinned in allowed


PACKAGE_DATA = ["tui/cercle.tcss", "tui/locales/en.toml", "tui/locales/fr.toml",
                "model/protocol_data/codev.toml", "model/protocol_data/gapp.toml"]


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` sets UV to itself
    if not uv:
        pytest.skip("needs uv (run the tests with `uv run pytest`)")
    return uv


def test_the_wheel_installs_and_runs_from_a_fresh_environment(tmp_path: Path) -> None:
    uv = _uv()
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("cercle-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGE_DATA) <= names
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]

    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True,
                   capture_output=True, timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install = subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python),
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    cercle = venv / ("Scripts/cercle.exe" if os.name == "nt" else "bin/cercle")
    # Run from elsewhere, so nothing comes from the source tree.
    env = {**os.environ, "CERCLE_HOME": str(tmp_path / "home")}
    env.pop("PYTHONPATH", None)

    def run(*args: str) -> str:
        out = subprocess.run([str(cercle), *args], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120, encoding="utf-8")
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "usage: cercle" in run("--help")
    listed = run("protocols")
    assert "codev (default) — Co-development" in listed and "troika" in listed
    demo = run("demo", "--headless", "-o", str(tmp_path / "demo.cercle"), "--pace", "0.01")
    assert demo.startswith(f"wrote {tmp_path / 'demo.cercle'}: ")
    assert "4 people" in demo
    info = run("info", str(tmp_path / "demo.cercle"))
    assert "participants: 4: " in info
    where = subprocess.run([str(python), "-c", "import tui; print(tui.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert Path(where.stdout.strip()).is_relative_to(venv)
