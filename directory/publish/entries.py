"""What the published LDAP copy holds: entries built from lookup answers, and where they go.

Layout under the base DN (every DN value escaped with `escape_rdn`):

    ou=recipients   clearanceAddress=<address>    inetOrgPerson + clearanceRecipient
    ou=domains      associatedDomain=<domain>     clearanceDomain + clearanceRecipient
    ou=organisations clearanceOrganisationId=<id> organization + clearanceOrganisation
    cn=certification-authority                    applicationProcess + pkiCA

A recipient or domain entry is built only from an answer the lookup gives an unauthenticated
caller (`known` is true), so the published copy holds nothing such a caller could not learn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from ldap3.utils.dn import escape_rdn

from directory.answer import Answer, AnswerOrganisation, Matched
from directory.model import Organisation
from directory.policy import Policy
from directory.store.changes import DomainEntryFacts, MailboxFacts
from directory.trust import Trust

# Answers are computed with this validity window, so that an answer's valid_until is when its
# facts lapse (an accreditation, a sponsorship, posture age, a certificate), not the HTTP
# caching window. Anything at or beyond it is published without clearanceValidUntil.
HORIZON = timedelta(days=3650)
Value = str | bytes
Key = tuple[str, str]  # ("recipient", address) | ("domain", name) | ("organisation", id)

# What a recipient or domain entry says of its answer (the same attributes, in this order)
_ANSWER_ATTRIBUTES = (
    "clearanceVerified",
    "clearanceEntryKind",
    "clearanceOrganisationId",
    "clearanceMaxClassification",
    "clearanceTrustLevel",
    "clearanceSector",
    "clearanceValidUntil",
    "clearancePolicyName",
    "clearancePolicyDigest",
    "clearanceTransport",
)
RECIPIENT_ATTRIBUTES = (
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "o",
    *_ANSWER_ATTRIBUTES,
    "userSMIMECertificate",
    "userCertificate;binary",
)
DOMAIN_ATTRIBUTES = ("cn", "o", *_ANSWER_ATTRIBUTES, "clearanceExcludedLocalPart")
ORGANISATION_ATTRIBUTES = (
    "o",
    "clearanceVerified",
    "clearanceTrustLevel",
    "clearanceSector",
    "clearanceValidUntil",
    "clearancePolicyName",
    "clearancePolicyDigest",
)
CA_ATTRIBUTES = ("cACertificate;binary", "certificateRevocationList;binary")


@dataclass(frozen=True)
class Layout:
    base_dn: str

    @property
    def recipients(self) -> str:
        return f"ou=recipients,{self.base_dn}"

    @property
    def domains(self) -> str:
        return f"ou=domains,{self.base_dn}"

    @property
    def organisations(self) -> str:
        return f"ou=organisations,{self.base_dn}"

    @property
    def ca(self) -> str:
        return f"cn=certification-authority,{self.base_dn}"

    def dn(self, key: Key) -> str:
        kind, value = key
        if kind == "recipient":
            return f"clearanceAddress={escape_rdn(value)},{self.recipients}"
        if kind == "domain":
            return f"associatedDomain={escape_rdn(value)},{self.domains}"
        return f"clearanceOrganisationId={escape_rdn(value)},{self.organisations}"


@dataclass(frozen=True)
class Entry:
    key: Key
    dn: str
    object_classes: tuple[str, ...]
    rdn: tuple[str, str]  # the naming attribute and its value
    attributes: dict[str, list[Value]]  # every managed attribute; [] means absent
    digest: str  # of dn, classes and attributes (not of clearanceOverriddenLocalPart)
    overridden: frozenset[str] | None = None  # domain entries: local parts with own entries

    def for_add(self) -> dict[str, Any]:
        values: dict[str, Any] = {k: v for k, v in self.attributes.items() if v}
        values[self.rdn[0]] = self.rdn[1]
        values["clearanceEntryDigest"] = self.digest
        if self.overridden:
            values["clearanceOverriddenLocalPart"] = sorted(self.overridden)
        return values


def generalized_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _valid_until(answer: Answer, now: datetime) -> list[Value]:
    until = answer.valid_until
    return [] if until >= now + HORIZON - timedelta(days=1) else [generalized_time(until)]


def _digest(dn: str, classes: tuple[str, ...], attributes: dict[str, list[Value]]) -> str:
    parts = [dn.encode(), "\0".join(classes).encode()]
    for name in sorted(attributes):
        values = attributes[name]
        if not values:
            continue
        prefix = b"\x01" + name.encode() + b"\x02"
        if len(values) == 1:  # most are: skip the sort
            parts.append(prefix + _as_bytes(values[0]))
        else:
            parts.extend([prefix + v for v in sorted(map(_as_bytes, values))])
    return "sha256:" + hashlib.sha256(b"".join(parts)).hexdigest()


def _as_bytes(value: Value) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _one(value: str | None) -> list[Value]:
    return [value] if value else []


def _answer_attributes(
    answer: Answer, org: AnswerOrganisation, now: datetime
) -> dict[str, list[Value]]:
    verdict = answer.verdict
    top = verdict.max_classification
    handling = verdict.handling
    return {
        "o": _one(org.name),
        "clearanceVerified": ["TRUE"],
        "clearanceEntryKind": [verdict.matched.value if verdict.matched else ""],
        "clearanceOrganisationId": [org.id],
        "clearanceMaxClassification": _one(top.name if top is not None else None),
        "clearanceTrustLevel": [verdict.trust_level.label],
        "clearanceSector": [org.sector.value],
        "clearanceValidUntil": _valid_until(answer, now),
        "clearancePolicyName": [answer.policy_name],
        "clearancePolicyDigest": [answer.policy_digest],
        "clearanceTransport": _one(handling.transport.value if handling is not None else None),
    }


def recipient_entry(
    layout: Layout, answer: Answer, facts: MailboxFacts | None, now: datetime
) -> Entry | None:
    """The entry for a mailbox answer, or None when nothing may be published for it."""
    org = answer.verdict.organisation
    if not answer.verdict.known or answer.verdict.matched is not Matched.MAILBOX or org is None:
        return None
    address = answer.address
    local = address.rpartition("@")[0]
    display = facts.display_name if facts else None
    attributes = _answer_attributes(answer, org, now)
    ders = [c.der for c in answer.certificates]
    smime: list[Value] = []
    if ders:
        certs = [x509.load_der_x509_certificate(d) for d in ders]
        smime = [pkcs7.serialize_certificates(certs, Encoding.DER)]
    attributes.update(
        {
            "cn": [display or address],
            "sn": [(facts.surname if facts else None) or display or local],
            "givenName": _one(facts.given_name if facts else None),
            "displayName": _one(display),
            "mail": [address] if address.isascii() else [],
            "userSMIMECertificate": smime,
            "userCertificate;binary": list(ders),
        }
    )
    key = ("recipient", address)
    dn = layout.dn(key)
    classes = ("top", "person", "organizationalPerson", "inetOrgPerson", "clearanceRecipient")
    return Entry(
        key,
        dn,
        classes,
        ("clearanceAddress", address),
        attributes,
        _digest(dn, classes, attributes),
    )


def domain_entry(
    layout: Layout,
    answer: Answer,
    facts: DomainEntryFacts,
    overridden: set[str],
    now: datetime,
) -> Entry | None:
    org = answer.verdict.organisation
    if not answer.verdict.known or answer.verdict.matched is not Matched.DOMAIN or org is None:
        return None
    attributes = _answer_attributes(answer, org, now)
    attributes["cn"] = [f"every mailbox at {facts.domain}"]
    attributes["clearanceExcludedLocalPart"] = list(facts.exclusions)
    key = ("domain", facts.domain)
    dn = layout.dn(key)
    classes = ("top", "clearanceDomain", "clearanceRecipient")
    return Entry(
        key,
        dn,
        classes,
        ("associatedDomain", facts.domain),
        attributes,
        _digest(dn, classes, attributes),
        frozenset(overridden),
    )


def organisation_entry(
    layout: Layout, org: Organisation, trust: Trust, policy: Policy, now: datetime
) -> Entry | None:
    if trust.level.value == 0:
        return None
    until = trust.valid_until
    attributes: dict[str, list[Value]] = {
        "o": [org.name],
        "clearanceVerified": ["TRUE"],
        "clearanceTrustLevel": [trust.level.label],
        "clearanceSector": [org.sector.value],
        "clearanceValidUntil": [generalized_time(until)]
        if until is not None and until < now + HORIZON
        else [],
        "clearancePolicyName": [policy.name],
        "clearancePolicyDigest": [policy.digest],
    }
    key = ("organisation", org.id)
    dn = layout.dn(key)
    classes = ("top", "organization", "clearanceOrganisation")
    return Entry(
        key,
        dn,
        classes,
        ("clearanceOrganisationId", org.id),
        attributes,
        _digest(dn, classes, attributes),
    )


def key_of(attributes: dict[str, Any]) -> Key | None:
    """The key of a published entry, from its naming attribute as read back."""
    for name, kind in (
        ("clearanceAddress", "recipient"),
        ("associatedDomain", "domain"),
        ("clearanceOrganisationId", "organisation"),
    ):
        value = attributes.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if value:
            return (kind, str(value).lower() if kind != "organisation" else str(value))
    return None
