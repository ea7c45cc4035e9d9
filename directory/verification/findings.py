"""Findings: what a DNS check saw, as data with stable codes (pkilint's style).

A code never changes meaning; new codes may be added. The caller decides what a finding means:
the posture and the policy use them, the CLI shows them as a table, the API as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    INFO = 0
    NOTICE = 1
    WARNING = 2
    ERROR = 3
    FATAL = 4  # the check could not be completed (a temporary DNS or HTTPS failure)

    @property
    def label(self) -> str:
        return self.name


# code -> (severity, what it means). Messages add the detail that was seen.
CODES: dict[str, tuple[Severity, str]] = {
    # the check itself
    "dns.temporary-failure": (Severity.FATAL, "A DNS query timed out or failed (SERVFAIL)"),
    "domain.public-suffix": (Severity.ERROR, "The name is a public suffix"),
    # domain-control challenge
    "challenge.verified": (Severity.INFO, "The challenge record matches"),
    "challenge.none-issued": (Severity.ERROR, "No challenge has been issued for the domain"),
    "challenge.missing": (Severity.ERROR, "No challenge TXT record was found"),
    "challenge.mismatch": (Severity.ERROR, "The challenge record does not match the token"),
    "challenge.malformed": (Severity.ERROR, "The challenge record is not token=... expiry=..."),
    "challenge.expired": (Severity.ERROR, "The challenge has expired; claim again"),
    "challenge.cname-loop": (Severity.ERROR, "The challenge name's CNAME chain loops"),
    "challenge.cname-followed": (Severity.INFO, "The challenge name is delegated by CNAME"),
    "challenge.dnssec-secure": (Severity.INFO, "The challenge record is DNSSEC-validated"),
    "challenge.dnssec-bogus": (
        Severity.ERROR,
        "The challenge record fails DNSSEC validation (S/MIME BR ballot SMC014): it does not count",
    ),
    # MX
    "mx.present": (Severity.INFO, "The domain publishes MX records"),
    "mx.null": (Severity.NOTICE, "The domain publishes a null MX: it accepts no mail"),
    "mx.implicit": (Severity.WARNING, "No MX record; mail falls back to the address record"),
    "mx.none": (Severity.ERROR, "No MX and no address record: the domain accepts no mail"),
    "mx.nxdomain": (Severity.ERROR, "The domain does not exist in DNS"),
    # SPF
    "spf.ok": (Severity.INFO, "One SPF record, ending in -all"),
    "spf.missing": (Severity.WARNING, "No SPF record"),
    "spf.multiple": (Severity.ERROR, "More than one SPF record (a permanent error)"),
    "spf.syntax": (Severity.ERROR, "The SPF record does not parse"),
    "spf.softfail-all": (Severity.NOTICE, "The SPF record ends in ~all, not -all"),
    "spf.neutral-all": (Severity.WARNING, "The SPF record ends in ?all"),
    "spf.pass-all": (Severity.ERROR, "The SPF record ends in +all: anyone may send"),
    "spf.no-all": (Severity.WARNING, "The SPF record has no final all and no redirect"),
    "spf.too-many-lookups": (Severity.ERROR, "The SPF record needs more than 10 DNS lookups"),
    "spf.include-missing": (Severity.ERROR, "An SPF include or redirect has no SPF record"),
    # DMARC
    "dmarc.ok": (Severity.INFO, "A DMARC policy is published"),
    "dmarc.missing": (Severity.ERROR, "No DMARC record at the domain or its organisation"),
    "dmarc.multiple": (Severity.ERROR, "More than one DMARC record (none is used)"),
    "dmarc.malformed": (Severity.ERROR, "The DMARC record does not parse"),
    "dmarc.org-fallback": (Severity.INFO, "The DMARC policy comes from the organisational domain"),
    "dmarc.policy-none": (Severity.WARNING, "The DMARC policy is p=none (monitoring only)"),
    "dmarc.partial": (Severity.WARNING, "The DMARC policy applies partly (pct<100 or t=y)"),
    "dmarc.no-rua": (Severity.NOTICE, "The DMARC record asks for no aggregate reports (rua)"),
    "dmarc.unknown-tag": (Severity.NOTICE, "The DMARC record has a tag this checker ignores"),
    # MTA-STS
    "mta_sts.ok": (Severity.INFO, "An MTA-STS policy is published"),
    "mta_sts.missing": (Severity.WARNING, "No MTA-STS record (_mta-sts TXT)"),
    "mta_sts.multiple": (Severity.ERROR, "More than one MTA-STS record (none is used)"),
    "mta_sts.record-malformed": (Severity.ERROR, "The _mta-sts TXT record does not parse"),
    "mta_sts.policy-unavailable": (Severity.ERROR, "The MTA-STS policy could not be fetched"),
    "mta_sts.policy-unreachable": (
        Severity.FATAL,
        "The MTA-STS policy host did not answer (timeout or refused): the check is incomplete, "
        "nothing is recorded; the other findings stand",
    ),
    "mta_sts.policy-malformed": (Severity.ERROR, "The MTA-STS policy file does not parse"),
    "mta_sts.content-type": (Severity.WARNING, "The MTA-STS policy is not served as text/plain"),
    "mta_sts.testing": (Severity.WARNING, "The MTA-STS policy is in testing mode"),
    "mta_sts.mode-none": (Severity.WARNING, "The MTA-STS policy is mode none"),
    "mta_sts.mx-mismatch": (Severity.ERROR, "An MX host is not covered by the policy's mx"),
    "mta_sts.short-max-age": (Severity.NOTICE, "The MTA-STS max_age is under one day"),
    # TLS-RPT
    "tlsrpt.ok": (Severity.INFO, "A TLS reporting record is published"),
    "tlsrpt.missing": (Severity.NOTICE, "No TLS reporting record (_smtp._tls TXT)"),
    "tlsrpt.multiple": (Severity.ERROR, "More than one TLS reporting record"),
    "tlsrpt.malformed": (Severity.ERROR, "The TLS reporting record does not parse"),
    # DANE
    "dane.ok": (Severity.INFO, "DNSSEC-validated TLSA records for every MX host"),
    "dane.missing": (Severity.NOTICE, "No TLSA record for an MX host"),
    "dane.mx-insecure": (Severity.WARNING, "The MX records are not DNSSEC-validated"),
    "dane.unsigned": (Severity.WARNING, "A TLSA record is not signed: it does not count"),
    "dane.unchained": (
        Severity.WARNING,
        "A TLSA record is signed, but its zone does not chain to a DNSSEC trust anchor (no "
        "secure DS in the parent): it does not count",
    ),
    "dane.bogus": (Severity.ERROR, "A TLSA record fails DNSSEC validation: it does not count"),
    "dane.pkix-usage": (
        Severity.WARNING,
        "A TLSA record uses a PKIX usage (0/1), unsuited to SMTP",
    ),
}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity.label, "message": self.message}


def finding(code: str, detail: str | None = None) -> Finding:
    severity, base = CODES[code]
    return Finding(code, severity, f"{base}: {detail}" if detail else base)


def from_dict(data: dict[str, Any]) -> Finding:
    return Finding(str(data["code"]), Severity[str(data["severity"])], str(data["message"]))
