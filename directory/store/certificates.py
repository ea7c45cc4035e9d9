"""The CA's records in the store: reserved serials, linted precertificates, issued certificates,
revocations and CRLs. `StoreLedger` implements pki's `CertificateLedger` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select

from directory.errors import DirectoryError, ErrorKind, not_found
from directory.store import tables as t
from directory.store.store import DirectoryStore
from directory.store.writer import Writer
from pki.errors import PkiError, PkiErrorKind


def serial_text(serial: int) -> str:
    return format(serial, "x")


@dataclass(frozen=True)
class StoredCertificate:
    serial: str
    recipient_id: str | None
    email: str
    not_before: datetime
    not_after: datetime
    der: bytes
    validation: str | None
    trust_level: str | None
    revoked_at: datetime | None
    revocation_reason: str | None


def _stored(row: Any) -> StoredCertificate:
    return StoredCertificate(
        serial=row["serial"],
        recipient_id=row["recipient_id"],
        email=row["email"],
        not_before=row["not_before"],
        not_after=row["not_after"],
        der=bytes(row["der"]),
        validation=row["validation"],
        trust_level=row["trust_level"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
    )


class StoreLedger:
    """pki.ledger.CertificateLedger over the store, for one recipient's issuance."""

    def __init__(
        self,
        store: DirectoryStore,
        actor: str,
        clock: Callable[[], datetime],
        recipient_id: str,
        validation: str,
        trust_level: str,
    ) -> None:
        self.store = store
        self.actor = actor
        self.clock = clock
        self.recipient_id = recipient_id
        self.validation = validation
        self.trust_level = trust_level

    def reserve_serial(self, serial: int) -> None:
        try:
            with self.store.write(self.actor, self.clock()) as w:
                w.insert(
                    t.precertificates,
                    {"serial": serial_text(serial), "der": None},
                    "certificate.reserve-serial",
                    audit=False,
                )
        except DirectoryError as exc:
            if exc.kind is ErrorKind.CONFLICT:
                raise PkiError(
                    PkiErrorKind.CONFLICT, f"serial {serial:x} is already reserved"
                ) from None
            raise

    def record_precertificate(self, serial: int, der: bytes) -> None:
        with self.store.write(self.actor, self.clock()) as w:
            w.update(t.precertificates, serial_text(serial), {"der": der}, "certificate.lint")

    def record_issued(
        self, serial: int, der: bytes, email: str, not_before: datetime, not_after: datetime
    ) -> None:
        with self.store.write(self.actor, self.clock()) as w:
            w.insert(
                t.certificates,
                {
                    "serial": serial_text(serial),
                    "recipient_id": self.recipient_id,
                    "email": email,
                    "not_before": not_before,
                    "not_after": not_after,
                    "der": der,
                    "validation": self.validation,
                    "trust_level": self.trust_level,
                    "revoked_at": None,
                    "revocation_reason": None,
                },
                "certificate.issue",
            )


class CertificateRecords:
    """Reads and revocations of issued certificates."""

    def __init__(self, store: DirectoryStore) -> None:
        self.store = store

    def get(self, serial: str) -> StoredCertificate | None:
        with self.store.reading() as conn:
            row = (
                conn.execute(select(t.certificates).where(t.certificates.c.serial == serial))
                .mappings()
                .first()
            )
        return _stored(row) if row is not None else None

    def for_organisation(self, organisation_id: str) -> list[StoredCertificate]:
        query = (
            select(t.certificates)
            .join(t.recipients, t.recipients.c.id == t.certificates.c.recipient_id)
            .where(t.recipients.c.organisation_id == organisation_id)
            .order_by(t.certificates.c.not_before)
        )
        with self.store.reading() as conn:
            return [_stored(r) for r in conn.execute(query).mappings()]

    def revoke(self, w: Writer, serial: str, reason: str) -> None:
        found = self.get(serial)
        if found is None:
            raise not_found(f"no issued certificate with serial {serial}")
        if found.revoked_at is not None:
            raise DirectoryError(ErrorKind.CONFLICT, f"certificate {serial} is already revoked")
        w.update(
            t.certificates,
            serial,
            {"revoked_at": w.now, "revocation_reason": reason},
            "certificate.revoke",
        )

    def revoke_for_organisation(self, w: Writer, organisation_id: str, reason: str) -> int:
        query = (
            select(t.certificates.c.serial)
            .join(t.recipients, t.recipients.c.id == t.certificates.c.recipient_id)
            .where(
                and_(
                    t.recipients.c.organisation_id == organisation_id,
                    t.certificates.c.revoked_at.is_(None),
                    t.certificates.c.not_after > w.now,
                )
            )
        )
        serials = [row.serial for row in w.conn.execute(query)]
        for serial in serials:
            w.update(
                t.certificates,
                serial,
                {"revoked_at": w.now, "revocation_reason": reason},
                "certificate.revoke",
            )
        return len(serials)

    def revoked(self, now: datetime) -> Iterator[tuple[str, datetime, str]]:
        """Revoked certificates that have not expired yet (what a CRL must list)."""
        query = select(
            t.certificates.c.serial,
            t.certificates.c.revoked_at,
            t.certificates.c.revocation_reason,
        ).where(and_(t.certificates.c.revoked_at.is_not(None), t.certificates.c.not_after > now))
        with self.store.reading() as conn:
            for row in conn.execute(query):
                yield row.serial, row.revoked_at, row.revocation_reason

    def issued(self, serial: str) -> tuple[bool, datetime | None, str | None]:
        """(issued, revoked_at, reason) for OCSP; a reserved-only serial is not issued."""
        found = self.get(serial)
        if found is None:
            return False, None, None
        return True, found.revoked_at, found.revocation_reason

    # --- CRLs -------------------------------------------------------------------------------
    def latest_crl(self) -> tuple[int, datetime, datetime, bytes] | None:
        with self.store.reading() as conn:
            row = (
                conn.execute(select(t.crls).order_by(t.crls.c.number.desc()).limit(1))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return row["number"], row["this_update"], row["next_update"], bytes(row["der"])

    def last_revocation(self) -> datetime | None:
        with self.store.reading() as conn:
            value = conn.execute(select(func.max(t.certificates.c.revoked_at))).scalar()
        return value

    def next_crl_number(self) -> int:
        with self.store.reading() as conn:
            value = conn.execute(select(func.max(t.crls.c.number))).scalar()
        return int(value or 0) + 1

    def save_crl(
        self,
        w: Writer,
        number: int,
        this_update: datetime,
        next_update: datetime,
        revoked_count: int,
        der: bytes,
    ) -> None:
        w.insert(
            t.crls,
            {
                "number": number,
                "this_update": this_update,
                "next_update": next_update,
                "revoked_count": revoked_count,
                "der": der,
            },
            "crl.publish",
            audit=False,
        )
        w.audit(
            "crl.publish",
            "crl",
            str(number),
            None,
            {
                "number": number,
                "this_update": this_update.isoformat(),
                "next_update": next_update.isoformat(),
                "revoked_count": revoked_count,
            },
        )
