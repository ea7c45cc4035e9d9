"""The lookup's hot path (MailboxFinder): same rows on both backends, single and batch."""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.service import Directory
from directory.store import fastpath
from directory.store import tables as t
from directory.store.fastpath import MailboxRow
from tests.conftest import ADMIN, FrozenClock, _fresh_postgres_database, make_directory
from tests.directory.store.conftest import writes_nothing

DOMAIN = "bulk.gov.uk"
COUNT = 1000
LATER = timezone(timedelta(hours=5, minutes=30))


def address(i: int) -> str:
    return f"user.{i:04d}@{DOMAIN}"


def seed(d: Directory) -> dict[str, dict]:
    """1000 mailbox entries (every 100th removed) and certificates in several states, written
    in one transaction. Returns what the finder should say, by address."""
    org = d.registration.create_organisation(ADMIN, "Bulk Council", "local-government")
    dom = d.registration.claim_domain(ADMIN, org.id, DOMAIN)
    wide = d.registration.add_recipient(ADMIN, org.id, domain=DOMAIN)
    base = datetime(2026, 10, 1, 8, 30, 15, 250000, tzinfo=LATER)
    expected: dict[str, dict] = {}
    with d.store.write("test:bulk", d.clock()) as w:
        for i in range(COUNT):
            rid = str(uuid.UUID(int=i + 1))
            verified = base + timedelta(minutes=i) if i % 2 == 0 else None
            removed = i % 100 == 99
            w.insert(
                t.recipients,
                {
                    "id": rid,
                    "organisation_id": org.id,
                    "domain_id": dom.id,
                    "kind": "mailbox",
                    "address": address(i),
                    "display_name": f"User {i}" if i % 3 else None,
                    "given_name": None,
                    "surname": None,
                    "role": ("person", "shared", "system")[i % 3],
                    "mailbox_verified_at": verified,
                    "exclusions": [],
                    "status": "removed" if removed else "active",
                },
                "recipient.add",
            )
            certificates = []
            if i < 10:
                nb, na = base + timedelta(days=i), base + timedelta(days=365 + i)
                for n, state in enumerate(("live", "revoked", "live", "revoked")[: 1 + i % 4]):
                    serial = f"{i:02x}{n:02x}" + "ab" * 8
                    der = bytes([i, n]) * 40
                    w.insert(
                        t.certificates,
                        {
                            "serial": serial,
                            "recipient_id": rid,
                            "email": address(i),
                            "not_before": nb,
                            "not_after": na,
                            "der": der,
                            "revoked_at": nb if state == "revoked" else None,
                            "revocation_reason": "keyCompromise" if state == "revoked" else None,
                        },
                        "certificate.issue",
                    )
                    if state == "live":
                        certificates.append((serial, nb, na, der))
            if not removed:
                expected[address(i)] = {
                    "role": ("person", "shared", "system")[i % 3],
                    "mailbox_verified": verified is not None,
                    "display_name": f"User {i}" if i % 3 else None,
                    "certificates": sorted(certificates),
                }
    assert wide.address is None
    return expected


def plain(row: MailboxRow) -> dict:
    assert row.mailbox_verified in (True, False)  # a bool, on both backends
    for when in (c.not_before for c in row.certificates):
        assert when.tzinfo is UTC, when
    for c in row.certificates:
        assert c.not_after.tzinfo is UTC and isinstance(c.der, bytes)
    return {
        "role": row.role,
        "mailbox_verified": row.mailbox_verified,
        "display_name": row.display_name,
        "certificates": sorted(
            (c.serial, c.not_before, c.not_after, c.der) for c in row.certificates
        ),
    }


def test_batch_of_1000_returns_every_active_entry(any_directory: Directory) -> None:
    d = any_directory
    expected = seed(d)
    everyone = [address(i) for i in range(COUNT)]
    found = d.store.mailboxes.find(everyone)
    assert len(everyone) == COUNT and len(found) == COUNT - 10
    assert set(found) == set(expected)
    assert {a: plain(r) for a, r in found.items()} == expected
    assert [len(found[address(i)].certificates) for i in range(10)] == [1, 1, 2, 2] * 2 + [1, 1]


def test_single_lookups_and_edge_cases(any_directory: Directory) -> None:
    d = any_directory
    expected = seed(d)
    for i in (0, 3, 4, 500, 998):
        found = d.store.mailboxes.find([address(i)])
        assert list(found) == [address(i)]
        assert plain(found[address(i)]) == expected[address(i)]
        assert d.store.mailboxes.find_one(address(i)) == found[address(i)]
        entry = d.store.mailbox_entry(address(i))
        assert entry is not None and entry.role == found[address(i)].role
        assert (entry.mailbox_verified_at is not None) is found[address(i)].mailbox_verified
    assert d.store.mailboxes.find([address(99)]) == {}  # removed
    assert d.store.mailboxes.find_one(address(99)) is None
    assert d.store.mailboxes.find_one("nobody@bulk.gov.uk") is None
    assert d.store.mailboxes.find(["nobody@bulk.gov.uk"]) == {}
    assert d.store.mailboxes.find([]) == {}
    twice = d.store.mailboxes.find([address(1), address(1), address(2), "x@y.example"])
    assert sorted(twice) == [address(1), address(2)]


def test_removing_an_entry_shows_at_once(any_directory: Directory) -> None:
    d = any_directory
    org = d.registration.create_organisation(ADMIN, "Wessex CC", "local-government")
    d.registration.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    box = d.registration.add_recipient(ADMIN, org.id, address="a@wessex.gov.uk")
    assert list(d.store.mailboxes.find(["a@wessex.gov.uk"])) == ["a@wessex.gov.uk"]
    d.registration.remove_recipient(ADMIN, box.id)
    assert d.store.mailboxes.find(["a@wessex.gov.uk"]) == {}
    assert d.store.mailboxes.find(["a@wessex.gov.uk", "b@wessex.gov.uk"]) == {}


# A string the drivers cannot encode: stands in for any driver error on a healthy connection
# (a statement timeout, a replica's recovery conflict ...).
UNSENDABLE = "\udc80@wessex.gov.uk"


def test_a_driver_error_is_unavailable_not_a_no(any_directory: Directory) -> None:
    d = any_directory
    assert d.store.mailboxes.find(["a@wessex.gov.uk"]) == {}
    with pytest.raises(DirectoryError) as caught:
        d.store.mailboxes.find([UNSENDABLE, "a@wessex.gov.uk"])
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert d.store.mailboxes.find(["a@wessex.gov.uk"]) == {}  # and it reconnects


def test_writes_stay_atomic_after_a_fast_path_error(any_directory: Directory) -> None:
    """The finder's autocommit connection must never reach a write transaction (on PostgreSQL
    it once went back to the pool after a driver error, and failed writes half-committed)."""
    d = any_directory
    org = d.registration.create_organisation(ADMIN, "Wessex CC", "local-government")
    d.store.mailboxes.find(["a@wessex.gov.uk"])
    with pytest.raises(DirectoryError):
        d.store.mailboxes.find([UNSENDABLE, "a@wessex.gov.uk"])

    def half_a_change(i: int) -> None:
        with d.store.write("test:writer", d.clock()) as w:
            w.update(t.organisations, org.id, {"name": f"Renamed {i}"}, "organisation.update")
            w.update(t.organisations, "no-such-org", {"name": "x"}, "organisation.update")

    with writes_nothing(d):
        for i in range(10):  # enough to check out every pooled connection in turn
            with pytest.raises(DirectoryError) as caught:
                half_a_change(i)
            assert caught.value.kind is ErrorKind.NOT_FOUND
    assert d.store.organisation(org.id).name == "Wessex CC"  # type: ignore[union-attr]
    assert d.store.verify_audit()[1] == []


def test_both_backends_return_identical_rows(
    tmp_path: Path, clock: FrozenClock, postgres_url: str
) -> None:
    lite = make_directory(tmp_path / "lite", clock)
    pg = make_directory(tmp_path / "pg", clock, _fresh_postgres_database(postgres_url))
    try:
        assert (lite.store.backend, pg.store.backend) == ("sqlite", "postgresql")
        expected_lite, expected_pg = seed(lite), seed(pg)
        assert expected_lite == expected_pg
        asked = [address(i) for i in range(0, COUNT, 7)] + ["none@bulk.gov.uk"]
        from_lite = {a: plain(r) for a, r in lite.store.mailboxes.find(asked).items()}
        from_pg = {a: plain(r) for a, r in pg.store.mailboxes.find(asked).items()}
        assert from_lite == from_pg
        assert set(from_lite) == {a for a in asked if a in expected_lite}
        assert len(from_lite) == len(asked) - 2  # user.0399 is removed, none@ is unknown
    finally:
        lite.close()
        pg.close()


# --- the held SQLite read transaction -----------------------------------------------------------
def _write_elsewhere(d: Directory, sql: str) -> None:
    """A write by another process's connection: nothing in this process hears of it."""
    db = sqlite3.connect(d.settings.home / "clearance.db")
    try:
        db.execute(sql)
        db.commit()
    finally:
        db.close()


def test_sqlite_reads_keep_one_snapshot_until_renewed(directory: Directory) -> None:
    d = directory
    org = d.registration.create_organisation(ADMIN, "Wessex CC", "local-government")
    d.registration.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    d.registration.add_recipient(ADMIN, org.id, address="a@wessex.gov.uk")
    finder = d.store.mailboxes
    assert finder.find_one("a@wessex.gov.uk") is not None  # this process's write: seen at once
    _write_elsewhere(
        d, "UPDATE recipients SET status = 'removed' WHERE address = 'a@wessex.gov.uk'"
    )
    assert finder.find_one("a@wessex.gov.uk") is not None  # the held snapshot
    finder.renew()  # what the lookup does each time it reads the change sequence
    assert finder.find_one("a@wessex.gov.uk") is None
    assert finder.find(["a@wessex.gov.uk"]) == {}


def test_an_idle_sqlite_read_transaction_is_ended(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastpath, "IDLE_SECONDS", 0.05)
    d = directory
    finder = d.store.mailboxes
    assert finder.find_one("a@wessex.gov.uk") is None
    reader = finder._local.reader
    assert reader.driver.in_transaction  # held between lookups
    deadline = time.monotonic() + 5
    while reader.driver.in_transaction and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not reader.driver.in_transaction  # the sweeper ended it: checkpoints can proceed
    _write_elsewhere(d, "UPDATE directory_state SET seq = seq + 1")
    assert finder.find_one("a@wessex.gov.uk") is None  # and the next lookup starts another
    assert reader.driver.in_transaction


def test_closing_the_store_stops_the_sweeper(tmp_path: Path, clock: FrozenClock) -> None:
    d = make_directory(tmp_path, clock)
    assert d.store.mailboxes.find_one("a@wessex.gov.uk") is None
    sweeper = d.store.mailboxes._sweeper
    assert sweeper is not None and sweeper.is_alive()
    d.close()
    assert not sweeper.is_alive()
