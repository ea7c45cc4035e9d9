"""The public URLs of the CA, derived from one base URL (e.g. http://127.0.0.1:8000/pki).

The HTTP API must serve exactly these paths:
    {base}/root.cer       the root certificate, DER (application/pkix-cert)
    {base}/issuing.cer    the issuing CA certificate, DER (AIA caIssuers of subscribers)
    {base}/root.crl       the root's CRL (covers the issuing CA), DER (application/pkix-crl)
    {base}/issuing.crl    the issuing CA's CRL, DER
    {base}/ocsp           OCSP responder: POST body, or GET {base}/ocsp/{base64 request}
The S/MIME BR require plain http:// for CRL and AIA URLs (relying parties fetch them without
TLS to avoid a chicken-and-egg problem), so https:// is refused, and the host must be a public
DNS name (not 127.0.0.1, localhost or .test): pkilint flags internal names in these URLs as
errors. A local demo can use a name that resolves to 127.0.0.1, or any public name plus an
explicit responder URL (`openssl ocsp -url`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pki.domains import is_public_hostname
from pki.errors import PkiError, PkiErrorKind

_BASE_RE = re.compile(r"^http://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")


@dataclass(frozen=True)
class PkiUrls:
    base: str

    def __post_init__(self) -> None:
        base = self.base.rstrip("/")
        if not _BASE_RE.match(base) or "//" in base.removeprefix("http://"):
            raise PkiError(
                PkiErrorKind.MALFORMED,
                f"PKI base URL {self.base!r} must be http://host[:port][/path] "
                "(the S/MIME BR require http for CRL and AIA)",
            )
        host = base.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)[0]
        if not is_public_hostname(host):
            raise PkiError(
                PkiErrorKind.MALFORMED,
                f"PKI base URL host {host!r} is an IP address or internal name; pkilint "
                "(S/MIME BR 7.1.2.3) refuses those in CRL and AIA URLs: use a public DNS name",
            )
        object.__setattr__(self, "base", base)

    @property
    def root_cert(self) -> str:
        return f"{self.base}/root.cer"

    @property
    def issuing_cert(self) -> str:
        return f"{self.base}/issuing.cer"

    @property
    def root_crl(self) -> str:
        return f"{self.base}/root.crl"

    @property
    def issuing_crl(self) -> str:
        return f"{self.base}/issuing.crl"

    @property
    def ocsp(self) -> str:
        return f"{self.base}/ocsp"
