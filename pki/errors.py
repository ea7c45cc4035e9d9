"""The one error type of the pki package.

Every failure in `pki` is a `PkiError` with a stable `kind` (part of the API: the transports map
kinds to HTTP statuses and exit codes) and a human `detail`. Exceptions never log; the caller
decides what to record. `detail` never contains key material or passphrases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class PkiErrorKind(StrEnum):
    """What went wrong in pki: stable values, part of the API (the transports map each kind to an
    HTTP status and an exit code, in one table each)."""

    MALFORMED = "malformed"  # the caller's input is invalid (request, CSR, OCSP request ...)
    WEAK_KEY = "weak-key"  # a public key that is too weak (RSA < 2048, small exponent ...)
    UNSUPPORTED_KEY = "unsupported-key"  # a key type the S/MIME BR or pkilint do not allow
    LINT_FAILED = "lint-failed"  # pkilint found something at WARNING or above; see `findings`
    NOT_FOUND = "not-found"  # a CA file or serial that does not exist
    CONFLICT = "conflict"  # a duplicate serial, an existing CA directory
    UNAUTHORIZED = "unauthorized"  # a wrong CA passphrase
    INTERNAL = "internal"  # a broken invariant inside pki (never the caller's fault)


@dataclass(frozen=True)
class LintFinding:
    """One pkilint finding: severity name (ERROR, WARNING ...), stable code, optional message."""

    severity: str
    code: str
    message: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        text = f"{self.severity} {self.code}"
        if self.message:
            text += f": {self.message}"
        return text


class PkiError(Exception):
    """A failure in pki: `kind` is stable and machine-readable, `detail` is one human sentence."""

    def __init__(
        self, kind: PkiErrorKind, detail: str, findings: Sequence[LintFinding] = ()
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = PkiErrorKind(kind)  # ValueError for a kind that does not exist
        self.detail = detail
        self.findings: tuple[LintFinding, ...] = tuple(findings)


def require_clean(findings: list[LintFinding], what: str) -> None:
    """Raise `lint-failed` listing the findings (pkilint's and pki/br_checks.py's), if any."""
    if findings:
        listed = "; ".join(str(f) for f in findings)
        raise PkiError(PkiErrorKind.LINT_FAILED, f"{what}: lint: {listed}", findings)
