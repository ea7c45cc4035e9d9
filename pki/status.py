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
from typing import TYPE_CHECKING

from pki.errors import PkiError, PkiErrorKind

if TYPE_CHECKING:
    from cryptography import x509


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
        """The CRLReason flag, or None for `unspecified`; cryptography's values are ours."""
        from cryptography import x509  # imported when a CRL or OCSP answer is made

        return None if self.code is None else x509.ReasonFlags(self.value)


# The reasons an operator may give when revoking: the S/MIME BR's, never `unspecified` (which is
# what a CRL entry without a reasonCode means) nor certificateHold.
OPERATOR_REASONS = tuple(r.value for r in RevocationReason if r is not RevocationReason.UNSPECIFIED)


_CODES: dict[RevocationReason, int | None] = {
    RevocationReason.UNSPECIFIED: None,
    RevocationReason.KEY_COMPROMISE: 1,
    RevocationReason.AFFILIATION_CHANGED: 3,
    RevocationReason.SUPERSEDED: 4,
    RevocationReason.CESSATION_OF_OPERATION: 5,
    RevocationReason.PRIVILEGE_WITHDRAWN: 9,
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
