from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from pki.authority import CertificateAuthority
from pki.crl import build_crl
from pki.errors import PkiError
from pki.extensions import authority_key_identifier
from pki.hierarchy import build_root
from pki.lint import lint_crl
from pki.profiles import PkiProfile
from pki.status import RevocationReason
from tests.pki.helpers import FROZEN

ISSUER_KEY = ec.generate_private_key(ec.SECP384R1())
ISSUER = build_root(ISSUER_KEY, PkiProfile(), FROZEN)


def _reference(entries: list[tuple[int, object, RevocationReason]], number: int) -> bytes:
    """The same CRL built by cryptography's (slow) builder: our DER must match its TBS."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ISSUER.subject)
        .last_update(FROZEN)
        .next_update(FROZEN + timedelta(days=7))
        .add_extension(authority_key_identifier(ISSUER), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial, when, reason in entries:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)  # type: ignore[arg-type]
        if reason.flag is not None:
            entry = entry.add_extension(x509.CRLReason(reason.flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(ISSUER_KEY, hashes.SHA384()).tbs_certlist_bytes


def _ours(entries: list[tuple[int, object, RevocationReason]], number: int) -> bytes:
    return build_crl(
        issuer=ISSUER,
        key=ISSUER_KEY,
        number=number,
        this_update=FROZEN,
        next_update=FROZEN + timedelta(days=7),
        revoked=entries,  # type: ignore[arg-type]
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=(1 << 159) - 1),
            st.integers(min_value=0, max_value=10**9),
            st.sampled_from(list(RevocationReason)),
        ),
        max_size=8,
    ),
    st.integers(min_value=0, max_value=(1 << 159) - 1),
)
def test_der_matches_cryptography(
    raw: list[tuple[int, int, RevocationReason]], number: int
) -> None:
    entries = [(s, FROZEN - timedelta(seconds=sec), r) for s, sec, r in raw]
    der = _ours(entries, number)  # type: ignore[arg-type]
    parsed = x509.load_der_x509_crl(der)
    assert parsed.tbs_certlist_bytes == _reference(entries, number)  # type: ignore[arg-type]
    assert parsed.is_signature_valid(ISSUER_KEY.public_key())


def test_crl_contents_and_lint(ca: CertificateAuthority) -> None:
    entries = [
        (1000 + i, FROZEN - timedelta(hours=i), reason) for i, reason in enumerate(RevocationReason)
    ]
    der = ca.build_crl(entries, number=7)
    assert lint_crl(der) == []
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(ca.issuing_certificate.public_key())  # type: ignore[arg-type]
    assert crl.issuer == ca.issuing_certificate.subject
    assert crl.last_update_utc == FROZEN
    assert crl.next_update_utc == FROZEN + timedelta(hours=ca.profile.crl_validity_hours)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    unspecified = crl.get_revoked_certificate_by_serial_number(1000)
    assert unspecified is not None and len(unspecified.extensions) == 0
    compromised = crl.get_revoked_certificate_by_serial_number(1001)
    assert compromised is not None
    assert (
        compromised.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )


def test_empty_crl_omits_the_list(ca: CertificateAuthority) -> None:
    der = ca.build_crl([], number=1)
    assert len(x509.load_der_x509_crl(der)) == 0
    assert lint_crl(der) == []


def test_limits() -> None:
    with pytest.raises(PkiError):
        build_crl(
            issuer=ISSUER,
            key=ISSUER_KEY,
            number=1,
            this_update=FROZEN,
            next_update=FROZEN + timedelta(days=10, seconds=1),
            revoked=[],
        )
    with pytest.raises(PkiError):
        _ours([(0, FROZEN, RevocationReason.SUPERSEDED)], 1)
    with pytest.raises(PkiError):
        _ours([(5, FROZEN, "certificateHold")], 1)  # type: ignore[list-item]
    with pytest.raises(PkiError):
        _ours([], -1)
    with pytest.raises(PkiError):
        RevocationReason.parse("cACompromise")
    assert RevocationReason.parse("privilegeWithdrawn").code == 9


def test_100k_entries_build(ca: CertificateAuthority) -> None:
    entries = [((1 << 100) + i, FROZEN, RevocationReason.SUPERSEDED) for i in range(100_000)]
    crl = x509.load_der_x509_crl(ca.build_crl(entries, number=2))
    assert len(crl) == 100_000
