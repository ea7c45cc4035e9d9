"""The lookup through a real Directory (SQLite, frozen clock): matching, sub-addressing,
non-disclosure of untrusted entries, the answer's shape, and batch lookups.

The helpers `register`, `strip_volatile` and `GOOD_POSTURE` are shared with the other modules
of this package.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from directory.authz import Principal, detail_rule
from directory.errors import DirectoryError, ErrorKind
from directory.lookup import Lookup, all_detail, no_detail
from directory.model import Domain, Organisation
from directory.service import Directory
from directory.settings import load_settings
from tests.conftest import ADMIN, FrozenClock, make_directory
from tests.support.answers import ANSWER_KEYS

T = TypeVar("T")

GOOD_POSTURE: dict[str, Any] = {"tls": True, "mta_sts": "enforce", "dmarc": "reject"}
VOLATILE = ("address", "checked_at", "valid_until")


@dataclass
class Registered:
    org: Organisation
    domain: Domain | None


def register(
    d: Directory,
    name: str,
    domain: str | None,
    *,
    sector: str = "local-government",
    status: str = "active",
    vetted: bool = True,
    accreditation: str | None = "psn-compliance",
    accreditation_days: float = 365,
    verified: bool = True,
    posture: dict[str, Any] | None = GOOD_POSTURE,
    separator: str | None = None,
    domain_wide: bool = False,
    exclusions: Sequence[str] = (),
    mailboxes: Sequence[tuple[str, str, bool]] = (),  # local part, role, mailbox-verified
) -> Registered:
    """An organisation registered through the registration API, as an administrator would."""
    r = d.registration
    now = d.clock()
    org = r.create_organisation(ADMIN, name, sector, {"other": uuid.uuid4().hex[:12]})
    if status != "applied":
        r.set_status(ADMIN, org.id, "active", "approved")
    if vetted:
        r.vet_organisation(ADMIN, org.id, "checked against the register")
    if accreditation:
        r.add_accreditation(
            ADMIN,
            org.id,
            accreditation,
            "certificate 123",
            now - timedelta(days=30),
            now + timedelta(days=accreditation_days),
        )
    dom = None
    if domain:
        dom = r.claim_domain(ADMIN, org.id, domain, separator)
        if verified:
            dom = r.record_domain_verification(ADMIN, dom.id, "TXT record seen")
        if posture is not None:
            dom = r.record_posture(ADMIN, dom.id, evidence="checked by hand", **posture)
        if domain_wide:
            r.add_recipient(ADMIN, org.id, domain=domain, exclusions=list(exclusions))
        for local, role, mailbox_verified in mailboxes:
            r.add_recipient(
                ADMIN,
                org.id,
                address=f"{local}@{domain}",
                role=role,
                mailbox_verified=mailbox_verified,
                display_name=local.title(),
            )
    if status in ("suspended", "withdrawn"):
        r.set_status(ADMIN, org.id, status, "for the test")
    return Registered(r.organisation(ADMIN, org.id), dom)


def strip_volatile(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in VOLATILE}


def codes(answer: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in answer["reasons"]:
        out.setdefault(r["classification"], set()).add(r["code"])
    return out


def audit_length(d: Directory) -> int:
    return len(d.store.audit_entries(limit=10**6))


def build_template(
    base: Path, build: Callable[[Directory, FrozenClock], T]
) -> tuple[Path, T, FrozenClock]:
    """Build a directory once (per module); tests then run on copies of its SQLite files."""
    clock = FrozenClock()
    d = make_directory(base, clock)
    try:
        made = build(d, clock)
    finally:
        d.close()
    return base / "home", made, clock


def clone_directory(home: Path, tmp_path: Path, clock: FrozenClock) -> Directory:
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return Directory(load_settings(home=copy, cache_refresh_seconds=0.0), clock)


# --- a small world --------------------------------------------------------------------------
@dataclass
class World:
    council: Registered  # accredited, domain-wide with exclusions, "+" sub-addressing
    police: Registered  # accredited, mailboxes only, no sub-addressing
    hyphen: Registered  # "-" sub-addressing
    applied: Registered
    suspended: Registered
    withdrawn: Registered
    unverified: Registered
    stale: Registered


def build_world(directory: Directory, clock: FrozenClock) -> World:
    # Verified 36 days ago (the policy allows 35), so stale now; everything else is fresh.
    stale = register(directory, "Stale Parish", "stale.gov.uk", domain_wide=True)
    clock.advance(days=36)
    return World(
        council=register(
            directory,
            "Wessex County Council",
            "wessex.gov.uk",
            separator="+",
            domain_wide=True,
            exclusions=["noreply", "Do.Not.Reply"],
            mailboxes=[("alerts", "system", False), ("noreply", "person", True)],
        ),
        police=register(
            directory,
            "Wessex Police",
            "wessex.police.uk",
            sector="police",
            mailboxes=[("d.morgan", "person", True), ("public.protection", "shared", True)],
        ),
        hyphen=register(
            directory,
            "Hyphen District",
            "hyphen.gov.uk",
            separator="-",
            mailboxes=[("j.smith", "person", True)],
        ),
        applied=register(
            directory, "Pending Trust", "pending.nhs.uk", status="applied", domain_wide=True
        ),
        suspended=register(
            directory, "Anglebury Ltd", "anglebury.co.uk", status="suspended", domain_wide=True
        ),
        withdrawn=register(
            directory, "Gone Council", "gone.gov.uk", status="withdrawn", domain_wide=True
        ),
        unverified=register(
            directory, "Unverified Board", "unverified.gov.uk", verified=False, domain_wide=True
        ),
        stale=stale,
    )


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World, FrozenClock]:
    return build_template(tmp_path_factory.mktemp("world"), build_world)


@pytest.fixture
def directory(
    world_template: tuple[Path, World, FrozenClock], tmp_path: Path, clock: FrozenClock
) -> Iterator[Directory]:
    """In this module: a copy of the world, at the world's time."""
    home, _, world_clock = world_template
    clock.now = world_clock.now
    d = clone_directory(home, tmp_path, clock)
    yield d
    d.close()


@pytest.fixture
def world(world_template: tuple[Path, World, FrozenClock], directory: Directory) -> World:
    return world_template[1]


# --- matching -------------------------------------------------------------------------------
def test_domain_wide_entry_matches_any_mailbox(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("anyone@wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert answer["known"] is True
    assert answer["matched"] == "domain"
    assert answer["trust_level"] == "accredited"
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE"
    assert answer["permitted"] is True
    assert answer["organisation"]["id"] == world.council.org.id


def test_mailbox_entry_overrides_domain_wide_entry(directory: Directory, world: World) -> None:
    """alerts@ is a system mailbox: the domain-wide entry would allow OFFICIAL-SENSITIVE, the
    mailbox entry's role does not."""
    answer = directory.lookup.lookup("Alerts@Wessex.gov.uk", "OFFICIAL-SENSITIVE")
    assert answer["matched"] == "mailbox"
    assert answer["max_classification"] == "OFFICIAL"
    assert answer["permitted"] is False
    assert codes(answer)["OFFICIAL-SENSITIVE"] == {"recipient.role-not-allowed"}
    assert answer["organisation"]["recipient_name"] == "Alerts"


def test_mailbox_entry_overrides_an_exclusion(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("noreply@wessex.gov.uk")
    assert answer["known"] is True
    assert answer["matched"] == "mailbox"


def test_mailbox_only_domain_has_no_domain_wide_match(directory: Directory, world: World) -> None:
    assert directory.lookup.lookup("d.morgan@wessex.police.uk")["matched"] == "mailbox"
    other = directory.lookup.lookup("someone.else@wessex.police.uk")
    assert other["known"] is False
    assert codes(directory.lookup.lookup("someone.else@wessex.police.uk", detail=all_detail)) == {
        "OFFICIAL": {"recipient.unknown"},
        "OFFICIAL-SENSITIVE": {"recipient.unknown"},
        "SECRET": {"policy.secret-not-by-email"},
        "TOP SECRET": {"policy.secret-not-by-email"},
    }


def test_removed_mailbox_entry_stops_matching_at_once(directory: Directory, world: World) -> None:
    entry = directory.store.mailbox_entry("d.morgan@wessex.police.uk")
    assert entry is not None
    directory.registration.remove_recipient(ADMIN, entry.id)
    assert directory.lookup.lookup("d.morgan@wessex.police.uk")["known"] is False


@pytest.mark.parametrize(
    "address", ["do.not.reply@wessex.gov.uk", "DO.NOT.REPLY@WESSEX.GOV.UK", "x@unknown.example"]
)
def test_exclusions_and_unknowns_are_not_known(
    directory: Directory, world: World, address: str
) -> None:
    answer = directory.lookup.lookup(address, "OFFICIAL")
    assert answer["known"] is False
    assert answer["permitted"] is False
    assert answer["max_classification"] is None


def test_exclusion_reason_for_detail_callers(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("Do.Not.Reply@wessex.gov.uk", detail=all_detail)
    assert codes(answer)["OFFICIAL"] == {"recipient.excluded"}
    assert codes(answer)["OFFICIAL-SENSITIVE"] == {"recipient.excluded"}


def test_exclusion_applies_to_sub_addresses_where_stripped(
    directory: Directory, world: World
) -> None:
    # wessex.gov.uk strips "+": do.not.reply+x is do.not.reply, which is excluded.
    answer = directory.lookup.lookup("do.not.reply+x@wessex.gov.uk", detail=all_detail)
    assert codes(answer)["OFFICIAL"] == {"recipient.excluded"}


# --- sub-addressing -------------------------------------------------------------------------
def test_sub_address_stripped_where_the_domain_says_so(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("Alerts+Nightly@wessex.gov.uk")
    assert answer["matched"] == "mailbox"
    assert answer["max_classification"] == "OFFICIAL"  # the system mailbox, not domain-wide
    assert answer["address"] == "alerts+nightly@wessex.gov.uk"


def test_sub_address_kept_where_the_domain_has_no_separator(
    directory: Directory, world: World
) -> None:
    assert directory.lookup.lookup("d.morgan@wessex.police.uk")["known"] is True
    answer = directory.lookup.lookup("d.morgan+case@wessex.police.uk", detail=all_detail)
    assert answer["known"] is False
    assert codes(answer)["OFFICIAL"] == {"recipient.unknown"}


def test_hyphen_separator(directory: Directory, world: World) -> None:
    assert directory.lookup.lookup("j.smith-casework@hyphen.gov.uk")["matched"] == "mailbox"
    # "+" means nothing on this domain.
    assert directory.lookup.lookup("j.smith+casework@hyphen.gov.uk")["known"] is False


def test_sub_address_with_nothing_before_the_separator(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("+alerts@wessex.gov.uk")
    assert answer["matched"] == "domain"  # not the alerts@ mailbox


def test_a_registered_mailbox_with_the_separator_is_refused_or_matched(
    directory: Directory, world: World
) -> None:
    try:
        directory.registration.add_recipient(
            ADMIN, world.police.org.id, address="team+a@wessex.police.uk"
        )
        directory.registration.add_recipient(
            ADMIN, world.council.org.id, address="team+a@wessex.gov.uk", role="system"
        )
    except DirectoryError as exc:
        assert exc.kind is ErrorKind.MALFORMED
        return
    # Accepted: then it must be what a lookup of that address matches.
    answer = directory.lookup.lookup("team+a@wessex.gov.uk")
    assert answer["matched"] == "mailbox"


# --- non-disclosure -------------------------------------------------------------------------
UNTRUSTED = [
    "x@nowhere.example",  # domain not in the directory
    "nobody@wessex.police.uk",  # domain known, no entry
    "do.not.reply@wessex.gov.uk",  # excluded
    "a@pending.nhs.uk",  # organisation applied
    "a@anglebury.co.uk",  # organisation suspended
    "a@gone.gov.uk",  # organisation withdrawn
    "a@unverified.gov.uk",  # domain never verified
    "a@stale.gov.uk",  # domain verification out of date
]


@pytest.mark.parametrize("classification", [None, "OFFICIAL", "restricted", "TOP SECRET"])
def test_untrusted_answers_are_identical_without_detail_rights(
    directory: Directory, world: World, classification: str | None
) -> None:
    lookup_only = Principal("api-key:1 (gateway)", frozenset({"lookup"}))
    # An administrator of an organisation none of these addresses belongs to.
    other_admin = Principal("api-key:2", frozenset({f"org-admin:{world.hyphen.org.id}"}))
    rules = [no_detail, detail_rule(lookup_only), detail_rule(other_admin)]
    answers = [
        strip_volatile(directory.lookup.lookup(a, classification, detail=rule))
        for a in UNTRUSTED
        for rule in rules
    ]
    assert all(a == answers[0] for a in answers)
    first = answers[0]
    assert first["known"] is False
    assert first["organisation"] is None and first["matched"] is None
    assert {r["code"] for r in first["reasons"]} == {
        "recipient.not-verified",
        "policy.secret-not-by-email",
    }
    # ... and the same shape as a trusted answer.
    trusted = directory.lookup.lookup("d.morgan@wessex.police.uk", classification)
    assert set(trusted) == set(directory.lookup.lookup(UNTRUSTED[0], classification))


WHY = {
    "x@nowhere.example": "recipient.unknown",
    "nobody@wessex.police.uk": "recipient.unknown",
    "do.not.reply@wessex.gov.uk": "recipient.excluded",
    "a@pending.nhs.uk": "organisation.applied",
    "a@anglebury.co.uk": "organisation.suspended",
    "a@gone.gov.uk": "organisation.withdrawn",
    "a@unverified.gov.uk": "domain.unverified",
    "a@stale.gov.uk": "domain.verification-stale",
}


def test_directory_admins_see_why(directory: Directory, world: World) -> None:
    assert set(WHY) == set(UNTRUSTED)
    for address, code in WHY.items():
        for rule in (all_detail, detail_rule(ADMIN)):
            answer = directory.lookup.lookup(address, "OFFICIAL", detail=rule)
            assert answer["max_classification"] is None, address
            assert answer["permitted"] is False, address
            assert codes(answer) == {
                "OFFICIAL": {code},
                "OFFICIAL-SENSITIVE": {code},
                "SECRET": {"policy.secret-not-by-email"},
                "TOP SECRET": {"policy.secret-not-by-email"},
            }, address


def test_org_admin_sees_its_own_organisation_only(directory: Directory, world: World) -> None:
    pending_admin = detail_rule(
        Principal("api-key:3", frozenset({f"org-admin:{world.applied.org.id}"}))
    )
    own = directory.lookup.lookup("a@pending.nhs.uk", detail=pending_admin)
    assert codes(own)["OFFICIAL"] == {"organisation.applied"}
    assert own["organisation"]["id"] == world.applied.org.id
    assert own["trust_level"] == "none"
    other = directory.lookup.lookup("a@anglebury.co.uk", detail=pending_admin)
    assert codes(other)["OFFICIAL"] == {"recipient.not-verified"}
    assert other["organisation"] is None
    # An address in no organisation's domain: nobody's admin sees more than "not verified".
    nowhere = directory.lookup.lookup("x@nowhere.example", detail=pending_admin)
    assert codes(nowhere)["OFFICIAL"] == {"recipient.not-verified"}


# --- the answer -----------------------------------------------------------------------------
def test_answer_shape_has_exactly_the_designed_keys(directory: Directory, world: World) -> None:
    for address in ("d.morgan@wessex.police.uk", "anyone@wessex.gov.uk", "x@nowhere.example"):
        for classification in (None, "OFFICIAL"):
            answer = directory.lookup.lookup(address, classification)
            assert set(answer) == ANSWER_KEYS
            assert answer["policy"] == {
                "name": "uk-gsc",
                "digest": directory.policy.digest,
            }
            assert answer["policy"]["digest"].startswith("sha256:")
            assert answer["checked_at"] == "2026-12-07T09:00:00Z"
            for r in answer["reasons"]:
                assert set(r) == {"code", "classification", "message"}
                assert r["message"]


def test_known_answer_content(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("D.Morgan@Wessex.Police.UK", "official-sensitive personal")
    assert answer["address"] == "d.morgan@wessex.police.uk"
    assert answer["classification"] == "OFFICIAL-SENSITIVE"
    assert answer["permitted"] is True
    assert answer["organisation"] == {
        "id": world.police.org.id,
        "name": "Wessex Police",
        "sector": "police",
        "recipient_name": "D.Morgan",
    }
    assert answer["handling"] == {"transport": "tls-required", "encryption": "none"}
    assert answer["certificates"] == []
    assert [(r["classification"], r["code"]) for r in answer["reasons"]] == [
        ("SECRET", "policy.secret-not-by-email"),
        ("TOP SECRET", "policy.secret-not-by-email"),
    ]
    # An hour, unless something the answer rests on lapses sooner (posture: 8 days).
    assert answer["valid_until"] == "2026-12-07T10:00:00Z"


def test_classification_is_optional(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("d.morgan@wessex.police.uk")
    assert answer["classification"] is None
    assert answer["permitted"] is None
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE"
    unknown = directory.lookup.lookup("x@nowhere.example")
    assert unknown["permitted"] is None and unknown["classification"] is None


def test_secret_is_never_permitted(directory: Directory, world: World) -> None:
    answer = directory.lookup.lookup("d.morgan@wessex.police.uk", "CONFIDENTIAL")
    assert answer["classification"] == "SECRET"
    assert answer["permitted"] is False
    assert answer["handling"]["transport"] == "tls-preferred"


def test_unknown_classification_is_malformed(directory: Directory, world: World) -> None:
    with pytest.raises(DirectoryError) as caught:
        directory.lookup.lookup("d.morgan@wessex.police.uk", "HUSH-HUSH")
    assert caught.value.kind is ErrorKind.MALFORMED
    assert caught.value.extra["field"] == "classification"


@pytest.mark.parametrize("address", ["", "no-at-sign", "a@[127.0.0.1]", "a b@wessex.gov.uk"])
def test_malformed_address_is_a_client_error(directory: Directory, address: str) -> None:
    with pytest.raises(DirectoryError) as caught:
        directory.lookup.lookup(address)
    assert caught.value.kind is ErrorKind.MALFORMED


def test_idn_domain_matches_its_a_label(directory: Directory) -> None:
    register(directory, "Bücherei", "bücher.example", domain_wide=True)
    by_u = directory.lookup.lookup("leser@Bücher.example")
    by_a = directory.lookup.lookup("leser@xn--bcher-kva.example")
    assert by_u["known"] is True
    assert by_u == by_a


# --- batch lookups --------------------------------------------------------------------------
BATCH = [
    "d.morgan@wessex.police.uk",
    "anyone@wessex.gov.uk",
    "alerts+x@wessex.gov.uk",
    "do.not.reply@wessex.gov.uk",
    "a@pending.nhs.uk",
    "x@nowhere.example",
    "j.smith-x@hyphen.gov.uk",
    "d.morgan@wessex.police.uk",  # repeated
    "a@stale.gov.uk",
]


@pytest.mark.parametrize("classification", [None, "OFFICIAL-SENSITIVE"])
@pytest.mark.parametrize("rule", [no_detail, all_detail])
def test_batch_answers_equal_single_answers(
    directory: Directory, world: World, classification: str | None, rule: Any
) -> None:
    batch = directory.lookup.lookup_many(BATCH, classification, detail=rule)
    singles = [directory.lookup.lookup(a, classification, detail=rule) for a in BATCH]
    assert batch == singles
    known = [a["known"] for a in batch]
    if rule is no_detail:
        assert known == [True, True, True, False, False, False, True, True, False]
    else:  # the pending organisation and the stale domain are shown to a detail caller
        assert known == [True, True, True, False, True, False, True, True, True]


def test_empty_batch(directory: Directory) -> None:
    assert directory.lookup.lookup_many([]) == []


def test_batch_limit(directory: Directory, world: World, clock: FrozenClock) -> None:
    small = Lookup(directory.store, directory.policy, clock, refresh_seconds=0, batch_limit=3)
    assert len(small.lookup_many(BATCH[:3])) == 3
    with pytest.raises(DirectoryError) as caught:
        small.lookup_many(BATCH[:4])
    assert caught.value.kind is ErrorKind.MALFORMED
    assert caught.value.extra["field"] == "addresses"
    assert "3" in caught.value.detail and "4" in caught.value.detail


def test_default_batch_limit_is_refused_before_parsing(directory: Directory) -> None:
    limit = directory.settings.batch_limit
    with pytest.raises(DirectoryError) as caught:
        directory.lookup.lookup_many(["not an address"] * (limit + 1))
    assert caught.value.kind is ErrorKind.MALFORMED
    assert "invalid" not in caught.value.extra


def test_batch_with_malformed_addresses_lists_them_all(directory: Directory, world: World) -> None:
    addresses = ["d.morgan@wessex.police.uk", "nope", "x@nowhere.example", "a@[1.2.3.4]", ""]
    with pytest.raises(DirectoryError) as caught:
        directory.lookup.lookup_many(addresses)
    err = caught.value
    assert err.kind is ErrorKind.MALFORMED
    assert err.extra["field"] == "addresses"
    assert [p["index"] for p in err.extra["invalid"]] == [1, 3, 4]
    assert all(p["detail"] for p in err.extra["invalid"])
    assert "3 of 5" in err.detail


def test_a_fault_in_a_batch_is_not_a_malformed_address(
    directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a bad address is the caller's error: a bug or a store fault while reading addresses
    propagates as what it is (the gateway then defers, HTTP says 5xx)."""

    def broken(_raw: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("directory.lookup.normalise", broken)
    with pytest.raises(RuntimeError):
        directory.lookup.lookup_many(["j.smith@wessex.gov.uk", "x@example.org"])

    def unavailable(_raw: str) -> None:
        raise DirectoryError(ErrorKind.UNAVAILABLE, "the store cannot answer")

    monkeypatch.setattr("directory.lookup.normalise", unavailable)
    with pytest.raises(DirectoryError) as raised:
        directory.lookup.lookup_many(["j.smith@wessex.gov.uk"])
    assert raised.value.kind is ErrorKind.UNAVAILABLE


def test_batch_with_unknown_classification(directory: Directory, world: World) -> None:
    with pytest.raises(DirectoryError) as caught:
        directory.lookup.lookup_many(BATCH, "HUSH")
    assert caught.value.kind is ErrorKind.MALFORMED


def test_lookups_write_nothing(directory: Directory, world: World) -> None:
    before_audit = audit_length(directory)
    before_state = directory.store.state()
    directory.lookup.lookup_many(BATCH, "OFFICIAL", detail=all_detail)
    directory.lookup.lookup("d.morgan@wessex.police.uk", "OFFICIAL")
    with pytest.raises(DirectoryError):
        directory.lookup.lookup_many(["bad", *BATCH])
    assert audit_length(directory) == before_audit
    assert directory.store.state() == before_state
