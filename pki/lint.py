"""pkilint, in process: S/MIME BR certificates, CRLs and OCSP responses.

Building a certificate validator takes ~170 ms, running it a few ms, so validators are built once
per (validation level, generation) and cached. The level and generation are stated by the caller
(from the certificate type being issued), never guessed from the certificate.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import Any

from pkilint import loader, pkix, validation
from pkilint.cabf import cabf_crl, smime
from pkilint.cabf.smime.smime_constants import Generation, ValidationLevel
from pkilint.pkix import certificate, crl, extension, name, ocsp
from pyasn1.codec.der import encoder
from pyasn1.type import univ
from pyasn1_fasder import decode_der

from pki.errors import LintFinding
from pki.request import ValidationType

BLOCKING = validation.ValidationFindingSeverity.WARNING

_LEVELS: dict[ValidationType, Any] = {
    ValidationType.MAILBOX: ValidationLevel.MAILBOX,
    ValidationType.ORGANIZATION: ValidationLevel.ORGANIZATION,
    ValidationType.SPONSOR: ValidationLevel.SPONSORED,
}
_build_lock = threading.Lock()
# pkilint does not promise thread safety; validation is pure Python (GIL-bound) anyway, so
# serialising it costs no throughput. Use several processes to lint on several cores.
_validate_lock = threading.Lock()
_CERT_LOADER = loader.RFC5280CertificateDocumentLoader()
_CRL_LOADER = loader.RFC5280CertificateListDocumentLoader()
_OCSP_LOADER = loader.RFC6960OCSPResponseDocumentLoader()


@functools.cache
def _smime_validator(level: ValidationLevel, generation: Generation) -> Any:
    return certificate.create_pkix_certificate_validator_container(
        smime.create_decoding_validators(),
        smime.create_subscriber_validators(level, generation),
    )


def smime_validator(validation_type: ValidationType) -> Any:
    """The cached pkilint validator for a strict-generation certificate of this type."""
    with _build_lock:
        return _smime_validator(_LEVELS[validation_type], Generation.STRICT)


@functools.cache
def _crl_validator(arl: bool) -> Any:
    kind = crl.CertificateRevocationListType.ARL if arl else crl.CertificateRevocationListType.CRL
    return crl.create_pkix_crl_validator_container(
        [
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [
            crl.create_issuer_validator_container([]),
            crl.create_validity_validator_container(
                [cabf_crl.create_validity_period_validator(kind)]
            ),
            crl.create_extensions_validator_container([]),
            cabf_crl.CabfCrlReasonCodeAllowlistValidator(kind),
        ],
    )


@functools.cache
def _ocsp_validator() -> Any:
    return ocsp.create_pkix_ocsp_response_validator_container(
        [
            ocsp.create_response_decoder(),
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [],
    )


def warm_up() -> None:
    """Build every validator now (e.g. at start-up) rather than on the first issuance."""
    for validation_type in ValidationType:
        smime_validator(validation_type)
    with _build_lock:
        _crl_validator(False)
        _ocsp_validator()


def _findings(results: Iterable[Any]) -> list[LintFinding]:
    found: list[LintFinding] = []
    for result in results:
        for description in result.finding_descriptions:
            severity = description.finding.severity
            if severity <= BLOCKING:
                found.append(
                    LintFinding(
                        severity=severity.name,
                        code=description.finding.code,
                        message=description.message,
                        path=getattr(result.node, "path", None),
                    )
                )
    return found


def _run(doc_loader: Any, validator: Any, der: bytes, what: str) -> list[LintFinding]:
    try:
        document = doc_loader.load_der_document(der, what)
    except ValueError as exc:
        return [LintFinding("FATAL", "clearance.undecodable", str(exc))]
    with _validate_lock:
        return _findings(validator.validate(document.root))


def lint_smime_certificate(der: bytes, validation_type: ValidationType) -> list[LintFinding]:
    """Findings at WARNING or above for a strict S/MIME certificate of the given type."""
    return _run(_CERT_LOADER, smime_validator(validation_type), der, "certificate")


def lint_crl(der: bytes, *, authority_revocation_list: bool = False) -> list[LintFinding]:
    """Findings at WARNING or above for a CRL (or the root's ARL) under the CA/B Forum BR."""
    with _build_lock:
        validator = _crl_validator(authority_revocation_list)
    return _run(_CRL_LOADER, validator, der, "crl")


def lint_ocsp_response(der: bytes) -> list[LintFinding]:
    """Findings at WARNING or above for an OCSP response (RFC 6960 profile)."""
    with _build_lock:
        validator = _ocsp_validator()
    return _run(_OCSP_LOADER, validator, der, "ocsp-response")


def oid_is_lintable(dotted: str) -> bool:
    """Whether pkilint's DER decoder (pyasn1-fasder) can decode this OID at all."""
    try:
        encoded = encoder.encode(univ.ObjectIdentifier(dotted))
        decode_der(encoded, asn1Spec=univ.ObjectIdentifier())
    except Exception:  # pyasn1/fasder raise their own error types
        return False
    return True
