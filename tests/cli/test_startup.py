"""The CLI starts without the heavy parts it does not use (bench/cli.py measures the time; this
checks, without timing anything, which modules each kind of command loads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Imported only by the commands that lint, verify DNS, publish to LDAP, migrate or fetch.
HEAVY = ("pkilint", "iso639", "dns", "ldap3", "alembic", "httpx", "uvicorn", "fastapi")


def loaded(code: str, home: Path) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    probe = (
        code
        + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    env = {**os.environ, "CLEARANCE_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def run_cli(*args: str) -> str:
    return (
        "import sys\nfrom api.cli.main import main\nsys.argv = ['clearance', "
        + ", ".join(repr(a) for a in args)
        + "]\ntry:\n    main()\nexcept SystemExit:\n    pass"
    )


def test_help_loads_neither_the_store_nor_the_ca(tmp_path: Path) -> None:
    modules = loaded(run_cli("--help"), tmp_path)
    assert not modules & {*HEAVY, "sqlalchemy", "cryptography", "pydantic_settings"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_lookup_loads_the_store_but_none_of_the_heavy_parts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "CLEARANCE_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-c", run_cli("init")], env=env, check=True, capture_output=True
    )
    modules = loaded(run_cli("lookup", "j.smith@wessex.gov.uk"), home)
    assert "sqlalchemy" in modules  # it did look the address up
    assert not modules & set(HEAVY)
