"""The CA's publication points (public, no API key: relying parties fetch them anonymously)
and the admin API for issuing and revoking certificates."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import directory_of, principal
from api.schemas import Body
from directory.authz import Principal
from directory.certificates import Certificates, ca_exists
from directory.errors import not_found
from pki.limits import MAX_SUBSCRIBER_VALIDITY_DAYS

public = APIRouter(prefix="/pki", tags=["pki (public)"])


def _certificates(request: Request) -> Certificates:
    directory = directory_of(request)
    if not ca_exists(directory.settings):
        raise not_found("this directory runs no certificate authority")
    return directory.certificates


admin = APIRouter(prefix="/v1/admin/certificates", tags=["admin"])


@public.get("/root.cer", response_class=Response)
def root_certificate(request: Request) -> Response:
    cert = _certificates(request).ca.root_certificate
    return Response(
        cert.public_bytes(serialization.Encoding.DER), media_type="application/pkix-cert"
    )


@public.get("/issuing.cer", response_class=Response)
def issuing_certificate(request: Request) -> Response:
    cert = _certificates(request).ca.issuing_certificate
    return Response(
        cert.public_bytes(serialization.Encoding.DER), media_type="application/pkix-cert"
    )


@public.get("/issuing.crl", response_class=Response)
def issuing_crl(request: Request) -> Response:
    der = _certificates(request).crl()
    return Response(der, media_type="application/pkix-crl")


@public.get("/root.crl", response_class=Response)
def root_crl(request: Request) -> Response:
    path = _certificates(request).settings.ca_path / "root.crl"
    return Response(path.read_bytes(), media_type="application/pkix-crl")


@public.post("/ocsp", response_class=Response)
async def ocsp_post(request: Request) -> Response:
    body = await request.body()  # at most 16 KiB: api/app.py body_limits (413 beyond)
    reply = await run_in_threadpool(_certificates(request).ocsp_reply, body)  # reads the store
    return Response(reply.body, media_type=reply.content_type)


@public.get("/ocsp/{encoded:path}", response_class=Response)
async def ocsp_get(encoded: str, request: Request) -> Response:
    reply = await run_in_threadpool(_certificates(request).ocsp_reply, encoded[:8192])
    headers = {"Cache-Control": f"max-age={reply.max_age}"} if reply.max_age else {}
    return Response(reply.body, media_type=reply.content_type, headers=headers)


class CertificateRequest(Body):
    address: str = Field(max_length=1024)
    # PEM is ASCII: anything else is the caller's error (422), never a 500 on .encode()
    csr_pem: str | None = Field(default=None, max_length=65536, pattern=r"^[\x00-\x7f]*$")
    pkcs12_passphrase: str | None = Field(default=None, max_length=1024)
    validity_days: int | None = Field(default=None, ge=1, le=MAX_SUBSCRIBER_VALIDITY_DAYS)


class Revocation(Body):
    reason: str = Field(max_length=40)


@admin.post("", status_code=201)
def issue_certificate(
    body: CertificateRequest, request: Request, caller: Principal = Depends(principal)
) -> dict[str, Any]:
    issued = directory_of(request).certificates.issue(
        caller,
        body.address,
        csr=body.csr_pem.encode("ascii") if body.csr_pem else None,
        pkcs12_passphrase=body.pkcs12_passphrase.encode("utf-8")
        if body.pkcs12_passphrase
        else None,
        validity_days=body.validity_days,
    )
    out: dict[str, Any] = {
        "serial": issued.serial_hex,
        "email": issued.email,
        "validation": issued.validation.value,
        "trust_level": issued.trust_level,
        "not_before": issued.not_before.isoformat(),
        "not_after": issued.not_after.isoformat(),
        "pem": issued.pem,
        "chain_pem": issued.chain_pem,
    }
    if issued.pkcs12 is not None:
        out["pkcs12_base64"] = base64.b64encode(issued.pkcs12).decode("ascii")
    return out


@admin.post("/{serial}/revoke", status_code=204)
def revoke_certificate(
    serial: str, body: Revocation, request: Request, caller: Principal = Depends(principal)
) -> Response:
    directory_of(request).certificates.revoke(caller, serial, body.reason)
    return Response(status_code=204)
