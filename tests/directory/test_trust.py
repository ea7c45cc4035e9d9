"""Derived trust: organisation status, vetting, accreditations valid now, sponsorship, and the
domain's verification freshness; and that it changes by the clock alone, without any write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from directory.lookup import all_detail
from directory.model import (
    Accreditation,
    Organisation,
    OrgStatus,
    RecordStatus,
    Sector,
    Sponsorship,
    TrustLevel,
)
from directory.service import Directory
from directory.trust import Trust, domain_trust, organisation_trust, own_trust
from tests.conftest import ADMIN, FrozenClock
from tests.directory.test_evaluation import (
    NOW,
    UK,
    accreditation,
    days,
    domain,
    org,
    sponsorship,
)
from tests.directory.test_lookup import audit_length, codes, register

SPONSOR = org("sponsor")
CHARITY = org("org", vetted=False, sector=Sector.THIRD_SECTOR)


def trust_of(
    subject: Organisation = CHARITY,
    accreditations: Sequence[Accreditation] = (),
    sponsorships: Sequence[Sponsorship] = (),
    others: Sequence[Organisation] = (SPONSOR,),
) -> Trust:
    accs: dict[str, list[Accreditation]] = {}
    for a in accreditations:
        accs.setdefault(a.organisation_id, []).append(a)
    orgs = {o.id: o for o in (subject, *others)}
    return organisation_trust(subject, accs, sponsorships, orgs, UK, NOW)


def finding_codes(trust: Trust) -> dict[str, TrustLevel]:
    return {f.code: f.blocks for f in trust.findings}


# --- own trust ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vetted", "accredited", "level"),
    [
        (False, False, TrustLevel.DOMAIN_VERIFIED),
        (False, True, TrustLevel.DOMAIN_VERIFIED),  # accreditation alone does not vet
        (True, False, TrustLevel.ORGANISATION_VERIFIED),
        (True, True, TrustLevel.ACCREDITED),
    ],
)
def test_own_trust_levels(vetted: bool, accredited: bool, level: TrustLevel) -> None:
    accs = [accreditation()] if accredited else []
    assert own_trust(org(vetted=vetted), accs, UK, NOW).level is level


@pytest.mark.parametrize("status", [OrgStatus.APPLIED, OrgStatus.SUSPENDED, OrgStatus.WITHDRAWN])
def test_inactive_organisations_have_no_trust(status: OrgStatus) -> None:
    trust = own_trust(org(status=status), [accreditation()], UK, NOW)
    assert trust.level is TrustLevel.NONE
    assert finding_codes(trust) == {f"organisation.{status.value}": TrustLevel.DOMAIN_VERIFIED}
    assert trust.valid_until is None


def test_findings_say_which_level_they_block() -> None:
    trust = own_trust(org(vetted=False), [accreditation(end=-3)], UK, NOW)
    assert finding_codes(trust) == {
        "organisation.not-vetted": TrustLevel.ORGANISATION_VERIFIED,
        "accreditation.expired": TrustLevel.ACCREDITED,
    }


def test_latest_expired_accreditation_is_named() -> None:
    trust = own_trust(
        org(), [accreditation(end=-30), accreditation(scheme="dcb1596", end=-2)], UK, NOW
    )
    (finding,) = trust.findings
    assert finding.detail == "dcb1596 expired on 2026-10-30"


# --- sponsorship ----------------------------------------------------------------------------
def test_sponsored_trust_carries_the_ceiling() -> None:
    trust = trust_of(
        accreditations=[accreditation("sponsor")], sponsorships=[sponsorship(ceiling="OFFICIAL")]
    )
    assert trust.level is TrustLevel.ORGANISATION_VERIFIED
    assert trust.ceiling is not None and trust.ceiling.name == "OFFICIAL"
    assert "organisation.not-vetted" not in finding_codes(trust)


def test_sponsored_trust_is_capped_by_the_sponsor() -> None:
    trust = trust_of(accreditations=[accreditation("org")], sponsorships=[sponsorship()])
    assert trust.level is TrustLevel.ORGANISATION_VERIFIED
    assert finding_codes(trust) == {"sponsorship.capped-by-sponsor": TrustLevel.ACCREDITED}
    (finding,) = trust.findings
    assert finding.detail == "sponsor is organisation-verified"


def test_sponsored_and_accredited_with_an_accredited_sponsor() -> None:
    trust = trust_of(
        accreditations=[accreditation("org"), accreditation("sponsor")],
        sponsorships=[sponsorship()],
    )
    assert trust.level is TrustLevel.ACCREDITED
    assert trust.findings == ()


def test_best_sponsorship_wins() -> None:
    """The sponsor with the higher trust, then the higher ceiling, is the one that counts."""
    strong = org("strong")
    weak = org("weak")
    trust = trust_of(
        others=(strong, weak),
        accreditations=[accreditation("org"), accreditation("strong")],
        sponsorships=[
            sponsorship("weak", ceiling="OFFICIAL-SENSITIVE"),
            sponsorship("strong", ceiling="OFFICIAL"),
            sponsorship("strong", ceiling="OFFICIAL-SENSITIVE"),
        ],
    )
    assert trust.level is TrustLevel.ACCREDITED
    assert trust.ceiling is not None and trust.ceiling.name == "OFFICIAL-SENSITIVE"


def test_sponsorship_not_yet_started_does_not_count() -> None:
    trust = trust_of(accreditations=[accreditation("sponsor")], sponsorships=[sponsorship(start=1)])
    assert trust.level is TrustLevel.DOMAIN_VERIFIED


def test_sponsorship_expiring_this_instant_has_expired() -> None:
    trust = trust_of(accreditations=[accreditation("sponsor")], sponsorships=[sponsorship(end=0)])
    assert trust.level is TrustLevel.DOMAIN_VERIFIED
    assert "sponsorship.expired" in finding_codes(trust)


def test_sponsorship_cannot_revive_an_inactive_organisation() -> None:
    suspended = org("org", vetted=False, status=OrgStatus.SUSPENDED)
    trust = trust_of(
        suspended, accreditations=[accreditation("sponsor")], sponsorships=[sponsorship()]
    )
    assert trust.level is TrustLevel.NONE
    assert finding_codes(trust) == {"organisation.suspended": TrustLevel.DOMAIN_VERIFIED}


def test_sponsor_trust_is_its_own_not_its_sponsors() -> None:
    """A sponsor that is itself only sponsored (not vetted) cannot sponsor."""
    grand = org("grand")
    middle = org("sponsor", vetted=False)
    trust = trust_of(
        others=(middle, grand),
        accreditations=[accreditation("grand")],
        sponsorships=[sponsorship()],
    )
    assert trust.level is TrustLevel.DOMAIN_VERIFIED
    assert "sponsorship.sponsor-inactive" in finding_codes(trust)


def test_sponsored_trust_lapses_with_the_sponsors_accreditation() -> None:
    trust = trust_of(
        accreditations=[accreditation("org", end=100), accreditation("sponsor", end=5)],
        sponsorships=[sponsorship(end=200)],
    )
    assert trust.level is TrustLevel.ACCREDITED
    assert trust.valid_until is not None
    assert trust.valid_until <= NOW + days(5)


def test_trust_is_re_derived_when_a_sponsorship_starts() -> None:
    trust = trust_of(accreditations=[accreditation("sponsor")], sponsorships=[sponsorship(start=2)])
    assert trust.level is TrustLevel.DOMAIN_VERIFIED
    assert trust.valid_until is not None
    assert trust.valid_until <= NOW + days(2)


# --- the domain -----------------------------------------------------------------------------
def test_domain_trust_needs_a_fresh_verification() -> None:
    own = own_trust(org(), [accreditation()], UK, NOW)
    fresh = domain_trust(own, domain(verified_age=1), UK, NOW)
    assert fresh.level is TrustLevel.ACCREDITED
    assert fresh.valid_until == NOW + days(34)
    stale = domain_trust(own, domain(verified_age=35), UK, NOW)
    assert stale.level is TrustLevel.NONE
    assert finding_codes(stale) == {"domain.verification-stale": TrustLevel.DOMAIN_VERIFIED}
    assert stale.findings[0].detail == "org.gov.uk last verified 2026-09-27"
    never = domain_trust(own, domain(verified_age=None), UK, NOW)
    assert never.level is TrustLevel.NONE
    assert finding_codes(never) == {"domain.unverified": TrustLevel.DOMAIN_VERIFIED}


def test_domain_trust_keeps_the_organisations_findings() -> None:
    own = own_trust(org(vetted=False), [], UK, NOW)
    trust = domain_trust(own, domain(verified_age=None), UK, NOW)
    assert set(finding_codes(trust)) == {
        "domain.unverified",
        "organisation.not-vetted",
        "accreditation.none-valid",
    }


# --- by the clock alone, through the directory ----------------------------------------------
def test_accreditation_expires_automatically(directory: Directory, clock: FrozenClock) -> None:
    register(directory, "Council", "council.gov.uk", domain_wide=True, accreditation_days=3)
    writes = audit_length(directory)
    answer = directory.lookup.lookup("a@council.gov.uk", "OFFICIAL-SENSITIVE")
    assert answer["permitted"] is True
    assert answer["valid_until"] == "2026-11-01T10:00:00Z"
    clock.advance(days=2, hours=23)
    assert directory.lookup.lookup("a@council.gov.uk")["valid_until"] == "2026-11-04T09:00:00Z"
    clock.advance(hours=1)
    answer = directory.lookup.lookup("a@council.gov.uk", "OFFICIAL-SENSITIVE", all_detail)
    assert answer["permitted"] is False
    assert answer["trust_level"] == "organisation-verified"
    assert answer["max_classification"] == "OFFICIAL"
    assert codes(answer)["OFFICIAL-SENSITIVE"] == {"accreditation.expired"}
    assert audit_length(directory) == writes  # nothing was written: the clock did it


def test_future_accreditation_starts_counting_automatically(
    directory: Directory, clock: FrozenClock
) -> None:
    reg = register(directory, "Council", "council.gov.uk", domain_wide=True, accreditation=None)
    directory.registration.add_accreditation(
        ADMIN, reg.org.id, "iso-27001", "cert", NOW + timedelta(days=1), NOW + timedelta(days=300)
    )
    assert directory.lookup.lookup("a@council.gov.uk")["max_classification"] == "OFFICIAL"
    clock.advance(days=1)
    assert directory.lookup.lookup("a@council.gov.uk")["max_classification"] == (
        "OFFICIAL-SENSITIVE"
    )


def test_domain_verification_goes_stale(directory: Directory, clock: FrozenClock) -> None:
    register(directory, "Council", "council.gov.uk", domain_wide=True)
    assert directory.lookup.lookup("a@council.gov.uk")["max_classification"] == (
        "OFFICIAL-SENSITIVE"
    )
    clock.advance(days=8)  # the posture check lapses first
    answer = directory.lookup.lookup("a@council.gov.uk", detail=all_detail)
    assert answer["max_classification"] == "OFFICIAL"
    assert codes(answer)["OFFICIAL-SENSITIVE"] == {"posture.stale"}
    clock.advance(days=27)  # 35 days after verification
    answer = directory.lookup.lookup("a@council.gov.uk", detail=all_detail)
    assert answer["trust_level"] == "none"
    assert codes(answer)["OFFICIAL"] == {"domain.verification-stale"}
    assert directory.lookup.lookup("a@council.gov.uk")["known"] is False


def test_re_verification_restores_trust(directory: Directory, clock: FrozenClock) -> None:
    reg = register(directory, "Council", "council.gov.uk", domain_wide=True)
    clock.advance(days=40)
    assert directory.lookup.lookup("a@council.gov.uk")["known"] is False
    assert reg.domain is not None
    directory.registration.record_domain_verification(ADMIN, reg.domain.id, "TXT seen again")
    directory.registration.record_posture(
        ADMIN, reg.domain.id, evidence="again", tls=True, mta_sts="enforce", dmarc="reject"
    )
    assert directory.lookup.lookup("a@council.gov.uk")["max_classification"] == (
        "OFFICIAL-SENSITIVE"
    )


def test_sponsorship_expires_automatically(directory: Directory, clock: FrozenClock) -> None:
    sponsor = register(directory, "Council", "council.gov.uk")
    charity = register(
        directory, "Young Carers", "carers.org.uk", sector="third-sector", vetted=False,
        accreditation=None, domain_wide=True,
    )  # fmt: skip
    directory.registration.add_sponsorship(
        ADMIN, sponsor.org.id, charity.org.id, "safeguarding", "OFFICIAL", NOW, NOW + days(2)
    )
    assert directory.lookup.lookup("a@carers.org.uk")["max_classification"] == "OFFICIAL"
    clock.advance(days=2)
    answer = directory.lookup.lookup("a@carers.org.uk", detail=all_detail)
    assert answer["max_classification"] is None
    assert codes(answer)["OFFICIAL"] == {"organisation.not-vetted", "sponsorship.expired"}


def test_suspended_sponsor_stops_counting_and_flags_review(directory: Directory) -> None:
    sponsor = register(directory, "Council", "council.gov.uk")
    charity = register(
        directory, "Young Carers", "carers.org.uk", sector="third-sector", vetted=False,
        accreditation="cyber-essentials-plus", domain_wide=True,
    )  # fmt: skip
    bystander = register(directory, "Bystander", "bystander.org.uk", vetted=False)
    r = directory.registration
    r.add_sponsorship(
        ADMIN, sponsor.org.id, charity.org.id, "safeguarding", "OFFICIAL-SENSITIVE", NOW,
        NOW + days(365),
    )  # fmt: skip
    answer = directory.lookup.lookup("a@carers.org.uk")
    assert answer["trust_level"] == "accredited"
    assert answer["max_classification"] == "OFFICIAL-SENSITIVE"
    assert r.organisation(ADMIN, charity.org.id).review_required is None

    r.set_status(ADMIN, sponsor.org.id, "suspended", "investigation")

    flagged = r.organisation(ADMIN, charity.org.id).review_required
    assert flagged is not None and "Council" in flagged and "suspended" in flagged
    assert r.organisation(ADMIN, bystander.org.id).review_required is None
    answer = directory.lookup.lookup("a@carers.org.uk", detail=all_detail)
    assert answer["trust_level"] == "domain-verified"
    assert answer["max_classification"] is None
    assert codes(answer)["OFFICIAL"] == {
        "organisation.not-vetted",
        "sponsorship.sponsor-inactive",
    }
    # Reinstating the sponsor restores the sponsorship; the review flag stays until cleared.
    r.set_status(ADMIN, sponsor.org.id, "active", "cleared")
    assert directory.lookup.lookup("a@carers.org.uk")["max_classification"] == (
        "OFFICIAL-SENSITIVE"
    )
    assert r.organisation(ADMIN, charity.org.id).review_required == flagged


def test_withdrawn_sponsor_flags_review(directory: Directory) -> None:
    sponsor = register(directory, "Council", "council.gov.uk")
    charity = register(
        directory, "Food Bank", "food.org.uk", sector="third-sector", vetted=False,
        accreditation=None, domain_wide=True,
    )  # fmt: skip
    r = directory.registration
    r.add_sponsorship(ADMIN, sponsor.org.id, charity.org.id, "p", "OFFICIAL", NOW, NOW + days(9))
    r.set_status(ADMIN, sponsor.org.id, "withdrawn", "left")
    assert "withdrawn" in (r.organisation(ADMIN, charity.org.id).review_required or "")
    assert directory.lookup.lookup("a@food.org.uk")["max_classification"] is None


def test_ended_sponsorship_stops_counting_and_flags_review(directory: Directory) -> None:
    sponsor = register(directory, "Council", "council.gov.uk")
    charity = register(
        directory, "Food Bank", "food.org.uk", sector="third-sector", vetted=False,
        accreditation=None, domain_wide=True,
    )  # fmt: skip
    r = directory.registration
    s = r.add_sponsorship(
        ADMIN, sponsor.org.id, charity.org.id, "p", "OFFICIAL", NOW, NOW + days(9)
    )
    assert directory.lookup.lookup("a@food.org.uk")["max_classification"] == "OFFICIAL"
    r.end_sponsorship(ADMIN, s.id)
    ended = directory.store.sponsorship(s.id)
    assert ended is not None and ended.status is RecordStatus.REMOVED
    assert r.organisation(ADMIN, charity.org.id).review_required
    assert directory.lookup.lookup("a@food.org.uk")["max_classification"] is None


def test_sponsor_accreditation_lapse_shows_without_a_write(
    directory: Directory, clock: FrozenClock
) -> None:
    sponsor = register(directory, "Council", "council.gov.uk", accreditation_days=5)
    charity = register(
        directory, "Young Carers", "carers.org.uk", sector="third-sector", vetted=False,
        accreditation="iso-27001", domain_wide=True,
    )  # fmt: skip
    directory.registration.add_sponsorship(
        ADMIN, sponsor.org.id, charity.org.id, "p", "OFFICIAL-SENSITIVE", NOW, NOW + days(30)
    )
    # Keep the posture fresh enough not to interfere: look again after 6 days (posture: 8).
    assert directory.lookup.lookup("a@carers.org.uk")["trust_level"] == "accredited"
    clock.advance(days=6)
    answer = directory.lookup.lookup("a@carers.org.uk", detail=all_detail)
    assert answer["trust_level"] == "organisation-verified"
    assert codes(answer)["OFFICIAL-SENSITIVE"] == {"sponsorship.capped-by-sponsor"}


def test_future_sponsorship_starts_counting_without_a_write(
    directory: Directory, clock: FrozenClock
) -> None:
    sponsor = register(directory, "Council", "council.gov.uk")
    charity = register(
        directory, "Young Carers", "carers.org.uk", sector="third-sector", vetted=False,
        accreditation=None, domain_wide=True,
    )  # fmt: skip
    directory.registration.add_sponsorship(
        ADMIN, sponsor.org.id, charity.org.id, "p", "OFFICIAL", NOW + days(1), NOW + days(30)
    )
    assert directory.lookup.lookup("a@carers.org.uk")["max_classification"] is None
    clock.advance(days=1)
    assert directory.lookup.lookup("a@carers.org.uk")["max_classification"] == "OFFICIAL"
