"""Domain-control challenges: TXT `token=<base32> expiry=<RFC 3339>` at _clearance-challenge.<d>.

The token is 160 random bits in base32 (RFC 4648, no padding). The challenge name may be
delegated by CNAME (followed, loops refused); a record's several strings are concatenated.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from directory.verification.dnssec import Security, Validator
from directory.verification.findings import Finding, finding
from directory.verification.resolver import CnameLoop, DnsClient

PREFIX = "_clearance-challenge"
TOKEN_BYTES = 20  # 160 bits (at least 128 are required)
RECORD = re.compile(r"^token=([A-Z2-7]{26,103})\s+expiry=(\S+)$")


def challenge_name(domain: str) -> str:
    return f"{PREFIX}.{domain}"


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii").rstrip("=")


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def record_text(token: str, expires: datetime) -> str:
    return f"token={token} expiry={rfc3339(expires)}"


def expiry_for(now: datetime, days: int) -> datetime:
    return (now + timedelta(days=days)).replace(microsecond=0)


@dataclass
class ChallengeResult:
    domain: str
    name: str
    checked_at: datetime
    verified: bool = False
    temporary_failure: bool = False
    seen: list[str] = field(default_factory=list)  # TXT texts at the end of the chain
    chain: list[str] = field(default_factory=list)  # CNAME targets followed
    findings: list[Finding] = field(default_factory=list)
    dnssec: str | None = None  # secure, insecure or bogus, when validated

    def evidence(self) -> str:
        via = f" via CNAME {' -> '.join(self.chain)}" if self.chain else ""
        seen = "; ".join(self.seen) if self.seen else "no TXT record"
        codes = ", ".join(f.code for f in self.findings)
        return f"DNS TXT {self.name}{via} at {rfc3339(self.checked_at)}: {seen} [{codes}]"[:2000]

    def as_dict(self) -> dict[str, Any]:
        status = (
            "temporary-failure"
            if self.temporary_failure
            else ("verified" if self.verified else "not-verified")
        )
        return {
            "domain": self.domain,
            "name": self.name,
            "checked_at": rfc3339(self.checked_at),
            "status": status,
            "seen": self.seen,
            "cname_chain": self.chain,
            "dnssec": self.dnssec,
            "findings": [f.as_dict() for f in self.findings],
        }


async def check_challenge(
    client: DnsClient,
    domain: str,
    token: str | None,
    issued_expiry: datetime | None,
    now: datetime,
    *,
    initial: bool,
    validator: Validator | None = None,
) -> ChallengeResult:
    """Does _clearance-challenge.<domain> carry our token?

    With a `validator`, the TXT RRset is DNSSEC-validated (S/MIME BR v1.0.16, ballot SMC014):
    a bogus answer does not count (`challenge.dnssec-bogus`); a secure one is noted
    (`challenge.dnssec-secure`); an unsigned one counts, as for an unsigned zone (the validator
    does not prove a zone unsigned by authenticated denial, so a stripped signature reads as
    unsigned: docs/dns.md).

    `initial` (not yet verified): the challenge's expiry, as issued and as published, must be
    in the future. Re-verification only needs the token still published: the expiry bounds how
    long a claim may wait for its first verification, not how long the record stays.
    TemporaryFailure propagates to the caller.
    """
    name = challenge_name(domain)
    result = ChallengeResult(domain, name, now)
    if not token:
        result.findings.append(finding("challenge.none-issued", domain))
        return result
    if initial and (issued_expiry is None or issued_expiry <= now):
        when = rfc3339(issued_expiry) if issued_expiry else "unknown"
        result.findings.append(finding("challenge.expired", f"issued challenge expired {when}"))
        return result
    try:
        found = await client.records(name, "TXT", signatures=validator is not None)
    except CnameLoop as loop:
        result.chain = loop.chain[1:]
        result.findings.append(finding("challenge.cname-loop", " -> ".join(loop.chain)))
        return result
    result.chain = found.chain
    result.seen = found.texts()
    if found.chain:
        result.findings.append(finding("challenge.cname-followed", " -> ".join(found.chain)))
    if not result.seen:
        result.findings.append(finding("challenge.missing", name))
        return result
    if validator is not None:
        security = await validator.check(found.rrset, found.rrsigs)
        result.dnssec = security.value
        if security is Security.BOGUS:
            result.findings.append(finding("challenge.dnssec-bogus", name))
            return result
        if security is Security.SECURE:
            result.findings.append(finding("challenge.dnssec-secure", name))
    outcome: Finding | None = None
    for text in result.seen:
        match = RECORD.match(text.strip())
        if match is None:
            outcome = outcome or finding("challenge.malformed", text[:120])
            continue
        if not hmac.compare_digest(match.group(1).encode(), token.encode()):
            outcome = finding("challenge.mismatch")
            continue
        try:
            published = datetime.fromisoformat(match.group(2).replace("Z", "+00:00"))
        except ValueError:
            outcome = finding("challenge.malformed", f"expiry {match.group(2)[:40]!r}")
            continue
        if published.tzinfo is None:
            outcome = finding("challenge.malformed", "expiry has no time zone")
            continue
        if initial and published <= now:
            outcome = finding("challenge.expired", f"the record's expiry {match.group(2)}")
            continue
        result.verified = True
        result.findings.append(finding("challenge.verified", name))
        return result
    assert outcome is not None
    result.findings.append(outcome)
    return result
