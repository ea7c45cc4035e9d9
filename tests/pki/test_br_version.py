"""The S/MIME BR version the code says it follows is the one docs/pki.md names, and pkilint (the
lint gate's rules) is exactly the pinned version: an upgrade is a deliberate one-line change."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from pki import currency

ROOT = Path(__file__).resolve().parents[2]


def test_docs_name_the_version_the_code_follows() -> None:
    text = (ROOT / "docs" / "pki.md").read_text()
    assert f"S/MIME Baseline Requirements v{currency.BR_VERSION}**" in text
    assert f"ballot {currency.BR_BALLOT}" in text


def test_pkilint_is_pinned_and_the_pin_is_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for d in project["dependencies"] if re.match(r"pkilint\b", d)]
    assert len(pins) == 1 and pins[0].startswith("pkilint==")
    assert version("pkilint") == pins[0].removeprefix("pkilint==")
