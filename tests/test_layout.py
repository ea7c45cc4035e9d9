"""The dependency direction of DESIGN.md, enforced: pki imports nothing of ours, nothing imports
api, SQLAlchemy, ldap3 and dnspython stay in their packages, tables and rows stay in the store,
and directory/ has no import cycles."""

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


STORE_INSIDES = ("directory.store.tables", "directory.store.rows")


def named_imports(path: Path) -> set[str]:
    """Every module imported and every name imported from one, dotted (`from a import b` gives
    a and a.b): enough to see `from directory.store import tables`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = imports(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(
    "path",
    [p for p in sources("directory") if "directory/store/" not in str(p)]
    + sources("pki")
    + sources("api"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_tables_and_rows_stay_in_the_store(path: Path) -> None:
    """Register records are written through the Writer's typed add/change
    (directory/store/records.py): SQLAlchemy tables and raw rows stay inside directory/store/."""
    relative = str(path.relative_to(ROOT))
    found = {m for m in named_imports(path) if m.startswith(STORE_INSIDES)}
    assert not found, f"{relative} imports {sorted(found)}"


def test_the_store_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from directory.store import tables as t\nfrom directory.store.rows import x\n")
    assert {m for m in named_imports(bad) if m.startswith(STORE_INSIDES)} == {
        "directory.store.tables",
        "directory.store.rows",
        "directory.store.rows.x",
    }


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from directory.lookup import Lookup\nimport sqlalchemy\n")
    assert {top(m) for m in imports(bad)} == {"directory", "sqlalchemy"}


# --- no import cycles in directory/ -------------------------------------------------------------
def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports, wherever the import is
    (module level, inside a function, under TYPE_CHECKING: a cycle hidden in any of them is
    still a cycle in the design)."""
    modules = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in modules:
                        found.add(sub)
                    elif node.module in modules:
                        found.add(node.module)
        graph[name] = found - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_directory_has_no_import_cycles() -> None:
    graph = module_graph(ROOT, "directory")
    assert len(graph) > 50 and graph["directory.lookup"]  # the graph is the real one
    assert cycles(graph) == []


def test_the_cycle_rule_catches_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def f():\n    from pkg import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    )
    (package / "d.py").write_text("from pkg import a\n")
    assert cycles(module_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b", "pkg.c"]]
