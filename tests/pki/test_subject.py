from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from pki.errors import PkiError
from pki.request import ValidationType
from pki.subject import build_subject, check_organization_identifier, normalise_email
from tests.pki.helpers import make_request


def test_email_domain_is_lowercased() -> None:
    assert normalise_email("J.Smith@Council.GOV.UK") == "J.Smith@council.gov.uk"


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign",
        "@council.gov.uk",
        "a@",
        "a b@council.gov.uk",
        "a..b@council.gov.uk",
        "jöe@council.gov.uk",
        "a@council",
        "a@council.local",
        "a@host.test",
        "a@127.0.0.1",
        "a@-bad.gov.uk",
        "x" * 65 + "@council.gov.uk",
    ],
)
def test_bad_emails_are_malformed(email: str) -> None:
    with pytest.raises(PkiError) as caught:
        normalise_email(email)
    assert caught.value.kind == "malformed"


@pytest.mark.parametrize("value", ["GOVGB", "GOVGB+ENG", "NTRGB-01234567", "VATGB-123456789"])
def test_good_organization_identifiers(value: str) -> None:
    assert check_organization_identifier(value, "GB") == value


@pytest.mark.parametrize(
    ("value", "country"),
    [
        ("GOVGB-1234", "GB"),  # the GOV scheme takes no reference
        ("NTRGB", "GB"),  # NTR needs one
        ("NTRFR-1234", "GB"),  # country mismatch
        ("gb-council", "GB"),
        ("LEIXG-529900T8BM49AURSDO55", "GB"),
    ],
)
def test_bad_organization_identifiers(value: str, country: str) -> None:
    with pytest.raises(PkiError) as caught:
        check_organization_identifier(value, country)
    assert caught.value.kind == "malformed"


def test_mailbox_subject_is_only_email() -> None:
    request = make_request(ValidationType.MAILBOX)
    subject, san = build_subject(request, request.email, subject_email=True)
    assert [a.oid for a in subject] == [NameOID.EMAIL_ADDRESS]
    empty, _ = build_subject(request, request.email, subject_email=False)
    assert len(empty) == 0
    assert san.get_values_for_type(x509.RFC822Name) == [request.email]


def test_mailbox_refuses_organisation_fields() -> None:
    request = make_request(ValidationType.MAILBOX, organization_name="Council")
    with pytest.raises(PkiError) as caught:
        build_subject(request, request.email, subject_email=True)
    assert caught.value.kind == "malformed"


def test_organization_subject() -> None:
    request = make_request(ValidationType.ORGANIZATION)
    subject, _ = build_subject(request, request.email, subject_email=False)
    assert [a.oid for a in subject] == [
        NameOID.COUNTRY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATION_IDENTIFIER,
    ]


def test_organization_refuses_personal_names() -> None:
    request = make_request(ValidationType.ORGANIZATION, given_name="Jane")
    with pytest.raises(PkiError):
        build_subject(request, request.email, subject_email=True)


def test_sponsor_needs_a_name_and_refuses_mixing() -> None:
    subject, _ = build_subject(
        make_request(ValidationType.SPONSOR), "j.smith@council.gov.uk", subject_email=True
    )
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Jane Smith"
    request = make_request(ValidationType.SPONSOR, given_name=None, surname=None)
    with pytest.raises(PkiError):
        build_subject(request, request.email, subject_email=True)
    mixed = make_request(ValidationType.SPONSOR, pseudonym="Duty Officer")
    with pytest.raises(PkiError):
        build_subject(mixed, mixed.email, subject_email=True)
    pseudonymous = make_request(
        ValidationType.SPONSOR, given_name=None, surname=None, pseudonym="Duty Officer"
    )
    subject, _ = build_subject(pseudonymous, pseudonymous.email, subject_email=True)
    assert subject.get_attributes_for_oid(NameOID.PSEUDONYM)[0].value == "Duty Officer"


@pytest.mark.parametrize("value", ["", " padded", "x" * 65, "<b>Council</b>", "tab\tname"])
def test_bad_attribute_values(value: str) -> None:
    request = make_request(ValidationType.ORGANIZATION, organization_name=value)
    with pytest.raises(PkiError) as caught:
        build_subject(request, request.email, subject_email=True)
    assert caught.value.kind == "malformed"
