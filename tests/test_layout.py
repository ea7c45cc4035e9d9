"""The dependency direction of DESIGN.md, enforced: pki imports nothing of ours, nothing imports
api, and SQLAlchemy, ldap3 and dnspython stay in their packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("directory", "pki", "api")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".", 1)[0]


@pytest.mark.parametrize("path", sources("pki"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pki_imports_nothing_of_ours(path: Path) -> None:
    assert not {top(m) for m in imports(path)} & {"directory", "api"}


@pytest.mark.parametrize(
    "path", sources("directory") + sources("pki"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_nothing_imports_api(path: Path) -> None:
    assert "api" not in {top(m) for m in imports(path)}


RESTRICTED = {
    "sqlalchemy": ("directory/store/",),
    "alembic": ("directory/store/",),
    "ldap3": ("directory/publish/",),
    "dns": ("directory/verification/",),
}


@pytest.mark.parametrize(
    "path",
    sources("directory") + sources("pki") + sources("api"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_libraries_stay_in_their_packages(path: Path) -> None:
    relative = str(path.relative_to(ROOT))
    for module in imports(path):
        allowed = RESTRICTED.get(top(module))
        if allowed is not None:
            assert relative.startswith(allowed), f"{relative} imports {module}"


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from directory.lookup import Lookup\nimport sqlalchemy\n")
    assert {top(m) for m in imports(bad)} == {"directory", "sqlalchemy"}
