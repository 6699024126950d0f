"""The code rules that a tool can check: ruff clean, mypy clean on the pure core, layers kept apart."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_clean_on_the_pure_core() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "signals", "feeds/models.py", "api/protocol.py",
                          "--ignore-missing-imports"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("folder", ["pages", "components"])
def test_pages_and_components_never_import_app(folder: str) -> None:
    for path in (ROOT / folder).glob("*.py"):
        assert "app" not in imports_of(path), path


def test_feeds_and_signals_stay_free_of_web_frameworks() -> None:
    web = {"flask", "dash", "flask_sock", "simple_websocket"}
    for folder in ("feeds", "signals"):
        for path in (ROOT / folder).glob("*.py"):
            assert not imports_of(path) & web, path
