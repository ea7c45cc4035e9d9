"""The lookup mirror: a local SQLite copy of the mailbox entries, kept by the change sequence.

Run against both stores (the mirror is made for PostgreSQL; copying from SQLite exercises the
same code). Each test compares the mirror's rows with the store's own finder.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from directory.errors import DirectoryError, ErrorKind
from directory.model import Recipient
from directory.service import Directory
from directory.settings import load_settings
from directory.store import tables as t
from directory.store.fastpath import MailboxFinder, MailboxRow
from directory.store.mirror import LookupMirror, MirroredFinder
from tests.conftest import ADMIN, FrozenClock, _fresh_postgres_database, make_directory
from tests.directory.store.test_fastpath import COUNT, DOMAIN, address, seed

EVERYONE = [address(i) for i in range(COUNT)] + ["nobody@bulk.gov.uk"]


@pytest.fixture
def mirror(any_directory: Directory, tmp_path: Path) -> Iterator[LookupMirror]:
    m = LookupMirror(any_directory.store.engine, tmp_path / "mirror.db")
    yield m
    m.close()


def same_rows(d: Directory, m: LookupMirror) -> dict[str, MailboxRow]:
    """Assert the mirror answers exactly as the store does, batch and single; return them."""
    store = MailboxFinder(d.store.engine)
    try:
        expected = store.find(EVERYONE)
        assert m.finder.find(EVERYONE) == expected
        for a in (address(0), address(3), address(99), address(500), "nobody@bulk.gov.uk"):
            assert m.finder.find_one(a) == store.find_one(a)
        return expected
    finally:
        store.close()


def test_first_sync_copies_every_active_mailbox_and_live_certificate(
    any_directory: Directory, mirror: LookupMirror
) -> None:
    expected = seed(any_directory)
    seq = mirror.sync()
    assert seq == any_directory.store.state().seq and mirror.seq == seq
    rows = same_rows(any_directory, mirror)
    assert set(rows) == set(expected)  # removed entries and the domain-wide entry left out
    assert [len(rows[address(i)].certificates) for i in range(4)] == [1, 1, 2, 2]


def test_changes_are_applied_without_copying_again(
    any_directory: Directory, mirror: LookupMirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = any_directory
    seed(d)
    mirror.sync()
    copies: list[int] = []
    real_copy = LookupMirror._copy
    monkeypatch.setattr(
        LookupMirror, "_copy", lambda self, *a: copies.append(1) or real_copy(self, *a)
    )
    org = d.store.organisations()[0]
    d.registration.remove_recipient(ADMIN, _recipient_id(d, address(0)))  # withdrawn
    added = d.registration.add_recipient(ADMIN, org.id, address=address(99))  # reused address
    d.registration.update_recipient(ADMIN, _recipient_id(d, address(2)), display_name="Renamed")
    with d.store.write("test:revoke", d.clock()) as w:  # revoke one of address(3)'s two
        serial = d.store.mailboxes.find_one(address(3)).certificates[0].serial  # type: ignore[union-attr]
        w.update(t.certificates, serial, {"revoked_at": d.clock()}, "certificate.revoke")
    assert mirror.sync() == d.store.state().seq
    rows = same_rows(d, mirror)
    assert address(0) not in rows and rows[address(99)].role == added.role
    assert rows[address(2)].display_name == "Renamed"
    assert len(rows[address(3)].certificates) == 1
    assert copies == []
    syncs = mirror.syncs
    assert mirror.sync() == d.store.state().seq  # nothing new: nothing to do
    assert mirror.syncs == syncs + 1 and copies == []


def test_a_mirror_of_another_database_is_rebuilt(
    any_directory: Directory, tmp_path: Path, clock: FrozenClock
) -> None:
    seed(any_directory)
    path = tmp_path / "shared-mirror.db"
    first = LookupMirror(any_directory.store.engine, path)
    first.sync()
    first.close()
    other = make_directory(tmp_path / "other", clock)  # a new install, its own audit chain
    org = other.registration.create_organisation(ADMIN, "Other Council", "local-government")
    other.registration.claim_domain(ADMIN, org.id, DOMAIN)
    for i in range(12):  # a sequence well past the first's, its audit hashes not the first's
        other.registration.add_recipient(ADMIN, org.id, address=address(i + 2000))
    try:
        second = LookupMirror(other.store.engine, path)
        try:
            second.sync()
            assert second.finder.find(EVERYONE) == {}  # the first store's entries are gone
            assert set(second.finder.find([address(i + 2000) for i in range(12)])) == {
                address(i + 2000) for i in range(12)
            }
        finally:
            second.close()
    finally:
        other.close()


def test_a_mirror_ahead_of_the_store_or_of_another_format_is_rebuilt(
    any_directory: Directory, mirror: LookupMirror
) -> None:
    seed(any_directory)
    mirror.sync()
    with sqlite3.connect(mirror.path) as raw:
        raw.execute("INSERT INTO recipients VALUES ('ghost@bulk.gov.uk', 'x', 'person', 1, '')")
        raw.execute("UPDATE mirror_state SET seq = seq + 1000")
    mirror.sync()
    assert mirror.finder.find_one("ghost@bulk.gov.uk") is None
    with sqlite3.connect(mirror.path) as raw:
        raw.execute("INSERT INTO recipients VALUES ('ghost@bulk.gov.uk', 'y', 'person', 1, '')")
        raw.execute("UPDATE mirror_state SET format = 0")
    mirror.sync()
    assert mirror.finder.find_one("ghost@bulk.gov.uk") is None
    same_rows(any_directory, mirror)


def test_a_mirror_whose_audit_entry_differs_is_rebuilt(
    any_directory: Directory, mirror: LookupMirror
) -> None:
    """The same store, but its history since the mirror was made is not the one the mirror saw
    (restored from a backup, then written again): the audit entry recorded no longer matches."""
    d = any_directory
    seed(d)
    mirror.sync()
    with sqlite3.connect(mirror.path) as raw:
        raw.execute("INSERT INTO recipients VALUES ('ghost@bulk.gov.uk', 'x', 'person', 1, '')")
        raw.execute("UPDATE mirror_state SET audit_hash = 'x' || substr(audit_hash, 2)")
    d.registration.add_recipient(ADMIN, d.store.organisations()[0].id, address="n@bulk.gov.uk")
    mirror.sync()
    assert mirror.finder.find_one("ghost@bulk.gov.uk") is None
    same_rows(d, mirror)


def test_a_mirror_of_an_older_format_is_rebuilt(
    any_directory: Directory, mirror: LookupMirror
) -> None:
    seed(any_directory)
    with sqlite3.connect(mirror.path) as raw:  # format 2 had no instance column
        raw.execute(
            "CREATE TABLE mirror_state (id INTEGER PRIMARY KEY, format INTEGER, seq INTEGER, "
            "audit_position INTEGER, audit_hash TEXT)"
        )
        raw.execute("INSERT INTO mirror_state VALUES (1, 2, 1, 1, 'x')")
    assert mirror.sync() == any_directory.store.state().seq
    same_rows(any_directory, mirror)


def test_a_drifted_mirror_is_rebuilt_when_a_change_does_not_fit(
    any_directory: Directory, mirror: LookupMirror
) -> None:
    d = any_directory
    seed(d)
    mirror.sync()
    with sqlite3.connect(mirror.path) as raw:  # an entry the store does not have
        raw.execute("INSERT INTO recipients VALUES ('new@bulk.gov.uk', 'z', 'person', 1, '')")
    org = d.store.organisations()[0]
    d.registration.add_recipient(ADMIN, org.id, address="new@bulk.gov.uk")
    mirror.sync()  # the new entry's insert meets the stray one: copy everything again
    row = mirror.finder.find_one("new@bulk.gov.uk")
    assert row is not None and row == d.store.mailboxes.find_one("new@bulk.gov.uk")
    same_rows(d, mirror)


def test_recipients_and_certificates_are_never_deleted(any_directory: Directory) -> None:
    d = any_directory
    seed(d)
    rid = _recipient_id(d, address(0))
    with pytest.raises(ValueError, match="never deleted"), d.store.write("t", d.clock()) as w:
        w.delete(t.recipients, rid, "recipient.delete")
    assert d.store.mailboxes.find_one(address(0)) is not None


@pytest.fixture
def served(postgres_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Directory]:
    """An API server's directory over PostgreSQL (serving: with the mirror)."""
    url = _fresh_postgres_database(postgres_url)
    make_directory(tmp_path / "admin", clock, url).close()
    settings = load_settings(home=tmp_path / "served", database_url=url, cache_refresh_seconds=0.0)
    d = Directory(settings, clock, serving=True)
    yield d
    d.close()


def test_a_serving_directory_reads_the_mirror_only_when_it_is_current(
    served: Directory, tmp_path: Path, clock: FrozenClock
) -> None:
    finder = served.store.mailboxes
    assert isinstance(finder, MirroredFinder)
    admin = make_directory(tmp_path / "writer", clock, served.settings.database_url)
    try:  # another process's writes
        entry = _wessex_mailbox(admin)
        answer = served.lookup.lookup("a@wessex.gov.uk")
        assert answer["known"] is False  # the domain is not verified, but the entry is read
        _wait_for(lambda: finder.mirror.seq == served.store.state().seq)
        served.lookup.lookup("a@wessex.gov.uk")  # refresh (0 s): the mirror is current
        assert finder.reading_mirror
        assert finder.find_one("a@wessex.gov.uk") is not None
        admin.registration.remove_recipient(ADMIN, entry.id)
        served.lookup.lookup("b@wessex.gov.uk")  # the sequence moved: the store answers
        assert not finder.reading_mirror
        assert finder.find_one("a@wessex.gov.uk") is None  # at once, not when the mirror is
        _wait_for(lambda: finder.mirror.seq == served.store.state().seq)
        served.lookup.lookup("b@wessex.gov.uk")
        assert finder.reading_mirror and finder.find_one("a@wessex.gov.uk") is None
        assert (Path(served.settings.home) / "lookup-mirror.db").exists()
    finally:
        admin.close()


def test_a_mirror_that_cannot_be_read_hands_over_to_the_store(
    served: Directory, tmp_path: Path, clock: FrozenClock
) -> None:
    finder = served.store.mailboxes
    assert isinstance(finder, MirroredFinder)
    admin = make_directory(tmp_path / "writer", clock, served.settings.database_url)
    try:
        _wessex_mailbox(admin)
    finally:
        admin.close()
    finder.mirror.sync()
    finder.renew(served.store.state().seq)
    assert finder.reading_mirror

    def broken(*_args: object) -> None:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "disk gone")

    finder.mirror.finder.find_one = broken  # type: ignore[method-assign,assignment]
    row = finder.find_one("a@wessex.gov.uk")
    assert row is not None and row.address == "a@wessex.gov.uk"
    assert not finder.reading_mirror


def test_a_failing_sync_leaves_the_store_answering(
    served: Directory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    finder = served.store.mailboxes
    assert isinstance(finder, MirroredFinder)

    def fail(self: LookupMirror) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(LookupMirror, "sync", fail)
    monkeypatch.setattr("directory.store.mirror.WARN_AFTER_SECONDS", 0.5)
    served.lookup.lookup("a@wessex.gov.uk")
    _wait_for(lambda: finder.mirror.failure is not None)
    served.lookup.lookup("a@wessex.gov.uk")
    assert not finder.reading_mirror and finder.mirror.seq == -1
    assert "cannot be brought up to date" not in caplog.text  # not at the first failure
    time.sleep(1.2)
    served.lookup.lookup("a@wessex.gov.uk")  # asks again: fails again, now for over 0.5 s
    _wait_for(lambda: "cannot be brought up to date" in caplog.text)
    assert "(OperationalError: disk I/O error)" in caplog.text


def test_a_serving_sqlite_directory_reads_its_mirror_and_its_own_writes_at_once(
    tmp_path: Path, clock: FrozenClock
) -> None:
    make_directory(tmp_path, clock).close()  # initialised at tmp_path / "home"
    settings = load_settings(home=tmp_path / "home", cache_refresh_seconds=0.0)
    d = Directory(settings, clock, serving=True)
    try:
        finder = d.store.mailboxes
        assert isinstance(finder, MirroredFinder)
        entry = _wessex_mailbox(d)
        d.lookup.lookup("a@wessex.gov.uk")
        _wait_for(lambda: finder.mirror.seq == d.store.state().seq)
        d.lookup.lookup("a@wessex.gov.uk")
        assert finder.reading_mirror and finder.find_one("a@wessex.gov.uk") is not None
        d.registration.remove_recipient(ADMIN, entry.id)  # this process's own write
        assert not finder.reading_mirror  # from the write on, until the mirror has it
        assert finder.find_one("a@wessex.gov.uk") is None
        _wait_for(lambda: finder.mirror.seq == d.store.state().seq)
        d.lookup.lookup("a@wessex.gov.uk")
        assert finder.reading_mirror and finder.find_one("a@wessex.gov.uk") is None
    finally:
        d.close()


def test_one_shot_commands_keep_no_mirror(postgres_url: str, tmp_path: Path) -> None:
    url = _fresh_postgres_database(postgres_url)
    settings = load_settings(home=tmp_path / "cli", database_url=url)
    d = Directory(settings)
    try:
        assert isinstance(d.store.mailboxes, MailboxFinder)
    finally:
        d.close()
    off = load_settings(home=tmp_path / "off", database_url=url, lookup_mirror=False)
    d = Directory(off, serving=True)
    try:
        assert isinstance(d.store.mailboxes, MailboxFinder)
    finally:
        d.close()


def _wessex_mailbox(d: Directory) -> Recipient:
    """A council, its (unverified) domain and the mailbox entry a@wessex.gov.uk."""
    org = d.registration.create_organisation(ADMIN, "Wessex Council", "local-government")
    d.registration.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    return d.registration.add_recipient(ADMIN, org.id, address="a@wessex.gov.uk")


def _recipient_id(d: Directory, mailbox: str) -> str:
    entry = d.store.mailbox_entry(mailbox)
    assert entry is not None
    return entry.id


def _wait_for(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the mirror did not catch up"
        time.sleep(0.02)
