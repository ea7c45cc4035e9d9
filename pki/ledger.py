"""What issuance records, as a protocol the directory store implements (Boulder sa subsets).

pki calls, in order: `reserve_serial` before building anything (a duplicate raises `PkiError`
kind `conflict`), `record_precertificate` with the linted throwaway-key certificate, then
`record_issued` with the real one. A serial that was reserved or linted but never issued is
not a certificate: status lookups must answer `unknown` for it, never `good`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pki.errors import PkiError, PkiErrorKind
from pki.status import CertificateStatus, Good, RevocationReason, Revoked, Unknown


class CertificateLedger(Protocol):
    def reserve_serial(self, serial: int) -> None:
        """Record that `serial` is taken; raise PkiError('conflict') if it already was."""

    def record_precertificate(self, serial: int, der: bytes) -> None:
        """Keep the linted throwaway-key certificate (evidence of what was linted)."""

    def record_issued(
        self, serial: int, der: bytes, email: str, not_before: datetime, not_after: datetime
    ) -> None:
        """Keep the issued certificate."""


@dataclass
class LedgerEntry:
    serial: int
    precertificate: bytes | None = None
    certificate: bytes | None = None
    email: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: Revoked | None = None


class InMemoryLedger:
    """A thread-safe ledger for tests and benchmarks; also answers OCSP status lookups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: dict[int, LedgerEntry] = {}

    def reserve_serial(self, serial: int) -> None:
        with self._lock:
            if serial in self.entries:
                raise PkiError(PkiErrorKind.CONFLICT, f"serial {serial:x} is already reserved")
            self.entries[serial] = LedgerEntry(serial)

    def record_precertificate(self, serial: int, der: bytes) -> None:
        with self._lock:
            self._entry(serial).precertificate = der

    def record_issued(
        self, serial: int, der: bytes, email: str, not_before: datetime, not_after: datetime
    ) -> None:
        with self._lock:
            entry = self._entry(serial)
            if entry.precertificate is None:
                raise PkiError(
                    PkiErrorKind.INTERNAL, f"serial {serial:x} issued without a linted precert"
                )
            entry.certificate, entry.email = der, email
            entry.not_before, entry.not_after = not_before, not_after

    def revoke(self, serial: int, when: datetime, reason: RevocationReason) -> None:
        with self._lock:
            entry = self.entries.get(serial)
            if entry is None or entry.certificate is None:
                raise PkiError(
                    PkiErrorKind.NOT_FOUND, f"no issued certificate with serial {serial:x}"
                )
            entry.revoked = Revoked(when, reason)

    def status(self, serial: int) -> CertificateStatus:
        entry = self.entries.get(serial)
        if entry is None or entry.certificate is None:
            return Unknown()
        return entry.revoked or Good()

    def revoked_entries(self) -> list[tuple[int, datetime, RevocationReason]]:
        return [
            (e.serial, e.revoked.revoked_at, e.revoked.reason)
            for e in self.entries.values()
            if e.revoked is not None
        ]

    def _entry(self, serial: int) -> LedgerEntry:
        entry = self.entries.get(serial)
        if entry is None:
            raise PkiError(PkiErrorKind.INTERNAL, f"serial {serial:x} was never reserved")
        return entry
