"""The OCSP responder core, framework-free: DER request in, DER response out.

Responses are signed by a delegated responder certificate (issued by the issuing CA, EKU
OCSPSigning, id-pkix-ocsp-nocheck) rather than by the issuing CA key itself: the issuing key is
then used only for certificates and CRLs, the responder key can live on the busy web tier and be
rotated every few weeks, and a leak of it cannot mint certificates.

- A request for another issuer (name/key hash mismatch) -> `unauthorized`.
- A request that does not parse (or holds several requests) -> `malformedRequest`.
- The status callback decides good/revoked/unknown; a serial the store never issued must come
  back `Unknown` and is answered `unknown`, never `good`.
- thisUpdate = now, nextUpdate = now + validity, 8 hours <= validity <= 10 days (BR 4.9.10).
- A nonce (1-32 octets, RFC 8954) is echoed; the response is otherwise cacheable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp

from pki.clock import Clock, now_seconds
from pki.errors import PkiError, PkiErrorKind
from pki.keys import CaPrivateKey, signature_hash
from pki.status import CertificateStatus, Good, Revoked, Unknown

OCSP_RESPONSE_TYPE = "application/ocsp-response"
OCSP_REQUEST_TYPE = "application/ocsp-request"
MAX_REQUEST_BYTES = 4096
MIN_VALIDITY = timedelta(hours=8)
MAX_VALIDITY = timedelta(days=10)

StatusLookup = Callable[[int], CertificateStatus]

_HASHES: dict[str, Callable[[bytes], bytes]] = {
    "sha1": lambda data: hashlib.sha1(data, usedforsecurity=False).digest(),
    "sha256": lambda data: hashlib.sha256(data).digest(),
    "sha384": lambda data: hashlib.sha384(data).digest(),
    "sha512": lambda data: hashlib.sha512(data).digest(),
}


@dataclass(frozen=True)
class HttpReply:
    """A framework-free HTTP answer: body, content type, and how long caches may keep it."""

    body: bytes
    content_type: str
    max_age: int  # seconds, for Cache-Control: max-age; 0 means no-store


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (what issuerKeyHash hashes)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    raise PkiError(PkiErrorKind.UNSUPPORTED_KEY, "the issuing CA key must be ECDSA or RSA")


class OcspResponder:
    """Answers OCSP requests for one issuing CA."""

    def __init__(
        self,
        *,
        issuer: x509.Certificate,
        responder_cert: x509.Certificate,
        responder_key: CaPrivateKey,
        lookup: StatusLookup,
        clock: Clock,
        validity: timedelta = timedelta(hours=24),
    ) -> None:
        if not MIN_VALIDITY <= validity <= MAX_VALIDITY:
            raise PkiError(
                PkiErrorKind.MALFORMED, "OCSP validity must be between 8 hours and 10 days"
            )
        self._issuer = issuer
        self._responder_cert = responder_cert
        self._responder_key = responder_key
        self._lookup = lookup
        self._clock = clock
        self._validity = validity
        self._hash = signature_hash(responder_key)
        name_der = issuer.subject.public_bytes()
        key_bits = _public_key_bits(issuer)
        self._issuer_hashes = {
            name: (digest(name_der), digest(key_bits)) for name, digest in _HASHES.items()
        }

    def __repr__(self) -> str:
        return f"OcspResponder(issuer={self._issuer.subject.rfc4514_string()!r})"

    def respond_get(self, encoded: str) -> HttpReply:
        """A GET request: the URL path segment after {base}/ocsp/ (URL-encoded base64)."""
        try:
            data = base64.b64decode(unquote(encoded), validate=True)
        except (binascii.Error, ValueError):
            return self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        return self.respond(data)

    def respond(self, request_der: bytes) -> HttpReply:
        """A POST body (or decoded GET request): always an OCSP response, never an exception."""
        if not request_der or len(request_der) > MAX_REQUEST_BYTES:
            return self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            serial = request.serial_number
            name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
            nonce = self._nonce(request)
        except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
            return self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        except Exception:  # cryptography raises UnsupportedAlgorithm for odd hash algorithms
            return self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        expected = self._issuer_hashes.get(algorithm.name)
        if expected is None or expected != (name_hash, key_hash):
            return self._unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        try:
            status = self._lookup(serial)
        except Exception:  # the store is down: answer internalError, never "good"
            return self._unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
        return self._successful(algorithm, name_hash, key_hash, serial, status, nonce)

    def _nonce(self, request: ocsp.OCSPRequest) -> bytes | None:
        try:
            value = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            return None
        return value if 1 <= len(value) <= 32 else None

    def _successful(
        self,
        algorithm: hashes.HashAlgorithm,
        name_hash: bytes,
        key_hash: bytes,
        serial: int,
        status: CertificateStatus,
        nonce: bytes | None,
    ) -> HttpReply:
        now = now_seconds(self._clock)
        revocation_time = None
        revocation_reason = None
        if isinstance(status, Good):
            cert_status = ocsp.OCSPCertStatus.GOOD
        elif isinstance(status, Revoked):
            cert_status = ocsp.OCSPCertStatus.REVOKED
            revocation_time = status.revoked_at.replace(microsecond=0)
            revocation_reason = status.reason.flag
        elif isinstance(status, Unknown):
            cert_status = ocsp.OCSPCertStatus.UNKNOWN
        else:
            return self._unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=name_hash,
                issuer_key_hash=key_hash,
                serial_number=serial,
                algorithm=algorithm,
                cert_status=cert_status,
                this_update=now,
                next_update=now + self._validity,
                revocation_time=revocation_time,
                revocation_reason=revocation_reason,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self._responder_cert)
            .certificates([self._responder_cert])
        )
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self._responder_key, self._hash)
        max_age = 0 if nonce is not None else int(self._validity.total_seconds() // 2)
        return HttpReply(
            response.public_bytes(serialization.Encoding.DER), OCSP_RESPONSE_TYPE, max_age
        )

    @staticmethod
    def _unsuccessful(status: ocsp.OCSPResponseStatus) -> HttpReply:
        body = ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
            serialization.Encoding.DER
        )
        return HttpReply(body, OCSP_RESPONSE_TYPE, 0)
