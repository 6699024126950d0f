"""signals/ stays pure: no web, thread, socket or Redis imports, and no project import but feeds.models."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "signals"
FORBIDDEN = {
    "flask",
    "flask_sock",
    "dash",
    "plotly",
    "threading",
    "_thread",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "socket",
    "socketserver",
    "selectors",
    "ssl",
    "http",
    "urllib",
    "requests",
    "websocket",
    "websockets",
    "simple_websocket",
    "redis",
    "sqlite3",
    "diskcache",
}
PROJECT = {"api", "app", "components", "feeds", "pages", "settings", "trading", "tests"}
MODULES = sorted(PACKAGE.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.add("<dynamic import>")
    return names


def test_the_package_has_modules() -> None:
    assert len(MODULES) >= 10


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_imports_are_pure(path: Path) -> None:
    for name in imported_modules(path):
        root = name.split(".")[0]
        assert name != "<dynamic import>", f"{path.name} imports dynamically"
        assert root not in FORBIDDEN, f"{path.name} imports {name}"
        if root in PROJECT:
            assert name == "feeds.models", f"{path.name} imports project module {name}"


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_has_a_docstring_and_stays_small(path: Path) -> None:
    source = path.read_text()
    assert ast.get_docstring(ast.parse(source)), f"{path.name} lacks its one-line docstring"
    assert len(source.splitlines()) <= 400, f"{path.name} is over 400 lines"
