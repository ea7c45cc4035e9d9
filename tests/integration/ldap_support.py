"""Fixtures and helpers for the LDAP integration tests: a real slapd, LDIF reading."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from directory.publish.connection import LDAPTarget
from tests.support.servers import require_tool
from tests.support.slapd import Slapd, slapd_server

BASE = "dc=clearance,dc=test"
SOURCE = "dc=example,dc=org"  # an organisation's own directory, for imports


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    binary = require_tool("slapd", "/usr/sbin/slapd")
    slapadd = require_tool("slapadd", "/usr/sbin/slapadd")
    require_tool("ldapsearch")
    workdir = tmp_path / "slapd"
    workdir.mkdir()
    with slapd_server(workdir, [BASE, SOURCE], binary, slapadd) as server:
        yield server


def target(server: Slapd) -> LDAPTarget:
    return LDAPTarget(server.url, BASE, f"cn=admin,{BASE}", server.password)


def parse_ldif(text: str) -> list[dict[str, list[str | bytes]]]:
    """ldapsearch -LLL -o ldif-wrap=no output as entries; `attr::` values are base64-decoded.
    Binary values stay bytes; text values are decoded as UTF-8."""
    entries: list[dict[str, list[str | bytes]]] = []
    for block in text.strip().split("\n\n"):
        if not block.strip():
            continue
        entry: dict[str, list[str | bytes]] = {}
        for line in block.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            decoded: str | bytes
            if value.startswith(":"):
                raw = base64.b64decode(value[1:].strip())
                try:
                    decoded = raw.decode("utf-8") if ";binary" not in name else raw
                except UnicodeDecodeError:
                    decoded = raw
            else:
                decoded = value.strip()
            entry.setdefault(name, []).append(decoded)
        entries.append(entry)
    return entries


def published(
    server: Slapd, search_filter: str, *attributes: str
) -> list[dict[str, list[str | bytes]]]:
    return parse_ldif(server.ldapsearch(BASE, search_filter, *attributes))


def one(entry: dict[str, list[str | bytes]], name: str) -> str | None:
    values = entry.get(name)
    return str(values[0]) if values else None
