"""What the caller asks for (`IssueRequest`) and what it gets back (`IssuedCertificate`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class ValidationType(enum.StrEnum):
    """The S/MIME BR certificate type; all are issued in the strict generation."""

    MAILBOX = "mailbox"  # 2.23.140.1.5.1.3
    ORGANIZATION = "organization"  # 2.23.140.1.5.2.3
    SPONSOR = "sponsor"  # 2.23.140.1.5.3.3


# The reserved CA/Browser Forum policy OIDs, strict generation (S/MIME BR 7.1.6.1).
BR_POLICY_OIDS: dict[ValidationType, str] = {
    ValidationType.MAILBOX: "2.23.140.1.5.1.3",
    ValidationType.ORGANIZATION: "2.23.140.1.5.2.3",
    ValidationType.SPONSOR: "2.23.140.1.5.3.3",
}


@dataclass(frozen=True)
class IssueRequest:
    """One certificate to issue. The caller has done the validation; pki only builds and checks.

    Exactly one of `csr` (PEM or DER PKCS#10: only its public key is used, after its signature
    is verified) and `generate_key` (a key spec such as "rsa-3072", or "" for the profile's
    default; the result then carries a PKCS#12 protected by `pkcs12_passphrase`).
    """

    email: str
    validation: ValidationType
    trust_level: str
    csr: bytes | None = None
    generate_key: str | None = None
    pkcs12_passphrase: bytes | None = field(default=None, repr=False)
    organization_name: str | None = None
    organization_identifier: str | None = None
    country: str | None = None
    given_name: str | None = None
    surname: str | None = None
    pseudonym: str | None = None
    validity_days: int | None = None  # None: the profile's validity


@dataclass(frozen=True)
class IssuedCertificate:
    """The result of `CertificateAuthority.issue`. `pkcs12` only when the key was generated."""

    serial: int
    der: bytes
    pem: str
    chain_pem: str  # the issuing CA then the root, PEM
    email: str
    validation: ValidationType
    trust_level: str
    not_before: datetime
    not_after: datetime
    pkcs12: bytes | None = field(default=None, repr=False)

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")
