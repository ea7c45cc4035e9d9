"""The one error type of the pki package.

Every failure in `pki` is a `PkiError` with a stable `kind` (part of the API: the transports map
kinds to HTTP statuses and exit codes) and a human `detail`. Exceptions never log; the caller
decides what to record. `detail` never contains key material or passphrases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ErrorKind = Literal[
    "malformed",  # the caller's input is invalid (request, CSR, config file, OCSP request ...)
    "weak-key",  # a public key that is too weak (RSA < 2048, small exponent ...)
    "unsupported-key",  # a key type that the S/MIME BR or pkilint do not allow
    "lint-failed",  # pkilint found something at WARNING or above; see `findings`
    "not-found",  # a CA file or serial that does not exist
    "conflict",  # a duplicate serial, an existing CA directory
    "unauthorized",  # a wrong passphrase
    "internal",  # a broken invariant inside pki (never the caller's fault)
]

ERROR_KINDS: frozenset[str] = frozenset(
    {
        "malformed",
        "weak-key",
        "unsupported-key",
        "lint-failed",
        "not-found",
        "conflict",
        "unauthorized",
        "internal",
    }
)


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

    def __init__(self, kind: ErrorKind, detail: str, findings: Sequence[LintFinding] = ()) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown PkiError kind {kind!r}")
        super().__init__(f"{kind}: {detail}")
        self.kind: ErrorKind = kind
        self.detail = detail
        self.findings: tuple[LintFinding, ...] = tuple(findings)
