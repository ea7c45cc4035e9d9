"""Table tests for the policy engine: derived trust, then the policy, classification by
classification. Every reason code in directory.reasons.CODES appears in a table here; the last
test of the module fails when a code has no case.

Pure cases build the model values directly and call directory.trust and directory.evaluation with
the shipped policies; the codes only the lookup gives (unknown, excluded, not verified) go
through a Directory and the registration API.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from directory.evaluation import (
    Delivery,
    Encryption,
    Evaluation,
    Handling,
    RecipientFacts,
    evaluate,
    handling,
)
from directory.lookup import all_detail, no_detail
from directory.model import (
    Accreditation,
    DmarcPolicy,
    Domain,
    Organisation,
    OrgStatus,
    Posture,
    RecordStatus,
    Sector,
    Sponsorship,
    TrustLevel,
)
from directory.policy import Policy, load_policy
from directory.reasons import CODES, reason
from directory.service import Directory
from directory.settings import REPO_CONFIG
from directory.trust import domain_trust, organisation_trust
from tests.conftest import START, FrozenClock
from tests.directory.federation.test_match import EXPIRED_CASES, FEDERATION_CASES
from tests.directory.test_lookup import codes, register

NOW = START
UK = load_policy(REPO_CONFIG / "policies" / "uk-gsc.toml", REPO_CONFIG / "schemes")
AU = load_policy(REPO_CONFIG / "policies" / "au-pspf.toml", REPO_CONFIG / "schemes")
SECRETS = {"SECRET": {"policy.secret-not-by-email"}, "TOP SECRET": {"policy.secret-not-by-email"}}


def days(n: float) -> timedelta:
    return timedelta(days=n)


# --- model builders -------------------------------------------------------------------------
def org(
    org_id: str = "org",
    *,
    status: OrgStatus = OrgStatus.ACTIVE,
    vetted: bool = True,
    sector: Sector = Sector.LOCAL_GOVERNMENT,
) -> Organisation:
    return Organisation(
        id=org_id,
        name=f"{org_id} name",
        sector=sector,
        status=status,
        identifiers={"other": org_id},
        vetted_at=NOW - days(100) if vetted else None,
        vetting_evidence="register" if vetted else None,
        review_required=None,
    )


def posture(
    *,
    age: float = 1,
    mx: bool = True,
    tls: bool = True,
    mta_sts: str | None = "enforce",
    dane: bool = False,
    dmarc: DmarcPolicy | None = DmarcPolicy.REJECT,
) -> Posture:
    return Posture(NOW - days(age), mx, tls, mta_sts, dane, dmarc, "manual")


GOOD_POSTURE = posture()


def domain(
    owner: str = "org",
    *,
    verified_age: float | None = 10,
    posture: Posture | None = GOOD_POSTURE,
) -> Domain:
    return Domain(
        id=f"{owner}-domain",
        organisation_id=owner,
        name=f"{owner}.gov.uk",
        verified_at=NOW - days(verified_age) if verified_age is not None else None,
        verification_method="manual" if verified_age is not None else None,
        verification_evidence=None,
        posture=posture,
        subaddress_separator=None,
    )


def accreditation(
    owner: str = "org",
    *,
    scheme: str = "psn-compliance",
    start: float = -100,
    end: float = 200,
    status: RecordStatus = RecordStatus.ACTIVE,
) -> Accreditation:
    return Accreditation(
        f"acc-{owner}-{scheme}-{start}", owner, scheme, "evidence", NOW + days(start),
        NOW + days(end), status,
    )  # fmt: skip


def sponsorship(
    sponsor: str = "sponsor",
    sponsored: str = "org",
    *,
    ceiling: str = "OFFICIAL-SENSITIVE",
    start: float = -10,
    end: float = 100,
    status: RecordStatus = RecordStatus.ACTIVE,
) -> Sponsorship:
    return Sponsorship(
        f"sp-{sponsor}-{ceiling}", sponsor, sponsored, "safeguarding", ceiling, NOW + days(start),
        NOW + days(end), status,
    )  # fmt: skip


PERSON = RecipientFacts("person", mailbox_verified=True, has_certificate=False)
SYSTEM = RecipientFacts("system", mailbox_verified=True, has_certificate=False)
DOMAIN_WIDE = RecipientFacts("domain", mailbox_verified=False, has_certificate=False)
POLICE_CERT = RecipientFacts("person", mailbox_verified=True, has_certificate=True)


@dataclass
class Case:
    id: str
    expect_trust: TrustLevel
    expect_max: str | None
    expect_reasons: Mapping[str, set[str]]  # classification -> codes (exactly)
    org: Organisation = field(default_factory=org)
    domain: Domain = field(default_factory=domain)
    facts: RecipientFacts = PERSON
    accreditations: Sequence[Accreditation] = (accreditation(),)
    sponsorships: Sequence[Sponsorship] = ()
    others: Sequence[Organisation] = ()
    policy: Policy = UK


def run(case: Case) -> Evaluation:
    accs: dict[str, list[Accreditation]] = {}
    for a in case.accreditations:
        accs.setdefault(a.organisation_id, []).append(a)
    orgs = {o.id: o for o in (case.org, *case.others)}
    trust = organisation_trust(case.org, accs, case.sponsorships, orgs, case.policy, NOW)
    trust = domain_trust(trust, case.domain, case.policy, NOW)
    return evaluate(case.policy, case.org, case.domain, trust, case.facts, NOW)


def reason_codes(evaluation: Evaluation) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in evaluation.reasons:
        out.setdefault(r.classification, set()).add(r.code)
    return out


def both(*codes: str) -> dict[str, set[str]]:
    return {"OFFICIAL": set(codes), "OFFICIAL-SENSITIVE": set(codes), **SECRETS}


def sensitive(*codes: str) -> dict[str, set[str]]:
    return {"OFFICIAL-SENSITIVE": set(codes), **SECRETS}


SPONSOR = org("sponsor")
SPONSOR_ACC = accreditation("sponsor")
CHARITY = org("org", vetted=False, sector=Sector.THIRD_SECTOR)
# OFFICIAL needs a verified mailbox; OFFICIAL-SENSITIVE, oddly, does not: a lower refusal
# must still stop the higher classification.
ODD = dataclasses.replace(
    UK,
    requirements=(
        dataclasses.replace(UK.requirements[0], mailbox_verified=True),
        dataclasses.replace(UK.requirements[1], mailbox_verified=False),
        *UK.requirements[2:],
    ),
)
AU_SECRETS = SECRETS  # the Australian scheme has SECRET and TOP SECRET too, never by email

CASES = [
    # --- the good path
    Case("accredited", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS),
    Case("domain-wide entry", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS,
         facts=DOMAIN_WIDE),
    Case("DANE instead of MTA-STS", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS,
         domain=domain(posture=posture(mta_sts=None, dane=True))),
    Case("DMARC quarantine is enough", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS,
         domain=domain(posture=posture(dmarc=DmarcPolicy.QUARANTINE))),
    Case("one valid accreditation among others", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE",
         SECRETS, accreditations=(accreditation(start=-400, end=-10),
                                  accreditation(scheme="iso-27001"))),
    # --- organisation status
    Case("applied", TrustLevel.NONE, None, both("organisation.applied"),
         org=org(status=OrgStatus.APPLIED)),
    Case("suspended", TrustLevel.NONE, None, both("organisation.suspended"),
         org=org(status=OrgStatus.SUSPENDED)),
    Case("withdrawn", TrustLevel.NONE, None, both("organisation.withdrawn"),
         org=org(status=OrgStatus.WITHDRAWN)),
    Case("suspended outranks an unverified domain", TrustLevel.NONE, None,
         both("organisation.suspended"), org=org(status=OrgStatus.SUSPENDED),
         domain=domain(verified_age=None)),
    # --- domain verification
    Case("domain unverified", TrustLevel.NONE, None, both("domain.unverified"),
         domain=domain(verified_age=None)),
    Case("domain verification stale", TrustLevel.NONE, None, both("domain.verification-stale"),
         domain=domain(verified_age=35)),
    Case("domain verification nearly stale", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE",
         SECRETS, domain=domain(verified_age=34.9)),
    Case("domain unverified and organisation not vetted", TrustLevel.NONE, None,
         both("domain.unverified", "organisation.not-vetted"), org=org(vetted=False),
         domain=domain(verified_age=None)),
    # --- vetting and accreditation
    Case("not vetted", TrustLevel.DOMAIN_VERIFIED, None, both("organisation.not-vetted"),
         org=org(vetted=False)),
    Case("not vetted, not accredited", TrustLevel.DOMAIN_VERIFIED, None,
         {"OFFICIAL": {"organisation.not-vetted"},
          "OFFICIAL-SENSITIVE": {"organisation.not-vetted", "accreditation.none-valid"},
          **SECRETS},
         org=org(vetted=False), accreditations=()),
    Case("no accreditation", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid"), accreditations=()),
    Case("accreditation expired", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.expired"), accreditations=(accreditation(end=-1),)),
    Case("accreditation expires this instant", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.expired"), accreditations=(accreditation(end=0),)),
    Case("accreditation not yet valid", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid"), accreditations=(accreditation(start=1),)),
    Case("accreditation scheme not in the policy", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid"),
         accreditations=(accreditation(scheme="gold-star"),)),
    Case("expired accreditation of a scheme not in the policy", TrustLevel.ORGANISATION_VERIFIED,
         "OFFICIAL", sensitive("accreditation.none-valid"),
         accreditations=(accreditation(scheme="gold-star", end=-1),)),
    Case("accreditation ended", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid"),
         accreditations=(accreditation(status=RecordStatus.REMOVED),)),
    Case("another organisation's accreditation", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid"), accreditations=(accreditation("someone"),)),
    # --- sponsorship
    Case("sponsored by an accredited sponsor", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE",
         SECRETS, org=CHARITY, sponsorships=(sponsorship(),), others=(SPONSOR,),
         accreditations=(accreditation(), SPONSOR_ACC)),
    Case("sponsored, not accredited", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid"), org=CHARITY, sponsorships=(sponsorship(),),
         others=(SPONSOR,), accreditations=(SPONSOR_ACC,)),
    Case("sponsorship ceiling", TrustLevel.ACCREDITED, "OFFICIAL",
         sensitive("sponsorship.ceiling"), org=CHARITY,
         sponsorships=(sponsorship(ceiling="PROTECT"),), others=(SPONSOR,),
         accreditations=(accreditation(), SPONSOR_ACC)),
    Case("capped by the sponsor's own level", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("sponsorship.capped-by-sponsor"), org=CHARITY,
         sponsorships=(sponsorship(),), others=(SPONSOR,), accreditations=(accreditation(),)),
    Case("capped and ceilinged", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("sponsorship.capped-by-sponsor", "sponsorship.ceiling"), org=CHARITY,
         sponsorships=(sponsorship(ceiling="OFFICIAL"),), others=(SPONSOR,),
         accreditations=(accreditation(),)),
    Case("sponsorship expired", TrustLevel.DOMAIN_VERIFIED, None,
         {"OFFICIAL": {"organisation.not-vetted", "sponsorship.expired"},
          "OFFICIAL-SENSITIVE": {"organisation.not-vetted", "sponsorship.expired"}, **SECRETS},
         org=CHARITY, sponsorships=(sponsorship(end=-1),), others=(SPONSOR,),
         accreditations=(accreditation(), SPONSOR_ACC)),
    Case("sponsor suspended", TrustLevel.DOMAIN_VERIFIED, None,
         both("organisation.not-vetted", "sponsorship.sponsor-inactive"), org=CHARITY,
         sponsorships=(sponsorship(),), others=(org("sponsor", status=OrgStatus.SUSPENDED),),
         accreditations=(accreditation(), SPONSOR_ACC)),
    Case("sponsor not vetted", TrustLevel.DOMAIN_VERIFIED, None,
         both("organisation.not-vetted", "sponsorship.sponsor-inactive"), org=CHARITY,
         sponsorships=(sponsorship(),), others=(org("sponsor", vetted=False),),
         accreditations=(accreditation(), SPONSOR_ACC)),
    Case("sponsor unknown", TrustLevel.DOMAIN_VERIFIED, None,
         both("organisation.not-vetted", "sponsorship.sponsor-inactive"), org=CHARITY,
         sponsorships=(sponsorship(),), accreditations=(accreditation(),)),
    Case("sponsorship ended", TrustLevel.DOMAIN_VERIFIED, None, both("organisation.not-vetted"),
         org=CHARITY, sponsorships=(sponsorship(status=RecordStatus.REMOVED),),
         others=(SPONSOR,), accreditations=(accreditation(), SPONSOR_ACC)),
    Case("an expired and a valid sponsorship", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE",
         SECRETS, org=CHARITY,
         sponsorships=(sponsorship(ceiling="OFFICIAL", end=-1), sponsorship()),
         others=(SPONSOR,), accreditations=(accreditation(), SPONSOR_ACC)),
    Case("a vetted organisation ignores its sponsorships", TrustLevel.ORGANISATION_VERIFIED,
         "OFFICIAL", sensitive("accreditation.none-valid"),
         sponsorships=(sponsorship(end=-1),), others=(SPONSOR,), accreditations=(SPONSOR_ACC,)),
    # --- posture
    Case("posture never checked", TrustLevel.ACCREDITED, "OFFICIAL",
         sensitive("posture.unknown"), domain=domain(posture=None)),
    Case("posture stale", TrustLevel.ACCREDITED, "OFFICIAL", sensitive("posture.stale"),
         domain=domain(posture=posture(age=8))),
    Case("stale and weak posture: stale says it all", TrustLevel.ACCREDITED, "OFFICIAL",
         sensitive("posture.stale"),
         domain=domain(posture=posture(age=9, mta_sts=None, dmarc=None))),
    Case("no mail", TrustLevel.ACCREDITED, None, both("posture.no-mail"),
         domain=domain(posture=posture(mx=False))),
    Case("STARTTLS only", TrustLevel.ACCREDITED, "OFFICIAL", sensitive("posture.transport"),
         domain=domain(posture=posture(mta_sts=None))),
    Case("MTA-STS testing", TrustLevel.ACCREDITED, "OFFICIAL", sensitive("posture.transport"),
         domain=domain(posture=posture(mta_sts="testing"))),
    Case("DMARC none", TrustLevel.ACCREDITED, "OFFICIAL", sensitive("posture.dmarc"),
         domain=domain(posture=posture(dmarc=DmarcPolicy.NONE))),
    Case("no DMARC record", TrustLevel.ACCREDITED, "OFFICIAL", sensitive("posture.dmarc"),
         domain=domain(posture=posture(dmarc=None))),
    Case("weak transport and DMARC", TrustLevel.ACCREDITED, "OFFICIAL",
         sensitive("posture.transport", "posture.dmarc"),
         domain=domain(posture=posture(tls=False, mta_sts=None, dmarc=None))),
    # --- recipient facts
    Case("system mailbox", TrustLevel.ACCREDITED, "OFFICIAL",
         sensitive("recipient.role-not-allowed"), facts=SYSTEM),
    Case("several refusals at once", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL",
         sensitive("accreditation.none-valid", "recipient.role-not-allowed", "posture.dmarc"),
         facts=SYSTEM, accreditations=(), domain=domain(posture=posture(dmarc=None))),
    Case("a lower refusal stops the higher", TrustLevel.ACCREDITED, None,
         {"OFFICIAL": {"recipient.mailbox-unverified"},
          "OFFICIAL-SENSITIVE": {"policy.lower-classification-refused"}, **SECRETS},
         facts=DOMAIN_WIDE, policy=ODD),
    # --- the Australian policy: sectors, mailbox verification, certificates, DANE
    Case("AU: local government at PROTECTED", TrustLevel.ACCREDITED, "OFFICIAL: Sensitive",
         {"PROTECTED": {"organisation.sector-not-allowed", "recipient.mailbox-unverified",
                        "certificate.none-valid", "posture.transport"}, **AU_SECRETS},
         facts=DOMAIN_WIDE, accreditations=(accreditation(scheme="irap"),), policy=AU),
    Case("AU: police with everything", TrustLevel.ACCREDITED, "PROTECTED", AU_SECRETS,
         org=org(sector=Sector.POLICE), facts=POLICE_CERT,
         domain=domain(posture=posture(dane=True)),
         accreditations=(accreditation(scheme="irap"),), policy=AU),
    Case("AU: not vetted still gets UNOFFICIAL and OFFICIAL", TrustLevel.DOMAIN_VERIFIED,
         "OFFICIAL",
         {"OFFICIAL: Sensitive": {"organisation.not-vetted"},
          "PROTECTED": {"organisation.not-vetted", "organisation.sector-not-allowed",
                        "certificate.none-valid", "posture.transport"}, **AU_SECRETS},
         org=org(vetted=False), accreditations=(accreditation(scheme="irap"),), policy=AU),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_policy_table(case: Case) -> None:
    evaluation = run(case)
    assert evaluation.trust.level is case.expect_trust
    max_name = evaluation.max_level.name if evaluation.max_level else None
    assert max_name == case.expect_max
    assert reason_codes(evaluation) == case.expect_reasons
    # Reasons cover exactly the classifications above max_classification, lowest first.
    refused = [r.level.name for r in case.policy.requirements][
        (evaluation.max_level.rank + 1) if evaluation.max_level else 0 :
    ]
    assert list(dict.fromkeys(r.classification for r in evaluation.reasons)) == refused
    for r in evaluation.reasons:
        assert r.message.startswith(CODES[r.code][:-1])


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


# --- details in messages --------------------------------------------------------------------
def test_reason_messages_carry_details() -> None:
    weak = posture(mta_sts="testing", dmarc=DmarcPolicy.NONE)
    case = Case("x", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL", {},
                accreditations=(accreditation(end=-5),), domain=domain(posture=weak))  # fmt: skip
    messages = {r.code: r.message for r in run(case).reasons}
    assert "psn-compliance expired on 2026-10-27" in messages["accreditation.expired"]
    assert "requires mta-sts-or-dane, has MTA-STS testing" in messages["posture.transport"]
    assert "requires quarantine, has none" in messages["posture.dmarc"]
    assert reason("posture.stale", "X").message == CODES["posture.stale"]
    assert reason("posture.stale", "X", "d").message.endswith(": d.")


# --- valid_until ----------------------------------------------------------------------------
def _valid_until(case: Case) -> datetime | None:
    return run(case).valid_until


def test_valid_until_is_the_earliest_lapse() -> None:
    # Posture checked 1 day ago lapses in 7 days; domain verified 10 days ago in 25; the
    # accreditation in 200.
    base = Case("x", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS)
    assert _valid_until(base) == NOW + days(7)


def test_valid_until_cut_short_by_accreditation_expiry() -> None:
    case = Case("x", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS,
                accreditations=(accreditation(end=2),))  # fmt: skip
    assert _valid_until(case) == NOW + days(2)


def test_valid_until_uses_the_last_of_several_valid_accreditations() -> None:
    accs = (accreditation(end=2), accreditation(scheme="dcb1596", end=3))
    case = Case("x", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS, accreditations=accs)
    assert _valid_until(case) == NOW + days(3)


def test_valid_until_cut_short_by_a_future_accreditation() -> None:
    case = Case("x", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL", {},
                accreditations=(accreditation(start=3, end=300),))  # fmt: skip
    assert _valid_until(case) == NOW + days(3)


def test_valid_until_cut_short_by_sponsorship_expiry() -> None:
    case = Case("x", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS, org=CHARITY,
                sponsorships=(sponsorship(end=1.5),), others=(SPONSOR,),
                accreditations=(accreditation(), SPONSOR_ACC))  # fmt: skip
    assert _valid_until(case) == NOW + days(1.5)


def test_valid_until_cut_short_by_domain_verification_age() -> None:
    case = Case("x", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS,
                domain=domain(verified_age=33))  # fmt: skip
    assert _valid_until(case) == NOW + days(2)


def test_valid_until_cut_short_by_posture_age() -> None:
    case = Case("x", TrustLevel.ACCREDITED, "OFFICIAL-SENSITIVE", SECRETS,
                domain=domain(posture=posture(age=7.5)))  # fmt: skip
    assert _valid_until(case) == NOW + days(0.5)


def test_posture_age_counts_even_when_the_level_needing_it_is_refused() -> None:
    # OFFICIAL-SENSITIVE is refused (no accreditation); when the posture goes stale its reasons
    # gain posture.stale, so the answer changes then: valid_until says so.
    case = Case("x", TrustLevel.ORGANISATION_VERIFIED, "OFFICIAL", {},
                accreditations=(), domain=domain(posture=posture(age=7.5)))  # fmt: skip
    assert _valid_until(case) == NOW + days(0.5)


def test_nothing_lapses_for_an_untrusted_recipient() -> None:
    case = Case("x", TrustLevel.NONE, None, {}, org=org(status=OrgStatus.SUSPENDED))
    assert _valid_until(case) is None


# --- handling -------------------------------------------------------------------------------
def test_handling() -> None:
    official, sens, secret, _ = UK.requirements
    dane = posture(mta_sts=None, dane=True)
    assert handling(None, None, False) == Handling(Delivery.TLS_PREFERRED, Encryption.NONE)
    assert handling(official, GOOD_POSTURE, True) == Handling(
        Delivery.TLS_PREFERRED, Encryption.SMIME_AVAILABLE
    )
    assert handling(sens, GOOD_POSTURE, False).transport == "tls-required"
    assert handling(sens, dane, False).transport == "dane-required"
    assert handling(secret, dane, True).transport == "tls-preferred"
    protected = AU.requirement(AU.scheme.resolve("PROTECTED"))
    assert handling(protected, dane, True) == Handling(
        Delivery.DANE_REQUIRED, Encryption.SMIME_REQUIRED
    )
    assert handling(protected, dane, False).encryption == "smime-unavailable"


# --- the codes only a lookup gives ----------------------------------------------------------
LOOKUP_CASES = [
    # (address, detail caller?, expected codes for OFFICIAL)
    ("x@nowhere.example", False, "recipient.not-verified"),
    ("x@nowhere.example", True, "recipient.unknown"),
    ("nobody@mailboxes.gov.uk", True, "recipient.unknown"),
    ("noreply@council.gov.uk", True, "recipient.excluded"),
    ("noreply@council.gov.uk", False, "recipient.not-verified"),
    ("a@pending.gov.uk", False, "recipient.not-verified"),
    ("a@pending.gov.uk", True, "organisation.applied"),
]


def test_lookup_table(directory: Directory, clock: FrozenClock) -> None:
    register(directory, "Council", "council.gov.uk", domain_wide=True, exclusions=["noreply"])
    register(directory, "Mailboxes", "mailboxes.gov.uk", mailboxes=[("a", "person", True)])
    register(directory, "Pending", "pending.gov.uk", status="applied", domain_wide=True)
    assert directory.lookup.lookup("someone@council.gov.uk")["max_classification"] == (
        "OFFICIAL-SENSITIVE"
    )
    for address, detailed, code in LOOKUP_CASES:
        answer = directory.lookup.lookup(address, detail=all_detail if detailed else no_detail)
        assert answer["max_classification"] is None, address
        assert codes(answer) == {
            "OFFICIAL": {code},
            "OFFICIAL-SENSITIVE": {code},
            "SECRET": {"policy.secret-not-by-email"},
            "TOP SECRET": {"policy.secret-not-by-email"},
        }, (address, detailed)


# --- every code has a case ------------------------------------------------------------------
def test_every_reason_code_is_exercised() -> None:
    exercised: set[str] = set()
    for case in CASES:
        for found in case.expect_reasons.values():
            exercised |= found
    exercised |= {code for _, _, code in LOOKUP_CASES}
    exercised |= {code for _, _, code in FEDERATION_CASES + EXPIRED_CASES}
    assert exercised == set(CODES)


@pytest.mark.parametrize(
    ("subject", "where"),
    [(org(status=OrgStatus.SUSPENDED), domain()), (org(), domain(verified_age=None))],
    ids=["suspended", "unverified domain"],
)
def test_untrusted_recipient_has_no_max_classification_under_min_trust_none(
    subject: Organisation, where: Domain
) -> None:
    case = Case("x", TrustLevel.NONE, None, {}, org=subject, domain=where,
                accreditations=(accreditation(scheme="irap"),), policy=AU)  # fmt: skip
    assert AU.requirements[0].min_trust is TrustLevel.NONE
    evaluation = run(case)
    assert evaluation.trust.level is TrustLevel.NONE
    assert evaluation.max_level is None
