"""The shape of ``tui/``: screens post messages to the app and never reach into it,
and no two modules import each other (directly or round a longer loop)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
TUI = ROOT / "tui"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """Every ``tui`` module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("tui")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in TUI.rglob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def test_no_import_cycle_in_tui() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name):], name]))
        if name in done:
            return
        for other in sorted(edges[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])


def test_screens_and_widgets_never_import_the_app() -> None:
    edges = graph()
    for name, imported in edges.items():
        if name.startswith(("tui.screens", "tui.widgets")):
            assert "tui.app" not in imported, name


def test_nothing_reaches_into_the_app_behind_the_type_checker() -> None:
    for path in TUI.rglob("*.py"):
        assert "ignore[attr-defined]" not in path.read_text(encoding="utf-8"), path
