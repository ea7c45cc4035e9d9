"""Certificates for verified recipients: the directory's side of the CA.

Decides who may get which certificate (the recipient's record chooses mailbox-, organization- or
sponsor-validated), hands pki an `IssueRequest` and a ledger over the store, and keeps
revocation, CRLs and OCSP status in the store. Only pki touches keys.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from directory.address import normalise
from directory.authz import Action, Principal, authorize
from directory.cache import SeqCache
from directory.errors import DirectoryError, ErrorKind, conflict, malformed, not_found
from directory.lookup import Lookup, all_detail
from directory.model import Organisation, OrgStatus, RecipientKind, Sector, TrustLevel
from directory.passphrase import passphrase
from directory.settings import Settings
from directory.snapshot import Ticks
from directory.store.certificates import CertificateRecords, StoreLedger, serial_text
from directory.store.store import DirectoryStore
from directory.store.writer import Writer
from pki import storage
from pki.authority import CertificateAuthority
from pki.currency import ca_warnings
from pki.errors import PkiError
from pki.hierarchy import create_ca
from pki.ocsp import HttpReply, OcspResponder
from pki.profiles import PkiProfile, load_profile
from pki.request import IssuedCertificate, IssueRequest, ValidationType
from pki.status import OPERATOR_REASONS, CertificateStatus, Good, RevocationReason, Revoked, Unknown
from pki.urls import PkiUrls

Clock = Callable[[], datetime]
GOVERNMENT = {
    Sector.CENTRAL_GOVERNMENT,
    Sector.LOCAL_GOVERNMENT,
    Sector.HEALTH,
    Sector.POLICE,
    Sector.JUSTICE,
    Sector.EDUCATION,
}
REASONS = OPERATOR_REASONS  # the revocation reasons an operator may give (pki.status)
OCSP_REUSE_SECONDS = 60.0
OCSP_CACHE_ENTRIES = 100_000
OCSP_CACHE_BYTES = 64 * 1024 * 1024  # a response is ~0.5 KB; its request (the key) <= 16 KiB
log = logging.getLogger(__name__)
CRL_REISSUE = timedelta(days=1)  # a fresh CRL at least daily (BR: at least every 7 days)


def profile(settings: Settings) -> PkiProfile:
    return load_profile(settings.ca_profile_path)


def urls(settings: Settings) -> PkiUrls:
    return PkiUrls(settings.pki_base_url)


def initialise_ca(settings: Settings, clock: Clock) -> Path:
    """Create the root, issuing CA and OCSP responder under settings.ca_path."""
    create_ca(
        settings.ca_path,
        passphrase(settings),
        profile=profile(settings),
        urls=urls(settings),
        clock=clock,
    )
    return settings.ca_path


def ca_exists(settings: Settings) -> bool:
    return (settings.ca_path / "issuing.pem").is_file()


def ca_public_certificates(settings: Settings) -> dict[str, x509.Certificate]:
    """The CA's certificates by role (root, issuing, ocsp-responder), read without the
    passphrase; {} when there is no CA. PkiError when a file cannot be read."""
    if not ca_exists(settings):
        return {}
    paths = storage.CaPaths(settings.ca_path)
    return {
        "root": storage.read_certificate(paths.root_cert),
        "issuing": storage.read_certificate(paths.issuing_cert),
        "ocsp-responder": storage.read_certificate(paths.ocsp_cert),
    }


def ca_currency_warnings(settings: Settings) -> list[str]:
    """What the CA should act on to stay current with the S/MIME BR (pki/currency.py)."""
    try:
        chain = ca_public_certificates(settings)
    except PkiError:
        return ["the CA certificates cannot be read: run `clearance ca show`"]
    return ca_warnings(chain["root"], chain["issuing"]) if chain else []


class Certificates:
    """Issue, revoke, publish status. The CA is loaded on first use (it needs the passphrase)."""

    def __init__(
        self,
        settings: Settings,
        store: DirectoryStore,
        lookup: Lookup,
        clock: Clock,
        ticks: Ticks = time.monotonic,
    ):
        """`lookup` decides who may have a certificate: it must read the store at every call
        (refresh 0), never answer from a cache (Directory.live_lookup)."""
        if lookup.snapshots.refresh_seconds > 0:
            raise ValueError("certificates need a lookup that reads the store at every call")
        self.settings = settings
        self.store = store
        self.lookup = lookup
        self.clock = clock
        self.records = CertificateRecords(store)
        self._ca: CertificateAuthority | None = None
        self._ocsp: OcspResponder | None = None
        self.ticks = ticks  # monotonic seconds, of no known origin
        self._ocsp_cache: SeqCache[bytes | str, HttpReply] = SeqCache(
            OCSP_CACHE_ENTRIES, OCSP_CACHE_BYTES, ttl=OCSP_REUSE_SECONDS
        )
        self._seq = -1
        self._seq_checked = -math.inf  # never: older than any reading of any monotonic clock

    @property
    def ca(self) -> CertificateAuthority:
        if self._ca is None:
            if not ca_exists(self.settings):
                raise DirectoryError(
                    ErrorKind.CONFIG, f"no CA at {self.settings.ca_path}: run `clearance ca init`"
                )
            ca = CertificateAuthority.load(
                self.settings.ca_path,
                passphrase(self.settings),
                profile=profile(self.settings),
                urls=urls(self.settings),
                clock=self.clock,
            )
            for warning in ca_warnings(ca.root_certificate, ca.issuing_certificate):
                log.warning("CA: %s", warning)
            self._ca = ca
        return self._ca

    # --- issuance ---------------------------------------------------------------------------
    def issue(
        self,
        p: Principal,
        address: str,
        *,
        csr: bytes | None = None,
        pkcs12_passphrase: bytes | None = None,
        validity_days: int | None = None,
    ) -> IssuedCertificate:
        """Issue for a verified mailbox entry of an active organisation.

        1. The entry: a mailbox entry (not domain-wide), authorised for the caller.
        2. Verified: the lookup's derived trust is at least domain-verified (active
           organisation, freshly verified domain); otherwise no certificate.
        3. The certificate type from the record: sponsor-validated for a named person of a
           vetted organisation, organization-validated for other entries of a vetted
           organisation, mailbox-validated otherwise.
        4. pki lints and issues, recording each step in the store through the ledger.
        """
        entry = self.store.mailbox_entry(normalise(address).text)
        if entry is None or entry.kind is not RecipientKind.MAILBOX:
            authorize(p, Action.ISSUE_CERTIFICATE, None)  # deny before saying "not found"
            raise not_found(f"{address[:254]!r} is not a mailbox entry in the directory")
        authorize(p, Action.ISSUE_CERTIFICATE, entry.organisation_id)
        org = self.store.organisation(entry.organisation_id)
        assert org is not None
        if org.status is not OrgStatus.ACTIVE:
            raise conflict(f"{org.name} is {org.status.value}: no certificate")
        answer = self.lookup.answer(entry.address or address, None, all_detail)
        trust = answer.trust_level
        if trust < TrustLevel.DOMAIN_VERIFIED:
            codes = ", ".join(sorted({r.code for r in answer.verdict.reasons}))
            raise conflict(f"{entry.address} is not a verified recipient ({codes})")
        if (csr is None) == (pkcs12_passphrase is None):
            raise malformed("give exactly one of a CSR and a PKCS#12 passphrase")
        vetted = trust >= TrustLevel.ORGANISATION_VERIFIED
        country = "GB"
        if vetted and entry.role.value == "person" and entry.given_name and entry.surname:
            validation = ValidationType.SPONSOR
        elif vetted:
            validation = ValidationType.ORGANIZATION
        else:
            validation = ValidationType.MAILBOX
        named = validation is not ValidationType.MAILBOX
        request = IssueRequest(
            email=entry.address or address,
            validation=validation,
            trust_level=trust.label,
            csr=csr,
            generate_key="" if csr is None else None,
            pkcs12_passphrase=pkcs12_passphrase,
            organization_name=org.name if named else None,
            organization_identifier=organisation_identifier(org.sector, org.identifiers)
            if named
            else None,
            country=country if named else None,
            given_name=entry.given_name if validation is ValidationType.SPONSOR else None,
            surname=entry.surname if validation is ValidationType.SPONSOR else None,
            validity_days=validity_days,
        )
        ledger = StoreLedger(
            self.store, p.name, self.clock, entry.id, validation.value, trust.label
        )
        return self.ca.issue(request, ledger)

    # --- revocation -------------------------------------------------------------------------
    def revoke(self, p: Principal, serial: str, reason: str) -> None:
        serial = _serial(serial)
        if reason not in REASONS:
            raise malformed(
                f"revocation reason must be one of {', '.join(REASONS)}", field="reason"
            )
        found = self.records.get(serial)
        if found is None:
            authorize(p, Action.REVOKE_CERTIFICATE, None)  # deny before saying "not found"
            raise not_found(f"no issued certificate with serial {serial}")
        recipient = self.store.recipient(found.recipient_id) if found.recipient_id else None
        authorize(p, Action.REVOKE_CERTIFICATE, recipient.organisation_id if recipient else None)
        with self.store.write(p.name, self.clock()) as w:
            self.records.revoke(w, serial, reason)

    def revoke_organisation_hook(self, w: Writer, org: Organisation, status: OrgStatus) -> None:
        """Registration status hook: suspension or withdrawal revokes the org's certificates."""
        reason = (
            RevocationReason.CESSATION_OF_OPERATION
            if status is OrgStatus.WITHDRAWN
            else RevocationReason.PRIVILEGE_WITHDRAWN
        )
        self.records.revoke_for_organisation(w, org.id, reason.value)

    # --- publication ------------------------------------------------------------------------
    def status(self, serial: int) -> CertificateStatus:
        issued, revoked_at, reason = self.records.issued(serial_text(serial))
        if not issued:
            return Unknown()
        if revoked_at is not None:
            return Revoked(revoked_at, RevocationReason.parse(reason or "unspecified"))
        return Good()

    def ocsp(self) -> OcspResponder:
        if self._ocsp is None:
            self._ocsp = self.ca.ocsp_responder(self.status)
        return self._ocsp

    def ocsp_reply(self, request: bytes | str) -> HttpReply:
        """An OCSP answer for a POST body (bytes) or a GET path segment (str).

        Signed answers to nonce-less requests are reused while the store's change sequence
        is unchanged (checked at most every cache_refresh_seconds) and for at most a minute,
        so a revocation shows within that bound; requests with a nonce are always signed anew.
        """
        now = self.ticks()
        if now - self._seq_checked >= self.settings.cache_refresh_seconds:
            self._seq = self.store.state().seq
            self._seq_checked = now
        hit = self._ocsp_cache.get(request, self._seq, now)
        if hit is not None:
            return hit
        responder = self.ocsp()
        reply = (
            responder.respond(request)
            if isinstance(request, bytes)
            else responder.respond_get(request)
        )
        if reply.max_age > 0:
            cost = len(reply.body) + len(request) + 256  # the entry and the key's own headers
            self._ocsp_cache.put(request, reply, self._seq, now, cost)
        return reply

    def crl(self, *, force: bool = False) -> bytes:
        """The current CRL: reissued when older than a day or when a revocation is newer."""
        now = self.clock()
        latest = self.records.latest_crl()
        if latest is not None and not force:
            _number, this_update, next_update, der = latest
            last = self.records.last_revocation()
            fresh = now - this_update < CRL_REISSUE and now < next_update
            if fresh and (last is None or last < this_update):
                return der
        entries = [
            (int(serial, 16), when, RevocationReason.parse(reason or "unspecified"))
            for serial, when, reason in self.records.revoked(now)
        ]
        number = self.records.next_crl_number()
        der = self.ca.build_crl(entries, number)
        parsed = x509.load_der_x509_crl(der)
        next_update = parsed.next_update_utc or now
        with self.store.write("clearance:crl", now) as w:
            self.records.save_crl(w, number, parsed.last_update_utc, next_update, len(entries), der)
        return der


def organisation_identifier(sector: Sector, identifiers: dict[str, str]) -> str:
    """S/MIME BR organizationIdentifier: GOVGB for government bodies (the GOV scheme takes no
    reference), NTRGB-<number> from the Companies House or Charity Commission register."""
    if sector in GOVERNMENT:
        return "GOVGB"
    for scheme in ("companies-house", "charity"):
        if scheme in identifiers:
            return f"NTRGB-{identifiers[scheme]}"
    raise conflict(
        "the organisation has no Companies House or charity number for its "
        "organizationIdentifier; record one first"
    )


def _serial(value: str) -> str:
    text = value.strip().lower().removeprefix("0x").replace(":", "")
    if not text or len(text) > 40 or any(c not in "0123456789abcdef" for c in text):
        raise malformed(f"{value[:60]!r} is not a hexadecimal serial number", field="serial")
    return text.lstrip("0") or "0"
