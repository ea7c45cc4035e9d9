"""X.509 extension builders shared by the CA set-up and issuance."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from pki.errors import PkiError, PkiErrorKind
from pki.keys import PublicKey


def subject_key_identifier(key: PublicKey) -> x509.SubjectKeyIdentifier:
    """RFC 5280 method 1: SHA-1 of the subjectPublicKey bit string."""
    return x509.SubjectKeyIdentifier.from_public_key(key)


def authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """keyIdentifier only (the S/MIME BR forbid authorityCertIssuer/serial)."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise PkiError(
            PkiErrorKind.MALFORMED, "the issuer certificate has no subjectKeyIdentifier"
        ) from None
    return x509.AuthorityKeyIdentifier(ski.digest, None, None)


def crl_distribution_points(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
    )


def authority_information_access(
    ca_issuers_url: str, ocsp_url: str | None
) -> x509.AuthorityInformationAccess:
    descriptions = []
    if ocsp_url is not None:
        descriptions.append(
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
            )
        )
    descriptions.append(
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(ca_issuers_url),
        )
    )
    return x509.AuthorityInformationAccess(descriptions)


def certificate_policies(oids: list[str]) -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in oids]
    )
