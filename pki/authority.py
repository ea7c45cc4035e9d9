"""The issuing CA: issues S/MIME certificates through a pre-issuance lint gate, signs CRLs, and
makes the OCSP responder. The only holder of the issuing key in memory; never exposes it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from pki import storage
from pki.br_checks import check_crl, check_subscriber
from pki.clock import Clock, now_seconds
from pki.crl import RevokedEntry, build_crl
from pki.csr import public_key_from_csr
from pki.errors import PkiError, PkiErrorKind, require_clean
from pki.extensions import (
    authority_information_access,
    authority_key_identifier,
    certificate_policies,
    crl_distribution_points,
    subject_key_identifier,
)
from pki.hierarchy import random_serial
from pki.keys import (
    CaPrivateKey,
    PrivateKey,
    PublicKey,
    check_passphrase,
    generate_private_key,
    key_spec_of,
    parse_key_spec,
    signature_hash,
)
from pki.ledger import CertificateLedger
from pki.limits import BR_MAX_VALIDITY_DAYS, MAX_SUBSCRIBER_VALIDITY_DAYS
from pki.ocsp import OcspResponder, StatusLookup
from pki.pkcs12 import build_pkcs12
from pki.profiles import PkiProfile
from pki.request import BR_POLICY_OIDS, IssuedCertificate, IssueRequest, ValidationType
from pki.subject import build_subject, normalise_email
from pki.urls import PkiUrls


def _key_usage(key: PublicKey) -> x509.KeyUsage:
    """Strict generation: RSA signs and encrypts (keyEncipherment), ECDSA signs and agrees keys
    (keyAgreement), Ed25519 only signs."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=isinstance(key, ec.EllipticCurvePublicKey),
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


class CertificateAuthority:
    """The issuing CA in memory. Build it with `CertificateAuthority.load(...)`."""

    def __init__(
        self,
        *,
        root: x509.Certificate,
        issuing: x509.Certificate,
        issuing_key: CaPrivateKey,
        ocsp_responder: x509.Certificate,
        ocsp_key: CaPrivateKey,
        profile: PkiProfile,
        urls: PkiUrls,
        clock: Clock,
    ) -> None:
        if issuing.public_key() != issuing_key.public_key():
            raise PkiError(
                PkiErrorKind.MALFORMED, "the issuing key does not match the issuing certificate"
            )
        if ocsp_responder.public_key() != ocsp_key.public_key():
            raise PkiError(
                PkiErrorKind.MALFORMED, "the OCSP key does not match the responder certificate"
            )
        try:
            issuing.verify_directly_issued_by(root)
            ocsp_responder.verify_directly_issued_by(issuing)
        except (ValueError, TypeError, InvalidSignature):
            raise PkiError(PkiErrorKind.MALFORMED, "the CA certificates do not chain") from None
        self._root = root
        self._issuing = issuing
        self._issuing_key = issuing_key
        self._ocsp_responder = ocsp_responder
        self._ocsp_key = ocsp_key
        self._profile = profile
        self._urls = urls
        self._clock = clock
        self._hash = signature_hash(issuing_key)
        # The throwaway key that signs the linted copy: same type, so the same signature
        # algorithm (and so the same TBS) as the real issuing key.
        self._throwaway_key = generate_private_key(key_spec_of(issuing_key))
        self._aki = authority_key_identifier(issuing)

    def __repr__(self) -> str:
        return f"CertificateAuthority(issuing={self._issuing.subject.rfc4514_string()!r})"

    @classmethod
    def load(
        cls,
        directory: Path,
        passphrase: str | bytes,
        *,
        profile: PkiProfile,
        urls: PkiUrls,
        clock: Clock,
    ) -> CertificateAuthority:
        """Load the issuing CA and OCSP responder from a CA directory made by `create_ca`.

        The root key is not loaded. Wrong passphrase -> `unauthorized`.
        """
        paths = storage.CaPaths(directory)
        secret = check_passphrase(passphrase)
        return cls(
            root=storage.read_certificate(paths.root_cert),
            issuing=storage.read_certificate(paths.issuing_cert),
            issuing_key=storage.read_key(paths.issuing_key, secret),
            ocsp_responder=storage.read_certificate(paths.ocsp_cert),
            ocsp_key=storage.read_key(paths.ocsp_key, secret),
            profile=profile,
            urls=urls,
            clock=clock,
        )

    # -- public certificates -------------------------------------------------------------

    @property
    def root_certificate(self) -> x509.Certificate:
        return self._root

    @property
    def issuing_certificate(self) -> x509.Certificate:
        return self._issuing

    @property
    def ocsp_responder_certificate(self) -> x509.Certificate:
        return self._ocsp_responder

    @property
    def profile(self) -> PkiProfile:
        return self._profile

    @property
    def urls(self) -> PkiUrls:
        return self._urls

    def chain_pem(self) -> str:
        """The issuing CA then the root, PEM."""
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in (self._issuing, self._root)
        )

    def warm_up(self) -> None:
        """Build the pkilint validators now instead of on the first issuance (~0.5 s)."""
        from pki.lint import smime_validator  # pkilint: imported by what lints, not at start

        for validation_type in ValidationType:
            smime_validator(validation_type)

    # -- issuance ------------------------------------------------------------------------

    def issue(
        self, request: IssueRequest, ledger: CertificateLedger, *, lint: bool = True
    ) -> IssuedCertificate:
        """Issue one S/MIME certificate (Boulder ca.go IssueCertificate, step by step).

        Raises PkiError: malformed (request/CSR), weak-key, unsupported-key, lint-failed
        (with findings), conflict (serial collision from the ledger). `lint=False` exists only
        for the benchmark's comparison and must not be used in production.
        """
        # (0) Check the request and settle the key; nothing is recorded yet.
        email = normalise_email(request.email)
        trust_oid = self._profile.trust_level_oid(request.trust_level)
        subject, san = build_subject(request, email, self._profile.mailbox_subject_email)
        public_key, private_key = self._subscriber_key(request)
        now = now_seconds(self._clock)
        not_after = now + timedelta(days=self._validity_days(request)) - timedelta(seconds=1)
        if not_after > self._issuing.not_valid_after_utc:
            raise PkiError(PkiErrorKind.MALFORMED, "the certificate would outlive the issuing CA")

        # (1) Reserve a fresh random serial in the ledger (a duplicate raises `conflict`).
        serial = random_serial()
        ledger.reserve_serial(serial)

        # (2) Build the to-be-signed certificate: the extensions come from code, never the CSR.
        builder = self._builder(serial, subject, san, public_key, request.validation, trust_oid)
        builder = builder.not_valid_before(now).not_valid_after(not_after)

        # (3) Sign it with the throwaway key under the same issuer name and AKI.
        lint_cert = builder.sign(self._throwaway_key, self._hash)
        lint_der = lint_cert.public_bytes(serialization.Encoding.DER)

        # (4) Lint it for its exact type (strict generation) with pkilint, and with our checks
        #     for the ballots pkilint does not lint yet; any WARNING or above refuses.
        if lint:
            from pki.lint import lint_smime_certificate  # see warm_up

            require_clean(
                lint_smime_certificate(lint_der, request.validation) + check_subscriber(lint_cert),
                f"{request.validation} certificate for {email}",
            )

        # (5) Record the linted certificate.
        ledger.record_precertificate(serial, lint_der)

        # (6) Sign for real with the issuing key.
        cert = builder.sign(self._issuing_key, self._hash)

        # (7) The real TBS must be byte-for-byte the linted TBS, and the signature must verify.
        if cert.tbs_certificate_bytes != lint_cert.tbs_certificate_bytes:
            raise PkiError(
                PkiErrorKind.INTERNAL, f"serial {serial:x}: signed TBS differs from linted TBS"
            )
        try:
            cert.verify_directly_issued_by(self._issuing)
        except (ValueError, TypeError, InvalidSignature):
            raise PkiError(
                PkiErrorKind.INTERNAL, f"serial {serial:x}: signature does not verify"
            ) from None

        # (8) Record the issued certificate.
        der = cert.public_bytes(serialization.Encoding.DER)
        ledger.record_issued(serial, der, email, now, not_after)

        pkcs12 = None
        if private_key is not None:
            assert request.pkcs12_passphrase is not None
            pkcs12 = build_pkcs12(
                friendly_name=email,
                key=private_key,
                cert=cert,
                chain=[self._issuing, self._root],
                passphrase=request.pkcs12_passphrase,
            )
        return IssuedCertificate(
            serial=serial,
            der=der,
            pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            chain_pem=self.chain_pem(),
            email=email,
            validation=request.validation,
            trust_level=request.trust_level,
            not_before=now,
            not_after=not_after,
            pkcs12=pkcs12,
        )

    def _validity_days(self, request: IssueRequest) -> int:
        days = (
            self._profile.validity_days if request.validity_days is None else request.validity_days
        )
        if isinstance(days, bool) or not 1 <= days <= MAX_SUBSCRIBER_VALIDITY_DAYS:
            raise PkiError(
                PkiErrorKind.MALFORMED,
                f"validity of {days} days: must be 1-{MAX_SUBSCRIBER_VALIDITY_DAYS} days "
                f"(S/MIME BR 6.3.2 maximum is {BR_MAX_VALIDITY_DAYS}; pkilint warns at it)",
            )
        return days

    def _subscriber_key(self, request: IssueRequest) -> tuple[PublicKey, PrivateKey | None]:
        if (request.csr is None) == (request.generate_key is None):
            raise PkiError(
                PkiErrorKind.MALFORMED, "give exactly one of a CSR and a key type to generate"
            )
        if request.csr is not None:
            public_key = public_key_from_csr(request.csr)
            if key_spec_of(public_key) not in self._profile.allowed_keys:
                raise PkiError(
                    PkiErrorKind.UNSUPPORTED_KEY,
                    f"key type {key_spec_of(public_key)} is not allowed by profile "
                    f"{self._profile.name!r}",
                )
            return public_key, None
        if request.pkcs12_passphrase is None:
            raise PkiError(PkiErrorKind.MALFORMED, "a generated key needs a PKCS#12 passphrase")
        check_passphrase(request.pkcs12_passphrase, "the PKCS#12 passphrase")
        spec = parse_key_spec(request.generate_key or self._profile.generated_key)
        if spec == "ed25519":
            raise PkiError(
                PkiErrorKind.UNSUPPORTED_KEY, "generated keys must be RSA or ECDSA (PKCS#12)"
            )
        private_key = generate_private_key(spec)
        assert not isinstance(private_key, ed25519.Ed25519PrivateKey)
        return private_key.public_key(), private_key

    def _builder(
        self,
        serial: int,
        subject: x509.Name,
        san: x509.SubjectAlternativeName,
        public_key: PublicKey,
        validation: ValidationType,
        trust_oid: str,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .serial_number(serial)
            .issuer_name(self._issuing.subject)
            .subject_name(subject)
            .public_key(public_key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(public_key), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
            .add_extension(
                certificate_policies([BR_POLICY_OIDS[validation], trust_oid]), critical=False
            )
            # RFC 5280 4.2.1.6: SAN is critical when the subject is empty.
            .add_extension(san, critical=len(subject) == 0)
            .add_extension(crl_distribution_points(self._urls.issuing_crl), critical=False)
            .add_extension(
                authority_information_access(self._urls.issuing_cert, self._urls.ocsp), False
            )
            .add_extension(subject_key_identifier(public_key), critical=False)
            .add_extension(self._aki, critical=False)
        )

    # -- revocation ----------------------------------------------------------------------

    def build_crl(self, revoked: Iterable[RevokedEntry], number: int) -> bytes:
        """The issuing CA's CRL (DER), thisUpdate now, nextUpdate per the profile (<= 10 days).

        `number` must increase with every CRL (the store keeps the counter).
        """
        now = now_seconds(self._clock)
        der = build_crl(
            issuer=self._issuing,
            key=self._issuing_key,
            number=number,
            this_update=now,
            next_update=now + timedelta(hours=self._profile.crl_validity_hours),
            revoked=revoked,
        )
        require_clean(check_crl(der), f"CRL {number}")
        return der

    def ocsp_responder(self, lookup: StatusLookup) -> OcspResponder:
        """An OCSP responder for this CA, signing with the delegated responder key."""
        return OcspResponder(
            issuer=self._issuing,
            responder_cert=self._ocsp_responder,
            responder_key=self._ocsp_key,
            lookup=lookup,
            clock=self._clock,
            validity=timedelta(hours=self._profile.ocsp_validity_hours),
        )

    def now(self) -> datetime:
        return now_seconds(self._clock)
