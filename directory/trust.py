"""Trust levels are derived, never typed in: organisation status, vetting, sponsorship,
accreditations valid now, and the domain's verification freshness.

The result carries findings: for each trust level not reached, the reasons why, so that an
administrator sees what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from directory.classification import Level
from directory.model import (
    Accreditation,
    Domain,
    Organisation,
    OrgStatus,
    RecordStatus,
    Sponsorship,
    TrustLevel,
)
from directory.policy import Policy


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # a reason code (directory.reasons)
    detail: str | None
    blocks: TrustLevel  # the trust level this finding keeps the recipient from reaching


@dataclass(frozen=True, slots=True)
class Trust:
    level: TrustLevel
    ceiling: Level | None  # sponsorship ceiling, when trust rests on a sponsorship
    findings: tuple[Finding, ...]
    valid_until: datetime | None  # when this derivation may change by the clock alone


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def own_trust(
    org: Organisation, accreditations: Iterable[Accreditation], policy: Policy, now: datetime
) -> Trust:
    """An organisation's trust in its own right: status, vetting and accreditations."""
    findings: list[Finding] = []
    if org.status is not OrgStatus.ACTIVE:
        code = f"organisation.{org.status.value}"
        return Trust(
            TrustLevel.NONE, None, (Finding(code, None, TrustLevel.DOMAIN_VERIFIED),), None
        )
    level = TrustLevel.DOMAIN_VERIFIED  # the domain decides whether even this holds
    valid_until: datetime | None = None
    if org.vetted_at is not None:
        level = TrustLevel.ORGANISATION_VERIFIED
    else:
        findings.append(Finding("organisation.not-vetted", None, TrustLevel.ORGANISATION_VERIFIED))
    counted = [a for a in accreditations if a.scheme in policy.accreditation_schemes]
    valid = [a for a in counted if a.valid_at(now)]
    if valid:
        if level is TrustLevel.ORGANISATION_VERIFIED:
            level = TrustLevel.ACCREDITED
        valid_until = max(a.expires for a in valid)
    else:
        expired = [a for a in counted if a.expires <= now]
        if expired:
            last = max(expired, key=lambda a: a.expires)
            detail = f"{last.scheme} expired on {last.expires.date().isoformat()}"
            findings.append(Finding("accreditation.expired", detail, TrustLevel.ACCREDITED))
        else:
            findings.append(Finding("accreditation.none-valid", None, TrustLevel.ACCREDITED))
        future = [a.valid_from for a in counted if a.valid_from > now]
        valid_until = min(future) if future else None
    return Trust(level, None, tuple(findings), valid_until)


def organisation_trust(
    org: Organisation,
    accreditations: Mapping[str, list[Accreditation]],
    sponsorships: Iterable[Sponsorship],
    organisations: Mapping[str, Organisation],
    policy: Policy,
    now: datetime,
) -> Trust:
    """Own trust, or trust through a sponsorship (capped by the sponsor and the ceiling)."""
    own = own_trust(org, accreditations.get(org.id, []), policy, now)
    if own.level is TrustLevel.NONE or org.vetted_at is not None:
        return own
    best: tuple[TrustLevel, Level, Sponsorship, Trust] | None = None
    # A sponsorship that starts later changes trust then, without any write.
    starts = min(
        (
            s.valid_from
            for s in sponsorships
            if s.status is RecordStatus.ACTIVE and s.valid_from > now
        ),
        default=None,
    )
    problems: list[Finding] = []
    for sponsorship in sponsorships:
        ceiling = policy.scheme.find(sponsorship.ceiling)
        sponsor = organisations.get(sponsorship.sponsor_id)
        if sponsorship.expires <= now:
            detail = (
                f"sponsorship by {sponsor.name if sponsor else sponsorship.sponsor_id} "
                f"expired on {sponsorship.expires.date().isoformat()}"
            )
            problems.append(
                Finding("sponsorship.expired", detail, TrustLevel.ORGANISATION_VERIFIED)
            )
            continue
        if not sponsorship.valid_at(now) or ceiling is None:
            continue
        sponsor_trust = (
            own_trust(sponsor, accreditations.get(sponsor.id, []), policy, now)
            if sponsor is not None
            else None
        )
        if sponsor_trust is None or sponsor_trust.level < TrustLevel.ORGANISATION_VERIFIED:
            name = sponsor.name if sponsor else sponsorship.sponsor_id
            problems.append(
                Finding("sponsorship.sponsor-inactive", name, TrustLevel.ORGANISATION_VERIFIED)
            )
            continue
        candidate = (sponsor_trust.level, ceiling, sponsorship, sponsor_trust)
        if best is None or (candidate[0], candidate[1].rank) > (best[0], best[1].rank):
            best = candidate
    if best is None:
        return Trust(
            own.level, None, (*own.findings, *problems), _earliest(own.valid_until, starts)
        )
    sponsor_level, ceiling, sponsorship, sponsor_trust = best
    # Sponsored: organisation-verified, accredited only if its own accreditation holds, and never
    # above the sponsor's own level.
    level = TrustLevel.ORGANISATION_VERIFIED
    findings = [f for f in own.findings if f.code != "organisation.not-vetted"]
    has_accreditation = not any(f.blocks is TrustLevel.ACCREDITED for f in own.findings)
    if has_accreditation:
        level = TrustLevel.ACCREDITED
    if level > sponsor_level:
        level = sponsor_level
        findings.append(
            Finding(
                "sponsorship.capped-by-sponsor",
                f"sponsor is {sponsor_level.label}",
                TrustLevel(sponsor_level + 1),
            )
        )
    # Trust through the sponsor lapses with the sponsor's own (its accreditation expiring).
    until = _earliest(own.valid_until, sponsorship.expires, sponsor_trust.valid_until, starts)
    return Trust(level, ceiling, tuple(findings), until)


def domain_trust(org_trust: Trust, domain: Domain, policy: Policy, now: datetime) -> Trust:
    """The recipient's trust: the organisation's, provided the domain's verification is fresh."""
    if org_trust.level is TrustLevel.NONE:
        return org_trust
    if domain.verified_at is None:
        finding = Finding("domain.unverified", domain.name, TrustLevel.DOMAIN_VERIFIED)
        return Trust(TrustLevel.NONE, None, (finding, *org_trust.findings), org_trust.valid_until)
    expires = domain.verified_at + timedelta(days=policy.domain_verification_max_age_days)
    if expires <= now:
        detail = f"{domain.name} last verified {domain.verified_at.date().isoformat()}"
        finding = Finding("domain.verification-stale", detail, TrustLevel.DOMAIN_VERIFIED)
        return Trust(TrustLevel.NONE, None, (finding, *org_trust.findings), org_trust.valid_until)
    return Trust(
        org_trust.level,
        org_trust.ceiling,
        org_trust.findings,
        _earliest(org_trust.valid_until, expires),
    )
