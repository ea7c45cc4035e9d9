"""The storage suite: every record type through Registration, on SQLite and on real PostgreSQL.

Each test takes `any_directory`, so it runs once per backend (hagrid's one-suite-per-store idea).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from directory.errors import ErrorKind
from directory.model import OrgStatus, RecipientKind, RecipientRole, RecordStatus, Sector
from directory.registration import NewMailbox
from directory.service import Directory
from directory.store import tables as t
from tests.conftest import ADMIN, FrozenClock
from tests.directory.store.conftest import fingerprint, refused, trusted_org, writes_nothing

CONFLICT, MALFORMED, NOT_FOUND = ErrorKind.CONFLICT, ErrorKind.MALFORMED, ErrorKind.NOT_FOUND


def raw(d: Directory, table: t.Table, key: str) -> dict:
    """A row read straight from the table, bypassing the model."""
    pk = next(iter(table.primary_key.columns))
    with d.store.engine.connect() as conn:
        return dict(conn.execute(select(table).where(pk == key)).mappings().one())


# --- organisations ------------------------------------------------------------------------


def test_organisation_round_trip(any_directory: Directory, clock: FrozenClock) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(
        ADMIN, "  Wessex County Council ", "local-government", {"gss": "E10000099", "urn": "12"}
    )
    assert org.name == "Wessex County Council"
    assert org.sector is Sector.LOCAL_GOVERNMENT
    assert org.status is OrgStatus.APPLIED
    assert org.identifiers == {"gss": "E10000099", "urn": "12"}
    assert org.vetted_at is None and org.review_required is None
    assert raw(d, t.organisations, org.id)["created_at"] == clock.now

    clock.advance(minutes=5)
    vetted = reg.vet_organisation(ADMIN, org.id, "GSS register, 2026-11-01")
    assert vetted.vetted_at == clock.now and vetted.vetted_at.tzinfo is not None
    assert vetted.vetting_evidence == "GSS register, 2026-11-01"
    renamed = reg.update_organisation(
        ADMIN, org.id, name="Wessex Council", identifiers={"ods": "RZZ"}
    )
    assert renamed.name == "Wessex Council" and renamed.identifiers == {"ods": "RZZ"}
    assert reg.organisation(ADMIN, org.id) == renamed
    assert [o.id for o in d.store.organisations()] == [org.id]


def test_organisation_status_transitions(any_directory: Directory) -> None:
    reg = any_directory.registration
    org = reg.create_organisation(ADMIN, "Budmouth Borough", "local-government")
    for status in ("active", "suspended", "active", "withdrawn"):
        org = reg.set_status(ADMIN, org.id, status, f"now {status}")
        assert org.status is OrgStatus(status)
        assert reg.organisation(ADMIN, org.id).status is OrgStatus(status)


ILLEGAL = [  # (the path taken from applied, a status it may not then become)
    ((), "suspended"),
    ((), "applied"),
    (("active",), "active"),
    (("active",), "applied"),
    (("active", "suspended"), "suspended"),
    (("withdrawn",), "active"),
    (("active", "withdrawn"), "suspended"),
    (("active", "suspended", "withdrawn"), "withdrawn"),
]


def test_illegal_status_transitions_conflict(any_directory: Directory) -> None:
    reg = any_directory.registration
    for n, (path, illegal) in enumerate(ILLEGAL):
        org = reg.create_organisation(ADMIN, f"Anglebury Cases {n}", "private-supplier")
        for status in path:
            reg.set_status(ADMIN, org.id, status, "step")
        detail = refused(
            any_directory, CONFLICT, reg.set_status, ADMIN, org.id, illegal, "not allowed"
        )
        current = (path or ("applied",))[-1]
        assert detail == f"an organisation that is {current} cannot become {illegal}"
        assert reg.organisation(ADMIN, org.id).status is OrgStatus(current)


def test_organisation_bad_input_writes_nothing(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Casterbridge", "local-government")
    refused(d, MALFORMED, reg.create_organisation, ADMIN, "X", "aerospace")
    refused(d, MALFORMED, reg.create_organisation, ADMIN, "   ", "health")
    refused(d, MALFORMED, reg.create_organisation, ADMIN, "a\x00b", "health")
    refused(d, MALFORMED, reg.create_organisation, ADMIN, "x" * 301, "health")
    refused(d, MALFORMED, reg.create_organisation, ADMIN, "X", "health", {"duns": "1"})
    refused(d, MALFORMED, reg.create_organisation, ADMIN, "X", "health", {"ods": " "})
    refused(d, MALFORMED, reg.update_organisation, ADMIN, org.id)
    refused(d, MALFORMED, reg.update_organisation, ADMIN, org.id, identifiers={"nope": "1"})
    refused(d, CONFLICT, reg.vet_organisation, ADMIN, org.id, "no identifiers to vet")
    refused(d, MALFORMED, reg.set_status, ADMIN, org.id, "dormant", "why")
    refused(d, MALFORMED, reg.set_status, ADMIN, org.id, "active", "")
    refused(d, NOT_FOUND, reg.set_status, ADMIN, "no-such-org", "active", "why")
    refused(d, NOT_FOUND, reg.update_organisation, ADMIN, "no-such-org", name="X")


# --- domains ------------------------------------------------------------------------------


def test_domain_claim_round_trip_and_idna(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Bücherei Trust", "third-sector")
    plain = reg.claim_domain(ADMIN, org.id, "Council.GOV.uk.", subaddress_separator="+")
    assert plain.name == "council.gov.uk" and plain.subaddress_separator == "+"
    idn = reg.claim_domain(ADMIN, org.id, "Bücher.Example.org")
    assert idn.name == "xn--bcher-kva.example.org"
    assert raw(d, t.domains, idn.id)["name"] == "xn--bcher-kva.example.org"
    assert d.store.domain_by_name("xn--bcher-kva.example.org") == idn
    assert reg.domain_named("bücher.example.org") == idn
    assert [x.name for x in d.store.domains(org.id)] == [
        "council.gov.uk",
        "xn--bcher-kva.example.org",
    ]
    assert idn.verified_at is None and idn.posture is None

    verified = reg.record_domain_verification(ADMIN, idn.id, "TXT seen")
    assert verified.verified_at == d.clock() and verified.verification_method == "manual"
    postured = reg.record_posture(
        ADMIN, idn.id, evidence="by hand", tls=True, mta_sts="enforce", dmarc="quarantine"
    )
    assert postured.posture is not None
    assert postured.posture.mta_sts == "enforce" and postured.posture.tls
    assert postured.posture.dmarc is not None and postured.posture.dmarc.label == "quarantine"
    assert postured.posture.checked_at == d.clock()


def test_domain_claimed_twice_conflicts(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    first = reg.create_organisation(ADMIN, "First", "health")
    second = reg.create_organisation(ADMIN, "Second", "health")
    reg.claim_domain(ADMIN, first.id, "xn--bcher-kva.example.org")
    refused(d, CONFLICT, reg.claim_domain, ADMIN, first.id, "bücher.example.org")
    refused(d, CONFLICT, reg.claim_domain, ADMIN, second.id, "BÜCHER.example.org")
    refused(d, MALFORMED, reg.claim_domain, ADMIN, second.id, "not a domain")
    refused(d, MALFORMED, reg.claim_domain, ADMIN, second.id, "localhost")
    refused(d, MALFORMED, reg.claim_domain, ADMIN, second.id, "ok.example", "#")
    refused(d, NOT_FOUND, reg.claim_domain, ADMIN, "no-such-org", "ok.example")
    reg.set_status(ADMIN, second.id, "withdrawn", "gone")
    refused(d, CONFLICT, reg.claim_domain, ADMIN, second.id, "ok.example")


def test_domain_removal_is_soft_and_frees_the_name(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Old Owner", "police")
    dom = reg.claim_domain(ADMIN, org.id, "wessex.police.uk")
    wide = reg.add_recipient(ADMIN, org.id, domain="wessex.police.uk")
    box = reg.add_recipient(ADMIN, org.id, address="duty@wessex.police.uk")
    reg.remove_domain(ADMIN, dom.id)

    assert raw(d, t.domains, dom.id)["status"] == "removed"
    assert raw(d, t.recipients, wide.id)["status"] == "removed"
    assert raw(d, t.recipients, box.id)["status"] == "removed"
    assert d.store.domain_by_name("wessex.police.uk") is None
    assert d.store.mailbox_entry("duty@wessex.police.uk") is None
    assert d.store.recipients(org.id) == []
    refused(d, NOT_FOUND, reg.remove_domain, ADMIN, dom.id)

    other = reg.create_organisation(ADMIN, "New Owner", "police")
    again = reg.claim_domain(ADMIN, other.id, "wessex.police.uk")
    assert again.id != dom.id and d.store.count(t.domains) == 2


# --- recipient entries ---------------------------------------------------------------------


def test_recipient_entries_round_trip(any_directory: Directory, clock: FrozenClock) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government")
    dom = reg.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    box = reg.add_recipient(
        ADMIN,
        org.id,
        address="J.Smith@Wessex.GOV.uk",
        role="person",
        display_name="Jo Smith",
        given_name="Jo",
        surname="Smith",
        mailbox_verified=True,
    )
    assert box.kind is RecipientKind.MAILBOX and box.address == "j.smith@wessex.gov.uk"
    assert (box.display_name, box.given_name, box.surname) == ("Jo Smith", "Jo", "Smith")
    assert box.role is RecipientRole.PERSON and box.domain_id == dom.id
    assert box.mailbox_verified_at == clock.now and box.exclusions == ()
    assert d.store.mailbox_entry("j.smith@wessex.gov.uk") == box

    team = reg.add_recipient(ADMIN, org.id, address="team@wessex.gov.uk", role="shared")
    assert team.role is RecipientRole.SHARED and team.mailbox_verified_at is None

    wide = reg.add_recipient(
        ADMIN, org.id, domain="WESSEX.gov.uk", exclusions=["NoReply", "alerts", "noreply"]
    )
    assert wide.kind is RecipientKind.DOMAIN and wide.address is None
    assert wide.exclusions == ("alerts", "noreply")
    assert d.store.domain_entry(dom.id) == wide

    clock.advance(hours=1)
    team = reg.update_recipient(ADMIN, team.id, role="system", mailbox_verified=True)
    assert team.role is RecipientRole.SYSTEM and team.mailbox_verified_at == clock.now
    team = reg.update_recipient(ADMIN, team.id, mailbox_verified=False, display_name="Team")
    assert team.mailbox_verified_at is None and team.display_name == "Team"
    wide = reg.update_recipient(ADMIN, wide.id, exclusions=["Bounce"])
    assert wide.exclusions == ("bounce",)
    assert {r.id for r in d.store.recipients(org.id)} == {box.id, team.id, wide.id}


def test_recipient_bad_input_writes_nothing(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government")
    other = reg.create_organisation(ADMIN, "Casterbridge CC", "local-government")
    reg.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    reg.claim_domain(ADMIN, other.id, "casterbridge.gov.uk")
    box = reg.add_recipient(ADMIN, org.id, address="j.smith@wessex.gov.uk")
    wide = reg.add_recipient(ADMIN, org.id, domain="wessex.gov.uk")

    add = reg.add_recipient
    refused(d, CONFLICT, add, ADMIN, org.id, address="j.smith@wessex.gov.uk")
    refused(d, CONFLICT, add, ADMIN, org.id, address="J.SMITH@WESSEX.GOV.UK")
    refused(d, CONFLICT, add, ADMIN, org.id, address='"j.smith"@Wessex.gov.uk.')
    reg.add_recipient(ADMIN, org.id, address="jos\u00e9@wessex.gov.uk")  # NFC
    refused(d, CONFLICT, add, ADMIN, org.id, address="jose\u0301@wessex.gov.uk")  # NFD
    refused(d, CONFLICT, add, ADMIN, org.id, domain="wessex.gov.uk")
    refused(d, CONFLICT, add, ADMIN, org.id, address="a.jones@casterbridge.gov.uk")
    refused(d, CONFLICT, add, ADMIN, org.id, domain="casterbridge.gov.uk")
    refused(d, CONFLICT, add, ADMIN, org.id, address="x@unclaimed.example")
    refused(d, MALFORMED, add, ADMIN, org.id)
    refused(d, MALFORMED, add, ADMIN, org.id, address="a@wessex.gov.uk", domain="wessex.gov.uk")
    refused(d, MALFORMED, add, ADMIN, org.id, address="not an address")
    refused(d, MALFORMED, add, ADMIN, org.id, address="b@wessex.gov.uk", role="boss")
    refused(d, MALFORMED, add, ADMIN, org.id, address="b@wessex.gov.uk", exclusions=["x"])
    refused(d, MALFORMED, add, ADMIN, other.id, domain="casterbridge.gov.uk", mailbox_verified=True)
    refused(d, MALFORMED, add, ADMIN, org.id, address="b@wessex.gov.uk", display_name="a\x07")
    refused(d, NOT_FOUND, add, ADMIN, "no-such-org", address="b@wessex.gov.uk")

    update = reg.update_recipient
    refused(d, MALFORMED, update, ADMIN, box.id)
    refused(d, MALFORMED, update, ADMIN, box.id, role="boss")
    refused(d, MALFORMED, update, ADMIN, box.id, exclusions=["x"])
    refused(d, MALFORMED, update, ADMIN, wide.id, role="person")
    refused(d, MALFORMED, update, ADMIN, wide.id, mailbox_verified=True)
    refused(d, NOT_FOUND, update, ADMIN, "no-such-recipient", role="person")


def test_recipient_removal_is_soft(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government")
    reg.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    box = reg.add_recipient(ADMIN, org.id, address="j.smith@wessex.gov.uk")
    reg.remove_recipient(ADMIN, box.id)

    assert raw(d, t.recipients, box.id)["status"] == "removed"
    assert d.store.recipient(box.id) is not None
    assert d.store.recipient(box.id).status is RecordStatus.REMOVED  # type: ignore[union-attr]
    assert d.store.mailbox_entry("j.smith@wessex.gov.uk") is None
    assert d.store.recipients(org.id) == []
    refused(d, NOT_FOUND, reg.remove_recipient, ADMIN, box.id)
    refused(d, NOT_FOUND, reg.update_recipient, ADMIN, box.id, role="shared")

    again = reg.add_recipient(ADMIN, org.id, address="j.smith@wessex.gov.uk")
    assert again.id != box.id and d.store.count(t.recipients) == 2


# --- accreditations and sponsorships -------------------------------------------------------


def test_accreditation_round_trip(any_directory: Directory, clock: FrozenClock) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Casterbridge Hospitals", "health")
    plus_one = timezone(timedelta(hours=1))
    start = datetime(2026, 1, 1, 12, 0, tzinfo=plus_one)
    end = datetime(2027, 6, 30, 23, 59, 59, 123456, tzinfo=UTC)
    acc = reg.add_accreditation(ADMIN, org.id, "dspt-standards-met", "DSPT 25/26", start, end)
    assert (acc.scheme, acc.evidence, acc.status) == (
        "dspt-standards-met",
        "DSPT 25/26",
        RecordStatus.ACTIVE,
    )
    assert acc.valid_from == start and acc.valid_from.utcoffset() == timedelta(0)
    assert acc.expires == end and acc.expires.tzinfo is not None
    assert acc.valid_at(clock.now)
    assert d.store.accreditations(org.id) == [acc]

    reg.end_accreditation(ADMIN, acc.id)
    ended = d.store.accreditation(acc.id)
    assert ended is not None and ended.status is RecordStatus.REMOVED
    assert not ended.valid_at(clock.now)
    refused(d, NOT_FOUND, reg.end_accreditation, ADMIN, acc.id)


def test_accreditation_bad_input_writes_nothing(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Casterbridge Hospitals", "health")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add = reg.add_accreditation
    refused(d, MALFORMED, add, ADMIN, org.id, "iso-27001", "e", start, start - timedelta(days=1))
    refused(d, MALFORMED, add, ADMIN, org.id, "iso-27001", "e", start, start)
    refused(d, MALFORMED, add, ADMIN, org.id, "iso-27001", "e", start.replace(tzinfo=None), start)
    refused(d, MALFORMED, add, ADMIN, org.id, "", "e", start, start + timedelta(days=1))
    refused(d, MALFORMED, add, ADMIN, org.id, "iso-27001", "", start, start + timedelta(days=1))
    refused(d, NOT_FOUND, add, ADMIN, "nope", "iso-27001", "e", start, start + timedelta(days=1))


def test_sponsorship_round_trip(any_directory: Directory, clock: FrozenClock) -> None:
    d, reg = any_directory, any_directory.registration
    sponsor = trusted_org(d, "Casterbridge City Council", "casterbridge.gov.uk").org
    charity = reg.create_organisation(ADMIN, "Young Carers", "third-sector", {"charity": "1"})
    start, end = clock.now - timedelta(days=1), clock.now + timedelta(days=365)
    sp = reg.add_sponsorship(
        ADMIN, sponsor.id, charity.id, "safeguarding referrals", "OFFICIAL-SENSITIVE", start, end
    )
    assert (sp.sponsor_id, sp.sponsored_id, sp.ceiling) == (
        sponsor.id,
        charity.id,
        "OFFICIAL-SENSITIVE",
    )
    assert sp.purpose == "safeguarding referrals" and sp.valid_at(clock.now)
    assert (sp.valid_from, sp.expires) == (start, end)
    assert d.store.sponsorships(sponsor_id=sponsor.id) == [sp]
    assert d.store.sponsorships(sponsored_id=charity.id) == [sp]

    # A suspended sponsor flags the organisations it sponsors for review.
    reg.set_status(ADMIN, sponsor.id, "suspended", "contract review")
    flagged = reg.organisation(ADMIN, charity.id).review_required
    assert flagged is not None and "Casterbridge City Council" in flagged
    reg.update_organisation(ADMIN, charity.id, clear_review=True)
    assert reg.organisation(ADMIN, charity.id).review_required is None

    reg.end_sponsorship(ADMIN, sp.id)
    ended = d.store.sponsorship(sp.id)
    assert ended is not None and ended.status is RecordStatus.REMOVED
    assert reg.organisation(ADMIN, charity.id).review_required == "its sponsorship was ended"
    refused(d, NOT_FOUND, reg.end_sponsorship, ADMIN, sp.id)


def test_sponsorship_bad_input_writes_nothing(any_directory: Directory, clock: FrozenClock) -> None:
    d, reg = any_directory, any_directory.registration
    sponsor = trusted_org(d, "Casterbridge City Council", "casterbridge.gov.uk").org
    applied = reg.create_organisation(ADMIN, "Not Yet", "local-government")
    charity = reg.create_organisation(ADMIN, "Young Carers", "third-sector")
    start, end = clock.now, clock.now + timedelta(days=30)
    add = reg.add_sponsorship
    refused(d, CONFLICT, add, ADMIN, applied.id, charity.id, "p", "OFFICIAL", start, end)
    refused(d, MALFORMED, add, ADMIN, sponsor.id, sponsor.id, "p", "OFFICIAL", start, end)
    refused(d, MALFORMED, add, ADMIN, sponsor.id, charity.id, "p", "SECRET", start, end)
    refused(d, MALFORMED, add, ADMIN, sponsor.id, charity.id, "p", "OFFICIAL", end, start)
    refused(d, MALFORMED, add, ADMIN, sponsor.id, charity.id, "", "OFFICIAL", start, end)
    refused(d, NOT_FOUND, add, ADMIN, sponsor.id, "nope", "p", "OFFICIAL", start, end)


# --- API keys -----------------------------------------------------------------------------


def test_api_key_secret_shown_once_and_only_its_hash_stored(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government")
    key, secret = reg.create_api_key(ADMIN, "gateway", ["lookup", f"org-admin:{org.id}", "lookup"])
    assert secret.startswith("clr_") and len(secret) > 30
    assert key.scopes == tuple(sorted(["lookup", f"org-admin:{org.id}"]))
    assert key.name == "gateway" and key.revoked_at is None and key.created_at == d.clock()
    assert not hasattr(key, "secret") and secret not in repr(key)

    stored = raw(d, t.api_keys, key.id)
    assert stored["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert stored["created_by"] == ADMIN.name
    assert all(secret not in str(value) for value in stored.values())
    with d.store.engine.connect() as conn:
        dumped = [str(tuple(r)) for r in conn.execute(select(t.api_keys))]
        dumped += [str(tuple(r)) for r in conn.execute(select(t.audit_log))]
        suffix = secret[len("clr_") :]
        hits = conn.execute(
            text("SELECT count(*) FROM api_keys WHERE key_hash = :s OR name = :s"), {"s": secret}
        ).scalar_one()
    assert hits == 0
    assert not any(secret in row or suffix in row for row in dumped)
    for entry in d.store.audit_entries(entity_id=key.id):
        assert entry.after is not None and "key_hash" not in entry.after
        assert entry.before is None or "key_hash" not in entry.before

    principal = d.authenticate(secret)
    assert principal.scopes == frozenset(key.scopes)
    reg.revoke_api_key(ADMIN, key.id)
    assert raw(d, t.api_keys, key.id)["revoked_at"] == d.clock()
    refused(d, ErrorKind.UNAUTHENTICATED, d.authenticate, secret)
    revoked = d.store.audit_entries(entity_id=key.id)[-1]
    assert revoked.action == "api-key.revoke" and revoked.before is not None
    assert "key_hash" not in revoked.before and revoked.after is not None
    assert revoked.after["revoked_at"] is not None
    refused(d, NOT_FOUND, reg.revoke_api_key, ADMIN, key.id)
    refused(d, MALFORMED, reg.create_api_key, ADMIN, "k", [])
    refused(d, MALFORMED, reg.create_api_key, ADMIN, "k", ["root"])
    refused(d, MALFORMED, reg.create_api_key, ADMIN, "", ["lookup"])
    missing = "org-admin:00000000-0000-0000-0000-000000000000"
    refused(d, NOT_FOUND, reg.create_api_key, ADMIN, "k", [missing])


# --- the store itself ----------------------------------------------------------------------


def test_integrity_error_in_a_write_is_a_conflict_and_rolls_back(
    any_directory: Directory,
) -> None:
    """A race the pre-checks miss is caught by the partial unique index, and undone whole."""
    d = any_directory
    org = d.registration.create_organisation(ADMIN, "Wessex CC", "local-government")
    dom = d.registration.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    row = {**raw(d, t.domains, dom.id), "id": "11111111-1111-1111-1111-111111111111"}
    del row["change_seq"]

    def duplicate() -> None:
        with d.store.write("test:race", d.clock()) as w:
            w.insert(t.organisations, {**raw(d, t.organisations, org.id), "id": "o2"}, "x")
            w.insert(t.domains, row, "domain.claim")

    detail = refused(d, CONFLICT, duplicate)
    assert "conflicts with an existing record" in detail


def test_fingerprint_sees_every_write(any_directory: Directory) -> None:
    """The helper behind the 'writes nothing' checks is not blind."""
    d = any_directory
    before = fingerprint(d)
    d.registration.create_organisation(ADMIN, "Wessex CC", "local-government")
    after = fingerprint(d)
    assert after != before
    assert after["counts"]["organisations"] == before["counts"]["organisations"] + 1
    with pytest.raises(AssertionError), writes_nothing(d):
        d.registration.create_organisation(ADMIN, "Another", "health")


def test_bulk_mailboxes_are_all_or_nothing(any_directory: Directory) -> None:
    d, reg = any_directory, any_directory.registration
    org = reg.create_organisation(ADMIN, "Wessex CC", "local-government")
    reg.claim_domain(ADMIN, org.id, "wessex.gov.uk")
    reg.add_recipient(ADMIN, org.id, address="taken@wessex.gov.uk")
    batch = [NewMailbox(f"User.{i}@Wessex.gov.uk", display_name=f"U{i}") for i in range(5)]
    bulk = reg.add_mailboxes
    refused(d, CONFLICT, bulk, ADMIN, org.id, [*batch, NewMailbox("TAKEN@wessex.gov.uk")])
    refused(d, CONFLICT, bulk, ADMIN, org.id, [*batch, NewMailbox("user.0@wessex.gov.uk")])
    refused(d, CONFLICT, bulk, ADMIN, org.id, [*batch, NewMailbox("x@elsewhere.example")])
    refused(d, MALFORMED, bulk, ADMIN, org.id, [*batch, NewMailbox("y@wessex.gov.uk", role="x")])
    refused(d, MALFORMED, bulk, ADMIN, org.id, [*batch, NewMailbox("not an address")])

    before, audit = d.store.state(), d.store.count(t.audit_log)
    assert bulk(ADMIN, org.id, batch) == 5
    after = d.store.state()
    assert after.seq == before.seq + 1 and after.register_seq == before.register_seq
    assert d.store.count(t.audit_log) == audit + 5
    entry = d.store.mailbox_entry("user.3@wessex.gov.uk")
    assert entry is not None and entry.display_name == "U3" and entry.change_seq == after.seq
