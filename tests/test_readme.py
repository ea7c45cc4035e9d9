"""What the README shows is what a new user gets: its sample answer has exactly the keys of a real
answer, and its commands use one form (`clearance`, once put on PATH)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from directory import certificates as certs
from directory import demo
from directory.service import Directory

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_answer() -> dict[str, Any]:
    text = README.read_text()
    section = text[text.index("### The answer") :]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block is not None, "the README has no sample answer"
    parsed: dict[str, Any] = json.loads(block.group(1))
    return parsed


def shape(value: Any) -> Any:
    """The keys of an answer, nested: dicts by key, a list by its first element."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_sample_answer_has_the_keys_of_a_real_one(directory: Directory) -> None:
    (directory.settings.home / "ca-passphrase").write_text("correct horse battery staple 42\n")
    demo.seed(directory)
    certs.initialise_ca(directory.settings, directory.clock)
    demo.demo_certificate(directory)
    real = directory.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL", lambda _org: True)
    assert shape(readme_answer()) == shape(json.loads(json.dumps(real)))


def test_commands_are_written_one_way() -> None:
    text = README.read_text()
    assert ".venv/bin/clearance" not in text  # `clearance`, on PATH as the README says once
    assert "export PATH=$PWD/.venv/bin:$PATH" in text
