"""Stable reason codes: part of the API. A code never changes meaning; new codes may be added.

Each reason says why one classification is refused: a machine code and one human sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

CODES: dict[str, str] = {
    # The address is not a verified recipient (all that callers without admin scope ever see).
    "recipient.not-verified": "The address is not a verified recipient in this directory.",
    # Details behind "not verified", shown to administrators of the organisation or directory.
    "recipient.unknown": "No entry in the directory matches the address.",
    "recipient.excluded": "The address is excluded from its domain's domain-wide entry.",
    "organisation.applied": "The organisation's application has not been approved.",
    "organisation.suspended": "The organisation is suspended.",
    "organisation.withdrawn": "The organisation has withdrawn from the directory.",
    "domain.unverified": "The domain's control has not been verified.",
    "domain.verification-stale": "The domain's verification is out of date.",
    # Trust below what the classification requires.
    "organisation.not-vetted": "The organisation's identity has not been vetted or sponsored.",
    "sponsorship.expired": "The organisation's sponsorship has expired.",
    "sponsorship.sponsor-inactive": "The organisation's sponsor is not active or not verified.",
    "sponsorship.capped-by-sponsor": "Trust is capped by the sponsor's own trust level.",
    "sponsorship.ceiling": "The classification is above the sponsorship's ceiling.",
    "accreditation.none-valid": "The organisation holds no accreditation that is valid now.",
    "accreditation.expired": "The organisation's accreditation has expired.",
    # Policy requirements.
    "policy.secret-not-by-email": "This classification is never sent by email through the "
    "directory.",
    "policy.lower-classification-refused": "A lower classification is already refused.",
    "organisation.sector-not-allowed": "The organisation's sector is not allowed at this "
    "classification.",
    "recipient.role-not-allowed": "The recipient's role is not allowed at this classification.",
    "recipient.mailbox-unverified": "The mailbox itself has not been verified.",
    "certificate.none-valid": "The recipient holds no valid, unrevoked S/MIME certificate.",
    "posture.unknown": "The domain's mail-security posture has not been checked.",
    "posture.stale": "The domain's mail-security posture check is out of date.",
    "posture.no-mail": "The domain does not accept mail (null MX or no mail host).",
    "posture.transport": "The domain's transport security is below what is required.",
    "posture.dmarc": "The domain's DMARC policy is weaker than required.",
    # Entries imported from federated directories (directory/federation).
    "federation.asserted-trust": "The federated directory that lists the recipient asserts a "
    "lower trust level.",
    "federation.capped-by-peer": "Trust is capped by the most this directory grants the "
    "federated directory that lists the recipient.",
    "federation.list-expired": "The federated directory's trust list that lists the recipient "
    "has expired.",
}


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    classification: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "classification": self.classification, "message": self.message}


def reason(code: str, classification: str, detail: str | None = None) -> Reason:
    base = CODES[code]
    return Reason(code, classification, f"{base[:-1]}: {detail}." if detail else base)
