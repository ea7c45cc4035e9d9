"""Certificate status and the revocation reasons the S/MIME BR allow.

S/MIME BR 7.2.2 and pkilint's `cabf.crl_prohibited_reason_code` allow, for subscriber
certificates: keyCompromise (1), affiliationChanged (3), superseded (4),
cessationOfOperation (5), privilegeWithdrawn (9). `unspecified` is expressed by omitting the
reason code entirely (the BR forbid the unspecified code); certificateHold is never allowed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from pki.errors import PkiError, PkiErrorKind


class RevocationReason(enum.StrEnum):
    UNSPECIFIED = "unspecified"  # encoded as no reasonCode at all
    KEY_COMPROMISE = "keyCompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"

    @classmethod
    def parse(cls, value: str) -> RevocationReason:
        for reason in cls:
            if value == reason.value:
                return reason
        allowed = ", ".join(r.value for r in cls)
        raise PkiError(
            PkiErrorKind.MALFORMED, f"revocation reason {value!r} is not one of {allowed}"
        )

    @property
    def code(self) -> int | None:
        """The RFC 5280 CRLReason code, or None for `unspecified` (omitted)."""
        return _CODES[self]

    @property
    def flag(self) -> x509.ReasonFlags | None:
        return None if self.code is None else _FLAGS[self]


_CODES: dict[RevocationReason, int | None] = {
    RevocationReason.UNSPECIFIED: None,
    RevocationReason.KEY_COMPROMISE: 1,
    RevocationReason.AFFILIATION_CHANGED: 3,
    RevocationReason.SUPERSEDED: 4,
    RevocationReason.CESSATION_OF_OPERATION: 5,
    RevocationReason.PRIVILEGE_WITHDRAWN: 9,
}
_FLAGS: dict[RevocationReason, x509.ReasonFlags] = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.PRIVILEGE_WITHDRAWN: x509.ReasonFlags.privilege_withdrawn,
}


@dataclass(frozen=True)
class Good:
    pass


@dataclass(frozen=True)
class Revoked:
    revoked_at: datetime
    reason: RevocationReason


@dataclass(frozen=True)
class Unknown:
    """Never issued by this CA (or only reserved/linted): OCSP answers `unknown`."""


CertificateStatus = Good | Revoked | Unknown
