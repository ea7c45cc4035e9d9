"""Our own checks for S/MIME BR ballots pkilint does not lint yet (it covers up to SMC-13).

Run in the same pre-issuance gate as pkilint (pki/authority.py issue, build_crl; pki/hierarchy.py
create_ca) and reported as the same `LintFinding`s, with codes under `clearance.smime.`:

- SMC016, no SHA-1: the signature algorithm of a certificate or CRL is not SHA-1 based
  (sha1WithRSAEncryption, ecdsa-with-SHA1, DSA with SHA-1, or RSASSA-PSS with a SHA-1 hash).
  The subject key identifier's RFC 5280 method 1 hashes the key with SHA-1; that is an
  identifier, not a signature, and outside the ballot.
- SMC018, EKU: a subordinate CA or subscriber certificate carries emailProtection and nothing
  else but, optionally, clientAuth (required from 2027-07-01; checked now).
- S/MIME BR 6.3.2: a subscriber certificate is valid for at most 825 days.

When pkilint gains lints for these ballots, both run; a check here is removed once pkilint's
covers it (docs/pki.md, "Following the BR").
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from pki.errors import LintFinding

MAX_SUBSCRIBER_VALIDITY = timedelta(days=825)
SHA1_SIGNATURES = frozenset(
    {
        "1.2.840.113549.1.1.5",  # sha1WithRSAEncryption
        "1.3.14.3.2.29",  # sha1WithRSASignature (OIW)
        "1.2.840.10045.4.1",  # ecdsa-with-SHA1
        "1.2.840.10040.4.3",  # dsa-with-sha1
    }
)
ALLOWED_EKUS = frozenset({ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH})


def no_sha1(
    oid: ObjectIdentifier, hash_algorithm: hashes.HashAlgorithm | None, what: str
) -> list[LintFinding]:
    """SMC016: the signature is not made with SHA-1 (by its OID, or, for RSASSA-PSS, the hash
    its parameters name, which cryptography reports as the signature's hash)."""
    if oid.dotted_string in SHA1_SIGNATURES or isinstance(hash_algorithm, hashes.SHA1):
        return [
            LintFinding(
                "ERROR",
                "clearance.smime.sha1_signature",
                f"the {what} is signed with SHA-1 ({oid.dotted_string}): S/MIME BR ballot SMC016",
            )
        ]
    return []


def _hash_of(
    signed: x509.Certificate | x509.CertificateRevocationList,
) -> hashes.HashAlgorithm | None:
    try:
        return signed.signature_hash_algorithm
    except UnsupportedAlgorithm:  # one cryptography does not know: the OID check still applies
        return None


def eku_findings(certificate: x509.Certificate) -> list[LintFinding]:
    """SMC018: emailProtection, and nothing else but (optionally) clientAuth."""
    try:
        usages = list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    found: list[LintFinding] = []
    if ExtendedKeyUsageOID.EMAIL_PROTECTION not in usages:
        found.append(
            LintFinding(
                "ERROR",
                "clearance.smime.eku_missing_email_protection",
                "the extended key usage must include emailProtection: S/MIME BR ballot SMC018",
            )
        )
    others = [u.dotted_string for u in usages if u not in ALLOWED_EKUS]
    if others:
        found.append(
            LintFinding(
                "ERROR",
                "clearance.smime.eku_not_allowed",
                f"extended key usages {', '.join(others)} are not allowed (only emailProtection "
                "and, optionally, clientAuth): S/MIME BR ballot SMC018",
            )
        )
    return found


def check_subscriber(certificate: x509.Certificate) -> list[LintFinding]:
    """Every check for a subscriber (end-entity S/MIME) certificate."""
    found = no_sha1(certificate.signature_algorithm_oid, _hash_of(certificate), "certificate")
    found += eku_findings(certificate)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    if lifetime + timedelta(seconds=1) > MAX_SUBSCRIBER_VALIDITY:
        found.append(
            LintFinding(
                "ERROR",
                "clearance.smime.validity_too_long",
                f"valid for {lifetime.days} days and more: at most 825 (S/MIME BR 6.3.2)",
            )
        )
    return found


def check_root(certificate: x509.Certificate) -> list[LintFinding]:
    return no_sha1(certificate.signature_algorithm_oid, _hash_of(certificate), "certificate")


def check_subordinate_ca(certificate: x509.Certificate) -> list[LintFinding]:
    """Every check for a subordinate (issuing) CA certificate."""
    found = no_sha1(certificate.signature_algorithm_oid, _hash_of(certificate), "certificate")
    return found + eku_findings(certificate)


def check_crl(der: bytes) -> list[LintFinding]:
    try:
        crl = x509.load_der_x509_crl(der)
    except ValueError as exc:
        return [LintFinding("FATAL", "clearance.undecodable", str(exc))]
    return no_sha1(crl.signature_algorithm_oid, _hash_of(crl), "CRL")
