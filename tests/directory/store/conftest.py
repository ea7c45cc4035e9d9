"""Helpers for the storage suite: a fingerprint of everything stored, and a trusted organisation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from directory.errors import DirectoryError, ErrorKind
from directory.model import Domain, Organisation
from directory.service import Directory
from directory.settings import load_settings
from directory.store import tables as t
from tests.conftest import ADMIN, FrozenClock, _fresh_postgres_database


def fingerprint(d: Directory) -> dict[str, Any]:
    """Everything a failed call must leave as it was: the state row and every table's size."""
    with d.store.engine.connect() as conn:
        state = dict(conn.execute(select(t.directory_state)).mappings().one())
    counts = {table.name: d.store.count(table) for table in t.metadata.sorted_tables}
    return {"state": state, "counts": counts}


@contextmanager
def writes_nothing(d: Directory) -> Iterator[None]:
    before = fingerprint(d)
    yield
    assert fingerprint(d) == before


def refused(d: Directory, kind: ErrorKind, call: Callable[..., Any], *args: Any, **kw: Any) -> str:
    """The call fails with `kind` and leaves the store exactly as it was; returns the detail."""
    with writes_nothing(d), pytest.raises(DirectoryError) as caught:
        call(*args, **kw)
    assert caught.value.kind is kind, caught.value
    assert d.store.verify_audit()[1] == []
    return caught.value.detail


@dataclass
class TrustedOrg:
    org: Organisation
    domain: Domain


def trusted_org(
    d: Directory, name: str, domain: str, *, sector: str = "local-government", ident: str = "X1"
) -> TrustedOrg:
    """An active, vetted, accredited organisation on a verified domain with a strong posture."""
    reg, now = d.registration, d.clock()
    org = reg.create_organisation(ADMIN, name, sector, {"gss": ident})
    dom = reg.claim_domain(ADMIN, org.id, domain)
    reg.set_status(ADMIN, org.id, "active", "approved")
    reg.vet_organisation(ADMIN, org.id, "checked against the GSS register")
    reg.record_domain_verification(ADMIN, dom.id, "TXT record seen")
    dom = reg.record_posture(
        ADMIN, dom.id, evidence="by hand", tls=True, mta_sts="enforce", dmarc="reject"
    )
    reg.add_accreditation(
        ADMIN,
        org.id,
        "psn-compliance",
        "PSN certificate 123",
        now - timedelta(days=30),
        now + timedelta(days=300),
    )
    return TrustedOrg(reg.organisation(ADMIN, org.id), dom)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_directory(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Directory]:
    """A directory on either backend whose database has never been initialised."""
    url = ""
    if request.param == "postgresql":
        url = _fresh_postgres_database(request.getfixturevalue("postgres_url"))
    settings = load_settings(home=tmp_path / "home", database_url=url, cache_refresh_seconds=0.0)
    d = Directory(settings, clock)
    yield d
    d.close()
