"""Policy evaluation, classification by classification.

Pure: given the derived trust, the domain's posture and the recipient's own facts, list the
reasons that refuse each classification. The highest classification such that it and every one
below it have no reason is `max_classification`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from directory.classification import Level
from directory.model import (
    DmarcPolicy,
    Domain,
    Organisation,
    Posture,
    Transport,
    TrustLevel,
)
from directory.policy import Policy, Requirement
from directory.reasons import Reason, reason
from directory.trust import Trust


class RecipientFacts(NamedTuple):
    """What evaluation needs of the matched entry; also the cache key for its result."""

    role: str  # person, shared, system, or "domain" for a domain-wide entry
    mailbox_verified: bool
    has_certificate: bool


@dataclass(frozen=True, slots=True)
class Evaluation:
    trust: Trust
    max_level: Level | None
    reasons: tuple[Reason, ...]  # for every classification above max_level
    valid_until: datetime | None


def evaluate(
    policy: Policy,
    org: Organisation,
    domain: Domain,
    trust: Trust,
    facts: RecipientFacts,
    now: datetime,
) -> Evaluation:
    reasons: list[Reason] = []
    max_level: Level | None = None
    blocked = False
    posture_expires: datetime | None = None
    for requirement in policy.requirements:
        level = requirement.level
        found = _refusals(policy, requirement, org, domain, trust, facts, now)
        if not found and blocked:
            found = [reason("policy.lower-classification-refused", level.name)]
        needs_posture = requirement.permitted and _needs_posture(requirement)
        if needs_posture and domain.posture is not None and trust.level > TrustLevel.NONE:
            # permitted or refused, the answer changes when the posture check goes stale
            posture_expires = domain.posture.checked_at + timedelta(
                days=policy.posture_max_age_days
            )
        if found:
            blocked = True
            reasons.extend(found)
        else:
            max_level = level
    valid_until = trust.valid_until
    if posture_expires is not None:
        valid_until = min(valid_until, posture_expires) if valid_until else posture_expires
    return Evaluation(trust, max_level, tuple(reasons), valid_until)


def _needs_posture(requirement: Requirement) -> bool:
    return requirement.transport is not Transport.NONE or requirement.dmarc > DmarcPolicy.NONE


def _refusals(
    policy: Policy,
    requirement: Requirement,
    org: Organisation,
    domain: Domain,
    trust: Trust,
    facts: RecipientFacts,
    now: datetime,
) -> list[Reason]:
    name = requirement.level.name
    if not requirement.permitted:
        return [reason("policy.secret-not-by-email", name)]
    found: list[Reason] = []
    # An untrusted recipient (inactive organisation, unverified domain) is never permitted
    # anything, even where a policy sets min_trust = "none".
    needed = max(requirement.min_trust, TrustLevel.DOMAIN_VERIFIED)
    if trust.level < needed:
        for finding in trust.findings:
            if trust.level < finding.blocks <= needed:
                found.append(reason(finding.code, name, finding.detail))
        if not found:  # never refuse without saying why
            found.append(reason("organisation.not-vetted", name, f"trust is {trust.level.label}"))
    if trust.level is TrustLevel.NONE:
        return found
    if trust.ceiling is not None and requirement.level.rank > trust.ceiling.rank:
        found.append(reason("sponsorship.ceiling", name, f"ceiling is {trust.ceiling.name}"))
    if requirement.sectors and org.sector not in requirement.sectors:
        found.append(reason("organisation.sector-not-allowed", name, org.sector.value))
    if requirement.roles and facts.role not in requirement.roles:
        found.append(reason("recipient.role-not-allowed", name, facts.role))
    if requirement.mailbox_verified and not facts.mailbox_verified:
        found.append(reason("recipient.mailbox-unverified", name))
    if requirement.certificate and not facts.has_certificate:
        found.append(reason("certificate.none-valid", name))
    found.extend(_posture_refusals(policy, requirement, domain.posture, now))
    return found


def _posture_refusals(
    policy: Policy, requirement: Requirement, posture: Posture | None, now: datetime
) -> list[Reason]:
    name = requirement.level.name
    if posture is not None and not posture.mx:
        return [reason("posture.no-mail", name)]
    if not _needs_posture(requirement):
        return []
    if posture is None:
        return [reason("posture.unknown", name)]
    if posture.checked_at + timedelta(days=policy.posture_max_age_days) <= now:
        detail = f"last checked {posture.checked_at.date().isoformat()}"
        return [reason("posture.stale", name, detail)]
    found: list[Reason] = []
    if not transport_meets(posture, requirement.transport):
        have = describe_transport(posture)
        found.append(
            reason("posture.transport", name, f"requires {requirement.transport.value}, has {have}")
        )
    have_dmarc = posture.dmarc if posture.dmarc is not None else None
    if requirement.dmarc > DmarcPolicy.NONE and (
        have_dmarc is None or have_dmarc < requirement.dmarc
    ):
        have_text = have_dmarc.label if have_dmarc is not None else "no DMARC record"
        found.append(
            reason("posture.dmarc", name, f"requires {requirement.dmarc.label}, has {have_text}")
        )
    return found


def transport_meets(posture: Posture, required: Transport) -> bool:
    enforce = posture.mta_sts == "enforce"
    match required:
        case Transport.NONE:
            return True
        case Transport.TLS:
            return posture.tls or enforce or posture.dane
        case Transport.MTA_STS_OR_DANE:
            return enforce or posture.dane
        case Transport.MTA_STS_ENFORCE:
            return enforce
        case Transport.DANE:
            return posture.dane
    return False


def describe_transport(posture: Posture) -> str:
    parts = []
    if posture.dane:
        parts.append("DANE")
    if posture.mta_sts:
        parts.append(f"MTA-STS {posture.mta_sts}")
    if posture.tls and not parts:
        parts.append("STARTTLS only")
    return " and ".join(parts) or "no transport security"


class Delivery(StrEnum):
    """How a gateway must deliver to the recipient (the answer's handling.transport)."""

    TLS_PREFERRED = "tls-preferred"
    TLS_REQUIRED = "tls-required"
    DANE_REQUIRED = "dane-required"


class Encryption(StrEnum):
    """Whether the message must, may or cannot be S/MIME-encrypted (handling.encryption)."""

    NONE = "none"
    SMIME_AVAILABLE = "smime-available"
    SMIME_REQUIRED = "smime-required"
    SMIME_UNAVAILABLE = "smime-unavailable"


@dataclass(frozen=True, slots=True)
class Handling:
    transport: Delivery
    encryption: Encryption


def handling(requirement: Requirement | None, posture: Posture | None, has_cert: bool) -> Handling:
    if requirement is None or not requirement.permitted or requirement.transport is Transport.NONE:
        transport = Delivery.TLS_PREFERRED
    elif requirement.transport in (Transport.DANE,) or (
        requirement.transport is Transport.MTA_STS_OR_DANE and posture is not None and posture.dane
    ):
        transport = Delivery.DANE_REQUIRED
    else:
        transport = Delivery.TLS_REQUIRED
    if requirement is not None and requirement.certificate:
        encryption = Encryption.SMIME_REQUIRED if has_cert else Encryption.SMIME_UNAVAILABLE
    else:
        encryption = Encryption.SMIME_AVAILABLE if has_cert else Encryption.NONE
    return Handling(transport, encryption)
