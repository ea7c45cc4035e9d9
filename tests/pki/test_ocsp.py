from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from pki.authority import CertificateAuthority
from pki.errors import PkiError
from pki.ledger import InMemoryLedger
from pki.lint import lint_ocsp_response
from pki.ocsp import OCSP_RESPONSE_TYPE, OcspResponder
from pki.request import ValidationType
from pki.status import Good, RevocationReason, Unknown
from tests.pki.helpers import FROZEN, make_csr, make_request


def _issue(ca: CertificateAuthority, ledger: InMemoryLedger) -> x509.Certificate:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()))
    issued = ca.issue(make_request(ValidationType.MAILBOX, csr=csr), ledger)
    return x509.load_der_x509_certificate(issued.der)


def _request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: hashes.HashAlgorithm,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _parse(body: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(body)


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()], ids=["sha1", "sha256"])
def test_good_revoked_unknown(ca: CertificateAuthority, algorithm: hashes.HashAlgorithm) -> None:
    ledger = InMemoryLedger()
    responder = ca.ocsp_responder(ledger.status)
    cert = _issue(ca, ledger)
    request = _request(cert, ca.issuing_certificate, algorithm)

    reply = responder.respond(request)
    assert reply.content_type == OCSP_RESPONSE_TYPE
    assert lint_ocsp_response(reply.body) == []
    response = _parse(reply.body)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cert.serial_number
    assert response.this_update_utc == FROZEN
    assert response.next_update_utc == FROZEN + timedelta(hours=24)
    assert response.certificates == [ca.ocsp_responder_certificate]
    responder_key = ca.ocsp_responder_certificate.public_key()
    assert isinstance(responder_key, ec.EllipticCurvePublicKey)
    responder_key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    assert reply.max_age == 12 * 3600

    ledger.revoke(cert.serial_number, FROZEN - timedelta(hours=1), RevocationReason.KEY_COMPROMISE)
    revoked = _parse(responder.respond(request).body)
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_time_utc == FROZEN - timedelta(hours=1)
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise
    assert lint_ocsp_response(responder.respond(request).body) == []


def test_never_issued_serial_is_unknown(ca: CertificateAuthority) -> None:
    ledger = InMemoryLedger()
    cert = _issue(ca, ledger)
    # reserved and linted but never issued: still unknown, never good
    ledger.reserve_serial(cert.serial_number + 1)
    ledger.record_precertificate(cert.serial_number + 1, b"0")
    fake = x509.CertificateBuilder(
        issuer_name=cert.issuer,
        subject_name=cert.subject,
        public_key=cert.public_key(),
        serial_number=cert.serial_number + 1,
        not_valid_before=FROZEN,
        not_valid_after=FROZEN + timedelta(days=1),
    ).sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    responder = ca.ocsp_responder(ledger.status)
    response = _parse(responder.respond(_request(fake, ca.issuing_certificate, hashes.SHA1())).body)
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    assert (
        lint_ocsp_response(
            responder.respond(_request(fake, ca.issuing_certificate, hashes.SHA1())).body
        )
        == []
    )


def test_other_issuer_is_unauthorized(ca: CertificateAuthority) -> None:
    ledger = InMemoryLedger()
    cert = _issue(ca, ledger)
    responder = ca.ocsp_responder(lambda serial: Good())
    # the root is not the issuer this responder answers for
    reply = responder.respond(_request(cert, ca.root_certificate, hashes.SHA1()))
    assert _parse(reply.body).response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert reply.max_age == 0


@pytest.mark.parametrize("body", [b"", b"\x30\x03\x02\x01\x01", b"garbage", b"\x30" * 5000])
def test_malformed_requests(ca: CertificateAuthority, body: bytes) -> None:
    responder = ca.ocsp_responder(lambda serial: Good())
    response = _parse(responder.respond(body).body)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_get_encoding_and_nonce(ca: CertificateAuthority) -> None:
    ledger = InMemoryLedger()
    cert = _issue(ca, ledger)
    responder = ca.ocsp_responder(ledger.status)
    request = _request(cert, ca.issuing_certificate, hashes.SHA1(), nonce=b"0123456789abcdef")
    encoded = quote(base64.b64encode(request).decode(), safe="")
    reply = responder.respond_get(encoded)
    response = _parse(reply.body)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
        b"0123456789abcdef"
    )
    assert reply.max_age == 0  # a nonced answer is for one client only
    bad = _parse(responder.respond_get("%%%not-base64").body)
    assert bad.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_lookup_failure_is_internal_error(ca: CertificateAuthority) -> None:
    ledger = InMemoryLedger()
    cert = _issue(ca, ledger)

    def broken(serial: int) -> Unknown:
        raise RuntimeError("database is down")

    responder = ca.ocsp_responder(broken)
    response = _parse(responder.respond(_request(cert, ca.issuing_certificate, hashes.SHA1())).body)
    assert response.response_status == ocsp.OCSPResponseStatus.INTERNAL_ERROR


@pytest.mark.parametrize("hours", [7, 241])
def test_validity_bounds(ca: CertificateAuthority, hours: int) -> None:
    with pytest.raises(PkiError):
        OcspResponder(
            issuer=ca.issuing_certificate,
            responder_cert=ca.ocsp_responder_certificate,
            responder_key=ec.generate_private_key(ec.SECP256R1()),
            lookup=lambda serial: Good(),
            clock=lambda: FROZEN,
            validity=timedelta(hours=hours),
        )


def test_several_requests_in_one_are_malformed(ca: CertificateAuthority) -> None:
    from pyasn1.codec.der import decoder, encoder
    from pyasn1_alt_modules import rfc6960

    ledger = InMemoryLedger()
    cert = _issue(ca, ledger)
    one = _request(cert, ca.issuing_certificate, hashes.SHA1())
    parsed, _ = decoder.decode(one, asn1Spec=rfc6960.OCSPRequest())
    requests = parsed["tbsRequest"]["requestList"]
    requests.append(requests[0])
    responder = ca.ocsp_responder(ledger.status)
    response = _parse(responder.respond(encoder.encode(parsed)).body)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
