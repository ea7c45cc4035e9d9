"""The hot path's shortcuts never hide a change: the memoised answer parts follow the snapshot and
the clock, and `find_one` reads exactly what `find` reads."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from directory import certificates as certs
from directory import demo
from directory.answer_json import answer_json
from directory.authz import Principal, detail_rule
from directory.errors import DirectoryError, ErrorKind
from directory.lookup import DetailRule, Lookup, all_detail, no_detail
from directory.service import Directory
from tests.conftest import ADMIN, BOOTS, FrozenClock, boot_ticks
from tests.directory.test_lookup import register


@pytest.fixture(params=BOOTS)
def ticks(request: pytest.FixtureRequest) -> Callable[[], float]:
    """Every test here, on a host booted a moment ago and on one up for months."""
    return boot_ticks(request.param)


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


def _try_to_change(answer: dict[str, Any]) -> None:
    """What a careless caller might do to an answer: parts shared with other answers refuse
    (TypeError), its own top level and certificates list change only it."""
    # the organisation is the answer's own when it names the recipient, else shared
    with contextlib.suppress(TypeError):
        answer["organisation"]["name"] = "changed by a caller"
    for change in (
        lambda: answer["handling"].update(transport="changed"),
        lambda: answer["policy"].pop("name"),
        lambda: answer["reasons"].clear(),
        lambda: answer["reasons"].append({"code": "x"}),
        lambda: answer["reasons"][0].__setitem__("code", "x"),
    ):
        with pytest.raises(TypeError, match="shared by answers"):
            change()
    answer["certificates"].append({"serial": "x"})
    answer["max_classification"] = "TOP SECRET"
    answer["organisation"] = {**answer["organisation"], "name": "a copy, changed"}


def test_answers_do_not_share_mutable_parts(directory: Directory) -> None:
    d = directory
    boxes = [("a", "person", True), ("b", "person", True)]  # the same facts: one memo entry
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=boxes)
    first = d.lookup.lookup("a@wessex.gov.uk", "OFFICIAL")
    _try_to_change(first)
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


# --- the per-process answer cache -----------------------------------------------------------

CLASSIFICATIONS = (None, "OFFICIAL", "official sensitive", "OFFICIAL-SENSITIVE", "SECRET")


def uncached(d: Directory) -> Lookup:
    """A fresh lookup without an answer cache: the reference every cached answer must equal."""
    return Lookup(d.store, d.policy, d.clock, refresh_seconds=0, ticks=d.ticks)


def cached(d: Directory) -> Lookup:
    """A lookup with the answer cache, reading the change sequence only when told to
    (`snapshots.invalidate()`: the refresh interval has passed)."""
    return Lookup(d.store, d.policy, d.clock, refresh_seconds=3600, ticks=d.ticks)


def demo_addresses() -> list[str]:
    out = ["nobody@example.org", "nobody@wessex.gov.uk", "Nobody+x@CWH.nhs.uk"]
    for spec in demo.ORGS:
        out += [f"{local}@{spec.domain}" for local, _n, _r, _v in spec.mailboxes]
        out += [f"{local.upper()}@{spec.domain.upper()}" for local, _n, _r, _v in spec.mailboxes]
        out += [f"someone@{spec.domain}", f"someone+tag@{spec.domain}"]
        out += [f"{x}@{spec.domain}" for x in spec.exclusions]
    return out


def rules(d: Directory) -> list[DetailRule]:
    orgs = d.store.organisations()
    out: list[DetailRule] = [no_detail, all_detail]
    for org in orgs[:3]:  # org admins: detail for their own organisation only
        out.append(detail_rule(Principal("k", frozenset({f"org-admin:{org.id}"}))))
    return out


def assert_same(d: Directory, lookup: Lookup, addresses: list[str]) -> None:
    """Cached answers (asked twice: the second comes from the cache) and uncached ones equal
    what decide() says (directory/decision.py), byte for byte once encoded, single and in
    batches."""
    lookup.snapshots.invalidate()  # the refresh interval has passed
    reference = uncached(d)
    for detail in rules(d):
        for name in CLASSIFICATIONS:
            decided = [answer_json(reference.decide(a, name, detail)) for a in addresses]
            for address, oracle in zip(addresses, decided, strict=True):
                want = orjson.dumps(oracle)  # decide(), called directly
                assert orjson.dumps(reference.lookup(address, name, detail)) == want, address
                got = lookup.lookup(address, name, detail)  # from the cache if it holds it
                assert orjson.dumps(got) == want, address
                assert orjson.dumps(lookup.lookup(address, name, detail)) == want, address
                typed = lookup.answer(address, name, detail)  # the same, as a typed value
                assert orjson.dumps(answer_json(typed)) == want, address
            want = orjson.dumps(decided)
            assert orjson.dumps(lookup.lookup_many(addresses, name, detail)) == want
            assert orjson.dumps(reference.lookup_many(addresses, name, detail)) == want
            whole = lookup.cached_many(addresses, name, detail)  # from the cache alone
            if whole is None:  # only when one of them is not in the cache
                assert any(lookup.cached(a, name, detail) is None for a in addresses)
            else:
                assert orjson.dumps(whole) == want
            typed_batch = lookup.answers_many(addresses, name, detail)
            assert orjson.dumps([answer_json(a) for a in typed_batch]) == want


@pytest.fixture
def demo_directory(directory: Directory) -> Directory:
    (directory.settings.home / "ca-passphrase").write_text("correct horse battery staple 42\n")
    demo.seed(directory)
    certs.initialise_ca(directory.settings, directory.clock)
    directory.certificates.issue(
        ADMIN,
        "j.smith@wessex.gov.uk",
        pkcs12_passphrase=b"a long test passphrase 42",
        validity_days=3,
    )
    return directory


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cached_answers_equal_uncached_ones_as_the_clock_moves(
    demo_directory: Directory, clock: FrozenClock
) -> None:
    d = demo_directory
    register(d, "Short CC", "short.gov.uk", accreditation_days=2, mailboxes=[("a", "person", True)])
    addresses = [*demo_addresses(), "a@short.gov.uk"]
    lookup = cached(d)
    assert_same(d, lookup, addresses)
    smith = lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    short = lookup.lookup("a@short.gov.uk", "OFFICIAL-SENSITIVE")
    assert smith["certificates"] and short["permitted"] is True
    hits = lookup.answers.hits
    # past an accreditation's end (2 days), a certificate's (3), postures' (8 days old) and
    # domain verifications' (35 days old), without a write
    for days in (1.9, 0.2, 0.95, 0.1, 5, 27, 0.1, 300, 100):
        clock.advance(days=days)
        assert_same(d, lookup, addresses)
    assert lookup.answers.hits > hits  # the cache was in use throughout
    assert lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL-SENSITIVE") != smith
    assert not lookup.lookup("j.smith@wessex.gov.uk")["certificates"]
    assert lookup.lookup("a@short.gov.uk", "OFFICIAL-SENSITIVE")["permitted"] is False


def test_reasons_follow_an_accreditation_expiring_behind_a_stale_domain(
    directory: Directory, clock: FrozenClock
) -> None:
    d = directory
    register(
        d, "Short CC", "short.gov.uk", accreditation_days=40, mailboxes=[("a", "person", True)]
    )
    lookup = cached(d)
    lookup.lookup("a@short.gov.uk", "OFFICIAL", all_detail)
    clock.advance(days=36)  # the domain's verification is stale: trust none
    lookup.lookup("a@short.gov.uk", "OFFICIAL", all_detail)
    clock.advance(days=5)  # ... and now the accreditation has expired too
    answer = lookup.lookup("a@short.gov.uk", "OFFICIAL", all_detail)
    assert answer == uncached(d).lookup("a@short.gov.uk", "OFFICIAL", all_detail)
    assert "accreditation.expired" in {r["code"] for r in answer["reasons"]}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cached_answers_follow_every_kind_of_write(demo_directory: Directory) -> None:
    d = demo_directory
    addresses = [*demo_addresses(), "new.starter@wessex.gov.uk"]
    lookup = cached(d)
    assert_same(d, lookup, addresses)
    wessex = next(o for o in d.store.organisations() if o.name == "Wessex County Council")
    smith = lookup.lookup("j.smith@wessex.gov.uk")
    serial = smith["certificates"][0]["serial"]

    # a certificate revocation and a new mailbox entry bump seq, not register_seq
    d.certificates.revoke(ADMIN, serial, "keyCompromise")
    assert lookup.lookup("j.smith@wessex.gov.uk") == smith  # within the refresh interval
    lookup.snapshots.invalidate()
    assert not lookup.lookup("j.smith@wessex.gov.uk")["certificates"]
    assert_same(d, lookup, addresses)
    d.registration.add_recipient(ADMIN, wessex.id, address="new.starter@wessex.gov.uk")
    assert_same(d, lookup, addresses)
    assert lookup.lookup("new.starter@wessex.gov.uk")["known"] is True
    d.registration.set_status(ADMIN, wessex.id, "suspended", "test")
    assert_same(d, lookup, addresses)
    assert lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")["known"] is False


def test_a_change_shows_when_the_sequence_is_next_read(directory: Directory) -> None:
    d = directory
    reg = register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("j.smith", "person", True)])
    slow = Lookup(d.store, d.policy, d.clock, refresh_seconds=3600, ticks=d.ticks)
    before = slow.lookup("j.smith@wessex.gov.uk", "OFFICIAL")
    assert before["permitted"] is True
    d.registration.set_status(ADMIN, reg.org.id, "suspended", "test")
    # within the refresh interval the cached answer may still be given: the documented bound
    assert slow.lookup("j.smith@wessex.gov.uk", "OFFICIAL") == before
    slow.snapshots.invalidate()  # the interval has passed: the sequence is read again
    assert slow.lookup("j.smith@wessex.gov.uk", "OFFICIAL")["known"] is False
    box = d.store.mailbox_entry("j.smith@wessex.gov.uk")
    assert box is not None
    d.registration.set_status(ADMIN, reg.org.id, "active", "test")
    slow.snapshots.invalidate()
    assert slow.lookup("j.smith@wessex.gov.uk", "OFFICIAL") == before
    d.registration.remove_recipient(ADMIN, box.id)  # a mailbox entry: not register_seq
    slow.snapshots.invalidate()
    assert slow.lookup("j.smith@wessex.gov.uk", "OFFICIAL")["known"] is False


def test_a_store_that_cannot_say_its_sequence_gets_no_cached_answer(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("j.smith", "person", True)])
    lookup = cached(d)
    assert lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")["permitted"] is True

    def broken() -> None:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the directory store cannot answer now")

    monkeypatch.setattr(d.store, "state", broken)
    lookup.snapshots.invalidate()  # the refresh interval has passed
    for ask in (
        lambda: lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL"),
        lambda: lookup.lookup_many(["j.smith@wessex.gov.uk"], "OFFICIAL"),
    ):
        with pytest.raises(DirectoryError) as raised:
            ask()
        assert raised.value.kind is ErrorKind.UNAVAILABLE


def test_once_a_mailbox_read_fails_no_answer_comes_from_the_cache(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("j.smith", "person", True)])
    lookup = cached(d)
    assert lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")["permitted"] is True

    def broken(_address: object) -> None:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the directory store cannot answer")

    monkeypatch.setattr(d.store.mailboxes, "find_one", broken)
    monkeypatch.setattr(d.store.mailboxes, "find", broken)
    with pytest.raises(DirectoryError):
        lookup.lookup("someone.new@wessex.gov.uk", "OFFICIAL")  # the store is known to fail
    for ask in (
        lambda: lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL"),
        lambda: lookup.lookup_many(["j.smith@wessex.gov.uk"], "OFFICIAL"),
    ):
        with pytest.raises(DirectoryError) as raised:
            ask()
        assert raised.value.kind is ErrorKind.UNAVAILABLE


def test_refresh_zero_caches_no_answer(directory: Directory) -> None:
    d = directory  # cache_refresh_seconds = 0
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("j.smith", "person", True)])
    d.lookup.lookup("j.smith@wessex.gov.uk", "OFFICIAL")
    d.lookup.lookup_many(["j.smith@wessex.gov.uk"], "OFFICIAL")
    assert d.lookup.answers.entries == {} and d.lookup.answers.hits == 0


def test_the_cache_is_bounded_and_cleared_wholesale(directory: Directory) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", domain_wide=True)
    small = Lookup(
        d.store, d.policy, d.clock, refresh_seconds=3600, answer_cache_entries=3, ticks=d.ticks
    )
    for i in range(10):
        small.lookup(f"person{i}@wessex.gov.uk", "OFFICIAL")
        assert 1 <= len(small.answers.entries) <= 3
    assert small.answers.misses == 10


def test_an_answer_computed_before_a_change_is_not_kept(directory: Directory) -> None:
    d = directory
    lookup = cached(d)
    cache = lookup.answers
    snapshot, table = lookup.snapshots.current_with_answers()
    assert table is cache.entries
    cache.clear()  # the sequence moved while an answer was being worked out
    cache.put(table, ("a@b.example", None), ["org", None, None])
    assert cache.entries == {} and table == {}
    cache.put(cache.entries, ("a@b.example", None), ["org", None, None])
    assert list(cache.entries) == [("a@b.example", None)]
    assert lookup.snapshots.current_with_answers() == (snapshot, cache.entries)  # one pair


def test_bad_addresses_in_a_batch_are_reported_whatever_the_cache_holds(
    directory: Directory,
) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("a", "person", True)])
    lookup = cached(d)
    lookup.lookup("a@wessex.gov.uk", "OFFICIAL")
    with pytest.raises(DirectoryError) as raised:
        lookup.lookup_many(["a@wessex.gov.uk", "not an address", "x@@y"], "OFFICIAL")
    assert raised.value.kind is ErrorKind.MALFORMED
    assert [p["index"] for p in raised.value.extra["invalid"]] == [1, 2]
    with pytest.raises(DirectoryError):
        lookup.lookup("a@wessex.gov.uk", "NO-SUCH-LEVEL")  # never from the cache


def test_cached_answers_do_not_share_mutable_parts(directory: Directory) -> None:
    d = directory
    register(d, "Wessex CC", "wessex.gov.uk", mailboxes=[("a", "person", True)])
    lookup = cached(d)
    first = lookup.lookup("a@wessex.gov.uk", "OFFICIAL")
    want = orjson.dumps(first)
    _try_to_change(first)
    assert orjson.dumps(lookup.lookup("a@wessex.gov.uk", "OFFICIAL")) == want
    assert lookup.answers.hits == 1
