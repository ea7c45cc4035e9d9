"""Subject names and subjectAltName for each S/MIME BR certificate type (strict generation).

mailbox:      subject emailAddress only (or empty, per profile); SAN rfc822Name.
organization: O, organizationIdentifier, C, optional emailAddress; SAN rfc822Name.
sponsor:      CN (the personal name or the pseudonym), givenName + surname or pseudonym, O,
              organizationIdentifier, C, optional emailAddress; SAN rfc822Name.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from pki.domains import is_public_hostname
from pki.errors import PkiError, PkiErrorKind
from pki.request import IssueRequest, ValidationType

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_RE = re.compile(rf"^{_ATEXT}(\.{_ATEXT})*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# S/MIME BR 7.1.4.2.2 (d): 3-letter scheme, 2-letter country, optional +state, optional -reference.
_ORG_ID_RE = re.compile(
    r"^(?P<scheme>[A-Z]{3}|[A-Z]{2}:)(?P<country>[A-Z]{2})(\+(?P<sp>[A-Z0-9]{1,3}))?"
    r"(-(?P<reference>[^\s]+))?$"
)
_REFERENCE_REQUIRED = {"NTR", "VAT", "PSD", "LEI"}
_REFERENCE_PROHIBITED = {"GOV", "INT"}
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_MAX_ATTRIBUTE = 64  # RFC 5280 upper bound for O, CN, givenName ...


def normalise_email(email: str) -> str:
    """Check an ASCII mailbox address and lower-case its domain.

    The directory normalises (IDNA A-labels) before calling; non-ASCII addresses would need
    SmtpUTF8Mailbox, which Clearance does not issue, so they are `malformed`.
    """
    if not email.isascii():
        raise PkiError(PkiErrorKind.MALFORMED, "email address must be ASCII (IDNA A-label domain)")
    local, sep, domain = email.rpartition("@")
    if not sep or not local or not domain:
        raise PkiError(PkiErrorKind.MALFORMED, f"{email!r} is not a mailbox address")
    domain = domain.lower().rstrip(".")
    if len(local) > 64 or not _LOCAL_RE.match(local):
        raise PkiError(PkiErrorKind.MALFORMED, f"{email!r}: invalid local part")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL_RE.match(x) for x in labels):
        raise PkiError(PkiErrorKind.MALFORMED, f"{email!r}: invalid domain")
    if labels[-1].isdigit() or not is_public_hostname(domain):
        raise PkiError(
            PkiErrorKind.MALFORMED,
            f"{email!r}: domain is not under a public suffix (internal name)",
        )
    return f"{local}@{domain}"


def check_organization_identifier(value: str, country: str) -> str:
    """An organizationIdentifier per S/MIME BR 7.1.4.2.2 (d), consistent with countryName.

    Examples: `NTRGB-01234567` (Companies House), `GOVGB` (a UK government entity; the GOV
    scheme takes no registration reference), `GOVGB+ENG`.
    """
    m = _ORG_ID_RE.match(value)
    if m is None:
        raise PkiError(
            PkiErrorKind.MALFORMED,
            f"organization identifier {value!r} must look like NTRGB-01234567 or GOVGB",
        )
    scheme, ref = m["scheme"], m["reference"]
    if scheme in _REFERENCE_REQUIRED and not ref:
        raise PkiError(
            PkiErrorKind.MALFORMED, f"organization identifier scheme {scheme} needs a reference"
        )
    if scheme in _REFERENCE_PROHIBITED and ref:
        raise PkiError(
            PkiErrorKind.MALFORMED,
            f"organization identifier scheme {scheme} takes no reference (use e.g. {scheme}GB)",
        )
    if scheme == "LEI":
        raise PkiError(PkiErrorKind.MALFORMED, "LEI organization identifiers are not supported")
    if m["country"] != country:
        raise PkiError(
            PkiErrorKind.MALFORMED,
            f"organization identifier country {m['country']} differs from {country}",
        )
    return value


def _text(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} is required for this certificate type")
    if value != value.strip() or len(value) > _MAX_ATTRIBUTE:
        raise PkiError(
            PkiErrorKind.MALFORMED,
            f"{what} must be 1-{_MAX_ATTRIBUTE} characters without outer spaces",
        )
    if any(ch in value for ch in "<>&\x00") or not value.isprintable():
        raise PkiError(PkiErrorKind.MALFORMED, f"{what} contains a character that is not allowed")
    return value


def _absent(request: IssueRequest, *names: str) -> None:
    for name in names:
        if getattr(request, name) is not None:
            raise PkiError(
                PkiErrorKind.MALFORMED,
                f"{name} is not allowed in a {request.validation} certificate",
            )


def build_subject(
    request: IssueRequest, email: str, subject_email: bool
) -> tuple[x509.Name, x509.SubjectAlternativeName]:
    """The subject and SAN for the request's certificate type; anything else is `malformed`."""
    attrs: list[x509.NameAttribute[str]] = []
    san = x509.SubjectAlternativeName([x509.RFC822Name(email)])
    if request.validation == ValidationType.MAILBOX:
        _absent(
            request,
            "organization_name",
            "organization_identifier",
            "country",
            "given_name",
            "surname",
            "pseudonym",
        )
        if subject_email:
            attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
        return x509.Name([x509.RelativeDistinguishedName([a]) for a in attrs]), san

    country = _text(request.country, "country")
    if not _COUNTRY_RE.match(country):
        raise PkiError(
            PkiErrorKind.MALFORMED, "country must be an ISO 3166 alpha-2 code in capitals"
        )
    org = _text(request.organization_name, "organization_name")
    org_id = check_organization_identifier(
        _text(request.organization_identifier, "organization_identifier"), country
    )
    if request.validation == ValidationType.ORGANIZATION:
        _absent(request, "given_name", "surname", "pseudonym")
    elif request.validation == ValidationType.SPONSOR:
        if request.pseudonym is not None:
            _absent(request, "given_name", "surname")
            pseudonym = _text(request.pseudonym, "pseudonym")
            attrs += [
                x509.NameAttribute(NameOID.PSEUDONYM, pseudonym),
                x509.NameAttribute(NameOID.COMMON_NAME, pseudonym),
            ]
        else:
            given = _text(request.given_name, "given_name")
            surname = _text(request.surname, "surname")
            attrs += [
                x509.NameAttribute(NameOID.GIVEN_NAME, given),
                x509.NameAttribute(NameOID.SURNAME, surname),
                x509.NameAttribute(NameOID.COMMON_NAME, _text(f"{given} {surname}", "full name")),
            ]
    else:
        raise PkiError(PkiErrorKind.MALFORMED, f"unknown validation type {request.validation!r}")
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org_id),
        *attrs,
    ]
    if subject_email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name([x509.RelativeDistinguishedName([a]) for a in attrs]), san
