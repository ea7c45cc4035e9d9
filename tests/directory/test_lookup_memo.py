"""The hot path's shortcuts never hide a change: the memoised answer parts follow the snapshot and
the clock, and `find_one` reads exactly what `find` reads."""

from __future__ import annotations

from directory.lookup import all_detail, no_detail
from directory.service import Directory
from tests.conftest import ADMIN, FrozenClock
from tests.directory.test_lookup import register


def test_a_suspension_shows_in_the_next_answer(directory: Directory) -> None:
    d = directory  # cache_refresh_seconds = 0: every lookup checks the change sequence
    reg = register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("j.smith", "person", True)])
    before = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")
    assert before["known"] is True and before["permitted"] is True
    assert d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL") == before  # memo in use

    d.registration.set_status(ADMIN, reg.org.id, "suspended", "test")
    hidden = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")
    assert hidden["known"] is False and hidden["permitted"] is False
    shown = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL", all_detail)
    assert shown["trust_level"] == "none" and shown["max_classification"] is None

    d.registration.set_status(ADMIN, reg.org.id, "active", "test")
    assert d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL") == before


def test_an_expiring_accreditation_changes_the_memoised_answer(
    directory: Directory, clock: FrozenClock
) -> None:
    d = directory
    register(
        d,
        "Wessex CC",
        "wessex.gov.uk",
        accreditation_days=2,
        mailboxes=[("j.smith", "person", True)],
    )
    first = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE", no_detail)
    assert first["permitted"] is True and first["trust_level"] == "accredited"
    clock.advance(days=3)  # no write: only the clock moves past the accreditation's expiry
    later = d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE", no_detail)
    assert later["permitted"] is False and later["trust_level"] == "organisation-verified"
    assert later["max_classification"] == "OFFICIAL"


def test_the_memo_is_per_classification_asked(directory: Directory) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("j.smith", "person", True)])
    asked = {
        name: d.lookup.lookup("j.smith@wessex.gov.uk", name)
        for name in (None, "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "OFFICIAL")
    }
    assert asked[None]["classification"] is None and asked[None]["permitted"] is None
    assert asked["OFFICIAL"]["permitted"] is True
    assert asked["SECRET"]["classification"] == "SECRET" and asked["SECRET"]["permitted"] is False


def test_answers_do_not_share_mutable_parts(directory: Directory) -> None:
    d = directory
    boxes = [("a", "person", True), ("b", "person", True)]  # the same facts: one memo entry
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=boxes)
    first = d.lookup.lookup("a@wessex.gov.uk", "OFFICIAL")
    first["organisation"]["name"] = "changed by a caller"
    first["handling"]["transport"] = "changed"
    first["policy"]["name"] = "changed"
    first["reasons"].clear()
    second = d.lookup.lookup("b@wessex.gov.uk", "OFFICIAL")
    assert second["organisation"]["name"] == "Wessex CC"
    assert second["handling"]["transport"] != "changed"
    assert second["policy"]["name"] != "changed"
    assert second["reasons"]  # SECRET and TOP SECRET are never permitted by email


def test_find_one_reads_what_find_reads(directory: Directory) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("a", "person", True)])
    box = d.store.mailbox_entry("a@wessex.gov.uk")
    assert box is not None
    finder = d.store.mailboxes
    assert finder.find_one("a@wessex.gov.uk") == finder.find(["a@wessex.gov.uk"])["a@wessex.gov.uk"]
    assert finder.find_one("nobody@wessex.gov.uk") is None
    d.registration.remove_recipient(ADMIN, box.id)
    assert finder.find_one("a@wessex.gov.uk") is None  # read live, never cached
    assert d.lookup.lookup("a@wessex.gov.uk", "OFFICIAL", all_detail)["known"] is False
