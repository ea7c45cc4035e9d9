"""pki imports nothing of ours (DESIGN.md: dependency direction)."""

from __future__ import annotations

import ast
from pathlib import Path

PKI = Path(__file__).resolve().parents[2] / "pki"
FORBIDDEN = {"directory", "api", "tests"}


def test_pki_imports_nothing_of_ours() -> None:
    offenders = []
    for path in PKI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_pki_never_logs() -> None:
    for path in PKI.rglob("*.py"):
        text = path.read_text()
        assert "import logging" not in text, path
        assert "print(" not in text, path
