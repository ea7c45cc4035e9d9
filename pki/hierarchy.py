"""Setting up the CA hierarchy: an offline-style root, an issuing CA, a delegated OCSP responder.

Root CA (S/MIME BR 7.1.2.1): basicConstraints cA critical, keyUsage keyCertSign+cRLSign
critical, SKI, AKI = SKI, no policies, no EKU.
Issuing CA (S/MIME BR 7.1.2.2): basicConstraints cA pathLen 0 critical, keyUsage
keyCertSign+cRLSign critical, EKU emailProtection, certificatePolicies with the three strict BR
OIDs and the directory's trust-level OIDs, CRL DP -> {base}/root.crl, AIA caIssuers ->
{base}/root.cer (no OCSP URL: the root is offline, so its revocation information is its CRL).
OCSP responder: issued by the issuing CA, EKU OCSPSigning, keyUsage digitalSignature,
id-pkix-ocsp-nocheck, short-lived (profile.ocsp_responder_validity_days).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki import storage
from pki.br_checks import check_crl, check_root, check_subordinate_ca
from pki.clock import Clock, now_seconds
from pki.crl import RevokedEntry, build_crl
from pki.errors import PkiError, PkiErrorKind, require_clean
from pki.extensions import (
    authority_information_access,
    authority_key_identifier,
    certificate_policies,
    crl_distribution_points,
    subject_key_identifier,
)
from pki.keys import CaPrivateKey, check_passphrase, generate_ca_key, signature_hash
from pki.profiles import PkiProfile
from pki.request import BR_POLICY_OIDS
from pki.urls import PkiUrls

ROOT_CRL_DAYS = 365  # an ARL may span a year (CA/B Forum BR 4.9.7)


@dataclass(frozen=True)
class CaCertificates:
    """What `create_ca` made (certificates only; the keys stay in the encrypted files)."""

    root: x509.Certificate
    issuing: x509.Certificate
    ocsp_responder: x509.Certificate
    root_crl: bytes
    paths: storage.CaPaths


def random_serial() -> int:
    """A positive serial with 159 CSPRNG bits (20 octets in DER), never below 2**64."""
    while True:
        serial = secrets.randbits(159)
        if serial >= 1 << 64:
            return serial


def _name(profile: PkiProfile, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, profile.country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, profile.organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def build_root(key: CaPrivateKey, profile: PkiProfile, now: datetime) -> x509.Certificate:
    name = _name(profile, profile.root_common_name)
    ski = subject_key_identifier(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=profile.root_validity_days) - timedelta(seconds=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
    )
    return builder.sign(key, signature_hash(key))


def build_issuing(
    key: CaPrivateKey,
    root: x509.Certificate,
    root_key: CaPrivateKey,
    profile: PkiProfile,
    urls: PkiUrls,
    now: datetime,
) -> x509.Certificate:
    not_after = min(
        now + timedelta(days=profile.issuing_validity_days) - timedelta(seconds=1),
        root.not_valid_after_utc,
    )
    policies = list(BR_POLICY_OIDS.values()) + list(profile.trust_level_oids().values())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(profile, profile.issuing_common_name))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(certificate_policies(policies), critical=False)
        .add_extension(crl_distribution_points(urls.root_crl), critical=False)
        .add_extension(authority_information_access(urls.root_cert, None), critical=False)
        .add_extension(subject_key_identifier(key.public_key()), critical=False)
        .add_extension(authority_key_identifier(root), critical=False)
    )
    return builder.sign(root_key, signature_hash(root_key))


def build_ocsp_responder(
    key: ec.EllipticCurvePrivateKey,
    issuing: x509.Certificate,
    issuing_key: CaPrivateKey,
    profile: PkiProfile,
    now: datetime,
) -> x509.Certificate:
    not_after = min(
        now + timedelta(days=profile.ocsp_responder_validity_days) - timedelta(seconds=1),
        issuing.not_valid_after_utc,
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(profile, f"{profile.issuing_common_name} OCSP Responder"[:64]))
        .issuer_name(issuing.subject)
        .public_key(key.public_key())
        .serial_number(random_serial())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(subject_key_identifier(key.public_key()), critical=False)
        .add_extension(authority_key_identifier(issuing), critical=False)
    )
    return builder.sign(issuing_key, signature_hash(issuing_key))


def create_ca(
    directory: Path,
    passphrase: str | bytes,
    *,
    profile: PkiProfile,
    urls: PkiUrls,
    clock: Clock,
) -> CaCertificates:
    """Create root, issuing CA and OCSP responder in `directory` (e.g. <home>/ca).

    Refuses a placeholder passphrase and a directory that already holds a CA (`conflict`).
    Keys are written encrypted (PKCS#8, best available encryption), every file mode 0600.
    """
    secret = check_passphrase(passphrase)
    now = now_seconds(clock)
    paths = storage.make_ca_directory(directory)
    root_key = generate_ca_key(profile.ca_key)
    issuing_key = generate_ca_key(profile.ca_key)
    responder_key = ec.generate_private_key(ec.SECP256R1())
    root = build_root(root_key, profile, now)
    issuing = build_issuing(issuing_key, root, root_key, profile, urls, now)
    responder = build_ocsp_responder(responder_key, issuing, issuing_key, profile, now)
    root_crl = build_crl(
        issuer=root,
        key=root_key,
        number=1,
        this_update=now,
        next_update=now + timedelta(days=ROOT_CRL_DAYS),
        revoked=(),
        authority_revocation_list=True,
    )
    # pkilint has no lints for these ballots yet: our own, before anything is written
    require_clean(
        check_root(root) + check_subordinate_ca(issuing) + check_crl(root_crl),
        "the new CA",
    )
    storage.write_key(paths.root_key, root_key, secret)
    storage.write_key(paths.issuing_key, issuing_key, secret)
    storage.write_key(paths.ocsp_key, responder_key, secret)
    storage.write_certificate(paths.root_cert, root)
    storage.write_certificate(paths.issuing_cert, issuing)
    storage.write_certificate(paths.ocsp_cert, responder)
    storage.write_file(paths.root_crl, root_crl)
    return CaCertificates(root, issuing, responder, root_crl, paths)


def renew_ocsp_responder(
    directory: Path, passphrase: str | bytes, *, profile: PkiProfile, clock: Clock
) -> x509.Certificate:
    """Replace the delegated OCSP responder's key and certificate (run before it expires)."""
    paths = storage.CaPaths(directory)
    secret = check_passphrase(passphrase)
    issuing = storage.read_certificate(paths.issuing_cert)
    issuing_key = storage.read_key(paths.issuing_key, secret)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build_ocsp_responder(key, issuing, issuing_key, profile, now_seconds(clock))
    storage.write_key(paths.ocsp_key, key, secret, replace=True)
    storage.write_certificate(paths.ocsp_cert, cert, replace=True)
    return cert


def sign_root_crl(
    directory: Path,
    passphrase: str | bytes,
    *,
    number: int,
    revoked: list[RevokedEntry],
    clock: Clock,
) -> bytes:
    """Re-sign the root's CRL (ARL) with the root key; writes and returns it (DER).

    `number` must exceed the previous CRL number (1 at set-up).
    """
    paths = storage.CaPaths(directory)
    secret = check_passphrase(passphrase)
    root = storage.read_certificate(paths.root_cert)
    previous = x509.load_der_x509_crl(storage.read_file(paths.root_crl))
    previous_number = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    if number <= previous_number:
        raise PkiError(PkiErrorKind.CONFLICT, f"CRL number {number} must exceed {previous_number}")
    now = now_seconds(clock)
    crl = build_crl(
        issuer=root,
        key=storage.read_key(paths.root_key, secret),
        number=number,
        this_update=now,
        next_update=now + timedelta(days=ROOT_CRL_DAYS),
        revoked=revoked,
        authority_revocation_list=True,
    )
    storage.write_file(paths.root_crl, crl, replace=True)
    return crl
